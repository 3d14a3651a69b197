"""Command line: ``python -m dashboard --results DIR [--host HOST] [--port N]``."""

import argparse
from pathlib import Path

from dashboard.app import serve


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the dashboard for the given run folder."""
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--results", type=Path, required=True, help="run folder that holds results.json")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=8050, help="port to listen on (default: 8050)")
    args = parser.parse_args(argv)
    serve(args.results, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
