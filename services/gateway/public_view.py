"""What of a run's results the public may see: results.json keeps everything a maintainer needs to reproduce
a run (checkpoint paths, the machine, the config's folders); the gateway serves it without the parts that
map the deployment: absolute paths and URIs (cut to their last name), host and kernel names, addresses.
"""

from __future__ import annotations

import re
from typing import Any

# Keys whose values describe the machine or the network, never the experiment.
PRIVATE_KEYS = frozenset({"host", "hostname", "node", "platform", "kernel", "uname", "address", "addresses",
                          "ip", "user", "username", "home", "cwd"})
_URI = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\[^\s'\"<>]+")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~/-])/(?:[^\s/'\"<>:,;]+/)+[^\s/'\"<>:,;]*")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_HOST_PORT = re.compile(r"\b[a-zA-Z][\w.-]*:\d{2,5}\b")
REDACTED_ADDRESS = "<address>"


def _last_name(match: re.Match) -> str:
    name = re.split(r"[/\\]", match.group(0).rstrip("/\\"))[-1]
    return name or "<path>"


def public_text(text: str) -> str:
    """``text`` with URIs and absolute paths cut to their last name, and addresses replaced."""
    text = _URI.sub(_last_name, text)
    text = _WINDOWS_PATH.sub(_last_name, text)
    text = _ABSOLUTE_PATH.sub(_last_name, text)
    text = _IPV4.sub(REDACTED_ADDRESS, text)
    return _HOST_PORT.sub(REDACTED_ADDRESS, text)


def public_view(value: Any) -> Any:
    """``value`` (parsed results) without PRIVATE_KEYS, every string passed through ``public_text``."""
    if isinstance(value, dict):
        return {key: public_view(item) for key, item in value.items() if str(key).lower() not in PRIVATE_KEYS}
    if isinstance(value, list):
        return [public_view(item) for item in value]
    if isinstance(value, str):
        return public_text(value)
    return value
