"""`python -m commentslab.services.trainer --port N`: the Trainer gRPC server."""

import sys

from commentslab.services.common.grpc_server import serve_main
from commentslab.services.trainer.server import register

sys.exit(serve_main("Trainer", register))
