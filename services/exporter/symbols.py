"""The functions and classes of a source file, from a real parser: `ast` for Python, tree-sitter for JS/TS/TSX.

Each symbol knows its qualified path (`["UserService", "login"]`), its lines, and where its header
(signature, and for Python the docstring) ends, which is where a prompt stops and a completion starts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache

LANGUAGES = {".py": "python", ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript",
             ".cjs": "javascript", ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
             ".tsx": "tsx"}


@dataclass(frozen=True)
class Symbol:
    """A function, method or class: 1-based inclusive lines; `header_end` is the last line of the prompt."""

    path: tuple[str, ...]
    kind: str  # function | class
    start: int  # first line, decorators included
    def_line: int  # the line with the name
    end: int
    header_end: int  # signature (+ docstring): the prompt ends here, the completion starts after
    has_body: bool  # False when nothing follows the header (only a docstring, or a one-line body)

    @property
    def name(self) -> str:
        """The symbol's own name."""
        return self.path[-1]


class SourceSyntaxError(ValueError):
    """Source that its language's parser rejects."""

    def __init__(self, line: int | None, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def language_of(suffix: str) -> str:
    """`python`, `javascript`, `typescript`, `tsx`, or `other` for a file suffix."""
    return LANGUAGES.get(suffix.lower(), "other")


# ---- Python -------------------------------------------------------------------------------------------

@cache
def _blocks_of(node_type: type) -> tuple[str, ...]:
    """The statement-list fields a node type has, in walking order; none for simple statements."""
    return tuple(name for name in ("body", "orelse", "finalbody", "handlers", "cases") if name in node_type._fields)


def python_symbols(text: str) -> list[Symbol]:
    """Every function and class in Python source; SourceSyntaxError when it does not parse."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise SourceSyntaxError(exc.lineno, exc.msg) from exc
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        raise SourceSyntaxError(None, str(exc) or type(exc).__name__) from exc
    out: list[Symbol] = []
    # Definitions are statements, so only statement lists are walked (not every expression node).
    stack: list[tuple[list[ast.stmt], tuple[str, ...]]] = [(tree.body, ())]
    while stack:
        statements, prefix = stack.pop()
        for child in statements:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                path = (*prefix, child.name)
                body = child.body
                first = body[0]
                is_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                          and isinstance(first.value.value, str))
                header_end = (first.end_lineno or first.lineno) if is_doc else first.lineno - 1
                end = child.end_lineno or child.lineno
                # A body on the def line itself (`def f(): return 1`) leaves nothing below to complete.
                header_end = max(header_end, child.lineno)
                has_body = end > header_end and not (is_doc and len(body) == 1)
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                kind = "class" if isinstance(child, ast.ClassDef) else "function"
                out.append(Symbol(path, kind, start, child.lineno, end, header_end, has_body))
                stack.append((body, path))
                continue
            for name in _blocks_of(type(child)):
                block = getattr(child, name, None)
                if isinstance(block, list) and block:
                    if isinstance(block[0], ast.stmt):
                        stack.append((block, prefix))
                    else:  # except handlers and match cases hold their own statement lists
                        stack.extend((item.body, prefix) for item in block if getattr(item, "body", None))
    out.sort(key=lambda s: (s.start, -s.end))
    return out


# ---- JavaScript / TypeScript (tree-sitter) -------------------------------------------------------------

@cache
def _parser(language: str):
    from tree_sitter import Language, Parser

    if language == "javascript":
        import tree_sitter_javascript as grammar

        lang = Language(grammar.language())
    else:
        import tree_sitter_typescript as grammar

        lang = Language(grammar.language_tsx() if language == "tsx" else grammar.language_typescript())
    return Parser(lang)


_FUNCTION_NODES = {"function_declaration", "generator_function_declaration", "method_definition",
                   "function_expression", "function", "generator_function", "arrow_function"}
_CLASS_NODES = {"class_declaration", "abstract_class_declaration", "class"}


def _name(node, source: bytes) -> str | None:
    named = node.child_by_field_name("name")
    if named is not None:
        return source[named.start_byte : named.end_byte].decode("utf-8", "replace")
    parent = node.parent
    # `const f = () => {...}` / `f: function () {...}` / `this.f = function` take the name they are bound to.
    if parent is not None and parent.type == "variable_declarator":
        target = parent.child_by_field_name("name")
    elif parent is not None and parent.type in {"pair", "public_field_definition", "field_definition"}:
        target = parent.child_by_field_name("key") or parent.child_by_field_name("name") \
            or parent.child_by_field_name("property")
    elif parent is not None and parent.type == "assignment_expression":
        target = parent.child_by_field_name("left")
        if target is not None and target.type == "member_expression":
            target = target.child_by_field_name("property")
    else:
        target = None
    if target is None:
        return None
    return source[target.start_byte : target.end_byte].decode("utf-8", "replace")


def _first_error(node):
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "ERROR" or current.is_missing:
            return current
        if current.has_error:
            stack.extend(reversed(current.children))
    return None


@cache
def _symbol_query(language: str):
    parser = _parser(language)
    lang = parser.language
    kinds = [k for k in sorted(_FUNCTION_NODES | _CLASS_NODES) if lang.id_for_node_kind(k, True)]
    return lang.query(" ".join(f"({k}) @symbol" for k in kinds))


def _captured(query, root) -> list:
    found = query.captures(root)
    # py-tree-sitter 0.22 returns [(node, name)]; 0.23+ returns {name: [nodes]}.
    return [node for node, _ in found] if isinstance(found, list) else [n for ns in found.values() for n in ns]


def load_parsers() -> None:
    """Load every tree-sitter grammar and symbol query now (e.g. before forking workers, which then share them)."""
    for language in ("javascript", "typescript", "tsx"):
        _symbol_query(language)


def script_symbols(text: str, language: str) -> list[Symbol]:
    """Every named function, method and class in JS/TS/TSX source; SourceSyntaxError when it does not parse."""
    source = text.encode("utf-8")
    tree = _parser(language).parse(source)
    if tree.root_node.has_error:
        bad = _first_error(tree.root_node)
        line = bad.start_point[0] + 1 if bad is not None else None
        raise SourceSyntaxError(line, f"does not parse as {language}")
    named = {}
    for node in _captured(_symbol_query(language), tree.root_node):
        name = _name(node, source)
        if name:
            named[node.id] = (node, name)
    out: list[Symbol] = []
    for node, name in named.values():
        # The qualified path: the names of the enclosing named symbols, outermost first.
        path = [name]
        parent = node.parent
        while parent is not None:
            if parent.id in named:
                path.append(named[parent.id][1])
            parent = parent.parent
        kind = "class" if node.type in _CLASS_NODES else "function"
        body = node.child_by_field_name("body")
        start = node.start_point[0] + 1
        # `export`, `const f =` and decorators belong to the declaration's first line.
        parent = node.parent
        while parent is not None and parent.type in {"export_statement", "lexical_declaration",
                                                      "variable_declaration", "variable_declarator"}:
            start = parent.start_point[0] + 1
            parent = parent.parent
        end = node.end_point[0] + 1
        if body is not None and body.type in {"statement_block", "class_body"}:
            header_end = body.start_point[0] + 1  # the line with the opening brace
            # The closing brace alone on the last line is not a body.
            has_body = end - 1 > header_end
        else:  # an expression-bodied arrow function: all on its lines, nothing below a header
            header_end, has_body = end, False
        out.append(Symbol(tuple(reversed(path)), kind, start, node.start_point[0] + 1, end, header_end, has_body))
    out.sort(key=lambda s: (s.start, -s.end))
    return out


def symbols_for(text: str, language: str) -> list[Symbol] | None:
    """The symbols of a file in a parsed language, or None for a language without a parser here."""
    if language == "python":
        return python_symbols(text)
    if language in {"javascript", "typescript", "tsx"}:
        return script_symbols(text, language)
    return None


def find_symbol(symbols: list[Symbol], path: list[str]) -> Symbol | None:
    """The symbol with exactly this qualified path (outermost first), or the only one whose path ends with it."""
    if not path:
        return None
    wanted = tuple(path)
    exact = [s for s in symbols if s.path == wanted]
    if exact:
        return exact[0]
    # Some tools record the innermost name only; accept it when it names one symbol, never a guess.
    tail = [s for s in symbols if s.path[-len(wanted):] == wanted]
    return tail[0] if len(tail) == 1 else None


def enclosing_symbol(symbols: list[Symbol], line: int) -> Symbol | None:
    """The innermost function or class whose lines hold `line`."""
    best = None
    for symbol in symbols:
        if symbol.start <= line <= symbol.end and (best is None or symbol.start >= best.start):
            best = symbol
    return best
