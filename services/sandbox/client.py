"""A batch of programs on the Sandbox service that survives losing the server: only programs without a result are re-sent.

The server streams each program's result as it finishes and keeps nothing between calls, so what a
lost pod takes with it is exactly the programs whose results had not reached the client. The client
holds the results; after an interruption it waits for a server to be healthy again (the same pod
restarted, or another replica behind the Service) and sends the rest. Programs are pure functions of
their text in the sandbox, so re-running one that was cut off gives the result it would have given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from commentslab.services.common.errors import SandboxUnavailable, ServiceError
from commentslab.services.common.grpc_client import describe_rpc_error, wait_healthy
from commentslab.v1 import sandbox_pb2, sandbox_pb2_grpc

# What a client sees when the server's process or pod went away mid-stream.
_LOST_SERVER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)


@dataclass
class BatchRun:
    """Every program's result, in input order, and what resuming cost.

    `sent` counts programs sent, re-sent ones included; `interruptions` how many times the server was lost.
    """

    results: list[sandbox_pb2.ExecuteResult]
    sent: int
    interruptions: int


def run_batch(
    channel: grpc.Channel,
    address: str,
    programs: list[str],
    limits: sandbox_pb2.Limits,
    language: str = "python",
    timeout_retries: int = 1,
    deadline_seconds: float = 3600.0,
    max_interruptions: int = 5,
    on_result: Callable[[int, sandbox_pb2.ExecuteResult], None] | None = None,
) -> BatchRun:
    """Run `programs` on the Sandbox at `address`; resume after up to `max_interruptions` lost servers.

    Raises SandboxUnavailable when the server reports it cannot isolate programs (its one-line reason),
    ServiceError when the server is gone for good, answers with another error, or the deadline passes.
    """
    stub = sandbox_pb2_grpc.SandboxStub(channel)
    results: list[sandbox_pb2.ExecuteResult | None] = [None] * len(programs)
    deadline = time.monotonic() + deadline_seconds
    sent = interruptions = 0
    while pending := [i for i, result in enumerate(results) if result is None]:
        request = sandbox_pb2.ExecuteBatchRequest(
            programs=[sandbox_pb2.ExecuteRequest(program=programs[i], language=language, limits=limits)
                      for i in pending],
            timeout_retries=timeout_retries,
        )
        sent += len(pending)
        try:
            for item in stub.ExecuteBatch(request, timeout=max(1.0, deadline - time.monotonic())):
                index = pending[item.index]
                results[index] = item.result
                if on_result is not None:
                    on_result(index, item.result)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise SandboxUnavailable(f"sandbox at {address}: {exc.details()}") from exc
            if exc.code() not in _LOST_SERVER or interruptions >= max_interruptions:
                raise describe_rpc_error("sandbox", exc) from exc
            interruptions += 1
            wait_healthy(channel, "sandbox", address, timeout=max(1.0, min(300.0, deadline - time.monotonic())))
            continue
        if any(results[i] is None for i in pending):
            raise ServiceError(f"sandbox at {address} ended a batch without every result; see its log")
    return BatchRun(results, sent, interruptions)  # type: ignore[arg-type]
