"""Seccomp profiles for the sandbox's pod: the cluster's RuntimeDefault as data, and the sandbox's own profile.

containerd's RuntimeDefault (what AKS applies to `seccompProfile: RuntimeDefault`) follows Docker's
default profile. Its rules on namespaces and mounts decide whether bubblewrap can start: `clone` with
any namespace flag, `unshare`, `setns`, `mount`, `umount2` and the new mount API are allowed only
when CAP_SYS_ADMIN is in the container's bounding set; `clone3` answers ENOSYS without it (so libc
falls back to `clone`, whose flags seccomp can read); `pivot_root` is allowed under no capability.
bubblewrap always calls `pivot_root`, so under RuntimeDefault it cannot start, whatever else the pod
allows. The sandbox's profile is RuntimeDefault plus `pivot_root`, nothing else.

Both are built from the Docker-lineage profile that Debian's containers-common ships
(/usr/share/containers/seccomp.json, installed with podman), with containerd's namespace and mount
rules put in place of podman's more permissive ones: podman allows all of them unconditionally.
`python -m commentslab.services.sandbox.seccomp_profile` prints the sandbox's profile, the chart's
files/sandbox-seccomp.json.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

from commentslab.services.common.errors import InputError

PODMAN_PROFILE = Path("/usr/share/containers/seccomp.json")
CHART_PROFILE = Path(__file__).resolve().parents[2] / "helm" / "commentslab" / "files" / "sandbox-seccomp.json"

# Allowed by RuntimeDefault only with CAP_SYS_ADMIN in the bounding set.
SYS_ADMIN_SYSCALLS = (
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
    "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open", "quotactl",
    "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
)
# Allowed by RuntimeDefault under no capability.
NEVER_ALLOWED = ("pivot_root",)
# CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP
NAMESPACE_FLAGS = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00020000
_EPERM, _ENOSYS = 1, 38
# What the sandbox's profile adds to RuntimeDefault: bubblewrap's switch to the sandbox's root.
SANDBOX_ADDITIONS = ("pivot_root",)


def runtime_default_profile(base: dict) -> dict:
    """containerd's RuntimeDefault rules on namespaces and mounts applied to a Docker-lineage profile."""
    restricted = set(SYS_ADMIN_SYSCALLS) | set(NEVER_ALLOWED)
    rules = []
    for rule in copy.deepcopy(base["syscalls"]):
        if any(name in restricted for name in rule["names"]):
            if rule["action"] != "SCMP_ACT_ALLOW" or rule.get("includes") or rule.get("args"):
                continue  # podman's own conditional rules for these names give way to containerd's below
            rule["names"] = [name for name in rule["names"] if name not in restricted]
        rules.append(rule)
    rules += [
        {"names": list(SYS_ADMIN_SYSCALLS), "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]},
         "args": [{"index": 0, "value": NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    ]
    profile = {key: value for key, value in base.items() if key not in ("syscalls", "defaultErrno")}
    # containerd answers a refused call with EPERM (podman: ENOSYS), which is what bubblewrap then reports.
    profile["defaultErrnoRet"] = _EPERM
    profile["syscalls"] = rules
    return profile


def sandbox_profile(base: dict) -> dict:
    """RuntimeDefault plus SANDBOX_ADDITIONS: the profile the chart installs for the sandbox container."""
    profile = runtime_default_profile(base)
    profile["syscalls"].append({"names": list(SANDBOX_ADDITIONS), "action": "SCMP_ACT_ALLOW"})
    return profile


def load_base(path: Path = PODMAN_PROFILE) -> dict:
    """The Docker-lineage profile the others are built from; InputError when it is not installed."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InputError(str(path), f"cannot read the base seccomp profile ({exc.strerror}); it comes with "
                                    "podman: run `make system-deps`") from exc


if __name__ == "__main__":
    json.dump(sandbox_profile(load_base()), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
