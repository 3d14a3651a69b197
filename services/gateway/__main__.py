"""``python -m commentslab.services.gateway --port N --model-server HOST:PORT --results DIR --database-url URL``: serve the
public API. Refuses to start, with one line naming the setting, without the maintainer credential or with a
database it cannot use."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commentslab.services.common.errors import CommentslabError
from commentslab.services.gateway.app import openapi_text
from commentslab.services.gateway.rate_limit import DEFAULT_DAILY_LIMIT
from commentslab.services.gateway.results_store import default_results_dir
from commentslab.services.gateway.server import serve
from commentslab.services.gateway.votes import DEFAULT_DAILY_CAP


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the gateway until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m commentslab.services.gateway", description=__doc__)
    parser.add_argument("--results", type=Path, default=None,
                        help="run folder that holds results.json, or a folder of runs (a results database: every run "
                             "folder under it is listed) (default: the reference results, else the newest run)")
    parser.add_argument("--model-server", default=None, help="ModelServer host:port for the playground")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL of the store every replica shares: daily counts, votes, the review queue "
                             "(postgresql://USER@HOST:PORT/DB, password from PGPASSWORD; default: SQLite in the "
                             "results folder, for one process only)")
    parser.add_argument("--review-queue", type=Path, default=None,
                        help="the export's review queue file, merged into the database at start")
    parser.add_argument("--daily-limit", type=int, default=DEFAULT_DAILY_LIMIT,
                        help="playground generations per client per day")
    parser.add_argument("--daily-vote-cap", type=int, default=DEFAULT_DAILY_CAP, help="votes per reviewer per day")
    parser.add_argument("--closed-registration", action="store_true",
                        help="reviewers only by the maintainer's invitation (default: visitors may also register; "
                             "their votes are rate-limited per client and reported apart)")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="CIDR",
                        help="a network whose X-Forwarded-For is believed (the ingress controller, the dashboard's "
                             "pods); repeatable. The visitor is the right-most address not in these networks")
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
    try:
        serve(args.results, host=args.host, port=args.port, model_server=args.model_server,
              database_url=args.database_url, review_queue=args.review_queue, daily_limit=args.daily_limit,
              daily_vote_cap=args.daily_vote_cap, trusted_proxies=tuple(args.trusted_proxy),
              open_registration=not args.closed_registration)
    except CommentslabError as exc:
        sys.exit(f"gateway: {exc}")


if __name__ == "__main__":
    main()
