"""Which primary test each metric gets, and the reason results.json gives for it.

pass@k, exact match and AST match average a 0/1 outcome over a problem's samples; with one sample (or
samples that all agree) a problem's value is itself 0 or 1, and the paired outcomes are pass/fail
pairs, for which McNemar's exact test on the discordant problems is the exact test. A t-test on 0/1
differences leans on a normal approximation that a few discordant problems do not support.
Semantic similarity and CodeBLEU are continuous scores and never binary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Metrics whose per-sample value is 0 or 1 (pass@k's estimator is 0/1 when n == k).
PASS_FAIL_METRICS = ("exact_match", "ast_match")


def is_pass_fail_per_sample(metric: str) -> bool:
    """Whether a metric is a mean of 0/1 outcomes over a problem's samples (pass@k, exact match, AST match)."""
    return metric.startswith("pass@") or metric in PASS_FAIL_METRICS


def is_binary(metric: str, scores: Iterable[Sequence[float]]) -> bool:
    """Whether McNemar's test applies: a pass/fail metric whose every per-problem value (all arms, all seeds) is 0 or 1."""
    return is_pass_fail_per_sample(metric) and all(v in (0.0, 1.0) for row in scores for v in row)


def primary_test_reason(metric: str, samples: int, binary: bool, primary_test: str, seeds: int) -> str:
    """Why `metric` got `primary_test` (as compare's `primaryTest` names it), in one sentence."""
    if binary:
        kind = ("0 or 1 on every problem: one sample per problem" if samples == 1 else
                f"0 or 1 on every problem: each problem's {samples} samples all agreed")
    elif is_pass_fail_per_sample(metric):
        kind = f"a fraction per problem (the mean of {samples} samples' 0/1 outcomes)"
    else:
        kind = "a continuous score per problem"
    if primary_test == "McNemar exact":
        because = "pass/fail pairs, so McNemar's exact test on the discordant problems"
    elif primary_test.startswith("problems-and-seeds"):
        because = (f"{seeds} training seeds give each problem several values per arm, so the problems-and-seeds "
                   "t-test (problems and seeds both random)")
        if binary:
            because += "; McNemar's test pairs a single outcome per problem"
    else:
        because = "the paired t-test over problems (Wilcoxon's signed-rank test beside it)"
    return f"{metric} is {kind}: {because}."
