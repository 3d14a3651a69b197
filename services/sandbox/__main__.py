"""`python -m services.sandbox --port N`: the Sandbox gRPC server."""

import sys

from services.common.grpc_server import serve_main
from services.sandbox.server import register

sys.exit(serve_main("Sandbox", register))
