"""Sandbox gRPC shell: translates requests to `run_program` / `iter_run_many`; batches stream results as they finish.

The service checks its own isolation when it starts (services/sandbox/isolation.py) and serves only
after the check passes; until then, and from the first moment the sandbox fails, health is
NOT_SERVING and every call is refused with FAILED_PRECONDITION and the one-line reason.
"""

from __future__ import annotations

import logging
import threading

import grpc
from grpc_health.v1 import health, health_pb2
from prometheus_client import Counter, Histogram

from commentslab.services.common.errors import SandboxUnavailable
from commentslab.services.sandbox.execute import ExecutionResult, Limits, iter_run_many, run_program
from commentslab.services.sandbox.isolation import check_isolation
from commentslab.v1 import sandbox_pb2, sandbox_pb2_grpc

log = logging.getLogger("commentslab.services.sandbox")
_SERVICE_NAMES = ("", "commentslab.v1.Sandbox")

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
OUTCOMES = Counter("commentslab_sandbox_executions_total", "Programs run, by how they ended", ["status"])
PROGRAM_SECONDS = Histogram("commentslab_sandbox_program_seconds", "Wall time of one program",
                            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))


def limits_from(message: sandbox_pb2.Limits) -> Limits:
    """Limits from the request, defaults where a field is unset (0)."""
    default = Limits()
    return Limits(
        cpu_seconds=message.cpu_seconds or default.cpu_seconds,
        wall_seconds=message.wall_seconds or default.wall_seconds,
        memory_mb=message.memory_mb or default.memory_mb,
        max_processes=message.max_processes or default.max_processes,
        max_output_bytes=message.max_output_bytes or default.max_output_bytes,
        max_file_bytes=message.max_file_bytes or default.max_file_bytes,
    )


def result_message(result: ExecutionResult) -> sandbox_pb2.ExecuteResult:
    """The protobuf form of an ExecutionResult."""
    # Every result the server returns passes here once, so this is where outcomes are counted.
    OUTCOMES.labels(result.status).inc()
    PROGRAM_SECONDS.observe(result.wall_seconds)
    message = sandbox_pb2.ExecuteResult(
        status=result.status, stdout=result.stdout, stderr=result.stderr, wall_seconds=result.wall_seconds,
        cpu_seconds=result.cpu_seconds, attempts=result.attempts, timed_out_attempts=result.timed_out_attempts,
    )
    if result.exit_code is not None:
        message.exit_code = result.exit_code
    return message


class SandboxServicer(sandbox_pb2_grpc.SandboxServicer):
    """Each program in the sandbox; the server itself never runs untrusted code."""

    def __init__(self) -> None:
        self._health: health.HealthServicer | None = None
        self._unavailable: str | None = "the sandbox has not checked its isolation yet"
        self._lock = threading.Lock()

    def own_health(self, health_servicer: health.HealthServicer) -> None:
        """Check isolation on a thread (a probe takes a second); SERVING only once it passes."""
        self._health = health_servicer
        threading.Thread(target=self._check, name="sandbox-isolation-check", daemon=True).start()

    def _check(self) -> None:
        try:
            facts = check_isolation()
        except SandboxUnavailable as exc:
            self._refuse(str(exc))
            return
        log.info("sandbox isolation checked: %s", facts)
        with self._lock:
            self._unavailable = None
        self._set(health_pb2.HealthCheckResponse.SERVING)

    def _refuse(self, reason: str) -> None:
        # The reason goes to the log as one line: it is what `kubectl logs` shows for a pod that never serves.
        log.error("sandbox unavailable: %s", reason)
        with self._lock:
            self._unavailable = reason
        self._set(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _set(self, status) -> None:
        if self._health is not None:
            for name in _SERVICE_NAMES:
                self._health.set(name, status)

    def _require_available(self, context) -> None:
        with self._lock:
            reason = self._unavailable
        if reason is not None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"sandbox unavailable: {reason}")

    def Execute(self, request, context):
        self._require_available(context)
        try:
            limits = limits_from(request.limits)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            result = run_program(request.program, request.language or "python", limits,
                                 max(0, request.timeout_retries))
        except SandboxUnavailable as exc:
            self._refuse(str(exc))
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"sandbox unavailable: {exc}")
        return result_message(result)

    def ExecuteBatch(self, request, context):
        self._require_available(context)
        programs = list(request.programs)
        if not programs:
            return
        try:
            limits = {limits_from(p.limits) for p in programs}
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        languages = {p.language or "python" for p in programs}
        if len(limits) != 1 or len(languages) != 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "a batch runs programs of one language under one set of limits; send one batch per kind")
        retries = request.timeout_retries if request.HasField("timeout_retries") else 1
        results = iter_run_many([p.program for p in programs], languages.pop(), limits.pop(),
                                workers=request.workers or None, timeout_retries=max(0, retries))
        try:
            for index, result in results:
                if not context.is_active():
                    results.close()  # cancels the programs not yet started
                    return
                yield sandbox_pb2.ExecuteBatchItem(index=index, result=result_message(result))
        except SandboxUnavailable as exc:
            self._refuse(str(exc))
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"sandbox unavailable: {exc}")

    def register(self, server: grpc.Server) -> None:
        """Add this servicer to a server."""
        sandbox_pb2_grpc.add_SandboxServicer_to_server(self, server)
