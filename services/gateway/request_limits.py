"""What the gateway refuses before a route sees a request: oversized bodies (413), JSON nested too deep or
holding lone surrogates (422), and validation errors that would echo the input back.

A body is read in chunks and refused once it passes ``max_bytes``, so a 50 MB prompt costs at most
``max_bytes`` of memory. Python's JSON parser recurses once per nesting level and raises RecursionError
near 1,000 levels, and a lone surrogate (``"\\ud800"``) parses into a str that cannot be encoded as UTF-8
later (in a database driver, in protobuf): both are caught here, before parsing, as a 422.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024  # a 4,000-character prompt and 2,000 characters of metadata, every one \u-escaped
MAX_JSON_DEPTH = 32


class BodyTooLarge(Exception):
    """A request body over the limit."""


def json_depth(text: str) -> int:
    """The deepest nesting of objects and arrays in JSON ``text``, counted without parsing (so without
    recursion); brackets inside strings do not count."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string (or object key) in parsed JSON ``value`` holds a surrogate code point, which no
    UTF-8 text can carry. Iterative: ``value`` may be as deep as MAX_JSON_DEPTH allows."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_problem(text: str) -> str | None:
    """Why JSON ``text`` is refused (too deep, invalid Unicode), or None when it may be parsed. Malformed JSON is
    not judged here: the parser's own error says where."""
    if json_depth(text) > MAX_JSON_DEPTH:
        return f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if has_lone_surrogate(value):
        return "the JSON holds invalid Unicode (a lone surrogate escape such as \\ud800); send UTF-8 text"
    return None


class RequestLimits:
    """ASGI middleware: a body size limit on every request, and the JSON checks of ``json_problem``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send, 413, f"the request body is over {self.max_bytes} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, f"the request body is over {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and b"json" in headers.get(b"content-type", b""):
            try:
                problem = json_problem(body.decode("utf-8"))
            except UnicodeDecodeError:
                problem = "the body is not UTF-8 text"
            if problem:  # shaped like FastAPI's own 422, as the OpenAPI schema declares
                await self._refuse(send, 422, [{"loc": ["body"], "msg": problem, "type": "value_error"}])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: the disconnect a streaming reply listens for
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str | list) -> None:
        payload = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


def validation_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's validation errors without the input or its context, which would echo the request back."""
    return [{"loc": list(error.get("loc", [])), "msg": str(error.get("msg", ""))[:200], "type": error.get("type", "")}
            for error in exc.errors()][:20]


def install(app: FastAPI, max_bytes: int = MAX_BODY_BYTES) -> None:
    """Put the body limits in front of ``app`` and make its 422 replies name the fields, never echo them."""
    app.add_middleware(RequestLimits, max_bytes=max_bytes)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_problems(exc)}, status_code=422)
