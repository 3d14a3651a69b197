"""The dashboard's production server: gunicorn, threaded workers, each building the Dash app once it has forked.

``python -m commentslab.dashboard``, ``commentslab dashboard``, the dashboard image and the browser tests all serve through
``serve``, so what the tests exercise is what a visitor reaches.
"""

from __future__ import annotations

from pathlib import Path

from gunicorn.app.base import BaseApplication

# Threads, not more processes, by default: a worker's requests are mostly waiting on the gateway (a relayed
# playground stream holds its thread for the whole answer), and each worker process with an in-process
# gateway runs a gateway of its own.
DEFAULT_WORKERS = 1
DEFAULT_THREADS = 8
# Seconds a stopping worker gives its open requests (a playground stream) before it is killed.
GRACEFUL_TIMEOUT = 10


class DashboardServer(BaseApplication):
    """gunicorn serving the Dash app that ``app_factory`` builds, with ``options`` as gunicorn settings."""

    def __init__(self, app_factory, options: dict):
        self.app_factory = app_factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply ``options`` (gunicorn setting names) and nothing from the command line or environment."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """The WSGI app, built in each worker after the fork: the in-process gateway's thread and its database
        connections then belong to the worker that uses them."""
        return self.app_factory().server


def server_options(host: str, port: int, workers: int = DEFAULT_WORKERS, threads: int = DEFAULT_THREADS) -> dict:
    """gunicorn's settings for the dashboard on ``host:port``."""
    return {"bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
            "graceful_timeout": GRACEFUL_TIMEOUT, "accesslog": None, "errorlog": "-", "loglevel": "warning",
            "proc_name": "commentslab-dashboard",
            # The pods run with a read-only root file system: worker heartbeats go to /tmp's emptyDir.
            "worker_tmp_dir": "/tmp"}


def serve(results_dir: Path | None, host: str = "127.0.0.1", port: int = 8050, gateway_url: str | None = None,
          proxy_hops: int = 0, workers: int = DEFAULT_WORKERS, threads: int = DEFAULT_THREADS,
          **app_options) -> None:
    """Serve the dashboard on ``host:port`` under gunicorn until interrupted (SIGINT or SIGTERM); ``app_options``
    go to commentslab.dashboard.app.create_app (plotly_bundle, the in-process gateway's options)."""
    from commentslab.dashboard.app import create_app

    def build():
        return create_app(results_dir, gateway_url, proxy_hops, **app_options)

    DashboardServer(build, server_options(host, port, workers, threads)).run()
