"""The bubblewrap command line that starts a program runner in its own namespaces.

What the sandbox sees: `/usr` (and the `/bin`, `/lib*` links into it), the Python installation and
the JavaScript test runtime's locked npm packages (at `/node_modules`, where Node finds them from any
program's folder) read-only, a fresh `/proc` and a minimal `/dev`, two small private tmpfs folders (`/sandbox` for the
programs' working folders, `/tmp`) and the runner script. No `/etc`, `/home`, `/root`, `/work`, no
host process, no network (a new network namespace holds only loopback), a new PID, IPC, UTS and
cgroup namespace, an empty environment. The runner dies with its parent.

As root (the service's normal case, and this project's machines), bubblewrap runs privileged
without a user namespace and the runner keeps only what it needs to hand each program a uid of its
own (CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER; the program keeps none). As
another user it makes an unprivileged user namespace and programs keep the caller's uid; each then
gets a sandbox of its own (see `reuses_runners`).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

from commentslab.services.common.errors import SandboxUnavailable
from commentslab.services.sandbox import runner

RUNNER_SCRIPT = Path(__file__).with_name("runner.py")
RUNNER_PATH_INSIDE = "/commentslab/runner.py"
WORK_DIR_INSIDE = "/sandbox"
# The writable space of one runner: /sandbox holds one program's folder at a time.
SANDBOX_DISK_BYTES = 64 * 1024 * 1024
TMP_DISK_BYTES = 16 * 1024 * 1024
_RUNNER_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
# The node_modules of deps/sandbox-js: this variable, else a checkout's `make node-deps` folder, else the image's.
JS_PACKAGES_ENV = "COMMENTSLAB_JS_PACKAGES"
_JS_PACKAGES = (Path(__file__).resolve().parents[2] / ".tools" / "sandbox-js" / "node_modules",
                Path("/opt/commentslab/sandbox-js/node_modules"))
JS_PACKAGES_INSIDE = "/node_modules"


# Programs get uids from this range when the whole uid space is mapped (a machine, a pod without a user
# namespace): no user on the machine has them.
_HOST_UID_RANGE = (1_000_000, 2_000_000_000)
# The share of a user-namespaced pod's mapping kept for the service itself (root, the image's users).
_RESERVED_LOW_IDS = 20_000


def bwrap_path() -> str:
    """The bubblewrap binary, or SandboxUnavailable saying how to install it."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed; the sandbox needs it: run `make system-deps` "
            "or `apt-get install bubblewrap`"
        )
    return found


def privileged() -> bool:
    """Whether programs can be given uids of their own (the caller is root)."""
    return os.geteuid() == 0


def _mapped_range(map_file: str) -> tuple[int, int]:
    """The largest contiguous id range this process may switch to, from /proc/self/{uid,gid}_map."""
    try:
        with open(map_file, encoding="ascii") as handle:
            ranges = [tuple(int(x) for x in line.split()) for line in handle if line.strip()]
    except OSError:
        return _HOST_UID_RANGE
    inside, _, count = max(ranges, key=lambda r: r[2])
    return inside, inside + count


@functools.cache
def program_id_range() -> tuple[int, int]:
    """[low, high) of the uids (and gids) programs run under, one per program.

    On a machine, or a pod sharing the host's users, the whole space is mapped and programs take ids no
    account uses. In a user-namespaced pod (`hostUsers: false`) only 65,536 ids exist; an id outside
    them cannot be switched to, so programs take the upper part of that mapping.
    """
    uid_low, uid_high = _mapped_range("/proc/self/uid_map")
    gid_low, gid_high = _mapped_range("/proc/self/gid_map")
    low, high = max(uid_low, gid_low), min(uid_high, gid_high)
    if low <= _HOST_UID_RANGE[0] and high >= _HOST_UID_RANGE[1]:
        return _HOST_UID_RANGE
    low = max(low, low + _RESERVED_LOW_IDS if high - low > 2 * _RESERVED_LOW_IDS else (low + high) // 2)
    if high - low < 64:
        raise SandboxUnavailable(
            f"only ids {low}..{high} are mapped into this container; programs need ids of their own: run the "
            "sandbox pod with hostUsers: false (65,536 ids) or without a user namespace"
        )
    return low, high


def reuses_runners() -> bool:
    """Whether one runner may serve many programs.

    Only when each program gets its own uid: then RLIMIT_NPROC is per program, programs cannot
    signal each other or the runner, and everything a program left behind is killed by uid.
    Otherwise every program gets a fresh sandbox whose PID namespace dies with it.
    """
    return privileged()


@functools.cache
def python_interpreter() -> tuple[str, str]:
    """(interpreter binary, installation prefix) of the Python running this code, symlinks resolved."""
    executable = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    return executable, os.path.realpath(sys.base_prefix)


def _system_links() -> list[str]:
    """/bin, /lib, /lib64, /sbin as on the host: links into /usr, or read-only folders."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    return args


def _readonly_tree(path: str) -> list[str]:
    """Bind `path` read-only at the same place; its parent folders are made traversable.

    bubblewrap creates missing parents mode 0700 when privileged, which would hide e.g. a pyenv
    Python under /root from the program's uid.
    """
    if path == "/usr" or path.startswith("/usr/"):
        return []
    args: list[str] = []
    parent = os.path.dirname(path)
    parents = []
    while parent not in ("/", ""):
        parents.append(parent)
        parent = os.path.dirname(parent)
    for folder in reversed(parents):
        args += ["--perms", "0755", "--dir", folder]
    return [*args, "--ro-bind", path, path]


def runner_command() -> list[str]:
    """argv that starts a runner (runner.py under this Python) inside a fresh sandbox."""
    executable, prefix = python_interpreter()
    args = [
        bwrap_path(),
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "sandbox",
        "--die-with-parent",
        "--new-session",
    ]
    if privileged():
        args += ["--cap-drop", "ALL"]
        for capability in _RUNNER_CAPABILITIES:
            args += ["--cap-add", capability]
    else:
        args += ["--unshare-user", "--disable-userns"]
    args += ["--ro-bind", "/usr", "/usr", *_system_links()]
    args += _readonly_tree(prefix)
    if not os.path.isfile(executable):
        raise SandboxUnavailable(f"the Python interpreter {executable} does not exist")
    packages = js_packages()
    if packages is not None:
        args += ["--ro-bind", str(packages), JS_PACKAGES_INSIDE]
    args += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777", "--size", str(TMP_DISK_BYTES), "--tmpfs", "/tmp",
        "--perms", "0755", "--size", str(SANDBOX_DISK_BYTES), "--tmpfs", WORK_DIR_INSIDE,
        "--ro-bind", str(RUNNER_SCRIPT), RUNNER_PATH_INSIDE,
        "--chdir", WORK_DIR_INSIDE,
        "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", runner.SANDBOX_MARKER, "1",
        "--",
        executable, "-I", "-S", RUNNER_PATH_INSIDE,
    ]
    return args


@functools.cache
def js_packages() -> Path | None:
    """The folder of the JavaScript test runtime's npm packages (mounted read-only at /node_modules), or None."""
    configured = os.environ.get(JS_PACKAGES_ENV)
    for folder in (Path(configured),) if configured else _JS_PACKAGES:
        if (folder / "expect" / "package.json").is_file():
            return folder.resolve()
    return None


@functools.cache
def node_interpreter() -> list[str] | None:
    """node's argv inside the sandbox (it must live under /usr, the only system folder mounted), or None."""
    node = shutil.which("node")
    if node is None:
        return None
    node = os.path.realpath(node)
    return [node] if node.startswith("/usr/") else None
