"""A JavaScript scenario end to end on the smoke profile, through the six real services: a repository of
annotated functions judged by its own Jest-style, node:test and React (jsdom) tests in the Sandbox service."""

import json

import pytest
from js_fixture import TESTED, write_js_repository

from commentslab.services.common.artifacts import read_json, read_jsonl
from commentslab.services.common.config import load_config
from commentslab.services.common.layout import RunLayout
from commentslab.services.evaluator.harness import program_for, sandbox_language
from commentslab.services.pipeline.run import run_experiment
from commentslab.services.pipeline.steps import GrpcSteps
from commentslab.services.sandbox.execute import Limits, run_program

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def js_run(grpc_services, tmp_path_factory):
    repo = write_js_repository(tmp_path_factory.mktemp("js-repo") / "fixture")
    out = tmp_path_factory.mktemp("js-run")
    cfg = load_config("smoke", ["scenario.name=js-fixture", "scenario.language=javascript",
                                f"scenario.repositories=[{repo}]", "data.ratios=[0.4, 0.2, 0.4]", "generate.n=1",
                                "evaluate.semantic_similarity=false"])
    steps = GrpcSteps(grpc_services.addresses)
    try:
        run_experiment(steps, cfg, out)
    finally:
        steps.close()
    return out


def test_the_run_and_every_record_carry_the_scenario(js_run):
    results = json.loads((js_run / "results.json").read_text())
    layout = RunLayout.open(js_run)

    assert results["scenario"] == "js-fixture"
    assert results["config"]["scenario"]["language"] == "javascript"
    records = list(read_jsonl(layout.records))
    assert {r["scenario"] for r in records} == {"js-fixture"}
    assert {r["provenance"]["path"] for r in records if r["tests"]} == TESTED
    untested = {u["path"]: u["reason"] for u in read_json(layout.export_report)["untested"]}
    assert set(untested) == {"src/untested.js", "src/stray.js"}


def test_the_controls_ran_the_javascript_tests_in_the_sandbox_service(js_run):
    results = json.loads((js_run / "results.json").read_text())
    rows = list(read_jsonl(RunLayout.open(js_run).rows(0, "control")))
    testable = [r for r in rows if r["tests"]]

    assert testable, "the test split holds no tested function; change the fixture's ratios"
    controls = results["controls"]
    assert controls["positive"]["problems"] == controls["negative"]["problems"] == len(testable)
    assert controls["positive"]["passed"] == len(testable)
    assert controls["negative"]["notPassed"] == len(testable)


def test_each_functional_result_equals_a_direct_run_of_the_repositorys_tests(js_run):
    results = json.loads((js_run / "results.json").read_text())
    rows = {r["id"]: r for r in read_jsonl(RunLayout.open(js_run).rows(0, "control"))}
    limits = Limits(cpu_seconds=results["config"]["evaluate"]["cpu_seconds"],
                    wall_seconds=results["config"]["evaluate"]["wall_seconds"])
    checked = 0
    for problem in results["problems"]:
        row = rows[problem["id"]]
        for arm in ("control", "experiment"):
            statuses = problem[arm]["statuses"]
            if not row["tests"]:
                assert statuses == [] and "pass@1" not in problem[arm]
                continue
            assert "pass@1" in problem[arm]
            for completion, status in zip(problem[arm]["completions"], statuses, strict=True):
                assert sandbox_language(row) == "javascript"
                assert run_program(program_for(row, completion), "javascript", limits).status == status
                checked += 1
    assert checked >= 2
