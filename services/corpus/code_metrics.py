"""Static measurements of Python functions: the AI-metadata figures a `.comments` sidecar carries.

Computed from the code with the standard `ast` and `tokenize` modules, so the demo corpus's metadata
is reproducible rather than whatever a hosted model said on the day.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize

_DECISIONS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.IfExp, ast.ExceptHandler, ast.With,
              ast.Assert, ast.comprehension, ast.match_case)
_NESTING = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.IfExp, ast.match_case)


def cyclomatic_complexity(node: ast.AST) -> int:
    """McCabe's number: 1 + decision points (branches, loops, handlers, comprehensions, boolean operators)."""
    count = 1
    for child in ast.walk(node):
        if isinstance(child, _DECISIONS):
            count += 1
        elif isinstance(child, ast.BoolOp):
            count += len(child.values) - 1
    return count


def cognitive_complexity(node: ast.AST) -> int:
    """Sonar-style cognitive complexity: each control structure costs 1 + its nesting depth."""

    def visit(n: ast.AST, depth: int) -> int:
        total = 0
        for child in ast.iter_child_nodes(n):
            if isinstance(child, _NESTING):
                total += 1 + depth + visit(child, depth + 1)
            elif isinstance(child, ast.BoolOp):
                total += 1 + visit(child, depth)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                total += visit(child, depth + 1)
            else:
                total += visit(child, depth)
        return total

    return visit(node, 0)


def code_tokens(source: str) -> list[str]:
    """Python tokens of `source` (names, operators, literals), without layout tokens."""
    skip = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT,
            tokenize.ENDMARKER, tokenize.ENCODING}
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source.split()


def maintainability_index(source: str, cyclomatic: int) -> int:
    """Maintainability index on a 0-100 scale: max(0, (171 - 5.2 ln V - 0.23 G - 16.2 ln L) * 100 / 171).

    V is the Halstead volume N log2(n) over operator and operand tokens, G the cyclomatic complexity,
    L the count of non-blank lines.
    """
    tokens = code_tokens(source)
    vocabulary = max(len(set(tokens)), 2)
    volume = max(len(tokens), 1) * math.log2(vocabulary)
    lines = max(sum(1 for line in source.splitlines() if line.strip()), 1)
    raw = 171 - 5.2 * math.log(max(volume, 1.0)) - 0.23 * cyclomatic - 16.2 * math.log(lines)
    return int(max(0.0, min(100.0, raw * 100 / 171)))


def parameters_of(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[dict]:
    """The function's parameters as `{"name", "type", "optional"}` (type from the annotation, else null)."""
    args = func.args
    positional = args.posonlyargs + args.args
    defaults_from = len(positional) - len(args.defaults)
    params = [
        {"name": a.arg, "type": ast.unparse(a.annotation) if a.annotation else None, "optional": i >= defaults_from}
        for i, a in enumerate(positional)
    ]
    for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append({"name": a.arg, "type": ast.unparse(a.annotation) if a.annotation else None,
                       "optional": default is not None})
    if args.vararg:
        params.append({"name": "*" + args.vararg.arg, "type": None, "optional": True})
    if args.kwarg:
        params.append({"name": "**" + args.kwarg.arg, "type": None, "optional": True})
    return params
