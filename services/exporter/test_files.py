"""A source file's tests, found by its ecosystem's conventions, and for JS/TS the files those tests need.

A convention is a path pattern relative to the repository: `{root}` is the repository, `{dir}` the
source file's folder, `{stem}` its name without the extension, `{ext}` any script extension of the
language (js, jsx, ts, tsx, mjs, cjs, mts, cts). Scenarios name their conventions (as data); these are
the defaults:

- Python: `tests/test_<stem>.py` at the root, in a `tests/` folder beside the source, or beside it.
- JavaScript/TypeScript: `<stem>.test.<ext>` and `<stem>.spec.<ext>` beside the source, the same or
  `<stem>.<ext>` in a `__tests__/` folder beside it, and in `test/` or `__tests__/` at the root.

A JS/TS source's tests run as a small project in the sandbox, so they come with every local module
they import (relative `import`/`export ... from`/`require`/`import()`, followed from file to file),
the module under test's own local imports included. A test is usable only when its files parse, import
nothing the sandbox lacks (Node's own modules and the packages of deps/sandbox-js are there), and one of
them imports the module under test and names the function (or the module has a default export);
otherwise the records of that source are exported without tests, with the reason in the report.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from commentslab.services.exporter.symbols import SourceSyntaxError, language_of, symbols_for

PYTHON_CONVENTIONS = ("{root}/tests/test_{stem}.py", "{dir}/tests/test_{stem}.py", "{dir}/test_{stem}.py")
JAVASCRIPT_CONVENTIONS = (
    "{dir}/{stem}.test.{ext}",
    "{dir}/{stem}.spec.{ext}",
    "{dir}/__tests__/{stem}.{ext}",
    "{dir}/__tests__/{stem}.test.{ext}",
    "{dir}/__tests__/{stem}.spec.{ext}",
    "{root}/test/{stem}.{ext}",
    "{root}/test/{stem}.test.{ext}",
    "{root}/test/{stem}.spec.{ext}",
    "{root}/__tests__/{stem}.test.{ext}",
)
SCRIPT_EXTENSIONS = ("js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts")
JS_LANGUAGES = {"javascript", "typescript", "tsx"}
# A test project larger than this is not sent to the sandbox (the record keeps no tests, with the reason).
MAX_FILES = 40
MAX_BYTES = 2 * 1024 * 1024

# Where a file names a module: import/export-from/require/import(), and Jest's module registry calls (a path
# given to jest.mock or jest.requireActual is loaded as an import is).
_NAMES_A_MODULE = (r"""(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*"""
                   r"""|\bjest\.(?:mock|doMock|unmock|setMock|requireActual|requireMock|createMockFromModule)\s*\(\s*)""")
# Relative specifiers: './x', '../y/z.js'.
_SPECIFIER = re.compile(_NAMES_A_MODULE + r"""(['"])(\.{1,2}/[^'"\n]*)\1""")
# Package specifiers: 'react', '@testing-library/react', 'node:fs', 'fs/promises'.
_PACKAGE = re.compile(_NAMES_A_MODULE + r"""(['"])([^'".\n][^'"\n]*)\1""")
# A module mocked with a factory: the test sees only the factory's object, so the module need not exist.
_FACTORY_MOCK = re.compile(r"""\bjest\.(?:mock|doMock)\s*\(\s*(['"])([^'"\n]+)\1\s*,""")
MOCKS_FOLDER = "__mocks__"
# What a program can import in the sandbox besides its own files: the packages of deps/sandbox-js (and
# @jest/globals, which the runtime provides) and Node's own modules.
SANDBOX_PACKAGES = frozenset({
    "react", "react-dom", "@testing-library/react", "@testing-library/dom", "@testing-library/jest-dom", "expect",
    "jest-mock", "@jest/fake-timers", "jsdom", "esbuild", "acorn", "@jest/globals"})
NODE_MODULES = frozenset({
    "assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants", "crypto", "dgram",
    "diagnostics_channel", "dns", "domain", "events", "fs", "http", "http2", "https", "inspector", "module", "net",
    "os", "path", "perf_hooks", "process", "punycode", "querystring", "readline", "repl", "stream",
    "string_decoder", "sys", "timers", "tls", "trace_events", "tty", "url", "util", "v8", "vm", "wasi",
    "worker_threads", "zlib"})
_DEFAULT_EXPORT = re.compile(r"\bexport\s+default\b|\bmodule\.exports\s*=(?!=)|\bexports\.default\s*=")


def default_conventions(language: str) -> tuple[str, ...]:
    """The conventions for a language's test files (Python's for anything that is not JS/TS)."""
    return JAVASCRIPT_CONVENTIONS if language in JS_LANGUAGES else PYTHON_CONVENTIONS


def candidates(source_rel: str, patterns: tuple[str, ...]) -> list[str]:
    """Repository-relative paths (POSIX) the patterns name for the source at `source_rel`, in pattern order."""
    folder, name = posixpath.split(source_rel)
    stem = posixpath.splitext(name)[0]
    out: list[str] = []
    for pattern in patterns:
        extensions = SCRIPT_EXTENSIONS if "{ext}" in pattern else ("",)
        for ext in extensions:
            path = pattern.format(root="", dir=folder, stem=stem, ext=ext)
            path = posixpath.normpath(path.lstrip("/"))
            if path != source_rel and not path.startswith("..") and path not in out:
                out.append(path)
    return out


def existing(root: str, paths: list[str], listing: Callable[[str], frozenset[str]]) -> list[str]:
    """The paths among `paths` that are files under `root` (one cached listing per folder)."""
    found = []
    for path in paths:
        folder, name = posixpath.split(path)
        absolute_folder = os.path.join(root, folder) if folder else root
        if name in listing(absolute_folder) and os.path.isfile(os.path.join(absolute_folder, name)):
            found.append(path)
    return found


def local_imports(text: str) -> list[str]:
    """The relative specifiers a JS/TS file imports, in order of appearance."""
    return [match.group(2) for match in _SPECIFIER.finditer(text)]


def _package_name(specifier: str) -> str:
    parts = specifier.split("/")
    return "/".join(parts[:2]) if specifier.startswith("@") else parts[0]


def missing_packages(text: str, mocks: frozenset[str] = frozenset()) -> list[str]:
    """The packages a JS/TS file imports that the sandbox does not have, in order of appearance; a package
    mocked with a factory (in this file, or in `mocks`: a package's `__mocks__` file travels with the tests)
    is not missing."""
    factories = {_package_name(m.group(2)) for m in _FACTORY_MOCK.finditer(text)}
    missing = []
    for match in _PACKAGE.finditer(text):
        specifier = match.group(2)
        if specifier.startswith("node:"):
            continue
        name = _package_name(specifier)
        if (name not in SANDBOX_PACKAGES and name not in NODE_MODULES and name not in factories
                and name not in mocks and name not in missing):
            missing.append(name)
    return missing


def manual_mocks(specifier: str, target: str | None, is_file: Callable[[str], bool]) -> list[str]:
    """The `__mocks__` files Jest would use for a module a test names: beside a local module, or at the
    project root for a package (the repository root here). Present or not, they travel only if they exist."""
    if target is not None:
        folder, name = posixpath.split(target)
        mock = resolve(posixpath.join(folder, "_"), f"./{MOCKS_FOLDER}/{posixpath.splitext(name)[0]}", is_file)
        return [mock] if mock else []
    if specifier.startswith("."):
        return []
    mock = resolve("_", f"./{MOCKS_FOLDER}/{specifier}", is_file)
    return [mock] if mock else []


def resolve(importer: str, specifier: str, is_file: Callable[[str], bool]) -> str | None:
    """The repository-relative file a relative specifier of `importer` names, as Node and TypeScript find it.

    Tries the path as written, then TypeScript's mapping of a `.js` import to its `.ts`/`.tsx`
    source, then each script extension and `index.<ext>`; None when nothing matches or the path
    leaves the repository.
    """
    base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
    if base.startswith("..") or base == ".":
        return None
    stem, ext = posixpath.splitext(base)
    tries = [base]
    if ext in (".js", ".jsx", ".mjs", ".cjs"):
        swap = {".js": ("ts", "tsx"), ".jsx": ("tsx",), ".mjs": ("mts",), ".cjs": ("cts",)}[ext]
        tries += [f"{stem}.{other}" for other in swap]
    tries += [f"{base}.{other}" for other in (*SCRIPT_EXTENSIONS, "json")]
    tries += [f"{base}/index.{other}" for other in SCRIPT_EXTENSIONS]
    return next((path for path in tries if is_file(path)), None)


@dataclass(frozen=True)
class JsTests:
    """A JS/TS source's tests: the test files and every local file they need, by repository-relative path.

    `files` holds the texts of everything but the module under test, whose text each record supplies
    (its prompt, the completion, and what follows the function).
    """

    test_files: tuple[str, ...]
    files: dict[str, str]
    importers: tuple[str, ...]  # the test files that import the module under test


class NoUsableTests(Exception):
    """Why a source's records carry no tests (the report's reason)."""


def js_tests(source_rel: str, module_text: str, test_paths: list[str], read: Callable[[str], str],
             is_file: Callable[[str], bool]) -> JsTests:
    """The test project for the module at `source_rel`, or NoUsableTests saying why there is none.

    `test_paths` are the test files the conventions found; `read` returns a repository file's text (scrubbed).
    """
    if not test_paths:
        raise NoUsableTests("no test file found by the scenario's conventions")
    files: dict[str, str] = {}
    importers_of_module: list[str] = []
    queue = [(path, None) for path in test_paths] + [(source_rel, module_text)]
    seen = set()
    size = 0
    while queue:
        path, text = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if text is None:
            text = read(path)
            files[path] = text
            size += len(text.encode("utf-8"))
            if len(files) > MAX_FILES or size > MAX_BYTES:
                raise NoUsableTests(f"the tests need more than {MAX_FILES} files or {MAX_BYTES // 1024} KiB")
        if path.endswith(".json"):
            continue
        language = language_of(posixpath.splitext(path)[1])
        if path != source_rel:
            try:
                symbols_for(text, language)
            except SourceSyntaxError as exc:
                raise NoUsableTests(f"{path} does not parse as {language} ({exc})") from exc
        packages = [m.group(2) for m in _PACKAGE.finditer(text) if not m.group(2).startswith("node:")]
        package_mocks = {_package_name(p): manual_mocks(p, None, is_file) for p in packages}
        lacking = missing_packages(text, frozenset(name for name, found in package_mocks.items() if found))
        if lacking:
            raise NoUsableTests(f"{path} imports {', '.join(lacking)}, which the sandbox does not have "
                                "(deps/sandbox-js)")
        following = [mock for found in package_mocks.values() for mock in found]
        for specifier in local_imports(text):
            target = resolve(path, specifier, is_file)
            if target is None:
                continue
            if target == source_rel and path in test_paths:
                importers_of_module.append(path)
            following += [target, *manual_mocks(specifier, target, is_file)]
        for target in following:
            if target not in seen:
                queue.append((target, module_text if target == source_rel else None))
    if not importers_of_module:
        raise NoUsableTests(f"no test file imports {source_rel} ({', '.join(test_paths)})")
    return JsTests(tuple(test_paths), files, tuple(dict.fromkeys(importers_of_module)))


def unnamed(tests: JsTests, source_rel: str, module_text: str, entry_point: str | None) -> str | None:
    """Why the tests cannot be said to test `entry_point` (they never name it), or None when they do.

    A module with a default export may be imported under any name, so its tests pass this check.
    """
    name = (entry_point or "").rsplit(".", 1)[-1]
    if not name or _DEFAULT_EXPORT.search(module_text):
        return None
    texts = " ".join(tests.files[path] for path in tests.importers)
    if re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", texts):
        return None
    return f"the tests import {source_rel} but never name {name}"
