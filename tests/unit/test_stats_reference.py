"""Every statistic agrees with an independent statsmodels or SciPy computation (or one by hand)."""

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.meta_analysis import effectsize_smd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.weightstats import DescrStatsW

from commentslab.services.stats.bootstrap import bootstrap_interval
from commentslab.services.stats.compare import adjust_across_metrics, compare, verdict
from commentslab.services.stats.multiple import holm_adjusted
from commentslab.services.stats.paired import hedges_g, mcnemar_exact, paired_t_test, wilcoxon_signed_rank
from commentslab.services.stats.power import (
    design_power,
    design_standard_error,
    minimum_detectable_difference,
)
from commentslab.services.stats.seeds import anova_mean_squares, problems_and_seeds_test

RNG = np.random.default_rng(7)
CONTROL = RNG.uniform(0, 1, 40)
EXPERIMENT = np.clip(CONTROL + RNG.normal(0.08, 0.15, 40), 0, 1)


def test_paired_t_test_equals_statsmodels_one_sample_test_of_the_differences():
    statistic, p_value, _ = DescrStatsW(EXPERIMENT - CONTROL).ttest_mean(0.0)
    ours = paired_t_test(CONTROL, EXPERIMENT)
    assert ours["statistic"] == pytest.approx(statistic, rel=1e-12)
    assert ours["pValue"] == pytest.approx(p_value, rel=1e-10)


def _exact_wilcoxon_p(differences):
    """Two-sided exact p by enumerating all 2^n sign assignments of the ranks (no ties, no zeros)."""
    ranks = sps.rankdata(np.abs(differences))
    observed = min(ranks[differences > 0].sum(), ranks[differences < 0].sum())
    n = len(ranks)
    extreme = 0
    for signs in itertools.product((0, 1), repeat=n):
        positive = sum(r for r, s in zip(ranks, signs, strict=True) if s)
        if min(positive, ranks.sum() - positive) <= observed + 1e-9:
            extreme += 1
    return observed, extreme / 2**n


def test_wilcoxon_matches_a_full_enumeration_of_sign_flips():
    control = np.array([0.1, 0.5, 0.3, 0.9, 0.2, 0.7, 0.4, 0.6, 0.35, 0.8, 0.05, 0.45])
    experiment = control + np.array([0.21, -0.05, 0.33, 0.08, 0.14, -0.11, 0.27, 0.02, 0.19, -0.07, 0.24, 0.16])
    statistic, p_value = _exact_wilcoxon_p(experiment - control)
    ours = wilcoxon_signed_rank(control, experiment)
    assert ours["statistic"] == pytest.approx(statistic)
    assert ours["pValue"] == pytest.approx(p_value, rel=1e-12)


def test_wilcoxon_of_identical_arms_is_p_one():
    assert wilcoxon_signed_rank([0.2, 0.4], [0.2, 0.4]) == {"statistic": 0.0, "pValue": 1.0}


@pytest.mark.parametrize(("b", "c"), [(1, 5), (3, 0), (7, 9), (0, 12), (25, 40)])
def test_mcnemar_equals_statsmodels_exact_mcnemar(b, c):
    both, neither = 4, 6
    control = [True] * both + [True] * b + [False] * c + [False] * neither
    experiment = [True] * both + [False] * b + [True] * c + [False] * neither
    reference = sm_mcnemar([[both, b], [c, neither]], exact=True)
    assert mcnemar_exact(control, experiment)["pValue"] == pytest.approx(min(1.0, reference.pvalue), rel=1e-12)


def test_hedges_g_equals_statsmodels_bias_corrected_smd():
    n = len(CONTROL)
    g, _ = effectsize_smd(EXPERIMENT.mean(), EXPERIMENT.std(ddof=1), n, CONTROL.mean(), CONTROL.std(ddof=1), n)
    assert hedges_g(CONTROL, EXPERIMENT) == pytest.approx(float(g), rel=1e-12)


def test_holm_equals_statsmodels_multipletests():
    p_values = [0.01, 0.04, 0.03, 0.20, 0.005, 0.04]
    _, reference, _, _ = multipletests(p_values, method="holm")
    np.testing.assert_allclose(holm_adjusted(p_values), reference, rtol=0, atol=1e-15)


def test_bootstrap_interval_agrees_with_scipy_percentile_bootstrap():
    differences = EXPERIMENT - CONTROL
    ours = bootstrap_interval(differences, resamples=20_000, seed=1)
    theirs = sps.bootstrap((differences,), np.mean, n_resamples=20_000, method="percentile",
                           random_state=np.random.default_rng(2)).confidence_interval
    # Two independent Monte Carlo runs: the bounds agree to a few thousandths.
    assert ours["low"] == pytest.approx(theirs.low, abs=0.005)
    assert ours["high"] == pytest.approx(theirs.high, abs=0.005)
    assert ours["low"] < differences.mean() < ours["high"]
    assert ours["resamples"] == 20_000 and ours["over"] == "problems"


def test_bootstrap_is_reproducible_and_rejects_too_few_resamples():
    assert bootstrap_interval(CONTROL, seed=3) == bootstrap_interval(CONTROL, seed=3)
    with pytest.raises(ValueError, match="at least 1,000"):
        bootstrap_interval(CONTROL, resamples=100)


def test_two_way_bootstrap_is_wider_when_seeds_disagree():
    base = RNG.normal(0.05, 0.2, 60)
    agreeing = np.stack([base + RNG.normal(0, 0.001, 60) for _ in range(4)])
    disagreeing = np.stack([base + shift for shift in (-0.15, 0.0, 0.1, 0.25)])
    narrow = bootstrap_interval(agreeing, seed=0)
    wide = bootstrap_interval(disagreeing, seed=0)
    assert wide["over"] == "problems and seeds"
    assert wide["high"] - wide["low"] > 1.5 * (narrow["high"] - narrow["low"])


