"""Variance components of pass@1 measured from a finished run, for the power of its design and others.

A run gives, for arm a (control, experiment), training seed s, problem i and sample j, a pass/fail
outcome y[a, s, i, j]. The model behind services/stats/power.py is

    y[a, s, i, j] = p[a, i] + beta[a, s] + gamma[a, s, i] + eps[a, s, i, j]

with p[e, i] - p[c, i] varying over problems with variance h (heterogeneity), seed shifts beta of
variance b, seed-by-problem terms gamma of variance u and sampling noise eps of variance w (the
mean of p (1 - p) over the run's cells). Each fold trains its own models, so a seed's shift belongs to
one fold. The estimator is the method of moments over balanced data (every problem has S seeds
and n samples in both arms):

    w = mean over cells and both arms of the cell's sample variance s^2 = k (n - k) / (n (n - 1))
        (k passes of n; unbiased for p (1 - p); needs n >= 2)

and, on the paired differences of cell means D[s, i] = ybar[e, s, i] - ybar[c, s, i], a two-way
ANOVA (problems x seeds) within each fold, sums of squares and degrees of freedom pooled over folds:

    E[MS_residual] = 2 u + 2 w / n              ->  u = (MS_residual - 2 w / n) / 2
    E[MS_seed]     = 2 b I_f + E[MS_residual]   ->  b = (MS_seed - MS_residual) / (2 I_f)
    E[MS_problem]  = h S + E[MS_residual]       ->  h = (MS_problem - MS_residual) / S

with I_f the mean number of problems per fold (needs S >= 2). u and b are measured on the difference,
as half its variance: a seed's effect that both arms share cancels in the comparison, so it is rightly
not counted. With one seed only the pooled
within-fold variance of D over problems is available, E = h + 2 u + 2 w / n. Negative estimates are
set to zero. What a run cannot separate is taken from `DesignAssumptions` at the run's own pass rate,
and `sources` says so: w with one sample per problem, u and b with one seed. The between-problems
variance of each arm's pass rates (what pairing removes) is reported beside them:

    between = var over problems of ybar[a, ., i] - u / S - w / (n S)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from commentslab.services.stats.power import (
    DesignAssumptions,
    VarianceComponents,
    difference_standard_error,
    minimum_detectable_difference,
)
from commentslab.services.stats.seeds import anova_mean_squares

MEASURED = "measured"
COMPONENT_NAMES = ("within", "heterogeneity", "seed_problem", "seed_shift")


@dataclass(frozen=True)
class ComponentEstimate:
    """Variance components of a run, where each came from, and the run's design."""

    components: VarianceComponents
    # component -> "measured", or why and from where it was assumed
    sources: dict[str, str]
    # component -> degrees of freedom of the mean square it was measured from (how firmly it is known)
    degrees_of_freedom: dict[str, int]
    between_problems: float
    pass_rate: float
    problems: int
    samples: int
    seeds: int
    folds: int

    @property
    def fully_measured(self) -> bool:
        """Whether the run separated every component (several seeds and several samples per problem)."""
        return all(source == MEASURED for source in self.sources.values())

    @property
    def assumed(self) -> dict[str, str]:
        """The components that were assumed, with the reason and source of each."""
        return {name: source for name, source in self.sources.items() if source != MEASURED}

    def standard_error(self, problems: int | None = None, samples: int | None = None, seeds: int | None = None,
                       folds: int | None = None) -> float:
        """Standard error of the pass@1 difference of a design (the run's own where a size is not given)."""
        return difference_standard_error(self.components, problems or self.problems, samples or self.samples,
                                         seeds or self.seeds, folds or self.folds)

    def as_dict(self) -> dict:
        """JSON form: components, sources and the design they were measured on."""
        return {"components": asdict(self.components), "sources": dict(self.sources),
                "degreesOfFreedom": dict(self.degrees_of_freedom),
                "fullyMeasured": self.fully_measured, "betweenProblems": self.between_problems,
                "passRate": self.pass_rate, "problems": self.problems, "samples": self.samples,
                "seeds": self.seeds, "folds": self.folds}


