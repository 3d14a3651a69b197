"""JS/TS sources get their tests by the ecosystem's conventions, with the local files those tests import;
records without usable tests are reported with the reason and kept out of functional scoring."""

from __future__ import annotations

import pytest
from js_fixture import TESTED, write_js_repository

from commentslab.services.evaluator.controls import run_controls
from commentslab.services.exporter.export import ExportOptions, ExportReport, export_repository
from commentslab.services.exporter.test_files import (
    JAVASCRIPT_CONVENTIONS,
    candidates,
    missing_packages,
    resolve,
)
from commentslab.services.sandbox.execute import Limits, run_many


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    repo = write_js_repository(tmp_path_factory.mktemp("js") / "fixture")
    report = ExportReport(repository="fixture")
    options = ExportOptions(scenario="js-fixture", workers=1)
    records = [dict(r) for r in export_repository(repo, report=report, options=options)]
    return records, report.to_dict()


def _by_function(records):
    return {r["entryPoint"]: r for r in records}


def test_every_record_carries_the_scenario_and_tested_files_carry_their_test_project(exported):
    records, _ = exported
    assert {r["scenario"] for r in records} == {"js-fixture"}
    tested = {r["provenance"]["path"] for r in records if r["tests"]}
    assert tested == TESTED

    clamp = _by_function(records)["clamp"]["tests"]
    assert clamp["module"] == "src/math.js"
    assert clamp["testFiles"] == ["src/math.test.js"]
    # The module's own local import travels with the tests; the module itself is each record's own text.
    assert set(clamp["files"]) == {"src/math.test.js", "src/constants.js"}
    assert clamp["after"] == "\nexport function nearlyEqual(a, b) {\n  return Math.abs(a - b) < EPSILON;\n}\n"

    by_function = _by_function(records)
    assert by_function["capitalize"]["tests"]["testFiles"] == ["test/strings.test.js"]
    assert by_function["capitalize"]["tests"]["after"] == "\nmodule.exports = { capitalize };\n"
    assert by_function["range"]["tests"]["testFiles"] == ["src/__tests__/range.test.ts"]
    assert by_function["slugify"]["tests"]["testFiles"] == ["test/slug.test.mjs"]
    assert by_function["Greeting"]["tests"]["testFiles"] == ["src/Greeting.test.jsx"]
    assert by_function["countWords"]["tests"]["testFiles"] == ["src/__tests__/words.test.js"]


def test_records_without_usable_tests_are_reported_with_the_reason(exported):
    records, report = exported
    by_function = _by_function(records)
    assert by_function["twice"]["tests"] is None and by_function["stray"]["tests"] is None
    reasons = {u["path"]: u["reason"] for u in report["untested"]}
    assert reasons == {
        "src/untested.js": "no test file found by the scenario's conventions",
        "src/stray.js": "no test file imports src/stray.js (src/stray.test.js)",
    }
    assert {u["recordId"] for u in report["untested"]} == {by_function["twice"]["id"], by_function["stray"]["id"]}


def test_a_test_that_imports_the_module_but_never_names_the_function_is_not_its_test(tmp_path):
    repo = write_js_repository(tmp_path / "fixture")
    (repo / "src" / "math.test.js").write_text(
        "import { clamp } from './math';\ntest('clamps', () => { expect(clamp(9, 0, 5)).toBe(5); });\n")
    report = ExportReport(repository="fixture")
    records = _by_function(dict(r) for r in export_repository(repo, report=report, options=ExportOptions(workers=1)))

    assert records["clamp"]["tests"] is not None
    assert records["nearlyEqual"]["tests"] is None
    assert {"path": "src/math.js", "item": "c2", "recordId": records["nearlyEqual"]["id"],
            "reason": "the tests import src/math.js but never name nearlyEqual"} in report.untested


def test_reference_solutions_pass_their_own_tests_and_empty_bodies_fail_in_the_sandbox(exported):
    records, _ = exported
    rows = [r for r in records if r["tests"]]

    def sandbox(programs: list[str], language: str) -> list[dict]:
        return [{"status": r.status} for r in run_many(programs, language, limits=Limits(cpu_seconds=10, wall_seconds=30))]

    report = run_controls(rows, sandbox)

    assert (report["positive"]["passed"], report["negative"]["notPassed"]) == (len(rows), len(rows)) == (7, 7)


@pytest.mark.parametrize(("test_text", "reason"), [
    ("import { clamp } from './math';\ntest('x', () => { expect(clamp(1, 0, 2)).toBe(1) ;\n",
     "src/math.test.js does not parse as javascript"),
    ("import _ from 'lodash';\nimport { clamp } from './math';\ntest('x', () => { expect(clamp(1, 0, 2)).toBe(1); });\n",
     "src/math.test.js imports lodash, which the sandbox does not have (deps/sandbox-js)"),
], ids=["does not parse", "a package the sandbox lacks"])
def test_tests_the_sandbox_could_not_run_are_reported_not_sent(tmp_path, test_text, reason):
    repo = write_js_repository(tmp_path / "fixture")
    (repo / "src" / "math.test.js").write_text(test_text)
    report = ExportReport(repository="fixture")
    records = _by_function(dict(r) for r in export_repository(repo, report=report, options=ExportOptions(workers=1)))

    assert records["clamp"]["tests"] is None and records["capitalize"]["tests"] is not None
    assert [u["reason"] for u in report.untested if u["path"] == "src/math.js"][0].startswith(reason)


