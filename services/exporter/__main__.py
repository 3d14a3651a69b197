"""`python -m commentslab.services.exporter --port N`: the Exporter gRPC server."""

import sys

from commentslab.services.common.errors import CommentslabError
from commentslab.services.common.grpc_server import serve_main
from commentslab.services.exporter.pseudonym_key import pseudonym_key
from commentslab.services.exporter.server import register

try:
    pseudonym_key()  # refuse to start without the deployment's key, rather than fail the first export
except CommentslabError as exc:
    sys.exit(f"exporter: {exc}")
sys.exit(serve_main("Exporter", register))
