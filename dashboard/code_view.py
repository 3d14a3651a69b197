"""Code as a reader sees it on the site: syntax-highlighted by Pygments, one row per line, with lines marked.

Pygments splits the code into tokens; each becomes a span with Pygments' short class name (``k`` keyword,
``s2`` string, ...), coloured by ``code_style_css`` for the light and the dark theme. The code is lexed whole
and cut into lines afterwards, so a string or docstring spanning lines keeps its colour.
"""

from __future__ import annotations

from dash import html
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, Token

from commentslab.dashboard.comparison import diff_rows

# Pygments styles whose colours keep WCAG AA contrast on their backgrounds (checked by the axe test).
LIGHT_STYLE, DARK_STYLE = "default", "github-dark"
SELECTOR = ".highlight"
_LEXER = PythonLexer(stripnl=False, ensurenl=False)


def _css_class(token_type) -> str:
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    return STANDARD_TYPES[token_type]


def token_lines(code: str) -> list[list[tuple[str, str]]]:
    """``code`` lexed as Python: per line, its (css class, text) tokens."""
    lines: list[list[tuple[str, str]]] = [[]]
    for token_type, text in _LEXER.get_tokens(code):
        css = _css_class(token_type) if token_type not in (Token.Text, Token.Text.Whitespace) else ""
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append((css, part))
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # the newline that ends the last line opens no line of its own
    return lines


def _line(tokens: list[tuple[str, str]], number: int, class_name: str = "", title: str | None = None,
          mark: str = "") -> html.Div:
    # The number and the mark are drawn by CSS from data attributes (assets/site.css): two fewer elements a
    # line keeps a page of three arms' code quick to render, and copying the code copies no numbers.
    spans = [html.Span(text, className=css) if css else text for css, text in tokens] or ["\u200b"]
    return html.Div(spans, className=f"code-line {class_name}".strip(), title=title,
                    **{"data-line": str(number), "data-mark": mark})


def code_block(code: str, class_name: str = "", marked: dict[int, list[str]] | None = None,
               label: str | None = None) -> html.Div:
    """``code`` highlighted, numbered from 1; lines in ``marked`` (index from 0 -> metadata terms) get a mark
    and a title naming the terms they use. ``label``: the block's accessible name."""
    marked = marked or {}
    rows = []
    for index, tokens in enumerate(token_lines(code)):
        terms = marked.get(index)
        rows.append(_line(tokens, index + 1, "line-marked" if terms else "",
                          f"uses {', '.join(terms)} from the .comments metadata" if terms else None,
                          "◆" if terms else ""))
    return html.Div(rows, className=f"highlight code-block {class_name}".strip(), role="region", tabIndex="0",
                    **{"aria-label": label or "code"})


def diff_block(before: str, after: str, class_name: str = "code-diff", label: str | None = None) -> html.Div:
    """A line diff from ``before`` to ``after``, each side highlighted: ``-`` lines (only before) and ``+``
    lines (only after) on their colours, the lines they share plain."""
    old, new = token_lines(before), token_lines(after)
    rows = []
    for mark, index in diff_rows(before, after):
        tokens = (old if mark == "-" else new)[index] if (old if mark == "-" else new) else []
        kind = {"+": "diff-add", "-": "diff-del"}.get(mark, "diff-same")
        rows.append(_line(tokens, index + 1, kind, mark=mark.strip()))
    return html.Div(rows, className=f"highlight code-block {class_name}", role="region", tabIndex="0",
                    **{"aria-label": label or "diff"})


def code_style_css() -> str:
    """The token colours for both themes: Pygments' light style, and its dark one under Bootstrap's dark mode."""
    light = HtmlFormatter(style=LIGHT_STYLE).get_style_defs(SELECTOR)
    dark = HtmlFormatter(style=DARK_STYLE).get_style_defs(f"[data-bs-theme=dark] {SELECTOR}")
    # Only the token colours: the block's background and layout follow the site's theme (assets/site.css).
    keep = [line for line in (light + "\n" + dark).splitlines()
            if " .hll " not in line and not line.rstrip().endswith(f"{SELECTOR} {{ background: #f8f8f8; }}")
            and "pre {" not in line and "td.linenos" not in line and "span.linenos" not in line
            and f"{SELECTOR} {{ background" not in line]
    return "\n".join(keep) + "\n"
