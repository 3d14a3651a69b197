"""Running the gateway: in the foreground (``serve``) or on a background thread (``start_in_thread``)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from commentslab.services.common.deployment_secrets import read_secret
from commentslab.services.common.errors import PortInUseError, ServiceError, SettingError
from commentslab.services.gateway.app import MAINTAINER_SECRET, create_app


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(host, port, "gateway") from exc


# uvicorn's own proxy_headers would replace the peer with X-Forwarded-For's first address whenever the peer
# is loopback, before the app's trusted-proxy rule sees it: the app alone decides whom the header names.


def serve(results_dir: Path, host: str = "127.0.0.1", port: int = 8060, **options) -> None:
    """Serve the gateway for ``results_dir`` on ``host:port`` until interrupted; options go to create_app.
    A served gateway needs the maintainer credential (``maintainer_token``, else the deployment's secret):
    a SettingError naming the setting without it."""
    if options.get("maintainer_token") is None:
        options["maintainer_token"] = read_secret(MAINTAINER_SECRET)
        if options["maintainer_token"] is None:
            raise SettingError(f"{MAINTAINER_SECRET}_FILE", "not set; point it at a file holding the maintainer "
                                                            "credential (a random string of 16+ characters; the "
                                                            "chart mounts it from a Secret)")
    _check_port(host, port)
    uvicorn.run(create_app(results_dir, **options), host=host, port=port, log_level="warning", proxy_headers=False)


@dataclass
class RunningGateway:
    """A gateway on a background thread; ``url`` is its base URL."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        """Ask the server to exit and wait for it."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


LOOPBACK = ("127.0.0.0/8", "::1/128")


def start_in_thread(results_dir: Path, host: str = "127.0.0.1", port: int = 0, **options) -> RunningGateway:
    """Start the gateway on a background thread (port 0: a free one) and return once it accepts requests.

    On loopback it is the private back end of the process that starts it (the dashboard, relaying each
    visitor's address in ``X-Forwarded-For``), so loopback peers are trusted proxies unless
    ``trusted_proxies`` says otherwise.
    """
    if host in ("127.0.0.1", "::1", "localhost"):
        options.setdefault("trusted_proxies", LOOPBACK)
    if port == 0:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(results_dir, **options), host=host, port=port, log_level="warning",
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServiceError(f"the gateway did not start on {host}:{port}")
        time.sleep(0.02)
    return RunningGateway(f"http://{host}:{port}", server, thread)
