"""The variance-components estimator against simulated runs whose variances are known."""

from __future__ import annotations

import numpy as np
import pytest

from commentslab.services.stats.power import DesignAssumptions, VarianceComponents, difference_standard_error
from commentslab.services.stats.variance import MEASURED, estimate_components, measured_power

# True components of the simulation. Each effect is uniform (bounded), so every pass probability stays
# inside (0, 1) and no clipping bends the variances away from these values.
BETWEEN, HETEROGENEITY, SEED_PROBLEM, SEED_SHIFT = 0.01, 0.004, 0.003, 0.0015
SIMULATIONS = 300


def uniform(rng: np.random.Generator, variance: float, shape) -> np.ndarray:
    """Zero-mean uniform draws of the given variance (a uniform on [-a, a] has variance a^2 / 3)."""
    half_width = np.sqrt(3 * variance)
    return rng.uniform(-half_width, half_width, shape)


def simulate_run(rng: np.random.Generator, problems: int, seeds: int, samples: int, folds: int):
    """Pass/fail outcomes (control, experiment: seeds x problems x samples), fold of each problem, true w."""
    fold_of = np.arange(problems) % folds
    base = 0.48 + uniform(rng, BETWEEN, problems)
    effect = 0.03 + uniform(rng, HETEROGENEITY, problems)
    probabilities = []
    for arm_effect in (np.zeros(problems), effect):
        # one shift per training run: seed s of fold f
        shift = uniform(rng, SEED_SHIFT, (seeds, folds))[:, fold_of]
        noise = uniform(rng, SEED_PROBLEM, (seeds, problems))
        probabilities.append(base + arm_effect + shift + noise)
    p = np.stack(probabilities)
    assert p.min() > 0 and p.max() < 1, "the simulation's probabilities must not need clipping"
    outcomes = (rng.random(p.shape + (samples,)) < p[..., None]).astype(float)
    return outcomes[0], outcomes[1], fold_of, float(np.mean(p * (1 - p)))


def test_estimates_recover_the_known_variances_on_average_over_simulated_runs():
    rng = np.random.default_rng(7)
    estimates, true_within = [], []
    for _ in range(SIMULATIONS):
        control, experiment, folds, within = simulate_run(rng, problems=400, seeds=4, samples=10, folds=8)
        estimate = estimate_components(control, experiment, folds)
        assert estimate.fully_measured
        c = estimate.components
        estimates.append([c.within, c.heterogeneity, c.seed_problem, c.seed_shift, estimate.between_problems])
        true_within.append(within)
    estimates = np.asarray(estimates)
    # The experiment arm's pass rates spread by BETWEEN plus the effect's own spread; the estimate averages the arms.
    truth = np.asarray([np.mean(true_within), HETEROGENEITY, SEED_PROBLEM, SEED_SHIFT, BETWEEN + HETEROGENEITY / 2])
    mean = estimates.mean(axis=0)
    # Method-of-moments estimates are unbiased until a negative one is set to zero; this design is large
    # enough (each estimate's spread at most half its true value) that zeroing is rare. The simulation
    # mean must sit within four of its own standard errors of the truth and within 10% of it.
    standard_error = estimates.std(axis=0, ddof=1) / np.sqrt(SIMULATIONS)
    for name, m, t, se in zip(("within", "heterogeneity", "seed_problem", "seed_shift", "between"),
                              mean, truth, standard_error, strict=True):
        assert abs(m - t) < 4 * se + 1e-12, f"{name}: mean estimate {m:.5f}, true {t:.5f}, se {se:.5f}"
        assert abs(m - t) < 0.10 * t, f"{name}: mean estimate {m:.5f} is more than 10% from true {t:.5f}"


def test_standard_error_from_the_estimates_matches_the_spread_of_the_simulated_differences():
    rng = np.random.default_rng(11)
    differences, predicted = [], []
    for _ in range(SIMULATIONS):
        control, experiment, folds, _ = simulate_run(rng, problems=80, seeds=2, samples=4, folds=2)
        differences.append(experiment.mean() - control.mean())
        predicted.append(estimate_components(control, experiment, folds).standard_error())
    observed = float(np.std(differences, ddof=1))
    assert np.median(predicted) == pytest.approx(observed, rel=0.15)


