"""JavaScript/TypeScript test suites in the sandbox: Jest-style and node:test suites judge a completion
put in place of the original function, under the same limits, positive signal and containment as Python."""

from __future__ import annotations

import os

import pytest
from js_fixture import SOURCES, TESTS
from sandbox_attacks import JS_ATTACKS
from test_sandbox_adversarial import wait_until_no_sandbox_process

from commentslab.services.common.errors import SandboxUnavailable
from commentslab.services.sandbox import bubblewrap
from commentslab.services.sandbox.execute import Limits, run_many, run_program
from commentslab.services.sandbox.js_program import EMPTY_BODY, record_program, suite_program

LIMITS = Limits(cpu_seconds=10, wall_seconds=20, memory_mb=1024)
TIGHT = Limits(cpu_seconds=2, wall_seconds=15, memory_mb=512, max_output_bytes=8192)
FIXTURE = {path: source for path, (source, _) in SOURCES.items()} | TESTS


def _math_row(completion_of_clamp: str) -> tuple[dict, str]:
    """A record for `clamp` in src/math.js (an ES module imported by a Jest suite), and its completion."""
    source = SOURCES["src/math.js"][0]
    head, _, rest = source.partition("export function clamp(value, low, high) {\n")
    body, _, after = rest.partition("}\n")
    row = {"id": "clamp", "prompt": head + "export function clamp(value, low, high) {\n",
           "tests": {"module": "src/math.js", "after": after,
                     "files": {"src/constants.js": FIXTURE["src/constants.js"], "src/math.test.js": TESTS["src/math.test.js"]},
                     "testFiles": ["src/math.test.js"]}}
    return row, body + "}\n"


def _strings_row() -> tuple[dict, str]:
    """A record for `capitalize` in src/strings.js (CommonJS, required by a node:test suite)."""
    source = SOURCES["src/strings.js"][0]
    prompt, _, rest = source.partition("\n")
    body, _, after = rest.partition("}\n")
    row = {"id": "capitalize", "prompt": prompt + "\n",
           "tests": {"module": "src/strings.js", "after": after,
                     "files": {"test/strings.test.js": TESTS["test/strings.test.js"]},
                     "testFiles": ["test/strings.test.js"]}}
    return row, body + "}\n"


def test_jest_node_test_typescript_and_react_suites_pass_on_the_original_code():
    tests = [path for path in TESTS if path != "src/stray.test.js"]
    result = run_program(suite_program(FIXTURE, tests), "javascript", LIMITS)

    assert result.status == "passed", result.stdout + result.stderr
    assert "10 passed, 0 failed" in result.stdout
    for name in ("clamp > keeps values inside the range", "clamp(42) = 10", "capitalizes the first letter",
                 "range > counts from zero", "slugs a title", "greets by name", "counts words"):
        assert name in result.stdout


def test_the_completion_replaces_the_function_for_es_module_and_commonjs_imports():
    clamp, clamp_body = _math_row("")
    capitalize, capitalize_body = _strings_row()
    marked = "  console.log('completion ran');\n"
    right = run_many([record_program(clamp, marked + clamp_body), record_program(capitalize, marked + capitalize_body)],
                     "javascript", LIMITS)
    wrong = run_many([record_program(clamp, "  return value;\n}\n"), record_program(capitalize, "  return word;\n}\n"),
                      record_program(clamp, EMPTY_BODY), record_program(capitalize, EMPTY_BODY)], "javascript", LIMITS)

    assert [r.status for r in right] == ["passed", "passed"]
    assert all("completion ran" in r.stdout for r in right)
    assert [r.status for r in wrong] == ["failed"] * 4
    assert "✗ src/math.test.js > clamp > clamp(42) = 10" in wrong[0].stderr
    assert "✗ test/strings.test.js > capitalizes the first letter" in wrong[1].stderr


def test_a_completion_that_does_not_compile_fails_with_the_compilers_message():
    row, _ = _math_row("")
    result = run_program(record_program(row, "  return value +;\n}\n"), "javascript", LIMITS)

    assert result.status == "failed"
    assert "does not compile" in result.stderr and "src/math.js" in result.stderr


