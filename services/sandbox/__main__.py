"""`python -m commentslab.services.sandbox --port N`: the Sandbox gRPC server, serving once its isolation check passes."""

import sys

from commentslab.services.common.grpc_server import serve_main
from commentslab.services.sandbox.server import SandboxServicer

servicer = SandboxServicer()
sys.exit(serve_main("Sandbox", servicer.register, health_owner=servicer.own_health))
