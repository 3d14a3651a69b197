"""`python -m services.exporter --port N`: the Exporter gRPC server."""

import sys

from services.common.grpc_server import serve_main
from services.exporter.server import register

sys.exit(serve_main("Exporter", register))
