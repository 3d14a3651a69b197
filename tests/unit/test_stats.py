"""Paired statistics agree with independent hand computations and never emit NaN."""

import json
import math

import numpy as np
import pytest

from commentslab.services.stats.compare import compare
from commentslab.services.stats.paired import cohens_dz, mcnemar_exact, paired_t_test

CONTROL = [0.10, 0.40, 0.35, 0.80, 0.55, 0.20, 0.65, 0.30]
EXPERIMENT = [0.25, 0.45, 0.30, 0.95, 0.70, 0.40, 0.60, 0.50]


def _t_by_hand(control, experiment):
    d = np.asarray(experiment, dtype=float) - np.asarray(control, dtype=float)
    n = len(d)
    mean = d.sum() / n
    sd = math.sqrt(((d - mean) ** 2).sum() / (n - 1))
    return mean / (sd / math.sqrt(n)), mean / sd, n - 1


def _student_t_two_sided_p(t, df, steps=200_000):
    """Two-sided p from the Student t density, integrated with Simpson's rule on [0, |t|]."""
    coeff = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    x = np.linspace(0.0, abs(t), steps + 1)
    density = coeff * (1 + x**2 / df) ** (-(df + 1) / 2)
    h = abs(t) / steps
    area = h / 3 * (density[0] + density[-1] + 4 * density[1:-1:2].sum() + 2 * density[2:-1:2].sum())
    return 1.0 - 2.0 * area


def _mcnemar_p_by_hand(b, c):
    n = b + c
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_t_statistic_and_p_value_match_a_hand_computation():
    t, _, df = _t_by_hand(CONTROL, EXPERIMENT)
    result = paired_t_test(CONTROL, EXPERIMENT)
    assert result["statistic"] == pytest.approx(t, rel=1e-12)
    assert result["statistic"] > 0  # experiment scores higher
    assert result["pValue"] == pytest.approx(_student_t_two_sided_p(t, df), abs=1e-9)


def test_t_statistic_is_negative_when_the_experiment_is_worse():
    result = paired_t_test(EXPERIMENT, CONTROL)
    t, _, _ = _t_by_hand(CONTROL, EXPERIMENT)
    assert result["statistic"] == pytest.approx(-t, rel=1e-12)


def test_all_equal_scores_give_zero_statistic_and_p_one_not_nan():
    assert paired_t_test([0.5, 0.2, 0.9], [0.5, 0.2, 0.9]) == {"statistic": 0.0, "pValue": 1.0}
    assert cohens_dz([0.5, 0.2, 0.9], [0.5, 0.2, 0.9]) == 0.0


def test_constant_nonzero_differences_report_none_instead_of_infinity():
    # 0.4 - 0.1, 0.5 - 0.2, 0.6 - 0.3 differ only by rounding; SciPy alone reports t ~ 1e16.
    result = paired_t_test([0.1, 0.2, 0.3], [0.4, 0.5, 0.6])
    assert result == {"statistic": None, "pValue": 0.0}
    assert cohens_dz([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]) is None


def test_a_single_pair_cannot_estimate_variance():
    assert paired_t_test([0.2], [0.7]) == {"statistic": None, "pValue": 1.0}
    assert cohens_dz([0.2], [0.7]) is None
    assert paired_t_test([0.2], [0.2]) == {"statistic": 0.0, "pValue": 1.0}


def test_cohens_dz_is_mean_difference_over_its_sample_sd():
    _, dz, _ = _t_by_hand(CONTROL, EXPERIMENT)
    assert cohens_dz(CONTROL, EXPERIMENT) == pytest.approx(dz, rel=1e-12)
    # d = (.15, .05, -.05, .15, .15, .2, -.05, .2): mean 0.1, sum of squared deviations 0.075,
    # so d_z = 0.1 / sqrt(0.075 / 7) = sqrt(14 / 15).
    assert cohens_dz(CONTROL, EXPERIMENT) == pytest.approx(math.sqrt(14 / 15), rel=1e-9)


