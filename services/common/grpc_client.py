"""The one way to reach a service: a channel with large messages, a health wait, and clear errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tqdm import tqdm

from commentslab.services.common.errors import ServiceError
from commentslab.services.common.grpc_server import MAX_MESSAGE_BYTES

# Services whose every call may be sent again without harm: running a program in a sandbox, a
# statistical test, a health check. Not the trainer, exporter or splitter, whose calls write artifacts.
IDEMPOTENT_SERVICES = ("commentslab.v1.Sandbox", "commentslab.v1.Stats", "grpc.health.v1.Health")


def retry_service_config(services: Sequence[str] = IDEMPOTENT_SERVICES) -> str:
    """gRPC service config (JSON) that re-sends calls to `services` refused as UNAVAILABLE.

    UNAVAILABLE is what a client sees while a pod is replaced or moved by the autoscaler. gRPC re-sends
    a call only until its first response arrives and only within the call's own deadline; a stream that
    broke later is resumed by its caller (services/sandbox/client.py).
    """
    return json.dumps({
        "methodConfig": [{
            "name": [{"service": name} for name in services],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.5s",
                "maxBackoff": "10s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }],
    })


def open_channel(address: str, retry_services: Sequence[str] = IDEMPOTENT_SERVICES) -> grpc.Channel:
    """An insecure channel to `host:port` (loopback inside one machine, the mesh in a cluster).

    Calls to `retry_services` are retried on UNAVAILABLE (see `retry_service_config`); pass () for none.
    """
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.enable_retries", 1),
    ]
    if retry_services:
        options.append(("grpc.service_config", retry_service_config(retry_services)))
    return grpc.insecure_channel(address, options=options)


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
    hint = "its log says why" if last == "NOT_SERVING" else "is it running?"
    raise ServiceError(f"{name} at {address} is not serving after {timeout:.0f}s ({last}); {hint}")


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
