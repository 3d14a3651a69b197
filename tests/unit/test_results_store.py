"""The gateway's reading of results.json: checked against the one schema, read again only when it changes."""

import json
import os

import pytest
from sample_results import results_from_problems, scored

from commentslab.services.gateway.results_store import ResultsError, load_results


def _results(passes: int = 2) -> dict:
    problems = [{"id": f"id{i}", "taskId": f"HumanEval/{i}", "prompt": f"def f{i}():\n", "reference": "    return 1\n",
                 "control": scored(["    return 0\n"], [False]), "experiment": scored(["    return 1\n"], [i < passes])}
                for i in range(6)]
    return results_from_problems(problems)


def test_unchanged_results_are_not_read_again(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(_results()), encoding="utf-8")
    first = load_results(tmp_path)
    assert load_results(tmp_path) is first  # the same object: neither parsed nor validated again


def test_a_rewritten_results_json_is_read_again(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results(passes=2)), encoding="utf-8")
    assert load_results(tmp_path)["experiment"]["pass@1"] == pytest.approx(2 / 6)
    replacement = tmp_path / "results.json.tmp"  # as the pipeline writes it: a new file renamed over the old
    replacement.write_text(json.dumps(_results(passes=5)), encoding="utf-8")
    os.replace(replacement, path)
    assert load_results(tmp_path)["experiment"]["pass@1"] == pytest.approx(5 / 6)


def test_a_results_json_edited_in_place_is_read_again(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results(passes=2)), encoding="utf-8")
    load_results(tmp_path)
    broken = _results(passes=2)
    broken["evaluation"]["problems"] = 0
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ResultsError, match="field evaluation/problems: 0 is less than the minimum of 1") as raised:
        load_results(tmp_path)
    assert raised.value.field == "evaluation/problems"


def test_an_arm_listed_without_scores_is_named(tmp_path):
    results = _results()
    results["arms"] = ["control", "experiment", "placebo"]
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    with pytest.raises(ResultsError, match="the arm 'placebo' is listed in `arms` but has no scores") as raised:
        load_results(tmp_path)
    assert raised.value.field == "placebo"
