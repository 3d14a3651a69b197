"""A power plan: the MDD of candidate designs from a run's measured variance components, and what each costs.

A design is (problems I, folds F, seeds S, samples n). Its MDD is

    MDD = (z_{1 - alpha/2} + z_{power}) * SE(I, n, S, F)

with SE from `difference_standard_error` (services/stats/power.py) over the run's components
(services/stats/variance.py). Its cost in machine-hours, from the run's own step times, is

    hours = sum over arms of [F S train_arm + S I n (generate_arm + evaluate_arm)] / 3600

with train_arm the mean seconds of one training job of that arm and generate_arm, evaluate_arm the
seconds per problem and sample; a training job is taken to cost the same whatever the number of
folds (its training set is (F - 1) / F of the corpus for F >= 2, 70% for one split: close enough to
plan by).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from commentslab.services.stats.power import z_multiplier
from commentslab.services.stats.variance import MEASURED, ComponentEstimate

STEPS = ("train", "generate", "evaluate")
SEED_CHOICES = (1, 2, 3, 4, 5, 6, 8, 10)
SAMPLE_CHOICES = (1, 2, 3, 4, 5, 8, 10, 16, 20, 32, 50, 100)


@dataclass(frozen=True, order=True)
class Design:
    """A paired design: how many problems, folds, training seeds and samples per problem."""

    problems: int
    folds: int
    seeds: int
    samples: int


@dataclass(frozen=True)
class StepCosts:
    """Seconds per training job (by arm) and per problem-sample of generation and scoring (by arm)."""

    train: dict[str, float]
    generate: dict[str, float]
    evaluate: dict[str, float]
    # step -> arms whose cost of that step is the other arms' mean (none of their own was timed)
    borrowed: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def hours(self, design: Design) -> float:
        """Machine-hours of a design: every arm's trainings, generations and scoring (module docstring)."""
        seconds = 0.0
        for arm in self.train:
            seconds += design.folds * design.seeds * self.train[arm]
            seconds += design.seeds * design.problems * design.samples * (self.generate[arm] + self.evaluate[arm])
        return seconds / 3600


def step_costs(wall_seconds: Mapping[str, float], fold_sizes: Mapping[int, int], samples: int) -> StepCosts:
    """Per-unit step costs from results.json's `provenance.wallSeconds` (keys `step:fold/seed/arm`).

    `fold_sizes[f]` is the number of test problems of fold f. A step recorded as 0 seconds was skipped
    (its output was already there when the run resumed) and says nothing about its cost, so it is left out.
    An arm with no timed step of a kind (every one skipped on resumes) takes the mean per-unit cost of the arms
    that have one, and `borrowed` names it, so the plan says so rather than pass a guess for a measurement:
    the arms run the same model on the same problems, only their prompts' lengths differ.
    Raises ValueError when no arm has a timed step of a kind.
    """
    totals: dict[str, dict[str, list[float]]] = {step: {} for step in STEPS}
    for key, seconds in wall_seconds.items():
        step, _, job = key.partition(":")
        if step not in totals or job.count("/") != 2 or not seconds:
            continue
        fold, _, arm = job.split("/")
        units = 1 if step == "train" else fold_sizes.get(int(fold), 0) * samples
        if units:
            totals[step].setdefault(arm, []).extend([float(seconds), float(units)])
    arms = sorted(set().union(*(totals[step] for step in STEPS)))
    per_unit: dict[str, dict[str, float]] = {step: {} for step in STEPS}
    borrowed: dict[str, list[str]] = {}
    for step in STEPS:
        timed = {arm: sum(pairs[0::2]) / sum(pairs[1::2]) for arm, pairs in totals[step].items()}
        if not timed:
            raise ValueError(f"provenance.wallSeconds has no timed {step} step of any arm: its cost cannot be "
                             f"measured (was every {step} step skipped on a resume?)")
        for arm in arms:
            if arm not in timed:
                borrowed.setdefault(step, []).append(arm)
            per_unit[step][arm] = timed.get(arm, sum(timed.values()) / len(timed))
    return StepCosts(**per_unit, borrowed=borrowed)


def design_mdd(estimate: ComponentEstimate, design: Design, alpha: float = 0.05, power: float = 0.8) -> float:
    """MDD of pass@1 (a fraction: 0.05 is 5 points) of a design under the run's variance components."""
    return z_multiplier(alpha, power) * estimate.standard_error(design.problems, design.samples, design.seeds,
                                                                design.folds)