def estimate_components(control: np.ndarray, experiment: np.ndarray, folds: Sequence[int] | None = None,
                        assumptions: DesignAssumptions | None = None) -> ComponentEstimate:
    """Variance components of pass@1 from pass/fail outcomes shaped seeds x problems x samples (module docstring).

    `folds[i]` is problem i's fold (all one fold when None); `assumptions` (default `DesignAssumptions()`)
    supply what the run cannot separate. Raises ValueError on arrays of other shapes,
    arms of different shapes, values other than 0 and 1, or fewer than 2 problems in every fold.
    """
    c, e = np.asarray(control, dtype=float), np.asarray(experiment, dtype=float)
    if c.ndim != 3 or c.shape != e.shape:
        raise ValueError(f"outcomes must be seeds x problems x samples, the same in both arms: control has shape "
                         f"{c.shape}, experiment {e.shape}")
    if c.size == 0:
        raise ValueError(f"no outcomes: shape {c.shape}")
    for name, arr in (("control", c), ("experiment", e)):
        bad = np.argwhere((arr != 0.0) & (arr != 1.0))
        if bad.size:
            raise ValueError(f"{name} outcome at (seed, problem, sample) {tuple(int(x) for x in bad[0])} is "
                             f"{arr[tuple(bad[0])]}, not 0 or 1")
    if np.all(c == c.flat[0]) and np.all(e == c.flat[0]):
        raise ValueError(f"every outcome is {int(c.flat[0])} in both arms: a run without any variation measures "
                         "no variance")
    seeds, problems, samples = c.shape
    fold_of = np.zeros(problems, dtype=int) if folds is None else np.asarray(folds, dtype=int)
    if fold_of.shape != (problems,):
        raise ValueError(f"folds must name one fold per problem: {problems} problems, {fold_of.size} folds given")
    fold_ids = sorted(set(fold_of.tolist()))
    fold_sizes = [int(np.sum(fold_of == f)) for f in fold_ids]
    if max(fold_sizes) < 2:
        raise ValueError("need at least 2 problems in a fold to see how problems differ")
    assumptions = assumptions or DesignAssumptions()
    pass_rate = float((c.mean() + e.mean()) / 2)
    assumed = assumptions.components(pass_rate)
    origin = f"DesignAssumptions (services/stats/power.py) at the run's pass rate {pass_rate:.3f}"
    sources: dict[str, str] = {}
    df: dict[str, int] = {}

    if samples >= 2:
        within = float((c.var(axis=2, ddof=1).mean() + e.var(axis=2, ddof=1).mean()) / 2)
        sources["within"] = MEASURED
        df["within"] = 2 * seeds * problems * (samples - 1)
    else:
        within = assumed.within
        sources["within"] = (f"assumed: one sample per problem cannot tell sampling noise from the problem's pass "
                             f"rate; (1 - problem_share {assumptions.problem_share}) p (1 - p) from {origin}")

    differences = e.mean(axis=2) - c.mean(axis=2)
    if seeds >= 2:
        pooled = {"Problem": [0.0, 0], "Seed": [0.0, 0], "Residual": [0.0, 0]}
        for f in fold_ids:
            ms = anova_mean_squares(differences[:, fold_of == f])
            for name, pair in pooled.items():
                pair[0] += ms[f"ms{name}"] * ms[f"df{name}"]
                pair[1] += ms[f"df{name}"]
        mean_square = {name: total / df if df else 0.0 for name, (total, df) in pooled.items()}
        residual = mean_square["Residual"]
        seed_problem = max(0.0, (residual - 2 * within / samples) / 2)
        seed_shift = max(0.0, (mean_square["Seed"] - residual) / (2 * float(np.mean(fold_sizes))))
        heterogeneity = max(0.0, (mean_square["Problem"] - residual) / seeds)
        sources["seed_problem"] = MEASURED if samples >= 2 else (
            "measured together with sampling noise, split off with the assumed within-problem variance")
        sources["seed_shift"] = MEASURED
        sources["heterogeneity"] = MEASURED
        df.update(seed_problem=pooled["Residual"][1], seed_shift=pooled["Seed"][1],
                  heterogeneity=pooled["Problem"][1])
    else:
        seed_problem, seed_shift = assumed.seed_problem, assumed.seed_shift
        sources["seed_problem"] = (f"assumed: one training seed cannot tell a seed's problem-by-problem noise from "
                                   f"the arms' real difference; seed_share {assumptions.seed_share} p (1 - p) "
                                   f"from {origin}")
        sources["seed_shift"] = (f"assumed: one training seed shows no seed-to-seed shift; seed_shift_sd "
                                 f"{assumptions.seed_shift_sd} squared from DesignAssumptions "
                                 f"(services/stats/power.py)")
        squares, df_total = 0.0, 0
        for f in fold_ids:
            d = differences[0, fold_of == f]
            squares += float(np.sum((d - d.mean()) ** 2))
            df_total += d.size - 1
        heterogeneity = max(0.0, squares / df_total - 2 * seed_problem - 2 * within / samples)
        sources["heterogeneity"] = ("measured, after taking off the assumed seed-by-problem variance"
                                    + (" and the assumed within-problem variance" if samples == 1 else ""))
        df["heterogeneity"] = df_total

    between = []
    for arm in (c, e):
        problem_means = arm.mean(axis=(0, 2))
        squares, df_between = 0.0, 0
        for f in fold_ids:
            m = problem_means[fold_of == f]
            squares += float(np.sum((m - m.mean()) ** 2))
            df_between += m.size - 1
        between.append(squares / df_between - seed_problem / seeds - within / (samples * seeds))
    return ComponentEstimate(
        components=VarianceComponents(within=within, heterogeneity=heterogeneity, seed_problem=seed_problem,
                                      seed_shift=seed_shift),
        sources={name: sources[name] for name in COMPONENT_NAMES},
        degrees_of_freedom={name: int(df[name]) for name in COMPONENT_NAMES if name in df},
        between_problems=max(0.0, float(np.mean(between))),
        pass_rate=pass_rate, problems=problems, samples=samples, seeds=seeds, folds=len(fold_ids),
    )


