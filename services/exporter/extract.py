"""The code a comment is about, cut into what the model sees (prompt) and what it writes (completion).

- Python, JavaScript, TypeScript, TSX: the enclosing function or class (from the real parser's
  symbols); the prompt is the file through its signature (and Python docstring), the completion its body.
- A range comment inside a function (or in any file): the marked range is the completion, the file
  before it the prompt.
- Other languages: the anchored line (or range) is the completion, the lines before it the prompt;
  the ±N lines of context say what surrounds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

from commentslab.services.exporter.anchors import Anchor
from commentslab.services.exporter.symbols import Symbol, enclosing_symbol

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")


@dataclass(frozen=True)
class CodeUnit:
    """The anchored code: `prompt` + `completion` is the file through the end of the unit."""

    prompt: str
    completion: str
    start: int  # 1-based inclusive lines of the unit (function, class, or range)
    end: int
    symbol: str | None
    kind: str  # function | class | range | line


def fill_placeholders(text: str, params: dict[str, object]) -> str:
    """Replace `${name}` with the param's value; unknown names stay as written."""
    if "${" not in text:  # most comments have no placeholder
        return text
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text)


class LineText:
    """A file's lines, each ending in a newline, where any run of lines is one slice (no re-joining per record)."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.text = "\n".join(lines) + "\n" if lines else ""
        self.offsets = [0, *accumulate(len(line) + 1 for line in lines)]

    def __len__(self) -> int:
        return len(self.lines)

    def span(self, start: int, stop: int) -> str:
        """Lines[start:stop] (0-based, Python slice bounds), joined."""
        count = len(self.lines)
        start, stop = max(0, min(start, count)), max(0, min(stop, count))
        return self.text[self.offsets[start] : self.offsets[stop]] if stop > start else ""


def _text(lines: list[str] | LineText) -> LineText:
    return lines if isinstance(lines, LineText) else LineText(lines)


def symbol_unit(lines: list[str] | LineText, symbol: Symbol) -> CodeUnit | None:
    """The symbol cut at its header: prompt through signature (and docstring), completion the body."""
    if not symbol.has_body:
        return None
    text = _text(lines)
    prompt = text.span(0, symbol.header_end)
    completion = text.span(symbol.header_end, symbol.end)
    if not completion.strip():
        return None
    return CodeUnit(prompt, completion, symbol.start, symbol.end, symbol.name, symbol.kind)


def range_unit(lines: list[str] | LineText, start: int, end: int, kind: str = "range") -> CodeUnit | None:
    """Lines `start`..`end` as the completion, everything before them as the prompt."""
    if start < 1 or end < start:
        return None
    text = _text(lines)
    completion = text.span(start - 1, end)
    if not completion.strip():
        return None
    return CodeUnit(text.span(0, start - 1), completion, start, end, None, kind)


def code_unit(lines: list[str] | LineText, symbols: list[Symbol] | None, anchor: Anchor, is_range: bool) -> CodeUnit | None:
    """The unit a comment anchored at `anchor` is about (see the module docstring for the rules)."""
    if symbols is not None:
        symbol = anchor.symbol or enclosing_symbol(symbols, anchor.start)
        # A range comment that starts inside a body marks that range, not the whole function.
        marks_inner_range = is_range and symbol is not None and anchor.start > symbol.header_end
        if symbol is not None and not marks_inner_range:
            return symbol_unit(lines, symbol)
    if is_range:
        return range_unit(lines, anchor.start, anchor.end)
    return range_unit(lines, anchor.start, anchor.end, kind="line")


def source_context(lines: list[str] | LineText, start: int, end: int, n: int) -> dict:
    """±n lines around the 1-based inclusive range."""
    text = _text(lines)
    return {
        "before": text.span(max(0, start - 1 - n), start - 1),
        "after": text.span(end, end + n),
        "startLine": start,
        "endLine": end,
    }
