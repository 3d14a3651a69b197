"""A test of the mean paired difference that accounts for both test problems and training seeds.

With D[s, i] the paired difference (experiment - control) of training seed s on problem i, the
model is the two-way crossed random-effects model D[s, i] = mu + a_i + b_s + e_si: problems and
seeds are both samples from larger populations. The grand mean's variance is

    Var(mean D) = var_a / I + var_b / S + var_e / (I S)

estimated from the two-way ANOVA mean squares (MS_problem, MS_seed, MS_residual), with negative
variance components set to zero, and the degrees of freedom by Satterthwaite's approximation.
Treating the I x S cells as independent would count each problem S times and overstate the evidence;
averaging seeds away would ignore that a different seed gives a different model.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def anova_mean_squares(differences: np.ndarray) -> dict:
    """Two-way ANOVA (problems x seeds, one observation per cell) mean squares and their degrees of freedom."""
    d = np.asarray(differences, dtype=float)
    seeds, problems = d.shape
    grand = d.mean()
    problem_means = d.mean(axis=0)
    seed_means = d.mean(axis=1)
    ss_problem = seeds * np.sum((problem_means - grand) ** 2)
    ss_seed = problems * np.sum((seed_means - grand) ** 2)
    residual = d - problem_means[None, :] - seed_means[:, None] + grand
    ss_residual = np.sum(residual**2)
    df_problem, df_seed = problems - 1, seeds - 1
    df_residual = df_problem * df_seed
    return {
        "msProblem": float(ss_problem / df_problem) if df_problem else 0.0,
        "msSeed": float(ss_seed / df_seed) if df_seed else 0.0,
        "msResidual": float(ss_residual / df_residual) if df_residual else 0.0,
        "dfProblem": df_problem,
        "dfSeed": df_seed,
        "dfResidual": df_residual,
    }


def problems_and_seeds_test(differences: np.ndarray) -> dict:
    """t-test of mean(D) = 0 over problems and seeds (see the module docstring).

    ``differences`` has one row per seed (at least 2) and one column per problem (at least 2).
    Returns ``{"statistic", "df", "pValue", "standardError", "varianceComponents": {"problem",
    "seed", "residual"}}``; statistic and df are None (pValue 1.0 or 0.0) when the standard error
    is zero, as in ``paired_t_test``.
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 2 or d.shape[0] < 2 or d.shape[1] < 2:
        raise ValueError(f"need at least 2 seeds x 2 problems of differences, got shape {d.shape}")
    seeds, problems = d.shape
    ms = anova_mean_squares(d)
    var_problem = max(0.0, (ms["msProblem"] - ms["msResidual"]) / seeds)
    var_seed = max(0.0, (ms["msSeed"] - ms["msResidual"]) / problems)
    var_residual = ms["msResidual"]
    variance = var_problem / problems + var_seed / seeds + var_residual / (problems * seeds)
    mean = float(d.mean())
    components = {"problem": var_problem, "seed": var_seed, "residual": var_residual}
    if variance <= 1e-30:
        return {"statistic": None, "df": None, "pValue": 1.0 if abs(mean) <= 1e-12 else 0.0,
                "standardError": 0.0, "varianceComponents": components}
    # The variance estimate as a combination of mean squares, sum_k c_k MS_k, for Satterthwaite's df.
    cells = seeds * problems
    coefficients = {"Residual": 1 / cells}
    if var_problem > 0:
        coefficients["Problem"] = 1 / cells
        coefficients["Residual"] -= 1 / cells
    if var_seed > 0:
        coefficients["Seed"] = 1 / cells
        coefficients["Residual"] -= 1 / cells
    denominator = sum((c * ms[f"ms{name}"]) ** 2 / ms[f"df{name}"] for name, c in coefficients.items()
                      if ms[f"df{name}"] > 0)
    df = variance**2 / denominator if denominator > 0 else float(ms["dfResidual"])
    standard_error = float(np.sqrt(variance))
    statistic = mean / standard_error
    p_value = float(2 * stats.t.sf(abs(statistic), df))
    return {"statistic": float(statistic), "df": float(df), "pValue": p_value, "standardError": standard_error,
            "varianceComponents": components}


def across_seeds(differences: np.ndarray, level: float = 0.95) -> dict:
    """Mean difference of each seed, their mean, and a t interval across seeds (seed is the unit)."""
    d = np.asarray(differences, dtype=float)
    per_seed = d.mean(axis=1)
    mean = float(per_seed.mean())
    out = {"perSeed": [float(x) for x in per_seed], "mean": mean, "low": None, "high": None, "level": level}
    if len(per_seed) >= 2:
        half = float(stats.t.ppf((1 + level) / 2, len(per_seed) - 1) * per_seed.std(ddof=1) / np.sqrt(len(per_seed)))
        out["low"], out["high"] = mean - half, mean + half
    return out