def test_anova_mean_squares_equal_statsmodels_two_way_anova():
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    d = RNG.normal(0.03, 0.1, (3, 25)) + RNG.normal(0, 0.05, 25)[None, :]
    frame = pd.DataFrame([{"d": d[s, i], "seed": s, "problem": i} for s in range(3) for i in range(25)])
    table = anova_lm(smf.ols("d ~ C(problem) + C(seed)", data=frame).fit())
    ours = anova_mean_squares(d)
    assert ours["msProblem"] == pytest.approx(table.loc["C(problem)", "mean_sq"], rel=1e-10)
    assert ours["msSeed"] == pytest.approx(table.loc["C(seed)", "mean_sq"], rel=1e-10)
    assert ours["msResidual"] == pytest.approx(table.loc["Residual", "mean_sq"], rel=1e-10)


def test_problems_and_seeds_test_reduces_to_the_t_test_on_problem_means_without_seed_effects():
    # With no seed variance component the crossed model's SE is that of the per-problem means.
    problem_effect = RNG.normal(0.04, 0.2, 30)
    d = np.stack([problem_effect + RNG.normal(0, 0.05, 30) for _ in range(3)])
    d -= d.mean(axis=1, keepdims=True) - d.mean()  # remove any seed main effect
    crossed = problems_and_seeds_test(d)
    assert crossed["varianceComponents"]["seed"] == 0.0
    statistic, p_value, df = DescrStatsW(d.mean(axis=0)).ttest_mean(0.0)
    assert crossed["statistic"] == pytest.approx(statistic, rel=1e-9)
    assert crossed["df"] == pytest.approx(df, rel=1e-9)
    assert crossed["pValue"] == pytest.approx(p_value, rel=1e-8)


def test_problems_and_seeds_test_is_more_cautious_when_seeds_shift_the_result():
    problem_effect = RNG.normal(0.05, 0.1, 40)
    d = np.stack([problem_effect + shift for shift in (-0.06, 0.0, 0.07, 0.13)])
    crossed = problems_and_seeds_test(d)
    naive = DescrStatsW(d.mean(axis=0)).ttest_mean(0.0)
    assert crossed["varianceComponents"]["seed"] > 0
    assert crossed["pValue"] > naive[1] * 100


def test_mdd_equals_statsmodels_normal_power_solution():
    se = 0.04
    mdd = minimum_detectable_difference(se)["mdd"]
    # One-sample normal test with sd 1 and nobs = 1/se^2: the standardised effect is the MDD in SE units.
    effect = NormalIndPower().solve_power(effect_size=None, nobs1=1 / se**2, alpha=0.05, power=0.8, ratio=0)
    assert mdd == pytest.approx(effect, rel=1e-3)
    assert mdd == pytest.approx((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * se, rel=1e-12)


def test_more_problems_samples_and_seeds_shrink_the_minimum_detectable_difference():
    one_sample = design_power(164, 1, 1)["mdd"]
    many = design_power(164, 20, 3)["mdd"]
    small_test = design_power(25, 1, 1)["mdd"]
    assert small_test > one_sample > many
    # HumanEval with one pass/fail sample resolves (95% half-width) about 6-8 points.
    assert 0.06 <= design_power(164, 1, 1)["resolution95"] <= 0.08
    assert design_standard_error(164, 1, 1) > design_standard_error(164, 10, 1)


def test_compare_with_seeds_uses_the_crossed_test_and_reports_seed_spread():
    control = RNG.uniform(0, 1, (3, 30))
    experiment = np.clip(control + 0.1 + RNG.normal(0, 0.05, (3, 30)), 0, 1)
    result = compare(control.tolist(), experiment.tolist())
    assert result["seeds"] == 3 and result["n"] == 30
    assert result["primaryTest"] == "problems-and-seeds t-test"
    assert result["pValue"] == result["problemsAndSeeds"]["pValue"]
    assert len(result["seedSummary"]["perSeed"]) == 3
    assert result["seedSummary"]["low"] < result["difference"] < result["seedSummary"]["high"]
    assert "mcnemar" not in result
    json.dumps(result, allow_nan=False)


def test_holm_decides_significance_and_the_verdict_says_so():
    strong = compare(CONTROL, EXPERIMENT)
    weak = compare(CONTROL, CONTROL + np.where(np.arange(40) % 2, 0.01, -0.009))
    adjusted = adjust_across_metrics({"a": strong, "b": weak})
    assert adjusted["a"]["pHolm"] == pytest.approx(min(1.0, 2 * min(strong["pValue"], weak["pValue"])))
    assert adjusted["a"]["significant"] is True and adjusted["b"]["significant"] is False
    assert verdict(adjusted).startswith("The experiment arm is significantly better on a (")
    nothing = adjust_across_metrics({"b": weak})
    assert verdict(nothing).startswith("No significant difference")


def test_a_metric_significant_alone_can_lose_significance_after_holm():
    p_values = {"m1": 0.03, "m2": 0.04, "m3": 0.5}
    entries = {m: {"pValue": p, "significant": p < 0.05, "difference": 0.1, "n": 10} for m, p in p_values.items()}
    adjusted = adjust_across_metrics(entries)
    assert [adjusted[m]["significant"] for m in p_values] == [False, False, False]
    assert adjusted["m1"]["pHolm"] == pytest.approx(0.09)
    assert math.isclose(adjusted["m3"]["pHolm"], 0.5)