def test_a_test_that_asserts_nothing_cannot_pass():
    files = {"src/add.js": "export function add(a, b) {\n  return a + b;\n}\n",
             "src/add.test.js": "import { add } from './add';\ntest('calls add', () => { add(1, 2); });\n",
             "test/add.test.js": "const test = require('node:test');\nconst { add } = require('../src/add');\n"
                                 "test('calls add', () => { add(1, 2); });\n"}
    jest, node = run_many([suite_program(files, ["src/add.test.js"]), suite_program(files, ["test/add.test.js"])],
                          "javascript", LIMITS)

    assert (jest.status, node.status) == ("failed", "failed")
    assert "made no assertion" in jest.stderr and "made no assertion" in node.stderr


@pytest.mark.parametrize(("completion", "why"), [
    ("  process.exit(0);\n}\n", "exits before the tests ran"),
    ("  process.exitCode = 0;\n  return new Promise(() => {});\n}\n", "never settles, after setting the exit code"),
    ("  globalThis.expect = () => ({ toBe() {} });\n  return value;\n}\n", "replaces expect"),
    ("  setTimeout(() => { throw new Error('later'); });\n  return Math.min(Math.max(value, low), high);\n}\n",
     "throws after returning"),
    ("  setTimeout(() => { throw new Error('after the run'); }, 300);\n"
     "  return Math.min(Math.max(value, low), high);\n}\n", "throws after the tests finished"),
], ids=["exit", "never settles", "replaces expect", "throws later", "throws after the run"])
def test_a_completion_cannot_pass_by_cutting_the_suite_short_or_tampering_with_it(completion, why):
    row, _ = _math_row("")
    result = run_program(record_program(row, completion), "javascript", Limits(cpu_seconds=10, wall_seconds=30))

    assert result.status == "failed", why



def _attack_program(name: str, host_port: int, secret: str) -> str:
    completion = JS_ATTACKS[name][0].replace("{host_port}", str(host_port)).replace("{secret_path}", secret).replace(
        "{host_pid}", str(os.getpid()))
    files = {"src/probe.js": "export async function probe() {\n" + completion + "}\n",
             "src/probe.test.js": "import { probe } from './probe';\n"
                                  "test('probe', async () => { expect(await probe()).toEqual([]); }, 15000);\n"}
    return suite_program(files, ["src/probe.test.js"])


def test_hostile_completions_are_contained_each_with_its_status(host_listener, tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("COMMENTSLAB_SECRET=hunter2")
    monkeypatch.setenv("COMMENTSLAB_SECRET", "hunter2")
    names = list(JS_ATTACKS)
    results = run_many([_attack_program(name, host_listener, str(secret)) for name in names], "javascript", TIGHT,
                       timeout_retries=0)

    statuses = {name: result.status for name, result in zip(names, results, strict=True)}
    assert statuses == {name: expected for name, (_, expected) in JS_ATTACKS.items()}, {
        name: result.stdout[-400:] + result.stderr[-400:] for name, result in zip(names, results, strict=True)}
    by_name = dict(zip(names, results, strict=True))
    assert "reached []" in by_name["network"].stdout
    assert "found []" in by_name["host files and secrets"].stdout
    assert "written []" in by_name["writing outside"].stdout
    assert "still here" in by_name["kill the parent"].stdout
    assert not wait_until_no_sandbox_process()
    assert not (tmp_path / "pwned").exists()


def test_without_the_npm_packages_javascript_is_refused_with_the_setting_to_change(monkeypatch, tmp_path):
    monkeypatch.setenv("COMMENTSLAB_JS_PACKAGES", str(tmp_path / "missing"))
    bubblewrap.js_packages.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="make node-deps"):
            run_program("console.log(1);\n", "javascript", LIMITS)
    finally:
        monkeypatch.delenv("COMMENTSLAB_JS_PACKAGES")
        bubblewrap.js_packages.cache_clear()
