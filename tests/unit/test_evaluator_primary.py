"""Each metric's primary test, the reason results.json gives for it, and the measured power beside the assumed."""

from __future__ import annotations

import jsonschema
import numpy as np
import pytest

from commentslab.services.common.config import load_config
from commentslab.services.evaluator.primary import is_binary, primary_test_reason
from commentslab.services.evaluator.results import compare_arms
from commentslab.services.evaluator.results_schema import results_schema
from commentslab.services.stats.compare import compare


def _compare(metric, control, experiment, binary, alpha):
    return compare(control, experiment, binary=binary, alpha=alpha, resamples=10_000)


def scored_problem(passed: list[bool], exact: list[float], codebleu: float) -> dict:
    """A scored problem as the harness writes it: per-sample outcomes and per-problem means."""
    return {"statuses": ["passed" if p else "failed" for p in passed], "passed": passed,
            "timedOutAttempts": [0] * len(passed), "pass@1": float(np.mean(passed)),
            "exactMatch": float(np.mean(exact)), "astMatch": float(np.mean(exact)), "codebleu": codebleu}


def run(humaneval_records, samples: int, seeds: int, seed: int = 0):
    """compare_arms over 30 problems where experiment passes more often than control."""
    rng = np.random.default_rng(seed)
    rows = [{**r, "fold": i % 2} for i, r in enumerate(humaneval_records[:30])]
    rates = {"control": rng.uniform(0.1, 0.6, len(rows)), "experiment": rng.uniform(0.3, 0.9, len(rows))}
    by_seed = {arm: [[scored_problem(list(rng.random(samples) < rates[arm][i]),
                                     list((rng.random(samples) < rates[arm][i] / 2).astype(float)),
                                     float(rng.uniform(0.2, 0.5)))
                      for i in range(len(rows))] for _ in range(seeds)]
               for arm in ("control", "experiment")}
    cfg = load_config("smoke", [f"generate.n={samples}", "evaluate.k=[1]", "data.folds=2",
                                f"seeds={list(range(1, seeds + 1))}"])
    return compare_arms(by_seed, rows, cfg, _compare)


def test_binary_means_a_pass_fail_metric_with_every_value_0_or_1():
    assert is_binary("pass@1", [[0.0, 1.0], [1.0, 1.0]])
    assert is_binary("exact_match", [[0.0, 1.0]]) and is_binary("ast_match", [[1.0, 0.0]])
    assert not is_binary("pass@1", [[0.0, 0.25]])  # a fraction of samples
    assert not is_binary("codebleu", [[0.0, 1.0]])  # continuous, however its values fall
    assert not is_binary("semantic_similarity", [[1.0, 1.0]])


def test_one_sample_gives_exact_and_ast_match_mcnemar_with_the_reason(humaneval_records):
    result = run(humaneval_records, samples=1, seeds=1)
    for metric in ("pass@1", "exact_match", "ast_match"):
        entry = result["significance"][metric]
        assert entry["primaryTest"] == "McNemar exact", metric
        assert "mcnemar" in entry
        assert entry["testReason"] == (f"{metric} is 0 or 1 on every problem: one sample per problem: pass/fail "
                                       "pairs, so McNemar's exact test on the discordant problems.")
    codebleu = result["significance"]["codebleu"]
    assert codebleu["primaryTest"] == "paired t-test"
    assert codebleu["testReason"].startswith("codebleu is a continuous score per problem: the paired t-test")


def test_several_samples_give_fractions_and_the_paired_t_test(humaneval_records):
    result = run(humaneval_records, samples=4, seeds=1)
    entry = result["significance"]["exact_match"]
    assert entry["primaryTest"] == "paired t-test" and "mcnemar" not in entry
    assert "a fraction per problem (the mean of 4 samples' 0/1 outcomes)" in entry["testReason"]


def test_several_seeds_give_the_problems_and_seeds_test_and_say_why_not_mcnemar(humaneval_records):
    result = run(humaneval_records, samples=1, seeds=2)
    entry = result["significance"]["pass@1"]
    assert entry["primaryTest"] == "problems-and-seeds t-test"
    assert entry["testReason"] == ("pass@1 is 0 or 1 on every problem: one sample per problem: 2 training seeds give "
                                   "each problem several values per arm, so the problems-and-seeds t-test (problems "
                                   "and seeds both random); McNemar's test pairs a single outcome per problem.")


def test_test_reason_names_agreeing_samples_when_several_samples_are_still_0_or_1():
    reason = primary_test_reason("pass@1", 3, True, "McNemar exact", 1)
    assert "each problem's 3 samples all agreed" in reason


def test_results_report_the_measured_mdd_beside_the_assumed_one_and_match_the_schema(humaneval_records):
    result = run(humaneval_records, samples=3, seeds=2)
    power = result["power"]
    measured = power["measured"]
    assert measured["fullyMeasured"] is True and set(measured["sources"].values()) == {"measured"}
    assert (measured["problems"], measured["samples"], measured["seeds"], measured["folds"]) == (30, 3, 2, 2)
    assert measured["mdd"] == pytest.approx(2.8016 * measured["standardError"], rel=1e-3)
    assert power["design"]["mdd"] > 0
    schema = results_schema()
    jsonschema.validate(power, {"$schema": schema["$schema"], "$defs": schema["$defs"],
                                **schema["properties"]["power"]})
    for entry in result["significance"].values():
        jsonschema.validate(entry, {"$schema": schema["$schema"], "$defs": schema["$defs"],
                                    "$ref": "#/$defs/comparison"})


def test_a_one_seed_one_sample_run_reports_which_components_it_assumed(humaneval_records):
    measured = run(humaneval_records, samples=1, seeds=1)["power"]["measured"]
    assert measured["fullyMeasured"] is False
    assert measured["sources"]["within"].startswith("assumed: one sample per problem")
    assert measured["sources"]["seed_shift"].startswith("assumed: one training seed")
