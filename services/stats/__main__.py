"""`python -m services.stats --port N`: the Stats gRPC server."""

import sys

from services.common.grpc_server import serve_main
from services.stats.server import register

sys.exit(serve_main("Stats", register))
