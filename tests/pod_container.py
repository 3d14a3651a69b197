"""The sandbox's pod as a podman container: the chart's security settings turned into podman's flags.

Real parts: Debian's podman with the runc runtime (crun refuses hybrid cgroup hierarchies), a root
file system assembled from this machine (its /usr, the Python installation and the repository with its
venv, all read-only), and the seccomp rules the cluster applies (services/sandbox/seccomp_profile.py).
Each setting of the chart maps to one podman flag; a setting with no mapping fails the test rather than
being ignored, so the container can never drift from what the chart deploys.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from commentslab.services.sandbox import seccomp_profile

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "helm" / "commentslab" / "values.yaml"
# The ids a user-namespaced pod gets: 65,536 of them, mapped to an unprivileged range of the host's.
POD_ID_MAP = "0:200000:65536"
# The limits kubelet leaves a container (runc refuses to raise a hard limit above the caller's).
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096")


@dataclass(frozen=True)
class Pod:
    """One container's settings as the chart renders them."""

    name: str
    host_users: bool
    security_context: dict


def chart_values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def sandbox_pod() -> Pod:
    """The sandbox container as the chart deploys it."""
    values = chart_values()
    sandbox = values["sandbox"]
    context = {**_pod_level(values), **(sandbox.get("securityContext") or values["containerSecurityContext"])}
    return Pod("chart sandbox pod", sandbox.get("hostUsers", True), context)


def hardened_service_pod() -> Pod:
    """The settings every other service gets: what the sandbox ran under before it had its own."""
    values = chart_values()
    return Pod("chart service pod", True, {**_pod_level(values), **values["containerSecurityContext"]})


def _pod_level(values: dict) -> dict:
    pod = values["podSecurityContext"]
    return {key: pod[key] for key in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile") if key in pod}


def podman() -> str:
    """podman, which `make system-deps` installs; its absence fails the test, it never skips."""
    found = shutil.which("podman")
    if found is None or shutil.which("runc") is None:
        raise RuntimeError("podman and runc are needed to run the sandbox as the chart's pod: run `make system-deps`")
    return found


def _seccomp_file(profile: dict, folder: Path) -> Path:
    kind = profile["type"]
    if kind == "RuntimeDefault":
        path = folder / "runtime-default.json"
        path.write_text(json.dumps(seccomp_profile.runtime_default_profile(seccomp_profile.load_base())))
        return path
    if kind == "Localhost":
        # The chart installs its files/ profile under the kubelet's seccomp folder with this name.
        path = seccomp_profile.CHART_PROFILE
        assert profile["localhostProfile"].endswith(path.name), profile
        return path
    raise AssertionError(f"seccompProfile type {kind!r} has no podman equivalent here")


def security_flags(pod: Pod, folder: Path) -> list[str]:
    """podman flags for the pod's settings; an unknown setting is an error."""
    sc = dict(pod.security_context)
    flags = ["--user", f"{sc.pop('runAsUser')}:{sc.pop('runAsGroup')}"]
    sc.pop("runAsNonRoot", None)  # kubelet's admission check, not a runtime setting
    if not pod.host_users:
        flags += ["--uidmap", POD_ID_MAP, "--gidmap", POD_ID_MAP]
    capabilities = sc.pop("capabilities", {})
    assert capabilities.get("drop") == ["ALL"], capabilities
    flags += ["--cap-drop", "ALL"]
    if capabilities.get("add"):
        flags += ["--cap-add", ",".join(capabilities["add"])]
    if sc.pop("readOnlyRootFilesystem", False):
        flags += ["--read-only", "--read-only-tmpfs=false"]
    if not sc.pop("allowPrivilegeEscalation", True):
        flags += ["--security-opt", "no-new-privileges"]
    assert sc.pop("privileged", False) is False
    if sc.pop("procMount", "Default") == "Unmasked":
        # containerd clears every masked and read-only path for Unmasked, /sys's included.
        flags += ["--security-opt", "unmask=ALL"]
    flags += ["--security-opt", f"seccomp={_seccomp_file(sc.pop('seccompProfile'), folder)}"]
    assert not sc, f"chart settings with no podman mapping: {sorted(sc)}"
    return flags


def build_rootfs(folder: Path) -> Path:
    """A root file system whose /usr, Python installation and repository are this machine's, bound read-only."""
    root = folder / "rootfs"
    if root.exists():
        shutil.rmtree(root)
    for name in ("usr", "etc", "proc", "dev", "sys", "tmp", "run", "var/tmp"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            (root / name).symlink_to(os.readlink(host))
    for name in ("passwd", "group", "nsswitch.conf", "ld.so.cache"):
        if (Path("/etc") / name).exists():
            shutil.copy(Path("/etc") / name, root / "etc" / name)
    for path in _python_trees():
        (root / path.relative_to("/")).mkdir(parents=True, exist_ok=True)
    (root / ROOT.relative_to("/")).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    # The image's files belong to the pod's root, which a user-namespaced pod maps to POD_ID_MAP's base.
    owner = int(POD_ID_MAP.split(":")[1])
    for path in [root, *root.rglob("*")]:
        os.lchown(path, owner, owner)
    return root


def _python_trees() -> list[Path]:
    prefix = Path(os.path.realpath(sys.base_prefix))
    return [] if prefix.is_relative_to("/usr") else [prefix]


def run_in_pod(pod: Pod, folder: Path, rootfs: Path, argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `argv` (in the repository, with its venv's Python) in a container configured as `pod`."""
    scratch = folder / ("tmp-" + re.sub(r"[^a-z0-9]+", "-", pod.name.lower()))
    scratch.mkdir(exist_ok=True)
    scratch.chmod(0o1777)  # an emptyDir: writable by the pod's user, whoever it is
    binds = ["-v", "/usr:/usr:ro", "-v", f"{ROOT}:{ROOT}:ro", "-v", f"{scratch}:/tmp"]
    for tree in _python_trees():
        binds += ["-v", f"{tree}:{tree}:ro"]
    command = [
        podman(), "--runtime", "runc", "--cgroup-manager", "cgroupfs", "run", "--rm", "--network", "none",
        *ULIMITS, *binds, *security_flags(pod, folder), "--workdir", str(ROOT),
        "--env", "PYTHONDONTWRITEBYTECODE=1", "--env", "HOME=/tmp",
        "--rootfs", str(rootfs), str(ROOT / ".venv" / "bin" / "python"), *argv,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
