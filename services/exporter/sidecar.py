"""One typed model for every `.comments` version (v1.x, v2.0.x, v2.1.x and their variants in the wild).

`parse_sidecar` turns the file into `Sidecar`; anything that isn't one of the known shapes raises a
`SidecarError` (with a `kind` the report counts) naming the file and the reason, never a KeyError or
TypeError from deep inside. Variants read: `file`/`fileName`, `created`/`timestamp`,
`commentIds`/`commentId`, `astAnchor`/`anchor` (+ `anchorType`), `aiMetadata`/`aiMeta`, `params` as a
map or a list, range comments (`startLine`/`endLine`), `replies` and `status`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from commentslab.services.common.errors import InputError

MAX_SIDECAR_BYTES = 10 * 1024 * 1024
# Every digit to 0, so that 19 digits in a row are one substring search (a regex is ten times slower).
_DIGITS_AS_ZEROS = bytes.maketrans(b"0123456789", b"0" * 10)
_NINETEEN_DIGITS = b"0" * 19
KNOWN_MAJOR_MINOR = {"1": None, "2": {"0", "1"}}  # 1.x, 2.0.x, 2.1.x
# A tuple, not `str | int`: the union would be built anew on every check, in the per-comment loops.
_ID_TYPES = (str, int)
TAGS = {"TODO", "FIXME", "NOTE", "QUESTION", "HACK", "WARNING", "STAR"}


class SidecarError(InputError):
    """A sidecar that can't be read as any known `.comments` version."""

    def __init__(self, path: str, reason: str, kind: str = "invalid_sidecar"):
        super().__init__(path, reason)
        self.kind = kind


@dataclass
class GhostMarker:
    """A v2 anchor that follows the code as it moves."""

    id: str
    line: int
    end_line: int | None = None
    line_hash: str | None = None
    line_text: str | None = None
    prev_line_text: str | None = None
    next_line_text: str | None = None
    symbol_path: list[str] = field(default_factory=list)
    symbol_kind: str | None = None


@dataclass
class Reply:
    """A reply under a comment (v2.1)."""

    id: str
    text: str
    author: str | None = None
    created: str | None = None


@dataclass
class Comment:
    """One comment, normalised across versions."""

    id: str
    line: int
    text: str
    start_line: int | None = None
    end_line: int | None = None
    tag: str | None = None
    author: str | None = None
    created: str | None = None
    updated: str | None = None
    params: dict[str, object] = field(default_factory=dict)  # name -> value
    ai_metadata: dict = field(default_factory=dict)
    status: str | None = None
    replies: list[Reply] = field(default_factory=list)
    marker: GhostMarker | None = None

    @property
    def is_range(self) -> bool:
        """True for a comment that marks a range of lines, not one line."""
        start = self.start_line or self.line
        end = self.end_line or (self.marker.end_line if self.marker else None)
        return end is not None and end > start


@dataclass
class Sidecar:
    """A parsed `.comments` file."""

    path: Path
    version: str
    file: str
    comments: list[Comment]
    # False when its JSON held NaN, Infinity or a number too large for a float: values that standard
    # JSON cannot write (Python's json writes them as NaN/Infinity; orjson would write null).
    finite: bool = True


def _int(value: object, where: str, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SidecarError(path, f"{where} must be an integer line number, got {value!r:.60}", "invalid_field")
    if value < 1:
        raise SidecarError(path, f"{where} is {value}; lines are 1-based", "line_out_of_range")
    return value


def _opt_int(raw: dict, key: str, where: str, path: str) -> int | None:
    value = raw.get(key)
    return None if value is None else _int(value, f"{where}.{key}", path)


def _opt_str(value: object) -> str | None:
    # Free-form members (author, dates, status) are kept when they are text and dropped when not.
    return value if isinstance(value, str) else None


def _params(raw: object, path: str, where: str) -> dict[str, object]:
    # Two shapes in the wild: a map name -> {"value", ...} and a list of {"name", "example", ...}.
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): (v.get("value") if isinstance(v, dict) else v) for k, v in raw.items()}
    if isinstance(raw, list):
        out: dict[str, object] = {}
        for item in raw:
            if not isinstance(item, dict) or "name" not in item:
                raise SidecarError(path, f"{where}.params: list items need a 'name'", "invalid_field")
            out[str(item["name"])] = item.get("value", item.get("example"))
        return out
    raise SidecarError(path, f"{where}.params must be a map or a list, got {type(raw).__name__}", "invalid_field")


