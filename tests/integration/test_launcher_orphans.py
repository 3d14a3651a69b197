"""A service started by a launcher stops when that launcher dies without its cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from commentslab.services.common.grpc_server import LAUNCHER_PID_ENV
from commentslab.services.pipeline.launcher import free_port

# A launcher in miniature: starts the stats service in a session of its own, as start_services does, with the
# launcher's pid in its environment, prints the service's pid once it is ready, then waits to be killed.
LAUNCHER = textwrap.dedent("""
    import os, subprocess, sys, time
    port = sys.argv[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", sys.argv[2]: str(os.getpid())}
    service = subprocess.Popen([sys.executable, "-m", "commentslab.services.stats", "--port", port],
                               stdout=subprocess.PIPE, env=env, start_new_session=True)
    for line in service.stdout:
        if line.startswith(b"READY"):
            break
    print(service.pid, flush=True)
    time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited; only its parent has not reaped it yet
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_service_stops_when_its_launcher_is_killed_outright():
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(free_port("127.0.0.1")), LAUNCHER_PID_ENV],
                                stdout=subprocess.PIPE)
    try:
        service = int(launcher.stdout.readline())
        assert _alive(service)
        launcher.send_signal(signal.SIGKILL)  # no cleanup runs: only the service's own watch can stop it
        launcher.wait()
        deadline = time.monotonic() + 60
        while _alive(service) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(service), f"service {service} outlived its launcher"
    finally:
        launcher.kill()
