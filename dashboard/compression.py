"""gzip for the dashboard's responses: the JavaScript bundles (plotly.js is 4.8 MB, 1.4 MB compressed), the
layout and callback JSON. A static file is compressed once per version and kept in memory; a streamed
response (the playground's NDJSON) passes through untouched, so its lines are not held back.
"""

from __future__ import annotations

import gzip
import threading

import flask

COMPRESSIBLE = ("application/javascript", "text/javascript", "application/json", "text/css", "text/html",
                "image/svg+xml")
MIN_BYTES = 1024
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")


def gzip_responses(server: flask.Flask, level: int = 6) -> None:
    """Compress ``server``'s responses for clients that accept gzip; static files are compressed once each."""
    cache: dict[tuple[str, str], bytes] = {}
    lock = threading.Lock()

    @server.after_request
    def _compress(response: flask.Response) -> flask.Response:
        accepts = "gzip" in flask.request.headers.get("Accept-Encoding", "")
        streamed = response.is_streamed and not response.direct_passthrough  # a generator, not a file
        if (not accepts or response.status_code != 200 or streamed
                or response.mimetype not in COMPRESSIBLE or "Content-Encoding" in response.headers):
            return response
        static = flask.request.method == "GET" and flask.request.path.startswith(STATIC_PREFIXES)
        key = (flask.request.full_path, response.headers.get("ETag", "") + response.headers.get("Last-Modified", ""))
        body = cache.get(key) if static else None
        if body is None:
            response.direct_passthrough = False  # send_file's responses: read the file to compress it
            data = response.get_data()
            if len(data) < MIN_BYTES:
                return response
            body = gzip.compress(data, compresslevel=level, mtime=0)
            if static:
                with lock:
                    cache[key] = body
        response.direct_passthrough = False
        response.set_data(body)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Content-Length"] = str(len(body))
        response.vary.add("Accept-Encoding")
        return response