def _marker(raw: object, path: str, index: int) -> GhostMarker:
    where = f"ghostMarkers[{index}]"
    if not isinstance(raw, dict):
        raise SidecarError(path, f"{where} must be an object", "invalid_field")
    if "id" not in raw or "line" not in raw:
        missing = [k for k in ("id", "line") if k not in raw]
        raise SidecarError(path, f"{where} is missing {', '.join(missing)}", "missing_field")
    anchor = raw.get("astAnchor", raw.get("anchor"))
    if isinstance(anchor, str):  # older v2: the symbol's name alone
        anchor = {"symbolPath": [anchor]}
    if not isinstance(anchor, dict):
        anchor = {}
    symbol_path = anchor.get("symbolPath") or []
    if isinstance(symbol_path, str):
        symbol_path = [symbol_path]
    if not isinstance(symbol_path, list):
        symbol_path = []
    line_hash = raw.get("lineHash")
    return GhostMarker(
        id=str(raw["id"]),
        line=_int(raw["line"], f"{where}.line", path),
        end_line=_opt_int(raw, "endLine", where, path),
        line_hash=line_hash if isinstance(line_hash, str) and line_hash else None,
        line_text=_opt_str(raw.get("lineText")),
        prev_line_text=_opt_str(raw.get("prevLineText")),
        next_line_text=_opt_str(raw.get("nextLineText")),
        symbol_path=[str(s) for s in symbol_path if isinstance(s, _ID_TYPES)],
        symbol_kind=_opt_str(anchor.get("symbolKind")) or _opt_str(raw.get("anchorType")),
    )


def _replies(raw: object, path: str, where: str) -> list[Reply]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SidecarError(path, f"{where}.replies must be a list", "invalid_field")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise SidecarError(path, f"{where}.replies[{i}] needs a 'text' string", "invalid_field")
        out.append(Reply(str(item.get("id", i)), item["text"], _opt_str(item.get("author")),
                         _opt_str(item.get("created", item.get("timestamp")))))
    return out


def _version(data: dict, path: str) -> str:
    raw = data.get("version")
    version = str(raw) if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) else ""
    parts = version.split(".")
    known = KNOWN_MAJOR_MINOR.get(parts[0]) if parts[0] in KNOWN_MAJOR_MINOR else False
    if known is False or (known is not None and (len(parts) < 2 or parts[1] not in known)):
        raise SidecarError(path, f"unknown .comments version {raw!r:.40} (known: 1.x, 2.0.x, 2.1.x)",
                           "unknown_version")
    return version


