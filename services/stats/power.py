"""Power: the smallest difference an experiment of a given size can be expected to detect.

For a two-sided test at level alpha with power 1 - beta, the minimum detectable difference is

    MDD = (z_{1 - alpha/2} + z_{1 - beta}) * SE

where SE is the standard error of the estimated difference; the 95% "resolution" (the half-width
of the difference's interval) is z_{0.975} * SE.

`design_standard_error` models pass@1 of a paired design before any data exist. Each problem i
has a pass probability per arm; an arm's estimate averages n Bernoulli samples per problem over S
training seeds and I problems. With p the typical pass rate and v = p(1 - p):

    Var(diff) = [2 w / (n S) + 2 u / S + h] / I + 2 b / S

    w = (1 - problem_share) v          sampling variance within a problem (what n samples average away)
    h = 2 problem_share v (1 - rho)    how much the arms' per-problem pass rates disagree (the
                                       effect's spread over problems; only more problems help)
    u = seed_share v                   a seed's problem-by-problem noise (what seeds average away)
    b = seed_shift_sd^2                a seed's shift of the whole pass rate

The defaults (`DesignAssumptions`) are stated, not measured: p = 0.3, 60% of the outcome variance
between problems (HumanEval pass rates are bimodal), rho = 0.9 between two fine-tunes of one base
model, 5% seed-by-problem variance and a 1-point seed shift. `observed_*` uses a run's own spread.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import stats


@dataclass(frozen=True)
class DesignAssumptions:
    """What the design-time standard error assumes about pass@1 (see the module docstring)."""

    pass_rate: float = 0.3
    problem_share: float = 0.6
    arm_correlation: float = 0.9
    seed_share: float = 0.05
    seed_shift_sd: float = 0.01


def z_multiplier(alpha: float = 0.05, power: float = 0.8) -> float:
    """z_{1 - alpha/2} + z_{power}: 2.80 for alpha 0.05 and power 0.8."""
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha}, {power}")
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def design_standard_error(problems: int, samples: int, seeds: int,
                          assumptions: DesignAssumptions = DesignAssumptions()) -> float:
    """Standard error of the pass@1 difference for `problems` test problems, `samples` per problem and `seeds` seeds."""
    if min(problems, samples, seeds) < 1:
        raise ValueError(f"problems, samples and seeds must be at least 1, got {problems}, {samples}, {seeds}")
    a = assumptions
    v = a.pass_rate * (1 - a.pass_rate)
    within = (1 - a.problem_share) * v
    heterogeneity = 2 * a.problem_share * v * (1 - a.arm_correlation)
    seed_problem = a.seed_share * v
    variance = (2 * within / (samples * seeds) + 2 * seed_problem / seeds + heterogeneity) / problems
    variance += 2 * a.seed_shift_sd**2 / seeds
    return math.sqrt(variance)


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
