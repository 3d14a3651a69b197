"""The sandbox checks itself: a probe program run inside it must find itself isolated, or no work is taken.

Run where the service starts (the pod, the machine) because isolation depends on where it runs: the
container's seccomp profile, capabilities, user namespace and /proc decide whether bubblewrap can
build the sandbox at all, and a sandbox that silently ran programs unisolated would be worse than none.
"""

from __future__ import annotations

import json

from commentslab.services.common.errors import SandboxUnavailable
from commentslab.services.sandbox import bubblewrap
from commentslab.services.sandbox.execute import Limits, run_program

# What a program sees of its world; printed as one JSON line.
PROBE = """
import json, os, socket
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1).close()
    network = True
except OSError:
    network = False
print(json.dumps({
    "uid": os.getuid(),
    "processes": sum(name.isdigit() for name in os.listdir("/proc")),
    "root": sorted(os.listdir("/")),
    "interfaces": sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]),
    "capabilities": status["CapEff"].strip(),
    "network": network,
    "hostname": socket.gethostname(),
}))
"""
# Host folders a program must not see (a pyenv Python lives under /root, so /root may appear).
_HIDDEN = ("etc", "home", "work", "var", "srv", "mnt")


def check_isolation() -> dict:
    """What a probe program found inside the sandbox; SandboxUnavailable naming what leaked or failed."""
    result = run_program(PROBE, limits=Limits(cpu_seconds=5, wall_seconds=15))
    if result.status != "passed":
        raise SandboxUnavailable(
            f"the sandbox's probe program ended {result.status!r}: "
            f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}")
    facts = json.loads(result.stdout)
    leaks = []
    if facts["network"] or facts["interfaces"] != ["lo"]:
        leaks.append(f"network interfaces {facts['interfaces']}")
    if facts["processes"] > 4:
        leaks.append(f"{facts['processes']} processes visible (no PID namespace)")
    if visible := [name for name in _HIDDEN if name in facts["root"]]:
        leaks.append(f"host folders visible: {visible}")
    if int(facts["capabilities"], 16) != 0:
        leaks.append(f"capabilities {facts['capabilities']}")
    if bubblewrap.privileged() and facts["uid"] == 0:
        leaks.append("the program runs as root")
    if leaks:
        raise SandboxUnavailable("programs would run without isolation: " + "; ".join(leaks))
    return {**facts, "privileged": bubblewrap.privileged(), "idRange": list(bubblewrap.program_id_range())}
