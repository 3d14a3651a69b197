"""What Flask-Compress (``Dash(compress=True)``) keeps between requests: each static bundle's compressed body.

Gzipping plotly.js takes this machine ~140 ms (level 6) and Dash's own bundles ~60 ms more per page; doing
it again for every visitor would spend most of a chart's budget. Static files do not change while the
server runs (Dash's component suites carry their version in the URL), so their compressed bodies are kept
by URL; every other response (the layout, callbacks) is compressed afresh.
"""

from __future__ import annotations

import threading

import flask

STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
# Flask-Compress asks for a key for every response it compresses; this one marks a response not to keep.
NOT_KEPT = "not-kept"


def compressed_cache_key(request: flask.Request) -> str:
    """The cache key of a response: its URL for a static file, ``NOT_KEPT`` for anything else."""
    if request.method == "GET" and request.path.startswith(STATIC_PREFIXES):
        return request.full_path
    return NOT_KEPT


class StaticBodies:
    """A Flask-Compress cache backend holding the compressed bodies of static files only."""

    def __init__(self) -> None:
        self._bodies: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The compressed body kept for ``key``, or None."""
        return self._bodies.get(key)

    def set(self, key: str, body: bytes) -> None:
        """Keep ``body`` unless its key marks a response not to keep."""
        if not key.endswith(NOT_KEPT):
            with self._lock:
                self._bodies[key] = body


def compression_settings() -> dict:
    """Flask config for Flask-Compress: static bodies compressed once (see StaticBodies)."""
    return {"COMPRESS_CACHE_BACKEND": StaticBodies, "COMPRESS_CACHE_KEY": compressed_cache_key}