@pytest.mark.parametrize(
    ("control_pass", "experiment_pass", "b", "c"),
    [
        ([1, 1, 0, 0, 1, 0, 1, 0, 0, 0], [0, 1, 1, 1, 1, 1, 1, 1, 0, 1], 1, 5),
        ([1, 1, 1, 1, 0], [0, 0, 0, 1, 0], 3, 0),
        ([0] * 12 + [1] * 3, [1] * 12 + [1] * 3, 0, 12),
        ([1, 0, 1, 0], [0, 1, 0, 1], 2, 2),
    ],
)
def test_mcnemar_counts_discordant_pairs_and_sums_the_binomial_tails(control_pass, experiment_pass, b, c):
    result = mcnemar_exact([bool(x) for x in control_pass], [bool(x) for x in experiment_pass])
    assert (result["b"], result["c"]) == (b, c)
    assert result["pValue"] == pytest.approx(_mcnemar_p_by_hand(b, c), rel=1e-12)


def test_mcnemar_known_value():
    # b=1, c=5: 2 * (1 + 6) / 64
    assert mcnemar_exact([True, False, False, False, False, False], [False] + [True] * 5)["pValue"] == (
        pytest.approx(14 / 64)
    )


def test_mcnemar_without_discordant_pairs_has_p_one():
    assert mcnemar_exact([True, False, True], [True, False, True]) == {"b": 0, "c": 0, "pValue": 1.0}


def test_compare_on_continuous_scores_uses_the_t_test_as_primary():
    result = compare(CONTROL, EXPERIMENT)
    t, dz, _ = _t_by_hand(CONTROL, EXPERIMENT)
    assert result["n"] == 8
    assert result["meanControl"] == pytest.approx(np.mean(CONTROL))
    assert result["meanExperiment"] == pytest.approx(np.mean(EXPERIMENT))
    assert result["difference"] == pytest.approx(np.mean(EXPERIMENT) - np.mean(CONTROL))
    assert result["tTest"]["statistic"] == pytest.approx(t)
    assert result["cohensD"] == pytest.approx(dz)
    assert "mcnemar" not in result
    assert result["significant"] is (result["tTest"]["pValue"] < 0.05)
    assert result["significant"] is True
    assert compare(CONTROL, EXPERIMENT, alpha=0.01)["significant"] is False


def test_compare_on_binary_scores_uses_mcnemar_as_primary():
    # 12 problems fixed, none broken: t-test and McNemar both significant, but McNemar decides.
    control = [0.0] * 12 + [1.0] * 3 + [0.0] * 5
    experiment = [1.0] * 12 + [1.0] * 3 + [0.0] * 5
    result = compare(control, experiment, binary=True)
    assert result["mcnemar"] == {"b": 0, "c": 12, "pValue": pytest.approx(2 / 2**12)}
    assert result["significant"] is True
    # Two fixed, one broken: not significant by McNemar (p = 1.0).
    result = compare([0, 0, 1, 1, 1], [1, 1, 0, 1, 1], binary=True)
    assert result["mcnemar"]["pValue"] == pytest.approx(_mcnemar_p_by_hand(1, 2))
    assert result["significant"] is False


def test_compare_output_is_strict_json_even_in_degenerate_cases():
    for control, experiment, binary in [
        ([1.0, 1.0, 0.0], [1.0, 1.0, 0.0], True),
        ([0.0, 0.0], [1.0, 1.0], True),
        ([0.3], [0.9], False),
    ]:
        text = json.dumps(compare(control, experiment, binary=binary), allow_nan=False)
        assert "NaN" not in text


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"control has \(1, 3\), experiment has \(1, 2\)"):
        compare([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="equal-length"):
        mcnemar_exact([True, False], [True])


def test_empty_input_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        compare([], [])
    with pytest.raises(ValueError, match="empty"):
        mcnemar_exact([], [])


def test_non_binary_scores_are_rejected_when_binary():
    with pytest.raises(ValueError, match="experiment score at index 1 is 0.5"):
        compare([0.0, 1.0], [1.0, 0.5], binary=True)


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="must be finite"):
        paired_t_test([0.1, float("nan")], [0.2, 0.3])
