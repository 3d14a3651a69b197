"""`python -m services.trainer --port N`: the Trainer gRPC server."""

import sys

from services.common.grpc_server import serve_main
from services.trainer.server import register

sys.exit(serve_main("Trainer", register))
