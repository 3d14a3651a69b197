"""Power: the smallest difference an experiment of a given size can be expected to detect.

For a two-sided test at level alpha with power 1 - beta, the minimum detectable difference is

    MDD = (z_{1 - alpha/2} + z_{1 - beta}) * SE

where SE is the standard error of the estimated difference; the 95% "resolution" (the half-width
of the difference's interval) is z_{0.975} * SE.

`design_standard_error` models pass@1 of a paired design before any data exist. Each problem i
has a pass probability per arm; an arm's estimate averages n Bernoulli samples per problem over S
training seeds and I problems. With p the typical pass rate and v = p(1 - p):

    Var(diff) = [2 w / (n S) + 2 u / S + h] / I + 2 b / (S F)

    w = (1 - problem_share) v          sampling variance within a problem (what n samples average away)
    h = 2 problem_share v (1 - rho)    how much the arms' per-problem pass rates disagree (the
                                       effect's spread over problems; only more problems help)
    u = seed_share v                   a seed's problem-by-problem noise (what seeds average away)
    b = seed_shift_sd^2                a seed's shift of the whole pass rate

F is the number of folds: each fold trains its own models, so a seed's shift is averaged over F
training runs per arm (F = 1 for a single split). `difference_standard_error` computes this from
`VarianceComponents`; `DesignAssumptions` supplies them before any data exist and
services/stats/variance.py estimates them from a finished run.

The defaults (`DesignAssumptions`) are stated, not measured: p = 0.3, 60% of the outcome variance
between problems (HumanEval pass rates are bimodal), rho = 0.9 between two fine-tunes of one base
model, 5% seed-by-problem variance and a 1-point seed shift. `observed_*` uses a run's own spread.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import stats


@dataclass(frozen=True)
class VarianceComponents:
    """The variances (pass@1 units squared) that set the standard error of a paired design's difference.

    within: w, heterogeneity: h, seed_problem: u, seed_shift: b of the module docstring.
    """

    within: float
    heterogeneity: float
    seed_problem: float
    seed_shift: float


@dataclass(frozen=True)
class DesignAssumptions:
    """What the design-time standard error assumes about pass@1 (see the module docstring)."""

    pass_rate: float = 0.3
    problem_share: float = 0.6
    arm_correlation: float = 0.9
    seed_share: float = 0.05
    seed_shift_sd: float = 0.01

    def components(self, pass_rate: float | None = None) -> VarianceComponents:
        """The variance components these assumptions imply (at `pass_rate` instead of the assumed one if given)."""
        p = self.pass_rate if pass_rate is None else pass_rate
        v = p * (1 - p)
        return VarianceComponents(
            within=(1 - self.problem_share) * v,
            heterogeneity=2 * self.problem_share * v * (1 - self.arm_correlation),
            seed_problem=self.seed_share * v,
            seed_shift=self.seed_shift_sd**2,
        )


def z_multiplier(alpha: float = 0.05, power: float = 0.8) -> float:
    """z_{1 - alpha/2} + z_{power}: 2.80 for alpha 0.05 and power 0.8."""
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha}, {power}")
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def difference_standard_error(components: VarianceComponents, problems: int, samples: int, seeds: int,
                              folds: int = 1) -> float:
    """Standard error of the paired pass@1 difference for a design, from its variance components.

        SE = sqrt([2 w / (n S) + 2 u / S + h] / I + 2 b / (S F))

    with I `problems`, n `samples` per problem, S `seeds` and F `folds` (see the module docstring).
    """
    if min(problems, samples, seeds, folds) < 1:
        raise ValueError(f"problems, samples, seeds and folds must be at least 1, got "
                         f"{problems}, {samples}, {seeds}, {folds}")
    if folds > problems:
        raise ValueError(f"folds ({folds}) cannot exceed problems ({problems}): every fold tests at least one")
    c = components
    variance = (2 * c.within / (samples * seeds) + 2 * c.seed_problem / seeds + c.heterogeneity) / problems
    variance += 2 * c.seed_shift / (seeds * folds)
    return math.sqrt(variance)


def design_standard_error(problems: int, samples: int, seeds: int,
                          assumptions: DesignAssumptions = DesignAssumptions()) -> float:
    """Standard error of the pass@1 difference for `problems` test problems, `samples` per problem and `seeds` seeds."""
    if min(problems, samples, seeds) < 1:
        raise ValueError(f"problems, samples and seeds must be at least 1, got {problems}, {samples}, {seeds}")
    return difference_standard_error(assumptions.components(), problems, samples, seeds)


def minimum_detectable_difference(standard_error: float, alpha: float = 0.05, power: float = 0.8) -> dict:
    """The MDD and the 95% resolution for a standard error (in the metric's units: 0.05 is 5 points)."""
    return {
        "standardError": standard_error,
        "mdd": z_multiplier(alpha, power) * standard_error,
        "resolution95": float(stats.norm.ppf(0.975)) * standard_error,
        "alpha": alpha,
        "power": power,
    }


def design_power(problems: int, samples: int, seeds: int, alpha: float = 0.05, power: float = 0.8,
                 assumptions: DesignAssumptions = DesignAssumptions()) -> dict:
    """MDD of pass@1 for a design, with the design and the assumptions it rests on."""
    se = design_standard_error(problems, samples, seeds, assumptions)
    return {**minimum_detectable_difference(se, alpha, power), "problems": problems, "samples": samples,
            "seeds": seeds, "assumptions": asdict(assumptions)}
