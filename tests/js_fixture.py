"""A JavaScript/TypeScript repository the tests build: annotated functions, each judged by its own tests.

The way real repositories lay them out: Jest-style suites beside the source (`*.test.js`) and in
`__tests__/`, `node:test` suites in `test/`, ES modules, CommonJS, TypeScript, and a React component
with a jsdom test using the Testing Library. Every annotated function's tests pass on the original
code and fail on an empty body. Two files are bad input on purpose: one with no test file, one whose
test never imports it.
"""

from __future__ import annotations

import json
from pathlib import Path

MIT = """MIT License

Copyright (c) 2026 commentslab fixtures

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""

# path -> (source, [(line of the function's signature, comment text, tag)])
SOURCES: dict[str, tuple[str, list[tuple[int, str, str | None]]]] = {
    # An ES module; its Jest suite sits beside it and imports it without an extension.
    "src/math.js": (
        "import { EPSILON } from './constants.js';\n"
        "\n"
        "export function clamp(value, low, high) {\n"
        "  return Math.min(Math.max(value, low), high);\n"
        "}\n"
        "\n"
        "export function nearlyEqual(a, b) {\n"
        "  return Math.abs(a - b) < EPSILON;\n"
        "}\n",
        [(3, "Keeps value within [low, high]", "NOTE"), (7, "Float comparison within EPSILON", None)],
    ),
    "src/constants.js": ("export const EPSILON = 1e-9;\n", []),
    # CommonJS, tested by a node:test suite at the root's test/ folder.
    "src/strings.js": (
        "function capitalize(word) {\n"
        "  return word.charAt(0).toUpperCase() + word.slice(1);\n"
        "}\n"
        "\n"
        "module.exports = { capitalize };\n",
        [(1, "Upper-cases the first letter", "NOTE")],
    ),
    # TypeScript, with a Jest suite in __tests__/ that takes its API from @jest/globals.
    "src/range.ts": (
        "export function range(n: number): number[] {\n"
        "  return Array.from({ length: n }, (_, i) => i);\n"
        "}\n",
        [(1, "The integers 0..n-1", None)],
    ),
    # An .mjs module tested by node:test, imported with its extension.
    "src/slug.mjs": (
        "export function slugify(title) {\n"
        "  return title.trim().toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');\n"
        "}\n",
        [(1, "URL-safe slug of a title", "TODO")],
    ),
    # A React component, tested on jsdom with the Testing Library and jest-dom's matchers.
    "src/Greeting.jsx": (
        "export function Greeting({ name }) {\n"
        "  return <h1>Hello, {name}!</h1>;\n"
        "}\n",
        [(1, "Greets the user by name", "NOTE")],
    ),
    "src/words.js": (
        "export function countWords(text) {\n"
        "  return text.split(/\\s+/).filter(Boolean).length;\n"
        "}\n",
        [(1, "Number of whitespace-separated words", None)],
    ),
    # Bad input: no test file for it anywhere.
    "src/untested.js": (
        "export function twice(x) {\n"
        "  return 2 * x;\n"
        "}\n",
        [(1, "Doubles x", None)],
    ),
    # Bad input: its test file exists but imports something else.
    "src/stray.js": (
        "export function stray(x) {\n"
        "  return x;\n"
        "}\n",
        [(1, "Returns x", None)],
    ),
}

TESTS = {
    "src/math.test.js": (
        "import { clamp, nearlyEqual } from './math';\n"
        "\n"
        "describe('clamp', () => {\n"
        "  it('keeps values inside the range', () => {\n"
        "    expect(clamp(5, 0, 10)).toBe(5);\n"
        "  });\n"
        "  test.each([[-3, 0], [42, 10]])('clamp(%i) = %i', (value, expected) => {\n"
        "    expect(clamp(value, 0, 10)).toBe(expected);\n"
        "  });\n"
        "});\n"
        "\n"
        "describe('nearlyEqual', () => {\n"
        "  it('tolerates rounding', () => {\n"
        "    expect(nearlyEqual(0.1 + 0.2, 0.3)).toBe(true);\n"
        "    expect(nearlyEqual(1, 2)).toBe(false);\n"
        "  });\n"
        "});\n"
    ),
    "test/strings.test.js": (
        "const test = require('node:test');\n"
        "const assert = require('node:assert/strict');\n"
        "const { capitalize } = require('../src/strings');\n"
        "\n"
        "test('capitalizes the first letter', () => {\n"
        "  assert.equal(capitalize('ada'), 'Ada');\n"
        "});\n"
        "\n"
        "test('leaves the rest alone', async (t) => {\n"
        "  await t.test('already capitalized', () => assert.equal(capitalize('Bob'), 'Bob'));\n"
        "});\n"
    ),
    "src/__tests__/range.test.ts": (
        "import { describe, expect, it } from '@jest/globals';\n"
        "import { range } from '../range';\n"
        "\n"
        "describe('range', () => {\n"
        "  it('counts from zero', () => {\n"
        "    const values: number[] = range(4);\n"
        "    expect(values).toEqual([0, 1, 2, 3]);\n"
        "  });\n"
        "});\n"
    ),
    "test/slug.test.mjs": (
        "import { test } from 'node:test';\n"
        "import assert from 'node:assert';\n"
        "import { slugify } from '../src/slug.mjs';\n"
        "\n"
        "test('slugs a title', () => {\n"
        "  assert.strictEqual(slugify('  Hello, World!  '), 'hello-world');\n"
        "});\n"
    ),
    "src/Greeting.test.jsx": (
        "import { render, screen } from '@testing-library/react';\n"
        "import { Greeting } from './Greeting';\n"
        "\n"
        "test('greets by name', () => {\n"
        "  render(<Greeting name=\"Ada\" />);\n"
        "  expect(screen.getByRole('heading')).toHaveTextContent('Hello, Ada!');\n"
        "});\n"
    ),
    "src/__tests__/words.test.js": (
        "const { countWords } = require('../words');\n"
        "\n"
        "it('counts words', () => {\n"
        "  expect(countWords(' one two  three ')).toBe(3);\n"
        "});\n"
    ),
    "src/stray.test.js": (
        "import { countWords } from './words';\n"
        "\n"
        "it('is about another module', () => {\n"
        "  expect(countWords('a b')).toBe(2);\n"
        "});\n"
    ),
}

# Files whose functions carry usable tests (the bad-input ones excluded).
TESTED = {"src/math.js", "src/strings.js", "src/range.ts", "src/slug.mjs", "src/Greeting.jsx", "src/words.js"}


def _sidecar(name: str, comments: list[tuple[int, str, str | None]]) -> dict:
    return {
        "version": "1.0",
        "file": name,
        "comments": [
            {"id": f"c{index}", "line": line, "text": text, "author": "Ana", "created": "2026-01-01T00:00:00Z",
             "updated": "2026-01-01T00:00:00Z", "tag": tag}
            for index, (line, text, tag) in enumerate(comments, 1)
        ],
    }


def write_js_repository(root: Path) -> Path:
    """Write the repository under `root` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "LICENSE").write_text(MIT, encoding="utf-8")
    (root / "package.json").write_text(json.dumps({"name": "fixture", "license": "MIT"}) + "\n",
                                       encoding="utf-8")
    for path, (source, comments) in SOURCES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
        if comments:
            sidecar = _sidecar(target.name, comments)
            (root / f"{path}.comments").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    for path, text in TESTS.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root
