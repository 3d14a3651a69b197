"""Surface-level agreement between a generated completion and the reference completion.

AST match parses Python with the standard library's `ast` and JavaScript with tree-sitter's
JavaScript grammar (the `tree-sitter-javascript` package): a real parser for each language.
"""

import ast
import functools


def _normalised_lines(code: str) -> list[str]:
    """Lines with trailing whitespace stripped and blank lines dropped."""
    return [line.rstrip() for line in code.splitlines() if line.strip()]


def exact_match(generated: str, reference: str) -> float:
    """1.0 when the completions are identical up to trailing whitespace and blank lines, else 0.0.

    Both texts are normalised by stripping trailing whitespace from every line and dropping
    blank lines; indentation and everything else must agree exactly.
    """
    return 1.0 if _normalised_lines(generated) == _normalised_lines(reference) else 0.0


class _DocstringRemover(ast.NodeTransformer):
    """Drops the docstring statement from modules, classes and functions."""

    def _strip(self, node: ast.AST) -> ast.AST:
        self.generic_visit(node)
        body = node.body  # type: ignore[attr-defined]
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:]  # type: ignore[attr-defined]
        return node

    visit_Module = _strip
    visit_ClassDef = _strip
    visit_FunctionDef = _strip
    visit_AsyncFunctionDef = _strip


def _normalised_ast(source: str) -> str:
    """``ast.dump`` of the parsed source with docstrings removed; positions are not included."""
    tree = _DocstringRemover().visit(ast.parse(source))
    return ast.dump(tree, annotate_fields=True, include_attributes=False)


def ast_match(prompt: str, generated: str, reference: str, language: str = "python") -> float:
    """1.0 when ``prompt + generated`` and ``prompt + reference`` parse to the same Python AST, else 0.0.

    The trees are compared as ``ast.dump(..., annotate_fields=True)`` with docstrings removed, so
    comments, formatting, blank lines and docstring wording do not count; names, literals and
    structure do. Returns 0.0 when the generated program does not parse. Raises ``ValueError``
    when the reference program does not parse, since that is a defect in the test data, not in
    the model's output. ``language="javascript"`` (or ``typescript``, ``tsx``) compares tree-sitter
    syntax trees of that grammar instead (see ``javascript_ast_match``).
    """
    if language in _GRAMMARS:
        return javascript_ast_match(prompt, generated, reference, language)
    if language != "python":
        raise ValueError(f"AST match supports python and javascript (typescript, tsx), not {language!r}")
    try:
        reference_dump = _normalised_ast(prompt + reference)
    except SyntaxError as error:
        raise ValueError(f"prompt + reference is not valid Python: {error}") from error
    try:
        generated_dump = _normalised_ast(prompt + generated)
    except (SyntaxError, ValueError, RecursionError):
        # A model can emit NUL bytes (ValueError) or absurdly deep nesting (RecursionError).
        return 0.0
    return 1.0 if generated_dump == reference_dump else 0.0


# language -> (tree-sitter grammar module, its language function)
_GRAMMARS = {"javascript": ("tree_sitter_javascript", "language"),
             "typescript": ("tree_sitter_typescript", "language_typescript"),
             "tsx": ("tree_sitter_typescript", "language_tsx")}
_NAMES = {"javascript": "JavaScript", "typescript": "TypeScript", "tsx": "TSX"}


@functools.cache
def _javascript_parser(language: str = "javascript"):
    import importlib

    from tree_sitter import Language, Parser

    module, function = _GRAMMARS[language]
    return Parser(Language(getattr(importlib.import_module(module), function)()))


def _javascript_tree(source: str, language: str = "javascript") -> tuple[str, bool]:
    """(normalised tree, whether it parsed without errors) of JavaScript source.

    The tree lists every named node's type with the text of its leaves (names, literals,
    operators are in the node types and anonymous children), comments dropped; positions and
    whitespace are not part of it.
    """
    tree = _javascript_parser(language).parse(source.encode("utf-8"))
    parts: list[str] = []

    def walk(node) -> None:
        if node.type == "comment":
            return
        if node.child_count == 0:
            parts.append(f"{node.type}:{node.text.decode('utf-8', 'replace')}")
            return
        parts.append(f"({node.type}")
        for child in node.children:
            walk(child)
        parts.append(")")

    walk(tree.root_node)
    return " ".join(parts), not tree.root_node.has_error


def javascript_ast_match(prompt: str, generated: str, reference: str, language: str = "javascript") -> float:
    """1.0 when ``prompt + generated`` and ``prompt + reference`` have the same JavaScript syntax tree, else 0.0.

    Comments, whitespace and layout do not count; every token (names, literals, punctuation such as
    optional semicolons) does. 0.0 when the generated program has syntax errors; ``ValueError`` when
    the reference does. ``language`` picks the grammar: javascript (with JSX), typescript or tsx.
    """
    reference_tree, reference_ok = _javascript_tree(prompt + reference, language)
    if not reference_ok:
        raise ValueError(f"prompt + reference is not valid {_NAMES[language]}")
    generated_tree, generated_ok = _javascript_tree(prompt + generated, language)
    return 1.0 if generated_ok and generated_tree == reference_tree else 0.0
