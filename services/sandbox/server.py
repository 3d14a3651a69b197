"""Sandbox gRPC shell: translates ExecuteRequest to `run_program`; batches stream results as they finish."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed

import grpc

from commentslab.v1 import sandbox_pb2, sandbox_pb2_grpc
from services.sandbox.execute import ExecutionResult, Limits, run_program


def limits_from(message: sandbox_pb2.Limits) -> Limits:
    """Limits from the request, defaults where a field is unset (0)."""
    default = Limits()
    return Limits(
        cpu_seconds=message.cpu_seconds or default.cpu_seconds,
        wall_seconds=message.wall_seconds or default.wall_seconds,
        memory_mb=message.memory_mb or default.memory_mb,
    )


def result_message(result: ExecutionResult) -> sandbox_pb2.ExecuteResult:
    """The protobuf form of an ExecutionResult."""
    message = sandbox_pb2.ExecuteResult(
        status=result.status, stdout=result.stdout, stderr=result.stderr, wall_seconds=result.wall_seconds
    )
    if result.exit_code is not None:
        message.exit_code = result.exit_code
    return message


class SandboxServicer(sandbox_pb2_grpc.SandboxServicer):
    """Each program in its own process; the server itself never runs untrusted code."""

    def Execute(self, request, context):
        try:
            limits = limits_from(request.limits)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return result_message(run_program(request.program, request.language or "python", limits))

    def ExecuteBatch(self, request, context):
        workers = request.workers or len(os.sched_getaffinity(0))
        try:
            jobs = [(p.program, p.language or "python", limits_from(p.limits)) for p in request.programs]
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_program, *job): index for index, job in enumerate(jobs)}
            for future in as_completed(futures):
                if not context.is_active():
                    for f in futures:
                        f.cancel()
                    return
                yield sandbox_pb2.ExecuteBatchItem(index=futures[future], result=result_message(future.result()))


def register(server: grpc.Server) -> None:
    """Add the Sandbox service to a server."""
    sandbox_pb2_grpc.add_SandboxServicer_to_server(SandboxServicer(), server)
