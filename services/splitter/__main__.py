"""`python -m services.splitter --port N`: the Splitter gRPC server."""

import sys

from services.common.grpc_server import serve_main
from services.splitter.server import register

sys.exit(serve_main("Splitter", register))
