"""Where a comment really points now: the format's anchor order, never a guess.

Order (COMMENTS_FORMAT.md): the line hash at the stored line; the AST symbol named by `symbolPath`;
the line whose hash matches nearest the stored line; the prev/next-line fingerprint. A comment none of
these place is orphaned.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

from services.exporter.sidecar import Comment


def line_hash(text: str) -> str:
    """First 16 hex digits of SHA-256 of the line with leading and trailing whitespace removed."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Anchor:
    """A resolved anchor: 1-based inclusive line range and how it was found."""

    start: int
    end: int
    resolution: str  # stored_line | line_hash | ast_symbol | nearest_hash | fingerprint


def _symbol_line(tree: ast.AST | None, path: list[str]) -> tuple[int, int] | None:
    if tree is None or not path:
        return None
    nodes = [tree]
    found = None
    for name in path:
        found = None
        for scope in nodes:
            for child in ast.iter_child_nodes(scope):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child.name == name:
                    found = child
                    break
            if found:
                break
        if found is None:
            return None
        nodes = [found]
    return found.lineno, found.end_lineno or found.lineno


def resolve_anchor(comment: Comment, lines: list[str], tree: ast.AST | None) -> Anchor | None:
    """The comment's current line range in `lines`, or None when it is orphaned."""
    marker = comment.marker
    stored_start = marker.line if marker else comment.start_line or comment.line
    stored_end = (marker.end_line if marker else None) or comment.end_line or stored_start
    span = max(stored_end - stored_start, 0)

    def at(start: int, how: str) -> Anchor:
        return Anchor(start, min(start + span, len(lines)), how)

    if marker is None or not marker.line_hash:
        # v1 and hash-less v2: the line number is all there is; trust it only if it exists.
        if 1 <= stored_start <= len(lines):
            return Anchor(stored_start, min(stored_end, len(lines)), "stored_line")
        return None
    hashes = [line_hash(line) for line in lines]
    if 1 <= stored_start <= len(lines) and hashes[stored_start - 1] == marker.line_hash:
        return at(stored_start, "line_hash")
    symbol = _symbol_line(tree, marker.symbol_path)
    if symbol is not None:
        return Anchor(symbol[0], symbol[1], "ast_symbol")
    matches = [i + 1 for i, h in enumerate(hashes) if h == marker.line_hash]
    if matches:
        return at(min(matches, key=lambda n: (abs(n - stored_start), n)), "nearest_hash")
    prev_text, next_text = (marker.prev_line_text or "").strip(), (marker.next_line_text or "").strip()
    if prev_text or next_text:
        candidates = [
            n
            for n in range(1, len(lines) + 1)
            if (not prev_text or (n >= 2 and lines[n - 2].strip() == prev_text))
            and (not next_text or (n < len(lines) and lines[n].strip() == next_text))
        ]
        if candidates:
            return at(min(candidates, key=lambda n: (abs(n - stored_start), n)), "fingerprint")
    return None