def pass_outcomes(by_seed: Sequence[Sequence[dict]], keep: Sequence[int]) -> np.ndarray:
    """seeds x problems x samples pass/fail outcomes of one arm from its scored problems (their `passed` lists).

    `by_seed[s][i]` is seed s's scored problem i; only the problems at indices `keep` are taken.
    """
    return np.asarray([[[1.0 if x else 0.0 for x in problems[i]["passed"]] for i in keep] for problems in by_seed],
                      dtype=float)


def comparable_problems(by_seed: dict[str, Sequence[Sequence[dict]]], samples: int) -> list[int]:
    """Indices of the problems with exactly `samples` pass/fail outcomes in every seed of control and experiment.

    A problem without tests has no outcomes; it has no pass@1 either, so it is left out as pass@1 leaves it out.
    """
    count = len(by_seed["control"][0])
    return [i for i in range(count)
            if all(len(problems[i].get("passed") or []) == samples
                   for arm in ("control", "experiment") for problems in by_seed[arm])]


def measured_power(by_seed: dict[str, Sequence[Sequence[dict]]], rows: Sequence[dict], samples: int,
                   alpha: float = 0.05, power: float = 0.8) -> dict | None:
    """results.json's `power.measured`: pass@1's variance components from the run's own outcomes and the MDD
    of its design computed from them. None when it cannot be estimated: fewer than 2 problems of a fold with
    outcomes in every job, or every outcome the same (nothing passed, say).

    `by_seed[arm][s][i]` is the arm's scored problem i for seed s, in `rows` order (a row's `fold` names its
    fold). `sources` says which components were assumed and from where.
    """
    keep = comparable_problems(by_seed, samples)
    folds = [int(rows[i].get("fold", 0)) for i in keep]
    if len(keep) < 2 or max(folds.count(f) for f in set(folds)) < 2:
        return None
    control, experiment = pass_outcomes(by_seed["control"], keep), pass_outcomes(by_seed["experiment"], keep)
    if np.all(control == control.flat[0]) and np.all(experiment == control.flat[0]):
        return None
    estimate = estimate_components(control, experiment, folds)
    return {**minimum_detectable_difference(estimate.standard_error(), alpha, power), "metric": "pass@1",
            **estimate.as_dict()}
