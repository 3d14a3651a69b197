"""Start the six services as local processes on loopback, wait until each is healthy, stop them cleanly."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from commentslab.services.common.errors import PortInUseError, ServiceError
from commentslab.services.common.grpc_client import open_channel, wait_healthy
from commentslab.services.common.grpc_server import LAUNCHER_PID_ENV

# name -> python module; the order is the order they start and print.
SERVICES = {
    "exporter": "commentslab.services.exporter",
    "splitter": "commentslab.services.splitter",
    "trainer": "commentslab.services.trainer",
    "model-server": "commentslab.services.serving",
    "sandbox": "commentslab.services.sandbox",
    "stats": "commentslab.services.stats",
}
# A service that exits during start is reported at once (with its error line); this limit only catches one
# that hangs. Importing torch and transformers takes seconds of CPU, but minutes of wall time on a machine
# whose cores are busy with a training: a shorter limit failed healthy starts there.
START_TIMEOUT = 300.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class RunningService:
    """One started service process."""

    name: str
    address: str
    metrics_port: int
    process: subprocess.Popen


@dataclass
class LocalServices:
    """The started services; `addresses` maps name -> host:port."""

    services: list[RunningService] = field(default_factory=list)

    @property
    def addresses(self) -> dict[str, str]:
        """name -> host:port of each running service."""
        return {s.name: s.address for s in self.services}

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every service (they drain and stop), then SIGKILL what is left after `grace` seconds."""
        stop_processes([s.process for s in self.services], grace)
        self.services.clear()


def stop_processes(processes: list[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM each process, then SIGKILL what is still running after `grace` seconds; waits for all."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(name: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace").strip().splitlines()
            reason = next((line for line in reversed(err) if line.startswith("error:")), err[-1] if err else "")
            raise ServiceError(f"{name} exited during start (code {process.returncode}): {reason}")
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline().decode(errors="replace")
            if line.startswith("READY"):
                return
    raise ServiceError(f"{name} did not start within {timeout:.0f}s")


def start_services(
    host: str = "127.0.0.1", ports: dict[str, int] | None = None, metrics: bool = True, env: dict | None = None
) -> LocalServices:
    """Start every service on `host` (free ports unless given); raises PortInUseError before starting any."""
    ports = dict(ports or {})
    for name, port in ports.items():
        if name not in SERVICES:
            raise ServiceError(f"unknown service {name!r}; services are {', '.join(SERVICES)}")
        if not port_is_free(host, port):
            raise PortInUseError(host, port, name)
    running = LocalServices()
    try:
        for name, module in SERVICES.items():
            port = ports.get(name) or free_port(host)
            metrics_port = free_port(host) if metrics else 0
            command = [sys.executable, "-m", module, "--host", host, "--port", str(port)]
            if metrics:
                command += ["--metrics-port", str(metrics_port)]
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", LAUNCHER_PID_ENV: str(os.getpid())},
                # Own process group: Ctrl-C reaches the launcher, which then stops each service gracefully.
                start_new_session=True,
            )
            service = RunningService(name, f"{host}:{port}", metrics_port, process)
            running.services.append(service)
            _wait_ready(name, process, START_TIMEOUT)
            # stderr is drained by a thread so a chatty service never blocks on a full pipe.
            _drain(process)
        for service in running.services:
            wait_healthy(open_channel(service.address), service.name, service.address)
    except BaseException:
        running.stop()
        raise
    return running


def _drain(process: subprocess.Popen) -> None:
    import threading

    def pump(stream, sink):
        for line in iter(stream.readline, b""):
            if os.environ.get("COMMENTSLAB_SERVICE_LOGS"):
                sink.write(line.decode(errors="replace"))

    for stream in (process.stdout, process.stderr):
        threading.Thread(target=pump, args=(stream, sys.stderr), daemon=True).start()


@contextlib.contextmanager
def running_services(host: str = "127.0.0.1", ports: dict[str, int] | None = None):
    """Context manager: the services run inside the block and are stopped after it."""
    services = start_services(host, ports)
    try:
        yield services
    finally:
        services.stop()
