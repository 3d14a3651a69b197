"""Sandbox gRPC shell: translates requests to `run_program` / `iter_run_many`; batches stream results as they finish."""

from __future__ import annotations

import grpc
from prometheus_client import Counter, Histogram

from commentslab.v1 import sandbox_pb2, sandbox_pb2_grpc
from services.sandbox.execute import ExecutionResult, Limits, iter_run_many, run_program

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

    def Execute(self, request, context):
        try:
            limits = limits_from(request.limits)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        result = run_program(request.program, request.language or "python", limits, max(0, request.timeout_retries))
        return result_message(result)

    def ExecuteBatch(self, request, context):
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
        for index, result in results:
            if not context.is_active():
                results.close()  # cancels the programs not yet started
                return
            yield sandbox_pb2.ExecuteBatchItem(index=index, result=result_message(result))


def register(server: grpc.Server) -> None:
    """Add the Sandbox service to a server."""
    sandbox_pb2_grpc.add_SandboxServicer_to_server(SandboxServicer(), server)
