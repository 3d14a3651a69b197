"""``python -m services.gateway --port N --model-server HOST:PORT --results DIR``: serve the public API."""

from __future__ import annotations

import argparse
from pathlib import Path

from services.gateway.app import openapi_text
from services.gateway.rate_limit import DEFAULT_DAILY_LIMIT
from services.gateway.results_store import default_results_dir
from services.gateway.server import serve
from services.gateway.votes import DEFAULT_DAILY_CAP


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the gateway until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m services.gateway", description=__doc__)
    parser.add_argument("--results", type=Path, default=None,
                        help="run folder that holds results.json (default: the reference results, else the newest run)")
    parser.add_argument("--model-server", default=None, help="ModelServer host:port for the playground")
    parser.add_argument("--votes-url", default=None, help="SQLAlchemy URL of the vote store "
                        "(default: SQLite in the results folder; postgresql://... for PostgreSQL)")
    parser.add_argument("--review-queue", type=Path, default=None, help="the review queue's SQLite file")
    parser.add_argument("--daily-limit", type=int, default=DEFAULT_DAILY_LIMIT,
                        help="playground generations per client per day")
    parser.add_argument("--daily-vote-cap", type=int, default=DEFAULT_DAILY_CAP, help="votes per reviewer per day")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="CIDR",
                        help="a network whose X-Forwarded-For names the visitor (the dashboard's pods, the ingress "
                             "controller); repeatable. Loopback is always trusted")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8060)
    parser.add_argument("--write-openapi", type=Path, default=None, metavar="FILE",
                        help="write the OpenAPI schema to FILE and exit (the committed copy is services/gateway/openapi.json)")
    args = parser.parse_args(argv)
    if args.write_openapi:
        args.write_openapi.write_text(openapi_text(), encoding="utf-8")
        return
    if args.results is None:
        args.results = default_results_dir(Path.cwd())
    serve(args.results, host=args.host, port=args.port, model_server=args.model_server, votes_url=args.votes_url,
          review_queue=args.review_queue, daily_limit=args.daily_limit, daily_vote_cap=args.daily_vote_cap,
          trusted_proxies=tuple(args.trusted_proxy))


if __name__ == "__main__":
    main()