def parse_sidecar_data(data: object, path: str) -> Sidecar:
    """Normalise decoded sidecar JSON, or raise SidecarError naming `path` and the reason."""
    if not isinstance(data, dict):
        raise SidecarError(path, "top level must be a JSON object", "invalid_field")
    version = _version(data, path)
    file = data.get("file") or data.get("fileName")
    if not isinstance(file, str) or not file:
        raise SidecarError(path, "missing 'file' (or 'fileName')", "missing_field")
    raw_comments = data.get("comments")
    if not isinstance(raw_comments, list):
        raise SidecarError(path, "missing 'comments' list", "missing_field")
    raw_markers = data.get("ghostMarkers") or []
    if not isinstance(raw_markers, list):
        raise SidecarError(path, "'ghostMarkers' must be a list", "invalid_field")
    markers: dict[str, GhostMarker] = {}
    by_comment: dict[str, GhostMarker] = {}
    for i, raw in enumerate(raw_markers):
        marker = _marker(raw, path, i)
        markers[marker.id] = marker
        ids = raw.get("commentIds")
        if not isinstance(ids, list):
            ids = [raw["commentId"]] if isinstance(raw.get("commentId"), _ID_TYPES) else []
        for cid in ids:
            if isinstance(cid, _ID_TYPES):
                by_comment[str(cid)] = marker
    comments = []
    for i, raw in enumerate(raw_comments):
        where = f"comments[{i}]"
        if not isinstance(raw, dict):
            raise SidecarError(path, f"{where} must be an object", "invalid_field")
        if "id" not in raw or "line" not in raw or "text" not in raw:
            missing = [k for k in ("id", "line", "text") if k not in raw]
            raise SidecarError(path, f"{where} is missing {', '.join(missing)}", "missing_field")
        if not isinstance(raw["text"], str):
            raise SidecarError(path, f"{where}.text must be a string", "invalid_field")
        if not isinstance(raw["id"], _ID_TYPES) or isinstance(raw["id"], bool) or raw["id"] == "":
            raise SidecarError(path, f"{where}.id must be a non-empty string", "invalid_field")
        cid = str(raw["id"])
        marker_id = raw.get("ghostMarkerId")
        marker = (markers.get(marker_id) if isinstance(marker_id, str) else None) or by_comment.get(cid)
        ai = raw.get("aiMetadata", raw.get("aiMeta"))
        tag = raw.get("tag")
        comments.append(
            Comment(
                id=cid,
                line=_int(raw["line"], f"{where}.line", path),
                text=raw["text"],
                start_line=_opt_int(raw, "startLine", where, path),
                end_line=_opt_int(raw, "endLine", where, path),
                tag=tag if isinstance(tag, str) and tag else None,
                author=_opt_str(raw.get("author")),
                created=_opt_str(raw.get("created", raw.get("timestamp"))),
                updated=_opt_str(raw.get("updated", raw.get("timestamp"))),
                params=_params(raw.get("params"), path, where),
                # Free-form aiMeta ("complexity": "low") is kept as it is; a bare value is wrapped.
                ai_metadata=ai if isinstance(ai, dict) else ({} if ai is None else {"value": ai}),
                status=_opt_str(raw.get("status")),
                replies=_replies(raw.get("replies"), path, where),
                marker=marker,
            )
        )
    return Sidecar(path=Path(path), version=version, file=file, comments=comments)


def _strict_json(raw: bytes) -> object | None:
    """The JSON in `raw` as orjson reads it (several times faster), or None where only Python's json may say.

    orjson refuses what json refuses, and also NaN, infinities, lone surrogates and very deep nesting,
    which json reads; where both read a document they read the same values, except integers past 64 bits,
    which orjson turns into floats: a run of 19 digits sends the document to json.
    """
    if _NINETEEN_DIGITS in raw.translate(_DIGITS_AS_ZEROS):
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def parse_sidecar_bytes(raw: bytes, path: str) -> Sidecar:
    """Decode and normalise a sidecar's bytes, or raise SidecarError naming `path` and the reason."""
    if len(raw) > MAX_SIDECAR_BYTES:
        raise SidecarError(path, f"is {len(raw)} bytes, over the {MAX_SIDECAR_BYTES}-byte limit", "too_large")
    data = _strict_json(raw)
    if data is not None:  # standard JSON, so no NaN or infinity in it
        return parse_sidecar_data(data, path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SidecarError(path, "is not UTF-8 text", "not_utf8") from exc
    non_finite: list[str] = []

    def constant(name: str) -> float:  # NaN, Infinity, -Infinity: the decoder asks only for these
        non_finite.append(name)
        return float(name)

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):  # 1e400
            non_finite.append(literal)
        return value

    try:
        data = json.loads(text, parse_constant=constant, parse_float=number)
    except json.JSONDecodeError as exc:
        raise SidecarError(path, f"is not JSON ({exc.msg} at line {exc.lineno})", "invalid_json") from exc
    except RecursionError as exc:
        raise SidecarError(path, "is not JSON this reader accepts (nested too deeply)", "invalid_json") from exc
    sidecar = parse_sidecar_data(data, path)
    sidecar.finite = not non_finite
    return sidecar


def parse_sidecar(path: Path) -> Sidecar:
    """Read and normalise a `.comments` file, or raise SidecarError naming it and the reason."""
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise SidecarError(str(path), f"is {size} bytes, over the {MAX_SIDECAR_BYTES}-byte limit", "too_large")
        raw = path.read_bytes()
    except OSError as exc:
        raise SidecarError(str(path), f"cannot be read ({exc.strerror})", "unreadable") from exc
    return parse_sidecar_bytes(raw, str(path))
