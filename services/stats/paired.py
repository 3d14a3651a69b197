"""Paired comparison of two arms scored on the same test problems.

Every function takes two equal-length score vectors, ``control`` and ``experiment``, where
position ``i`` in both is the same test problem. Results are plain ``dict``/``float`` values that
serialise to strict JSON: no NaN and no infinity is ever returned; where a quantity is undefined
or infinite the function returns ``None`` and its docstring says when.
"""

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

# Differences that agree to this relative tolerance are treated as constant: floating-point
# rounding (0.4 - 0.1 != 0.5 - 0.2) must not turn "no spread" into a t of 1e16.
_CONSTANT_RTOL = 1e-12


def paired_differences(control: Sequence[float], experiment: Sequence[float]) -> np.ndarray:
    """Return ``experiment - control`` as floats, after checking the vectors can be paired."""
    control_arr = np.asarray(control, dtype=float)
    experiment_arr = np.asarray(experiment, dtype=float)
    if control_arr.ndim != 1 or experiment_arr.ndim != 1:
        raise ValueError("paired scores must be one-dimensional vectors, one score per test problem")
    if len(control_arr) != len(experiment_arr):
        raise ValueError(
            f"paired scores must have equal length (one per test problem): "
            f"control has {len(control_arr)}, experiment has {len(experiment_arr)}"
        )
    if len(control_arr) == 0:
        raise ValueError("paired scores are empty: there is no test problem to compare on")
    for name, arr in (("control", control_arr), ("experiment", experiment_arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(f"{name} score at index {bad[0]} is {arr[bad[0]]}; scores must be finite")
    return experiment_arr - control_arr


def _is_constant(differences: np.ndarray) -> bool:
    """Whether all differences are equal up to floating-point rounding."""
    spread = float(np.ptp(differences))
    return spread <= _CONSTANT_RTOL * max(1.0, float(np.max(np.abs(differences))))


def paired_t_test(control: Sequence[float], experiment: Sequence[float]) -> dict:
    """Two-sided paired t-test of ``experiment - control`` against a mean difference of 0.

    With differences d_i = experiment_i - control_i, n pairs, mean d̄ and sample standard
    deviation s_d (ddof=1)::

        t = d̄ / (s_d / sqrt(n)),   pValue = 2 * P(T_{n-1} >= |t|)

    computed by ``scipy.stats.ttest_rel``; t is positive when the experiment scores higher. Degenerate cases, where SciPy would return NaN or an
    infinite t, are answered directly:

    - all differences zero: ``{"statistic": 0.0, "pValue": 1.0}`` (no evidence of a difference);
    - a single pair with a non-zero difference: ``{"statistic": None, "pValue": 1.0}``
      (no variance can be estimated from one pair);
    - n >= 2 identical non-zero differences: ``{"statistic": None, "pValue": 0.0}`` (t is
      infinite; the p-value is its limit).

    Raises ``ValueError`` when the vectors differ in length, are empty or hold non-finite values.
    """
    differences = paired_differences(control, experiment)
    if not np.any(differences):
        return {"statistic": 0.0, "pValue": 1.0}
    if len(differences) < 2:
        return {"statistic": None, "pValue": 1.0}
    if _is_constant(differences):
        return {"statistic": None, "pValue": 0.0}
    result = stats.ttest_rel(np.asarray(experiment, dtype=float), np.asarray(control, dtype=float))
    return {"statistic": float(result.statistic), "pValue": float(result.pvalue)}


def cohens_dz(control: Sequence[float], experiment: Sequence[float]) -> float | None:
    """Cohen's d_z, the standardised mean of the paired differences.

    With d_i = experiment_i - control_i::

        d_z = mean(d) / sd(d),   sd with ddof=1

    Positive when the experiment scores higher. Returns ``0.0`` when every difference is zero,
    and ``None`` when the effect size is undefined or infinite: a single pair with a non-zero
    difference, or n >= 2 identical non-zero differences (sd = 0).

    Raises ``ValueError`` when the vectors differ in length, are empty or hold non-finite values.
    """
    differences = paired_differences(control, experiment)
    if not np.any(differences):
        return 0.0
    if len(differences) < 2 or _is_constant(differences):
        return None
    return float(np.mean(differences) / np.std(differences, ddof=1))


def mcnemar_exact(control_pass: Sequence[bool], experiment_pass: Sequence[bool]) -> dict:
    """Exact (binomial) McNemar test on paired pass/fail outcomes.

    Only discordant pairs carry information::

        b = #(control passes, experiment fails),   c = #(control fails, experiment passes)
        pValue = two-sided exact binomial test of b successes in b + c trials with p = 0.5
               = min(1, 2 * sum_{i <= min(b, c)} C(b + c, i) / 2^(b + c))

    computed by ``scipy.stats.binomtest``. ``pValue`` is ``1.0`` when there are no discordant
    pairs (b + c == 0). Returns ``{"b": int, "c": int, "pValue": float}``.

    Raises ``ValueError`` when the vectors differ in length or are empty.
    """
    control_arr = np.asarray(control_pass, dtype=bool)
    experiment_arr = np.asarray(experiment_pass, dtype=bool)
    if control_arr.shape != experiment_arr.shape or control_arr.ndim != 1:
        raise ValueError(
            f"paired outcomes must be equal-length vectors (one per test problem): "
            f"control has shape {control_arr.shape}, experiment has shape {experiment_arr.shape}"
        )
    if len(control_arr) == 0:
        raise ValueError("paired outcomes are empty: there is no test problem to compare on")
    b = int(np.sum(control_arr & ~experiment_arr))
    c = int(np.sum(~control_arr & experiment_arr))
    if b + c == 0:
        return {"b": 0, "c": 0, "pValue": 1.0}
    p_value = stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    return {"b": b, "c": c, "pValue": float(min(1.0, p_value))}


def wilcoxon_signed_rank(control: Sequence[float], experiment: Sequence[float]) -> dict:
    """Two-sided Wilcoxon signed-rank test of ``experiment - control`` against a median difference of 0.

    Zero differences are dropped (Wilcoxon's original treatment); W is the smaller of the positive
    and negative rank sums; the p-value is exact for fewer than 50 non-zero differences without
    ties and from the normal approximation otherwise (``scipy.stats.wilcoxon``'s "auto" method).
    Returns ``{"statistic": W, "pValue": p}``; ``{"statistic": 0.0, "pValue": 1.0}`` when every
    difference is zero (nothing to rank).

    Raises ``ValueError`` when the vectors differ in length, are empty or hold non-finite values.
    """
    differences = paired_differences(control, experiment)
    # Rounding noise must not turn equal scores into tiny ranked differences.
    differences = np.where(np.abs(differences) <= _CONSTANT_RTOL, 0.0, differences)
    if not np.any(differences):
        return {"statistic": 0.0, "pValue": 1.0}
    result = stats.wilcoxon(differences, zero_method="wilcox", alternative="two-sided")
    return {"statistic": float(result.statistic), "pValue": float(min(1.0, result.pvalue))}


def hedges_g(control: Sequence[float], experiment: Sequence[float]) -> float | None:
    """Hedges' g: the difference of the arms' means over their pooled standard deviation, bias-corrected.

    With n problems per arm, s_c and s_e the arms' sample standard deviations (ddof=1)::

        g = J * (mean_e - mean_c) / sqrt((s_c^2 + s_e^2) / 2),   J = 1 - 3 / (4 * 2n - 9)

    (Borenstein 2009, as statsmodels' ``effectsize_smd``). Unlike d_z it is standardised by the
    spread of the scores, not of the differences, so it reads on the scale of the metric's
    variation across problems. Returns ``0.0`` when the means are equal, ``None`` when it is
    undefined (n < 2, or no spread in either arm while the means differ).
    """
    differences = paired_differences(control, experiment)
    control_arr, experiment_arr = np.asarray(control, dtype=float), np.asarray(experiment, dtype=float)
    n = len(differences)
    mean_difference = float(np.mean(experiment_arr) - np.mean(control_arr))
    if abs(mean_difference) <= _CONSTANT_RTOL:
        return 0.0
    if n < 2:
        return None
    pooled = math.sqrt((np.var(control_arr, ddof=1) + np.var(experiment_arr, ddof=1)) / 2)
    if pooled <= _CONSTANT_RTOL:
        return None
    return float((1 - 3 / (4 * 2 * n - 9)) * mean_difference / pooled)
