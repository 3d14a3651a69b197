"""The code a comment is about, cut into what the model sees (prompt) and what it writes (completion)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from services.exporter.anchors import Anchor

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class CodeUnit:
    """The anchored code: `prompt` + `completion` is the file through the end of the unit."""

    prompt: str
    completion: str
    start: int  # 1-based inclusive lines of the unit (function, class, or range)
    end: int
    symbol: str | None


def fill_placeholders(text: str, params: dict[str, object]) -> str:
    """Replace `${name}` with the param's value; unknown names stay as written."""
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text)


def _enclosing(tree: ast.AST, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if first <= line <= (node.end_lineno or node.lineno):
                if best is None or node.lineno >= best.lineno:
                    best = node
    return best


def python_unit(lines: list[str], tree: ast.AST, anchor: Anchor) -> CodeUnit | None:
    """The enclosing function or class: prompt through its signature and docstring, completion the body."""
    node = _enclosing(tree, anchor.start)
    if node is None:
        return None
    end = node.end_lineno or node.lineno
    body = node.body
    first_body = body[0]
    if (
        isinstance(first_body, ast.Expr)
        and isinstance(first_body.value, ast.Constant)
        and isinstance(first_body.value.value, str)
    ):
        split_after = first_body.end_lineno or first_body.lineno
        if len(body) == 1:
            return None  # only a docstring: nothing for a model to write
    else:
        split_after = first_body.lineno - 1
    prompt = "".join(line + "\n" for line in lines[:split_after])
    completion = "".join(line + "\n" for line in lines[split_after:end])
    return CodeUnit(prompt, completion, min([node.lineno] + [d.lineno for d in node.decorator_list]), end, node.name)


def range_unit(lines: list[str], anchor: Anchor) -> CodeUnit | None:
    """Languages without a parser here: the anchored line is the prompt's last line, the range's rest the completion."""
    if anchor.end <= anchor.start:
        return None
    prompt = "".join(line + "\n" for line in lines[: anchor.start])
    completion = "".join(line + "\n" for line in lines[anchor.start : anchor.end])
    return CodeUnit(prompt, completion, anchor.start, anchor.end, None)


def source_context(lines: list[str], start: int, end: int, n: int) -> dict:
    """±n lines around the 1-based inclusive range."""
    return {
        "before": "".join(line + "\n" for line in lines[max(0, start - 1 - n) : start - 1]),
        "after": "".join(line + "\n" for line in lines[end : end + n]),
        "startLine": start,
        "endLine": end,
    }
