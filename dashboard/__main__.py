"""Command line: ``python -m commentslab.dashboard [--results DIR] [--gateway URL | --model-server HOST:PORT ...] [--port N]``,
served by gunicorn (dashboard/server.py)."""

import argparse
from pathlib import Path

from commentslab.dashboard.server import DEFAULT_THREADS, DEFAULT_WORKERS, serve
from commentslab.services.gateway.rate_limit import DEFAULT_DAILY_LIMIT
from commentslab.services.gateway.results_store import default_results_dir


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the dashboard."""
    parser = argparse.ArgumentParser(prog="python -m commentslab.dashboard", description=__doc__)
    parser.add_argument("--results", type=Path, default=None,
                        help="run folder that holds results.json, or a folder of runs (a results database: every run "
                             "folder under it is listed; default: the committed reference results, else the newest "
                             "run under runs/)")
    parser.add_argument("--gateway", default=None, help="base URL of a running gateway (default: start one in-process)")
    parser.add_argument("--model-server", default=None, help="ModelServer host:port for the in-process gateway")
    parser.add_argument("--votes-url", default=None, help="SQLAlchemy URL of the vote store (in-process gateway)")
    parser.add_argument("--review-queue", type=Path, default=None, help="review queue SQLite file (in-process gateway)")
    parser.add_argument("--daily-limit", type=int, default=DEFAULT_DAILY_LIMIT, help="playground requests per visitor per day")
    parser.add_argument("--daily-vote-cap", type=int, default=None, help="votes per reviewer per day")
    parser.add_argument("--proxy-hops", type=int, default=0,
                        help="proxies in front that append to X-Forwarded-For (1 behind an ingress): the playground's "
                             "daily limit then counts the visitor's address, not the proxy's")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=8050, help="port to listen on (default: 8050)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"gunicorn worker processes (default: {DEFAULT_WORKERS}; each runs its own in-process "
                             "gateway unless --gateway is given)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"threads per worker, one per request in flight (default: {DEFAULT_THREADS})")
    parser.add_argument("--plotly-bundle", type=Path, default=None,
                        help="plotly.js file the charts load (default: plotly's basic partial bundle, "
                             "dashboard/vendor/plotly-basic.min.js; a full plotly.min.js for other trace types)")
    args = parser.parse_args(argv)
    options = {"model_server": args.model_server, "votes_url": args.votes_url, "review_queue": args.review_queue,
               "daily_limit": args.daily_limit}
    if args.daily_vote_cap is not None:
        options["daily_vote_cap"] = args.daily_vote_cap
    results = args.results if args.results is not None else default_results_dir(Path.cwd())
    app_options = {}
    if args.plotly_bundle is not None:
        if not args.plotly_bundle.is_file():
            parser.error(f"--plotly-bundle {args.plotly_bundle}: no such file")
        app_options["plotly_bundle"] = args.plotly_bundle
    serve(results, host=args.host, port=args.port, gateway_url=args.gateway, proxy_hops=args.proxy_hops,
          workers=args.workers, threads=args.threads, **app_options, **(options if args.gateway is None else {}))


if __name__ == "__main__":
    main()
