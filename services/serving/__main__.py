"""`python -m services.serving --port N`: the ModelServer gRPC server."""

import sys

from services.common.grpc_server import serve_main
from services.serving.server import register

sys.exit(serve_main("ModelServer", register))