def mdd_floor(estimate: ComponentEstimate, problems: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The MDD no number of seeds, samples or folds gets below for `problems` problems: z sqrt(h / I).

    Only more problems shrink the spread of the effect over problems.
    """
    return z_multiplier(alpha, power) * (estimate.components.heterogeneity / problems) ** 0.5


def candidate_designs(problems: int, folds: Sequence[int], seeds: Iterable[int] = SEED_CHOICES,
                      samples: Iterable[int] = SAMPLE_CHOICES) -> list[Design]:
    """Every combination of the fold, seed and sample choices for `problems` problems (folds above it dropped)."""
    return [Design(problems, f, s, n) for f, s, n in itertools.product(sorted(set(folds)), seeds, samples)
            if f <= problems]


def cheapest_design(estimate: ComponentEstimate, costs: StepCosts, target_mdd: float, designs: Iterable[Design],
                    alpha: float = 0.05, power: float = 0.8) -> tuple[Design, float, float] | None:
    """(design, its MDD, its machine-hours) of the cheapest of `designs` whose MDD is at most `target_mdd`;
    None when none reaches it. Ties in cost go to the smaller MDD."""
    reaching = [(costs.hours(d), design_mdd(estimate, d, alpha, power), d) for d in designs]
    reaching = [r for r in reaching if r[1] <= target_mdd]
    if not reaching:
        return None
    hours, mdd, design = min(reaching, key=lambda r: (r[0], r[1]))
    return design, mdd, hours


COMPONENT_LABELS = {
    "within": "within a problem, across samples (w)",
    "heterogeneity": "the effect's spread over problems (h)",
    "seed_problem": "seed x problem (u)",
    "seed_shift": "a seed's shift of the pass rate (b)",
}


def _points(fraction: float) -> str:
    return f"{100 * fraction:.1f} points"


def plan_report(estimate: ComponentEstimate, costs: StepCosts, problems: int | None = None,
                target_mdd: float | None = None, alpha: float = 0.05, power: float = 0.8) -> str:
    """The plan as text: the components and where each came from, the run's MDD and cost, candidate designs,
    and for `target_mdd` (a fraction) the cheapest candidate that reaches it.

    `problems` plans for that many problems instead of the run's (the components are per problem, so they
    carry over to a larger set drawn from the same population).
    """
    problems = problems or estimate.problems
    run = Design(estimate.problems, estimate.folds, estimate.seeds, estimate.samples)
    lines = [f"pass@1 power plan from {run.problems} problems, {run.folds} fold(s), {run.seeds} seed(s), "
             f"{run.samples} sample(s) per problem (pass rate {estimate.pass_rate:.3f}; alpha {alpha}, power {power})",
             "", "Variance components (pass@1 units squared):"]
    for name, label in COMPONENT_LABELS.items():
        value = getattr(estimate.components, name)
        source = estimate.sources[name]
        how = (f"measured ({estimate.degrees_of_freedom[name]} degrees of freedom)" if source == MEASURED
               else "ASSUMED" if source.startswith("assumed") else "measured in part (below)")
        lines.append(f"  {label:<40} {value:.5f}  {how}")
    lines.append(f"  {'between problems, each arm (paired away)':<40} {estimate.between_problems:.5f}")
    if estimate.assumed:
        lines += ["", "Not measured on their own, because this run cannot separate them:"]
        lines += [f"  {COMPONENT_LABELS[name]}: {source}" for name, source in estimate.assumed.items()]
        lines.append("  MDDs below rest on these assumptions (the run's own design the least: it sees their sum).")
    lines += ["", f"This run's design: MDD {_points(design_mdd(estimate, run, alpha, power))}, "
                  f"{costs.hours(run):.2f} machine-hours from its own step times"]
    lines += [f"  {step} cost of {', '.join(arms)}: the other arms' mean (no {step} step of theirs was timed: "
              f"each was skipped on a resume)" for step, arms in costs.borrowed.items()]
    folds = sorted({run.folds, 5, 10} if run.folds > 1 else {1, 5, 10})
    table = candidate_designs(problems, folds, (1, 2, 3, 5), sorted({1, run.samples, 10}))
    lines += ["", f"Candidate designs for {problems} problems (MDD in points, cost in machine-hours):",
              f"  {'folds':>5} {'seeds':>5} {'n':>4} {'MDD':>7} {'hours':>8}"]
    for design in sorted(table, key=lambda d: (costs.hours(d), d)):
        lines.append(f"  {design.folds:>5} {design.seeds:>5} {design.samples:>4} "
                     f"{100 * design_mdd(estimate, design, alpha, power):>7.1f} {costs.hours(design):>8.2f}")
    if target_mdd is not None:
        floor = mdd_floor(estimate, problems, alpha, power)
        best = cheapest_design(estimate, costs, target_mdd,
                               candidate_designs(problems, folds) + candidate_designs(problems, [run.folds]),
                               alpha, power)
        lines.append("")
        if best is None:
            lines.append(f"Target {_points(target_mdd)}: no candidate with {problems} problems reaches it; no number "
                         f"of seeds, samples or folds gets below {_points(floor)} (the effect's spread over "
                         f"problems), so it takes more problems.")
        else:
            design, mdd, hours = best
            lines.append(f"Target {_points(target_mdd)}: cheapest is {design.folds} fold(s), {design.seeds} seed(s), "
                         f"{design.samples} sample(s) per problem on {design.problems} problems: MDD {_points(mdd)}, "
                         f"{hours:.2f} machine-hours.")
    return "\n".join(lines)
