"""The program runner that lives inside a bubblewrap sandbox (standard library only: it is copied in).

One runner serves one worker. It reads requests from its stdin and answers on its stdout, each a
frame: 4-byte big-endian length, then UTF-8 JSON. For each request it forks a child that

1. gets a fresh working directory, a new session, /dev/null as stdin, its own stdout/stderr pipes and
   the pass pipe on descriptor 3 (nothing else stays open);
2. gets its resource limits (CPU seconds, address space or data segment, processes, file size, open
   files, no core dumps);
3. when the runner runs as root inside the sandbox, becomes a uid of its own (`uid` in the request),
   so RLIMIT_NPROC counts this program's processes only, it cannot signal the runner or any other
   program, and every process it leaves behind can be found and killed;
4. sets no_new_privs, then runs the program: Python in this already-started interpreter (the runner
   was started as `python -I -S`, so it is the same interpreter with the same flags, and forking it
   costs a millisecond where starting one costs twenty), JavaScript by exec'ing node.

The runner drains the pipes (keeping at most the cap, dropping the rest so the program never blocks),
enforces the wall clock, kills whatever the program left behind, reaps it with `wait4` (exact exit
status and CPU time) and answers. The host classifies the answer (see execute.py).
"""

import base64
import ctypes
import gc
import json
import os
import resource
import selectors
import shutil
import signal
import struct
import sys
import time
import traceback
import types

PASS_FD = 3
# Set by bubblewrap.runner_command; without it the runner refuses to run (see inside_sandbox).
SANDBOX_MARKER = "COMMENTSLAB_SANDBOX_RUNNER"
# Written to the pass pipe when the program could not even start: an "error", not a failure.
START_FAILED = b"__COMMENTSLAB_START_FAILED__\n"
_READ_CHUNK = 65536
_MAX_SENTINEL_BYTES = 256
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_RLIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "data": resource.RLIMIT_DATA,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}
_libc = ctypes.CDLL(None, use_errno=True)


