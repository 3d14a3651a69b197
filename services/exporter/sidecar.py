"""One typed model for every `.comments` version (v1.x, v2.0.x, v2.1.x and their variants in the wild).

`parse_sidecar` turns the JSON into `Sidecar`; anything that isn't one of the known shapes raises
`SidecarError` naming the file and the reason, never a KeyError from deep inside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from services.common.errors import InputError

MAX_SIDECAR_BYTES = 10 * 1024 * 1024


class SidecarError(InputError):
    """A sidecar that can't be read as any known `.comments` version."""


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
class Comment:
    """One comment, normalised across versions."""

    id: str
    line: int
    text: str
    start_line: int | None = None
    end_line: int | None = None
    tag: str | None = None
    author: str | None = None
    params: dict[str, object] = field(default_factory=dict)  # name -> value
    ai_metadata: dict = field(default_factory=dict)
    status: str | None = None
    replies: list[dict] = field(default_factory=list)
    marker: GhostMarker | None = None


@dataclass
class Sidecar:
    """A parsed `.comments` file."""

    path: Path
    version: str
    file: str
    comments: list[Comment]


def _int(value: object, where: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SidecarError(str(path), f"{where} must be an integer line number, got {value!r}")
    if value < 1:
        raise SidecarError(str(path), f"{where} is {value}; lines are 1-based")
    return value


def _params(raw: object, path: Path, where: str) -> dict[str, object]:
    # Two shapes in the wild: a map name -> {"value", ...} and a list of {"name", "example", ...}.
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): (v.get("value") if isinstance(v, dict) else v) for k, v in raw.items()}
    if isinstance(raw, list):
        out: dict[str, object] = {}
        for item in raw:
            if not isinstance(item, dict) or "name" not in item:
                raise SidecarError(str(path), f"{where}.params: list items need a 'name'")
            out[str(item["name"])] = item.get("value", item.get("example"))
        return out
    raise SidecarError(str(path), f"{where}.params must be a map or a list, got {type(raw).__name__}")


def _marker(raw: dict, path: Path, index: int) -> GhostMarker:
    where = f"ghostMarkers[{index}]"
    if not isinstance(raw, dict) or "id" not in raw or "line" not in raw:
        raise SidecarError(str(path), f"{where} needs 'id' and 'line'")
    anchor = raw.get("astAnchor") or raw.get("anchor") or {}
    if not isinstance(anchor, dict):
        anchor = {}
    end = raw.get("endLine")
    return GhostMarker(
        id=str(raw["id"]),
        line=_int(raw["line"], f"{where}.line", path),
        end_line=_int(end, f"{where}.endLine", path) if end is not None else None,
        line_hash=raw.get("lineHash"),
        line_text=raw.get("lineText"),
        prev_line_text=raw.get("prevLineText"),
        next_line_text=raw.get("nextLineText"),
        symbol_path=[str(s) for s in anchor.get("symbolPath") or []],
        symbol_kind=anchor.get("symbolKind") or raw.get("anchorType"),
    )


def parse_sidecar(path: Path) -> Sidecar:
    """Read and normalise a `.comments` file, or raise SidecarError naming it and the reason."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SidecarError(str(path), f"cannot be read ({exc.strerror})") from exc
    if size > MAX_SIDECAR_BYTES:
        raise SidecarError(str(path), f"is {size} bytes, over the {MAX_SIDECAR_BYTES}-byte limit")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SidecarError(str(path), "is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise SidecarError(str(path), f"is not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise SidecarError(str(path), "top level must be a JSON object")
    version = str(data.get("version", ""))
    if not version or version.split(".")[0] not in {"1", "2"}:
        raise SidecarError(str(path), f"unknown .comments version {data.get('version')!r} (known: 1.x, 2.0.x, 2.1.x)")
    file = data.get("file") or data.get("fileName")
    if not isinstance(file, str) or not file:
        raise SidecarError(str(path), "missing 'file' (or 'fileName')")
    raw_comments = data.get("comments")
    if not isinstance(raw_comments, list):
        raise SidecarError(str(path), "missing 'comments' list")
    markers: dict[str, GhostMarker] = {}
    for i, raw in enumerate(data.get("ghostMarkers") or []):
        marker = _marker(raw, path, i)
        markers[marker.id] = marker
    by_comment: dict[str, GhostMarker] = {}
    for raw, marker in zip(data.get("ghostMarkers") or [], markers.values(), strict=False):
        ids = raw.get("commentIds") or ([raw["commentId"]] if raw.get("commentId") else [])
        for cid in ids:
            by_comment[str(cid)] = marker
    comments = []
    for i, raw in enumerate(raw_comments):
        where = f"comments[{i}]"
        if not isinstance(raw, dict):
            raise SidecarError(str(path), f"{where} must be an object")
        missing = [k for k in ("id", "line", "text") if k not in raw]
        if missing:
            raise SidecarError(str(path), f"{where} is missing {', '.join(missing)}")
        if not isinstance(raw["text"], str):
            raise SidecarError(str(path), f"{where}.text must be a string")
        cid = str(raw["id"])
        marker = markers.get(str(raw.get("ghostMarkerId"))) or by_comment.get(cid)
        ai = raw.get("aiMetadata", raw.get("aiMeta")) or {}
        start, end = raw.get("startLine"), raw.get("endLine")
        comments.append(
            Comment(
                id=cid,
                line=_int(raw["line"], f"{where}.line", path),
                text=raw["text"],
                start_line=_int(start, f"{where}.startLine", path) if start is not None else None,
                end_line=_int(end, f"{where}.endLine", path) if end is not None else None,
                tag=raw.get("tag"),
                author=raw.get("author"),
                params=_params(raw.get("params"), path, where),
                ai_metadata=ai if isinstance(ai, dict) else {"value": ai},
                status=raw.get("status"),
                replies=[r for r in raw.get("replies") or [] if isinstance(r, dict)],
                marker=marker,
            )
        )
    return Sidecar(path=path, version=version, file=file, comments=comments)
