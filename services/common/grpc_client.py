"""The one way to reach a service: a channel with large messages, a health wait, and clear errors."""

from __future__ import annotations

import time
from collections.abc import Iterable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tqdm import tqdm

from services.common.errors import ServiceError
from services.common.grpc_server import MAX_MESSAGE_BYTES


def open_channel(address: str) -> grpc.Channel:
    """An insecure channel to `host:port` (loopback inside one machine, the mesh in a cluster)."""
    return grpc.insecure_channel(
        address,
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
    )


def wait_healthy(channel: grpc.Channel, name: str, address: str, timeout: float = 60.0) -> None:
    """Block until the service reports SERVING, or raise ServiceError naming it."""
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
            last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.RpcError as exc:
            last = exc.code().name
        time.sleep(0.2)
    raise ServiceError(f"{name} at {address} is not serving after {timeout:.0f}s ({last}); is it running?")


def describe_rpc_error(name: str, exc: grpc.RpcError) -> ServiceError:
    """A ServiceError saying which service failed and what it said."""
    return ServiceError(f"{name} failed: {exc.code().name}: {exc.details()}")


def follow_progress(events: Iterable, name: str, desc: str, unit: str = "item"):
    """The result of a stream of `Progress` events and then one result, showing a bar (with time left) per stage.

    For the Exporter's and the Splitter's streams: each event holds `progress` (commentslab.v1.Progress)
    or `result`. An RPC error becomes a ServiceError naming the service.
    """
    bars: dict[str, tqdm] = {}
    result = None
    try:
        for event in events:
            if event.HasField("progress"):
                p = event.progress
                label = f"{desc} {p.stage}".strip() if p.stage and p.stage != desc else desc
                bar = bars.get(label) or bars.setdefault(label, tqdm(total=p.total, desc=label, unit=unit))
                bar.total = p.total
                bar.update(p.done - bar.n)
            elif event.HasField("result"):
                result = event.result
    except grpc.RpcError as exc:
        raise describe_rpc_error(name, exc) from exc
    finally:
        for bar in bars.values():
            bar.close()
    if result is None:
        raise ServiceError(f"{name} ended its stream without a result; see its log")
    return result
