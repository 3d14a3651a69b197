"""One metric's paired comparison with every test, interval and effect size; Holm across metrics; a verdict."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from commentslab.services.stats.bootstrap import DEFAULT_RESAMPLES, bootstrap_interval
from commentslab.services.stats.multiple import holm_adjusted
from commentslab.services.stats.paired import (
    cohens_dz,
    hedges_g,
    mcnemar_exact,
    paired_differences,
    paired_t_test,
    wilcoxon_signed_rank,
)
from commentslab.services.stats.power import minimum_detectable_difference
from commentslab.services.stats.seeds import across_seeds, problems_and_seeds_test


def _as_matrix(scores: Sequence[float] | Sequence[Sequence[float]], name: str) -> np.ndarray:
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise ValueError(f"{name} scores must be a vector (one seed) or a seeds x problems matrix")
    return matrix


def compare(
    control: Sequence[float] | Sequence[Sequence[float]],
    experiment: Sequence[float] | Sequence[Sequence[float]],
    binary: bool = False,
    alpha: float = 0.05,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict:
    """Paired comparison of one metric, shaped as a ``results.json`` significance entry.

    ``control`` and ``experiment`` are per-problem scores: a vector, or one row per training seed
    (same problems, same order, in every row). Per-problem values are first averaged over seeds;
    over those the entry holds the paired t-test (``tTest``), Wilcoxon's signed-rank test, Cohen's
    d_z, Hedges' g and a bootstrap interval of the difference (problems and, with several seeds,
    seeds resampled). With several seeds it adds ``seeds`` (each seed's difference, their mean and
    t interval) and ``problemsAndSeeds``, the crossed random-effects test (services/stats/seeds.py).
    McNemar's exact test is added when the scores are pass/fail (``binary``) from a single seed.

    The primary test, whose p-value decides ``significant`` (before any correction across
    metrics), is McNemar's for single-seed pass/fail scores, the problems-and-seeds test with
    several seeds, and the paired t-test otherwise. ``mdd`` is the minimum detectable difference
    (alpha, power 0.8) from the primary test's standard error.

    Raises ``ValueError`` on mismatched shapes, empty or non-finite input, ``binary`` scores other
    than 0 and 1, or ``alpha`` outside (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    c, e = _as_matrix(control, "control"), _as_matrix(experiment, "experiment")
    if c.shape != e.shape:
        raise ValueError(
            f"paired scores must have equal shape (seeds x problems): control has {c.shape}, experiment has {e.shape}"
        )
    c_mean, e_mean = c.mean(axis=0), e.mean(axis=0)
    differences = paired_differences(c_mean, e_mean)
    seeds, n = c.shape
    result: dict = {
        "n": int(n),
        "seeds": int(seeds),
        "meanControl": float(c.mean()),
        "meanExperiment": float(e.mean()),
        "difference": float(differences.mean()),
        "tTest": paired_t_test(c_mean, e_mean),
        "wilcoxon": wilcoxon_signed_rank(c_mean, e_mean),
        "cohensD": cohens_dz(c_mean, e_mean),
        "hedgesG": hedges_g(c_mean, e_mean),
        "bootstrap": bootstrap_interval(e - c, resamples=resamples, seed=seed),
    }
    standard_error = float(differences.std(ddof=1) / np.sqrt(n)) if n > 1 else None
    primary, primary_p = "paired t-test", result["tTest"]["pValue"]
    if binary:
        for name, arr in (("control", c), ("experiment", e)):
            bad = np.argwhere((arr != 0.0) & (arr != 1.0))
            if bad.size:
                raise ValueError(
                    f"binary=True needs pass/fail scores of 0 or 1, but the {name} score at index "
                    f"{tuple(int(x) for x in bad[0]) if seeds > 1 else int(bad[0][1])} is {arr[tuple(bad[0])]}"
                )
    if seeds > 1:
        result["seedSummary"] = across_seeds(e - c)
        if n > 1:
            result["problemsAndSeeds"] = problems_and_seeds_test(e - c)
            primary, primary_p = "problems-and-seeds t-test", result["problemsAndSeeds"]["pValue"]
            standard_error = result["problemsAndSeeds"]["standardError"]
    elif binary:
        result["mcnemar"] = mcnemar_exact(c[0] == 1.0, e[0] == 1.0)
        primary, primary_p = "McNemar exact", result["mcnemar"]["pValue"]
    result["primaryTest"] = primary
    result["pValue"] = float(primary_p)
    result["significant"] = bool(primary_p < alpha)
    result["mdd"] = minimum_detectable_difference(standard_error, alpha)["mdd"] if standard_error else None
    return result


def adjust_across_metrics(significance: dict[str, dict], alpha: float = 0.05) -> dict[str, dict]:
    """Add Holm-adjusted p-values (``pHolm``) across the metrics; ``significant`` then means pHolm < alpha."""
    metrics = list(significance)
    adjusted = holm_adjusted([significance[m]["pValue"] for m in metrics])
    out = {}
    for metric, p_holm in zip(metrics, adjusted, strict=True):
        out[metric] = {**significance[metric], "pHolm": p_holm, "significant": bool(p_holm < alpha),
                       "correction": "holm"}
    return out


def verdict(significance: dict[str, dict], alpha: float = 0.05) -> str:
    """A plain sentence: which metrics differ after Holm's correction, in which direction, or that none does."""
    if not significance:
        return "No metric was compared."
    better, worse = [], []
    for metric, entry in significance.items():
        if not entry.get("significant"):
            continue
        interval = entry.get("bootstrap") or {}
        text = (f"{metric} ({entry['difference']:+.3f}, 95% CI [{interval.get('low', float('nan')):+.3f}, "
                f"{interval.get('high', float('nan')):+.3f}], Holm p = {entry.get('pHolm', entry['pValue']):.3g})")
        (better if entry["difference"] > 0 else worse).append(text)
    n = next(iter(significance.values()))["n"]
    seeds = next(iter(significance.values())).get("seeds", 1)
    scope = f"{n} test problems" + (f" and {seeds} training seeds" if seeds > 1 else "")
    if not better and not worse:
        return (f"No significant difference between experiment and control on any metric "
                f"(Holm-corrected, alpha = {alpha}, {scope}).")
    parts = []
    if better:
        parts.append("better on " + "; ".join(better))
    if worse:
        parts.append("worse on " + "; ".join(worse))
    return f"The experiment arm is significantly {' and '.join(parts)} (Holm-corrected, alpha = {alpha}, {scope})."