def test_one_seed_and_one_sample_says_which_components_were_assumed_and_from_where():
    rng = np.random.default_rng(3)
    control, experiment, folds, _ = simulate_run(rng, problems=60, seeds=1, samples=1, folds=2)
    estimate = estimate_components(control, experiment, folds)
    assert not estimate.fully_measured
    assert set(estimate.assumed) == {"within", "seed_problem", "seed_shift", "heterogeneity"}
    assert "one sample per problem" in estimate.sources["within"]
    assert "one training seed" in estimate.sources["seed_shift"]
    assert "DesignAssumptions" in estimate.sources["seed_problem"]
    assumed = DesignAssumptions().components(estimate.pass_rate)
    assert estimate.components.within == pytest.approx(assumed.within)
    assert estimate.components.seed_shift == pytest.approx(assumed.seed_shift)


def test_one_seed_with_several_samples_measures_the_within_problem_variance_only():
    rng = np.random.default_rng(5)
    control, experiment, folds, _ = simulate_run(rng, problems=60, seeds=1, samples=6, folds=1)
    estimate = estimate_components(control, experiment, folds)
    assert estimate.sources["within"] == MEASURED
    assert estimate.sources["seed_problem"].startswith("assumed")
    assert estimate.sources["seed_shift"].startswith("assumed")


def test_a_single_seed_run_with_one_sample_still_gets_its_own_design_right():
    """With one seed and one sample only h + 2u + 2w is seen; the assumed split cannot change the run's own SE."""
    control = np.array([[[1.0], [0.0], [1.0], [1.0], [0.0], [0.0]]])
    experiment = np.array([[[1.0], [1.0], [1.0], [0.0], [1.0], [0.0]]])
    estimate = estimate_components(control, experiment)
    d = (experiment - control).ravel()
    expected = np.sqrt(d.var(ddof=1) / d.size + 2 * estimate.components.seed_shift)
    assert estimate.standard_error() == pytest.approx(expected)


def test_bad_outcomes_are_refused_naming_the_arm_and_the_place():
    control = np.zeros((2, 3, 2))
    experiment = np.zeros((2, 3, 2))
    experiment[1, 2, 0] = 0.5
    with pytest.raises(ValueError, match=r"experiment outcome at \(seed, problem, sample\) \(1, 2, 0\) is 0.5"):
        estimate_components(control, experiment)
    with pytest.raises(ValueError, match="same in both arms"):
        estimate_components(control, np.zeros((2, 4, 2)))
    experiment[1, 2, 0] = 1.0
    with pytest.raises(ValueError, match="one fold per problem"):
        estimate_components(control, experiment, folds=[0, 1])
    with pytest.raises(ValueError, match="every outcome is 0 in both arms"):
        estimate_components(control, np.zeros((2, 3, 2)))


def test_difference_standard_error_averages_seed_shifts_over_folds_and_keeps_the_assumed_design():
    c = VarianceComponents(within=0.1, heterogeneity=0.02, seed_problem=0.01, seed_shift=0.004)
    one = difference_standard_error(c, problems=100, samples=1, seeds=1, folds=1)
    five = difference_standard_error(c, problems=100, samples=1, seeds=1, folds=5)
    assert one**2 - five**2 == pytest.approx(2 * 0.004 * (1 - 1 / 5))
    with pytest.raises(ValueError, match="folds"):
        difference_standard_error(c, problems=3, samples=1, seeds=1, folds=4)


def test_measured_power_reads_the_outcomes_of_scored_problems_in_row_order():
    rng = np.random.default_rng(2)
    control, experiment, folds, _ = simulate_run(rng, problems=20, seeds=2, samples=3, folds=2)
    rows = [{"fold": int(f)} for f in folds]

    def scored(outcomes):
        return [[{"passed": [bool(x) for x in outcomes[s, i]]} for i in range(outcomes.shape[1])]
                for s in range(outcomes.shape[0])]

    by_seed = {"control": scored(control), "experiment": scored(experiment)}
    by_seed["control"][0].append({"statuses": []})  # a problem without tests has no outcomes
    by_seed["control"][1].append({"statuses": []})
    by_seed["experiment"][0].append({"statuses": []})
    by_seed["experiment"][1].append({"statuses": []})
    measured = measured_power(by_seed, rows + [{"fold": 0}], samples=3)
    direct = estimate_components(control, experiment, folds)
    assert measured["problems"] == 20 and measured["seeds"] == 2 and measured["folds"] == 2
    assert measured["standardError"] == pytest.approx(direct.standard_error())
    assert measured["mdd"] == pytest.approx(2.8016 * direct.standard_error(), rel=1e-3)
    assert measured["fullyMeasured"] is True
