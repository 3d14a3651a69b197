"""The one gRPC server bootstrap: health checking, Prometheus metrics, graceful shutdown, clear port errors.

Each service's `server.py` only builds its servicer; `serve_main` does the rest, so every service
starts the same way: `python -m commentslab.services.<name> --port N [--host H] [--metrics-port M]`.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import Counter, Histogram, start_http_server

from commentslab.services.common.errors import CommentslabError, PortInUseError
from commentslab.services.common.logs import setup_logging

REQUESTS = Counter("commentslab_grpc_requests_total", "gRPC requests", ["service", "method", "code"])
LATENCY = Histogram(
    "commentslab_grpc_request_seconds", "gRPC request latency", ["service", "method"],
    buckets=(0.005, 0.02, 0.1, 0.5, 1, 5, 30, 120, 600, 3600),
)
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
GRACE_SECONDS = 5.0


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts requests and times them by method, for every service alike."""

    def __init__(self, service: str):
        self.service = service

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method.rsplit("/", 1)[-1]

        def observe(start: float, code: str) -> None:
            REQUESTS.labels(self.service, method, code).inc()
            LATENCY.labels(self.service, method).observe(time.perf_counter() - start)

        def wrap(behaviour, streaming_response: bool):
            def unary(request, context):
                start, code = time.perf_counter(), "ERROR"
                try:
                    reply = behaviour(request, context)
                    code = "OK"
                    return reply
                finally:
                    observe(start, code)

            def stream(request, context):
                start, code = time.perf_counter(), "ERROR"
                try:
                    yield from behaviour(request, context)
                    code = "OK"
                finally:
                    observe(start, code)

            return stream if streaming_response else unary

        if handler.unary_unary:
            return handler._replace(unary_unary=wrap(handler.unary_unary, False))
        if handler.unary_stream:
            return handler._replace(unary_stream=wrap(handler.unary_stream, True))
        return handler


def stream_worker(work: Callable[[Callable[[object], None]], object], context, to_events: Callable):
    """Run `work(emit)` on a thread, yield what it emits as it comes, then yield `to_events(result)`.

    Long steps (export, training) report progress from inside their loop; this turns that callback
    into a server stream. A CommentslabError or ValueError from the work aborts the call with its text.
    """
    events: queue.Queue = queue.Queue()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work(events.put)
        except (CommentslabError, ValueError) as exc:
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    threading.Thread(target=run, daemon=True).start()
    while (event := events.get()) is not _DONE:
        yield event
    if "error" in outcome:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(outcome["error"]))
    yield from to_events(outcome["value"])


_DONE = object()


def start_server(
    name: str,
    register: Callable[[grpc.Server], None],
    host: str = "127.0.0.1",
    port: int = 0,
    metrics_port: int | None = None,
    workers: int = 8,
    health_owner: Callable[[health.HealthServicer], None] | None = None,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Start a gRPC server with `register` applied, health SERVING; returns (server, bound port, health).

    A service that must check itself before it takes work passes `health_owner`: it is handed the health
    servicer once the server runs and sets the status itself (NOT_SERVING with its reason until it may).
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name),
        interceptors=[MetricsInterceptor(name)],
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise PortInUseError(host, port, name) from exc
    if bound == 0:
        raise PortInUseError(host, port, name)
    if metrics_port is not None:
        try:
            start_http_server(metrics_port, addr=host)
        except OSError as exc:
            raise PortInUseError(host, metrics_port, f"{name} metrics") from exc
    if health_owner is not None:
        for service in ("", f"commentslab.v1.{name}"):
            health_servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    server.start()
    if health_owner is None:
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_servicer.set(f"commentslab.v1.{name}", health_pb2.HealthCheckResponse.SERVING)
    else:
        health_owner(health_servicer)
    return server, bound, health_servicer


# The launcher's pid, set by `start_services` for the services it starts in sessions of their own: a launcher
# killed without its cleanup (SIGKILL, an out-of-memory kill, a test runner stopped hard) cannot stop them.
LAUNCHER_PID_ENV = "COMMENTSLAB_LAUNCHER_PID"
LAUNCHER_POLL_SECONDS = 2.0


def watch_launcher(stop: threading.Event, log) -> None:
    """When a launcher started this service, set `stop` once that launcher is gone (this process's parent
    changes), so no service outlives the run that started it. A service started any other way (a pod, by
    hand) has no launcher to watch."""
    launcher = os.environ.get(LAUNCHER_PID_ENV, "")
    if not launcher.isdigit():
        return

    def watch() -> None:
        while not stop.wait(LAUNCHER_POLL_SECONDS):
            if os.getppid() != int(launcher):
                log.warning("the launcher (pid %s) is gone: shutting down", launcher)
                stop.set()

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def serve_main(name: str, register: Callable[[grpc.Server], None], argv: list[str] | None = None,
               health_owner: Callable[[health.HealthServicer], None] | None = None) -> int:
    """Entry point of `python -m commentslab.services.<name>`: serve until SIGINT/SIGTERM, then drain and stop."""
    parser = argparse.ArgumentParser(prog=f"{name} server", description=f"{name} gRPC server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, default=None, help="Prometheus /metrics port (off if unset)")
    args = parser.parse_args(argv)
    log = setup_logging(f"services.{name.lower()}")
    try:
        server, port, health_servicer = start_server(name, register, args.host, args.port, args.metrics_port,
                                                     health_owner=health_owner)
    except CommentslabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    watch_launcher(stop, log)
    log.info("%s serving on %s:%d", name, args.host, port)
    # The line the launcher waits for: it proves the port is bound.
    print(f"READY {name} {args.host}:{port}", flush=True)
    stop.wait()
    log.info("%s shutting down (grace %.0fs)", name, GRACE_SECONDS)
    health_servicer.enter_graceful_shutdown()
    server.stop(GRACE_SECONDS).wait()
    return 0
