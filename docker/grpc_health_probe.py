"""Container health check: exit 0 when the gRPC server at HOST:PORT answers SERVING, else 1.

Usage: ``python grpc_health_probe.py 127.0.0.1:50051 [--service NAME] [--timeout SECONDS]``.
Docker's HEALTHCHECK runs it; Kubernetes uses its native gRPC probe against the same health service.
"""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def probe(address: str, service: str = "", timeout: float = 3.0) -> str:
    """The serving status name the server reports for `service` ('' is the whole server)."""
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def main(argv: list[str] | None = None) -> int:
    """Probe once and turn the answer into an exit code, with the reason on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="host:port of the gRPC server")
    parser.add_argument("--service", default="", help="service name to check (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    try:
        status = probe(args.address, args.service, args.timeout)
    except grpc.RpcError as exc:
        print(f"unhealthy: {args.address}: {exc.code().name} {exc.details()}", file=sys.stderr)
        return 1
    if status != "SERVING":
        print(f"unhealthy: {args.address} reports {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
