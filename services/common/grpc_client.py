"""The one way to reach a service: a channel with large messages, a health wait, and clear errors."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

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
