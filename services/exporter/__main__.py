"""`python -m services.exporter --port N`: the Exporter gRPC server."""

import sys

from services.common.errors import CommentslabError
from services.common.grpc_server import serve_main
from services.exporter.pseudonym_key import pseudonym_key
from services.exporter.server import register

try:
    pseudonym_key()  # refuse to start without the deployment's key, rather than fail the first export
except CommentslabError as exc:
    sys.exit(f"exporter: {exc}")
sys.exit(serve_main("Exporter", register))
