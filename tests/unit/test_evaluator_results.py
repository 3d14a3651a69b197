"""results.json: the comparison a run writes, its JSON Schema, and the CSV/LaTeX report."""

import csv
import io
import json
import shutil

import jsonschema
import pytest

from commentslab.services.cli import main
from commentslab.services.common.config import load_config
from commentslab.services.common.errors import InputError
from commentslab.services.evaluator.harness import failure_message, score_arm
from commentslab.services.evaluator.report import comparison_csv, comparison_latex
from commentslab.services.evaluator.results import compare_arms
from commentslab.services.evaluator.results_schema import results_schema, validate_results
from commentslab.services.pipeline.steps import LocalSteps
from commentslab.services.stats.multiple import holm_adjusted


def _subschema(name: str) -> dict:
    schema = results_schema()
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{name}"}


@pytest.fixture(scope="module")
def comparison(humaneval_records):
    """Experiment solves all 20 problems; control only every other one (real sandbox, real statistics)."""
    cfg = load_config("smoke", ["generate.n=1", "evaluate.semantic_similarity=false"])
    rows = humaneval_records[:20]
    steps = LocalSteps()
    control = [[r["completion"] if i % 2 == 0 else "    return None\n"] for i, r in enumerate(rows)]
    experiment = [[r["completion"]] for r in rows]
    scored = {arm: [score_arm(rows, completions, lambda programs, language: steps.run_programs(programs, cfg, language), None)]
              for arm, completions in (("control", control), ("experiment", experiment))}
    return compare_arms(scored, rows, cfg, steps.compare), rows


def test_pass_fail_with_one_sample_is_decided_by_mcnemar_and_holm(comparison):
    result, _ = comparison
    sig = result["significance"]["pass@1"]
    assert (result["control"]["pass@1"], result["experiment"]["pass@1"]) == (0.5, 1.0)
    assert sig["primaryTest"] == "McNemar exact"
    assert sig["mcnemar"] == {"b": 0, "c": 10, "pValue": pytest.approx(2 / 2**10)}
    holm = holm_adjusted([result["significance"][m]["pValue"] for m in result["metrics"]])
    assert [result["significance"][m]["pHolm"] for m in result["metrics"]] == pytest.approx(holm)
    assert sig["significant"] is True
    assert result["verdict"].startswith("The experiment arm is significantly better on pass@1")
    assert result["sandbox"]["statusCounts"] == {"failed": 10, "passed": 30}
    assert result["power"]["design"]["problems"] == 20


def test_a_failed_sample_names_its_failing_test_and_error(comparison):
    result, _ = comparison
    control = [p["control"] for p in result["problems"]]
    failed = [row["failures"][0] for row in control if not row["passed"][0]]
    assert len(failed) == 10 and all(" → " in m and m.startswith("assert") for m in failed), failed
    assert all(row["failures"] == [None] for row in control if row["passed"][0])
    assert failure_message("", "timeout") == "timeout" and failure_message("x", "passed") is None
    assert failure_message('Traceback (most recent call last):\n  File "/tmp/p.py", line 9, in check\n'
                           "    assert candidate(3) == 4\nAssertionError\n", "failed") == (
        "assert candidate(3) == 4 → AssertionError")


def test_every_comparison_and_problem_row_matches_the_schema(comparison):
    result, _ = comparison
    for entry in result["significance"].values():
        jsonschema.validate(entry, _subschema("comparison"))
    for problem in result["problems"]:
        jsonschema.validate(problem, _subschema("problem"))


def test_the_report_holds_the_same_numbers_as_the_results(comparison):
    result, _ = comparison
    rows = list(csv.DictReader(io.StringIO(comparison_csv(result))))
    assert [r["metric"] for r in rows] == result["metrics"]
    pass_row = rows[0]
    assert float(pass_row["difference"]) == pytest.approx(0.5)
    assert float(pass_row["p_value"]) == pytest.approx(result["significance"]["pass@1"]["pValue"])
    assert pass_row["primary_test"] == "McNemar exact" and pass_row["significant"] == "True"
    latex = comparison_latex(result)
    assert r"\begin{tabular}" in latex and r"pass@1 & 0.500 & 1.000 & +0.500" in latex
    assert r"exact\_match" in latex and r"\textbf{" in latex


@pytest.mark.integration
def test_a_run_results_json_matches_the_schema_and_reports(smoke_run, tmp_path):
    results = json.loads((smoke_run / "results.json").read_text())
    validate_results(results)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(smoke_run / "results.json", run / "results.json")

    assert main(["report", str(run)]) == 0

    assert (run / "comparison.csv").read_text().splitlines()[0].startswith("metric,control,experiment,difference")
    assert r"\end{table}" in (run / "comparison.tex").read_text()
    broken = dict(results, significance={"pass@1": {**results["significance"]["pass@1"], "pValue": 1.5}})
    with pytest.raises(InputError, match="significance/pass@1/pValue"):
        validate_results(broken)
    del broken["verdict"]
    with pytest.raises(InputError, match="field verdict: is required but missing"):
        validate_results(broken)