def read_frame(fd: int) -> dict | None:
    """The next request, or None at end of input."""
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    body = _read_exactly(fd, length)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def write_frame(fd: int, message: dict) -> None:
    """Send one answer."""
    body = json.dumps(message).encode("utf-8")
    data = struct.pack(">I", len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _exit_status_of(code: object) -> int:
    """The process exit status `sys.exit(code)` gives, as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _run_python_here(path: str) -> None:
    """Run the program file as `__main__` in this (forked) interpreter, then exit like `python FILE` would."""
    status = 0
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        main = types.ModuleType("__main__")
        main.__file__ = path
        sys.modules["__main__"] = main
        sys.argv = [path]
        exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as stop:
        status = _exit_status_of(stop.code)
    except BaseException as error:  # noqa: BLE001 - the interpreter reports any uncaught exception and exits 1
        # Without this frame the traceback reads as `python main.py` would print it.
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)
        status = 1
    try:
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        status = status or 120  # what CPython exits with when flushing stdout fails
    os._exit(status)


def _child(request: dict, workdir: str, path: str, fds: tuple[int, int, int, int]) -> None:
    """In the forked child: isolate, limit, then become the program. Never returns."""
    out_w, err_w, pass_w, devnull = fds
    try:
        os.setsid()
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        if pass_w == PASS_FD:
            os.set_inheritable(PASS_FD, True)
        else:
            os.dup2(pass_w, PASS_FD)
        os.closerange(PASS_FD + 1, 65536)
        os.chdir(workdir)
        for name, (soft, hard) in request["rlimits"].items():
            resource.setrlimit(_RLIMITS[name], (soft, hard))
        uid = request.get("uid")
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # from root to a non-zero uid: every capability is dropped
        _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir}
        if request["language"] == "python":
            os.environ.clear()
            os.environ.update(env)
            _run_python_here(path)
        os.execve(request["interpreter"][0], [*request["interpreter"], path], env)
    except BaseException:  # noqa: BLE001 - report why the program could not start, then give up
        try:
            os.write(2, traceback.format_exc().encode("utf-8", "replace"))
            os.write(pass_w, START_FAILED)
        finally:
            os._exit(126)


def oom_kills() -> int:
    """The kernel's count of OOM kills so far (/proc/vmstat), or -1 when it cannot be read."""
    try:
        with open("/proc/vmstat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _kill_leftovers(child: int, uid: int | None) -> None:
    """Kill every process the program started (they outlive it when it does not wait for them)."""
    if uid is None:
        try:
            os.killpg(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return
    # kill(-1) from a process of the program's uid reaches every process of that uid, wherever in
    # the process tree it went (a new session or group does not hide it), and nothing else. Always:
    # a look at /proc first would always find the program itself (alive, or a zombie until wait4),
    # and /proc may list a process that is not dumpable as root's.
    reaper = os.fork()
    if reaper == 0:
        try:
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(reaper, 0)


def inside_sandbox() -> bool:
    """Whether this process runs where bubblewrap.runner_command put it (it wipes /tmp between programs)."""
    return os.environ.get(SANDBOX_MARKER) == "1" and os.getcwd() == "/sandbox"


def run_one(request: dict, counter: int) -> dict:
    """Run one program under its limits and report how it ended (raw facts; the host classifies)."""
    if not inside_sandbox():
        # It empties /tmp after each program: only ever in the sandbox's private /tmp.
        raise RuntimeError("the runner only runs inside the commentslab sandbox")
    workdir = f"/sandbox/w{counter}"
    os.mkdir(workdir, 0o700)
    uid = request.get("uid")
    if uid is not None:
        os.chown(workdir, uid, uid)
    path = os.path.join(workdir, request["filename"])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(request["program"])
    os.chmod(path, 0o444)

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pass_r, pass_w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDONLY)
    oom_before = oom_kills()
    started = time.monotonic()
    child = os.fork()
    if child == 0:
        _child(request, workdir, path, (out_w, err_w, pass_w, devnull))
    for fd in (out_w, err_w, pass_w, devnull):
        os.close(fd)

    cap = request["max_output_bytes"]
    caps = {out_r: cap, err_r: cap, pass_r: _MAX_SENTINEL_BYTES}
    kept = {fd: bytearray() for fd in caps}
    deadline = started + request["wall_seconds"]
    exited = timed_out = False
    pidfd = os.pidfd_open(child)
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
                        # Whatever it left running would keep the pipes open (and keep running).
                        _kill_leftovers(child, uid)
                        continue
                    chunk = os.read(key.fd, _READ_CHUNK)
                    if not chunk:
                        selector.unregister(key.fd)
                        continue
                    room = caps[key.fd] - len(kept[key.fd])
                    if room > 0:
                        kept[key.fd] += chunk[:room]
    finally:
        os.close(pidfd)
        if not exited:
            _kill_leftovers(child, uid)
        _, wait_status, usage = os.wait4(child, 0)
        for fd in caps:
            os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
        for name in os.listdir("/tmp"):
            target = os.path.join("/tmp", name)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                try:
                    os.unlink(target)
                except OSError:
                    pass
    exit_code = os.waitstatus_to_exitcode(wait_status)
    return {
        "exit_code": exit_code,
        "stdout": base64.b64encode(bytes(kept[out_r])).decode("ascii"),
        "stderr": base64.b64encode(bytes(kept[err_r])).decode("ascii"),
        "pass": base64.b64encode(bytes(kept[pass_r])).decode("ascii"),
        "timed_out": timed_out,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": time.monotonic() - started,
        # A SIGKILL nobody here sent is the OOM killer's only if the kernel counted an OOM kill (the
        # count is read again only then: it is a tenth of a millisecond of every program otherwise).
        "oom_killed": exit_code == -signal.SIGKILL and oom_before >= 0 and oom_kills() > oom_before,
    }


def _warm_up() -> None:
    """Do once here the work every forked child would otherwise repeat.

    The first compile in a process initialises the parser (a few hundred pages a child would touch,
    and so copy: 2-3 ms of a 4 ms trivial program). The standard-library modules that generated code
    imports most (HumanEval: typing in one prompt of eight) are imported from the read-only
    installation here, so a child finds them loaded; each child still gets its own copy of them, and
    `random` reseeds itself in every forked child.
    """
    import collections  # noqa: F401 - the imports are the warm-up
    import functools  # noqa: F401
    import itertools  # noqa: F401
    import math  # noqa: F401
    import random  # noqa: F401
    import re  # noqa: F401
    import string  # noqa: F401
    import typing  # noqa: F401

    exec(compile("import os as _warm\n", "<warm-up>", "exec"), {})


def main() -> int:
    """Serve requests until stdin closes."""
    # The protocol descriptors move above the child's 0..3 so that nothing confuses them.
    requests = os.dup(0)
    answers = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    _warm_up()
    # Forked children share the runner's objects copy-on-write; a garbage collection in a child
    # would walk (and so copy) all of them. Frozen objects are never walked: a child stays cheap.
    gc.freeze()
    counter = 0
    while True:
        request = read_frame(requests)
        if request is None:
            return 0
        counter += 1
        try:
            answer = run_one(request, counter)
        except Exception:  # noqa: BLE001 - a runner fault is answered, never hangs the host
            answer = {"runner_error": traceback.format_exc()}
        write_frame(answers, answer)


if __name__ == "__main__":
    sys.exit(main())
