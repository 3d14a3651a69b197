"""Where a comment really points now: the format's anchor order, never a guess.

Order (COMMENTS_FORMAT.md): the line hash at the stored line; the AST symbol named by `symbolPath`;
the line whose hash matches nearest the stored line; the prev/next-line fingerprint. A comment none of
these place is orphaned. v1 comments (and v2 ones without a marker hash) have only their stored line,
trusted when it exists in the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from commentslab.services.exporter.sidecar import Comment
from commentslab.services.exporter.symbols import Symbol, find_symbol

RESOLUTIONS = ("stored_line", "line_hash", "ast_symbol", "nearest_hash", "fingerprint", "orphaned")


def line_hash(text: str) -> str:
    """First 16 hex digits of SHA-256 of the line with leading and trailing whitespace removed."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Anchor:
    """A resolved anchor: 1-based inclusive line range and how it was found."""

    start: int
    end: int
    resolution: str  # stored_line | line_hash | ast_symbol | nearest_hash | fingerprint
    symbol: Symbol | None = None  # set when the AST symbol placed it


@dataclass
class SourceLines:
    """A source file's lines with their hashes and trimmed texts, computed once per file, on demand."""

    lines: list[str]
    symbols: list[Symbol] | None = None
    _hashes: dict[str, list[int]] | None = field(default=None, repr=False)
    _stripped: list[str] | None = field(default=None, repr=False)

    def hash_at(self, line: int) -> str:
        """The hash of 1-based `line`."""
        return line_hash(self.lines[line - 1])

    def lines_with_hash(self, digest: str) -> list[int]:
        """1-based lines whose hash is `digest`."""
        if self._hashes is None:
            self._hashes = {}
            for number, text in enumerate(self.lines, 1):
                self._hashes.setdefault(line_hash(text), []).append(number)
        return self._hashes.get(digest, [])

    def stripped(self) -> list[str]:
        """Every line with surrounding whitespace removed."""
        if self._stripped is None:
            self._stripped = [line.strip() for line in self.lines]
        return self._stripped


def resolve_anchor(comment: Comment, source: SourceLines) -> Anchor | None:
    """The comment's current line range in the source, or None when it is orphaned."""
    lines = source.lines
    count = len(lines)
    marker = comment.marker
    stored_start = marker.line if marker else comment.start_line or comment.line
    stored_end = (marker.end_line if marker else None) or comment.end_line or stored_start
    span = max(stored_end - stored_start, 0)

    def at(start: int, how: str) -> Anchor:
        return Anchor(start, min(start + span, count), how)

    if marker is None or not marker.line_hash:
        # v1 and hash-less v2: the line number is all there is (plus a symbol, if named); trust it
        # only if the line exists.
        symbol = find_symbol(source.symbols or [], marker.symbol_path) if marker else None
        if 1 <= stored_start <= count:
            return Anchor(stored_start, min(stored_end, count), "stored_line")
        if symbol is not None:
            return Anchor(symbol.def_line, symbol.end, "ast_symbol", symbol)
        return None
    if 1 <= stored_start <= count and source.hash_at(stored_start) == marker.line_hash:
        return at(stored_start, "line_hash")
    symbol = find_symbol(source.symbols or [], marker.symbol_path)
    if symbol is not None:
        return Anchor(symbol.def_line, symbol.end, "ast_symbol", symbol)
    matches = source.lines_with_hash(marker.line_hash)
    if matches:
        return at(min(matches, key=lambda n: (abs(n - stored_start), n)), "nearest_hash")
    prev_text, next_text = (marker.prev_line_text or "").strip(), (marker.next_line_text or "").strip()
    if prev_text or next_text:
        stripped = source.stripped()
        candidates = [
            n
            for n in range(1, count + 1)
            if (not prev_text or (n >= 2 and stripped[n - 2] == prev_text))
            and (not next_text or (n < count and stripped[n] == next_text))
        ]
        if candidates:
            return at(min(candidates, key=lambda n: (abs(n - stored_start), n)), "fingerprint")
    return None
