"""`python -m commentslab.services.splitter --port N`: the Splitter gRPC server."""

import sys

from commentslab.services.common.grpc_server import serve_main
from commentslab.services.splitter.server import register

sys.exit(serve_main("Splitter", register))
