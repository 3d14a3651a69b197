"""The sandbox program that runs a JavaScript/TypeScript problem's own test files against a completion.

A JS/TS record's `tests` is an object (docs/CONTRACTS.md):

    {"module": "src/math.js",            the file that holds the function under test
     "after": "...",                     that file's text after the function
     "files": {"src/math.test.js": ...,  the test files and the local modules they import
               "src/util.js": ...},
     "testFiles": ["src/math.test.js"]}

The completion goes in place of the original function body: the module the tests import becomes
`prompt + completion + after`, which is the original file with the body replaced, and its path is the
original's, so a test's `import { add } from "./math"` (ES module) or `require("../src/math")`
(CommonJS) reaches the completion exactly as it reached the original. Inside the sandbox the runtime
(js_tests.js) writes the files, transpiles them with esbuild (TypeScript, JSX, ES modules -> CommonJS)
and runs the test files with Jest's API and node:test's (see that file).

The program is one JavaScript file: `const PAYLOAD = <the files as JSON>;` followed by the runtime, so
it travels like any other program (one string, language "javascript").
"""

from __future__ import annotations

import functools
import json
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path

from commentslab.services.common.errors import InputError

RUNTIME = Path(__file__).with_name("js_tests.js")
# What a JS completion that does nothing looks like: the function's closing brace, so it returns undefined.
EMPTY_BODY = "}\n"


@functools.cache
def _runtime() -> str:
    return RUNTIME.read_text(encoding="utf-8")


def _relative(path: str, field: str) -> str:
    """`path` as a clean relative POSIX path, or InputError naming the field when it leaves the project."""
    clean = posixpath.normpath(path)
    if not path or posixpath.isabs(path) or clean == "." or clean.startswith("../") or clean == "..":
        raise InputError(field, f"{path!r} is not a relative path inside the project")
    return clean


def suite_program(files: Mapping[str, str], test_files: Sequence[str]) -> str:
    """The program that runs `test_files` (paths among `files`) with `files` laid out as a project."""
    clean = {_relative(path, "tests.files"): text for path, text in files.items()}
    tests = [_relative(path, "tests.testFiles") for path in test_files]
    if not tests:
        raise InputError("tests.testFiles", "names no test file")
    missing = [path for path in tests if path not in clean]
    if missing:
        raise InputError("tests.testFiles", f"{missing[0]} is not among tests.files")
    payload = json.dumps({"files": clean, "tests": tests}, ensure_ascii=False)
    return f"const PAYLOAD = {payload};\n{_runtime()}"


def is_js_tests(tests: object) -> bool:
    """Whether a record's `tests` is the JS/TS form (an object), not a Python test file (a string)."""
    return isinstance(tests, Mapping)


def record_program(row: Mapping, completion: str) -> str:
    """The program that runs a JS/TS record's tests against `completion` in place of the function's body."""
    tests = row["tests"]
    for key in ("module", "after", "files", "testFiles"):
        if key not in tests:
            raise InputError(f"record {row.get('id', '?')}: tests.{key}", "is missing")
    module = _relative(tests["module"], "tests.module")
    files = {**tests["files"], module: row["prompt"] + completion + tests["after"]}
    return suite_program(files, tests["testFiles"])
