"""`python -m commentslab.services.serving --port N [--max-batch B] [--device cuda]`: the ModelServer gRPC server."""

import argparse
import sys

from commentslab.services.common.grpc_server import serve_main
from commentslab.services.serving.generate import Generator, Limits
from commentslab.services.serving.server import registrar

parser = argparse.ArgumentParser(add_help=False)
parser.add_argument("--max-batch", type=int, default=32, help="rows (prompt x sample) decoded together at most")
parser.add_argument("--batch-wait-ms", type=float, default=2.0, help="wait this long for company when idle")
parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when visible)")
parser.add_argument("--dtype", default=None, help="float32, bfloat16 (default: bfloat16 on cuda, float32 on cpu)")
parser.add_argument("--max-n", type=int, default=Limits.max_n, help="samples per prompt at most")
parser.add_argument("--max-new-tokens", type=int, default=Limits.max_new_tokens, help="new tokens per sample at most")
args, rest = parser.parse_known_args()
if "-h" in rest or "--help" in rest:
    parser.print_help()
generator = Generator(args.max_batch, Limits(max_n=args.max_n, max_new_tokens=args.max_new_tokens),
                      args.device, args.dtype, args.batch_wait_ms / 1000)
sys.exit(serve_main("ModelServer", registrar(generator), rest))
