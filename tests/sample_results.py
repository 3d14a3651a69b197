"""Test runs' results.json, complete by services/evaluator/results.schema.json: every reader validates it.

``results_from_problems`` takes the per-problem rows a test cares about and computes the rest the way the
pipeline does (commentslab.services.stats for each metric's comparison, Holm across metrics, the verdict, the design's
power), so a test states only the scores and the readers see a results.json like a real run's.
"""

from __future__ import annotations

from commentslab.services.evaluator.harness import METRIC_KEYS
from commentslab.services.stats.compare import adjust_across_metrics, compare, verdict
from commentslab.services.stats.power import design_power


def scored(completions: list[str], passed: list[bool], exact_match: float = 0.0, ast_match: float = 0.0,
           **more: float) -> dict:
    """One arm's scores on one problem (statuses from ``passed``); ``more``: e.g. semanticSimilarity=0.8."""
    return {"completions": completions, "passed": passed, "statuses": ["passed" if p else "failed" for p in passed],
            "pass@1": sum(passed) / len(passed), "exactMatch": exact_match, "astMatch": ast_match, **more}


def results_from_problems(problems: list[dict], metrics: tuple[str, ...] = ("pass@1",),
                          arms: tuple[str, ...] = ("control", "experiment"), training: dict | None = None,
                          **fields) -> dict:
    """A schema-valid results.json over ``problems`` (each: id, taskId, prompt, reference and one
    ``scored`` entry per arm); ``fields`` replace or add top-level fields (scenario, provenance, ...)."""
    def column(arm: str, metric: str) -> list[float]:
        return [float(p[arm][METRIC_KEYS.get(metric, metric)]) for p in problems]

    means = {arm: {m: sum(column(arm, m)) / len(problems) for m in metrics} for arm in arms}
    samples = len(problems[0]["control"]["completions"])
    # As the pipeline decides: pass/fail scores only where one sample per problem makes pass@1 0 or 1.
    significance = adjust_across_metrics({
        m: compare(column("control", m), column("experiment", m), binary=m == "pass@1" and samples == 1)
        for m in metrics})
    power = design_power(len(problems), samples, 1)
    statuses = [s for p in problems for arm in arms for s in p[arm]["statuses"]]
    results = {
        "schemaVersion": 1, "scenario": "function_completion", "arms": list(arms), "metrics": list(metrics),
        **means,
        "improvement": {m: {"absolute": means["experiment"][m] - means["control"][m],
                            "relative": ((means["experiment"][m] - means["control"][m]) / means["control"][m]
                                         if means["control"][m] else None)} for m in metrics},
        "significance": significance,
        "verdict": verdict(significance),
        "power": {"design": {**power, "alpha": 0.05, "power": 0.8},
                  "observedMdd": {m: significance[m]["mdd"] for m in metrics}},
        "evaluation": {"problems": len(problems), "samples": samples, "seeds": 1, "folds": 1, "testMetadata": "none",
                       "k": [1], "alpha": 0.05},
        "sandbox": {"runs": len(statuses), "timedOutOnce": 0, "flakyTimeouts": 0, "timeouts": 0,
                    "flakyTimeoutRate": 0.0, "statusCounts": {s: statuses.count(s) for s in set(statuses)}},
        "leakage": {"testMetadata": "none", "n": len(problems), "threshold": 0.5, "rows": len(problems),
                    "flagged": [], "flaggedShare": 0.0, "maxOverlap": 0.0, "leaks": False},
        "problems": problems,
        "training": training if training is not None else {
            arm: {"history": [], "checkpoint": f"file:///runs/test/checkpoints/{arm}"} for arm in arms},
        "config": {"profile": "smoke", "seed": 1234, "data": {}, "model": {}, "train": {"steps": 30},
                   "generate": {"n": samples}, "evaluate": {}},
        "provenance": {"commit": "0" * 40, "createdAt": "2026-01-01T00:00:00+00:00", "machine": {"cpus": 2},
                       "profile": "smoke", "wallSeconds": {"total": 1.0}},
    }
    results.update(fields)
    return results
