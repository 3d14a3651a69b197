"""`python -m commentslab.services.stats --port N`: the Stats gRPC server."""

import sys

from commentslab.services.common.grpc_server import serve_main
from commentslab.services.stats.server import register

sys.exit(serve_main("Stats", register))
