"""Paired comparison of two arms scored on the same test problems.

Every function takes two equal-length score vectors, ``control`` and ``experiment``, where
position ``i`` in both is the same test problem. Results are plain ``dict``/``float`` values that
serialise to strict JSON: no NaN and no infinity is ever returned; where a quantity is undefined
or infinite the function returns ``None`` and its docstring says when.
"""

from collections.abc import Sequence

import numpy as np
from scipy import stats

# Differences that agree to this relative tolerance are treated as constant: floating-point
# rounding (0.4 - 0.1 != 0.5 - 0.2) must not turn "no spread" into a t of 1e16.
_CONSTANT_RTOL = 1e-12


def _paired_differences(control: Sequence[float], experiment: Sequence[float]) -> np.ndarray:
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
    differences = _paired_differences(control, experiment)
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
    differences = _paired_differences(control, experiment)
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


def compare(
    control: Sequence[float],
    experiment: Sequence[float],
    binary: bool = False,
    alpha: float = 0.05,
) -> dict:
    """Paired comparison of one metric between two arms, shaped as a ``results.json`` significance entry.

    Returns::

        {"n", "meanControl", "meanExperiment", "difference" (= meanExperiment - meanControl),
         "tTest": paired_t_test(...), "cohensD": cohens_dz(...),
         "mcnemar": mcnemar_exact(...)   # only when binary
         "significant": primary pValue < alpha}

    The primary test is McNemar's exact test when ``binary`` (scores are per-problem pass/fail,
    1.0 or 0.0) and the paired t-test otherwise.

    Raises ``ValueError`` on length mismatch, empty or non-finite input, ``binary`` scores other
    than 0 and 1, or ``alpha`` outside (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    differences = _paired_differences(control, experiment)
    control_arr = np.asarray(control, dtype=float)
    experiment_arr = np.asarray(experiment, dtype=float)

    result: dict = {
        "n": int(len(differences)),
        "meanControl": float(np.mean(control_arr)),
        "meanExperiment": float(np.mean(experiment_arr)),
        "difference": float(np.mean(differences)),
        "tTest": paired_t_test(control_arr, experiment_arr),
        "cohensD": cohens_dz(control_arr, experiment_arr),
    }
    if binary:
        for name, arr in (("control", control_arr), ("experiment", experiment_arr)):
            bad = np.flatnonzero((arr != 0.0) & (arr != 1.0))
            if bad.size:
                raise ValueError(
                    f"binary=True needs pass/fail scores of 0 or 1, but the {name} score at index "
                    f"{bad[0]} is {arr[bad[0]]}"
                )
        result["mcnemar"] = mcnemar_exact(control_arr == 1.0, experiment_arr == 1.0)
        primary_p = result["mcnemar"]["pValue"]
    else:
        primary_p = result["tTest"]["pValue"]
    result["significant"] = bool(primary_p < alpha)
    return result