@pytest.mark.parametrize(("test_file", "found"), [
    ("src/lib/parse.test.js", True),
    ("src/lib/parse.spec.ts", True),
    ("src/lib/__tests__/parse.js", True),
    ("src/lib/__tests__/parse.test.tsx", True),
    ("test/parse.test.mjs", True),
    ("test/parse.js", True),
    ("__tests__/parse.test.js", True),
    ("src/lib/parse.tests.js", False),
    ("tests/test_parse.py", False),
])
def test_the_javascript_conventions(test_file, found):
    assert (test_file in candidates("src/lib/parse.ts", JAVASCRIPT_CONVENTIONS)) is found


def test_imports_resolve_as_node_and_typescript_find_them():
    files = {"src/a.ts", "src/b/index.tsx", "src/c.js", "data.json"}
    is_file = files.__contains__

    assert resolve("test/x.test.js", "../src/a.js", is_file) == "src/a.ts"  # TypeScript's .js -> .ts
    assert resolve("src/x.js", "./a", is_file) == "src/a.ts"
    assert resolve("src/x.js", "./b", is_file) == "src/b/index.tsx"
    assert resolve("src/x.js", "./c.js", is_file) == "src/c.js"
    assert resolve("src/x.js", "../data.json", is_file) == "data.json"
    assert resolve("src/x.js", "../../outside", is_file) is None
    assert resolve("src/x.js", "./missing", is_file) is None


def test_the_kubeflow_export_task_exports_the_scenarios_repositories(tmp_path):
    from commentslab.pipelines.tasks import export_records
    from commentslab.services.common.artifacts import read_jsonl, write_json
    from commentslab.services.common.config import load_config
    from commentslab.services.common.layout import RunLayout

    repo = write_js_repository(tmp_path / "fixture")
    cfg = load_config("smoke", ["scenario.name=js-fixture", "scenario.language=javascript",
                                f"scenario.repositories=[{repo}]"])
    write_json(tmp_path / "config.json", cfg.model_dump())
    out = tmp_path / "export"

    assert export_records(str(tmp_path / "no-corpus"), str(out), str(tmp_path / "config.json")) == 9
    records = list(read_jsonl(RunLayout(out).records))
    assert {r["scenario"] for r in records} == {"js-fixture"}
    assert {r["provenance"]["path"] for r in records if r["tests"]} == TESTED


def test_a_suite_that_mocks_modules_travels_with_its_manual_mocks_and_runs_in_the_sandbox(tmp_path):
    repo = write_js_repository(tmp_path / "fixture")
    # Jest's manual mock beside the module it replaces; a package the sandbox lacks, mocked with a factory
    (repo / "src" / "__mocks__").mkdir()
    (repo / "src" / "__mocks__" / "constants.js").write_text("export const EPSILON = 0.5;\n")
    (repo / "src" / "math.test.js").write_text(
        "import { clamp, nearlyEqual } from './math';\n"
        "import axios from 'axios';\n"
        "jest.mock('./constants.js');\n"
        "jest.mock('axios', () => ({ __esModule: true, default: { get: () => 'mocked' } }));\n"
        "test('clamps', () => { expect(clamp(9, 0, 5)).toBe(5); expect(axios.get()).toBe('mocked'); });\n"
        "test('the manual mock is what the module got', () => { expect(nearlyEqual(1, 1.4)).toBe(true); });\n")
    report = ExportReport(repository="fixture")
    records = _by_function(dict(r) for r in export_repository(repo, report=report, options=ExportOptions(workers=1)))

    clamp = records["clamp"]
    assert clamp["tests"] is not None, report.untested
    assert set(clamp["tests"]["files"]) == {"src/math.test.js", "src/constants.js", "src/__mocks__/constants.js"}
    controls = run_controls([clamp], lambda programs, language: [
        {"status": r.status} for r in run_many(programs, language, limits=Limits(cpu_seconds=10, wall_seconds=30))])
    assert (controls["positive"]["passed"], controls["negative"]["notPassed"]) == (1, 1)


def test_a_package_mocked_without_a_factory_or_manual_mock_is_still_missing():
    assert missing_packages("import axios from 'axios';\njest.mock('axios');\n") == ["axios"]
    assert missing_packages("import axios from 'axios';\njest.mock('axios', () => ({}));\n") == []
    assert missing_packages("import axios from 'axios';\njest.mock('axios');\n", frozenset({"axios"})) == []
    assert missing_packages("const real = jest.requireActual('left-pad');\n") == ["left-pad"]
