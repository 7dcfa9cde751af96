"""The tests behind a verdict: exact where the bootstrap is poor, against the bound, one family per model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mlship.review.bootstrap import Predictions, paired_bootstrap
from mlship.review.significance import accuracy_drop_beyond_p, drop_beyond_p, holm, mcnemar_p, normal_p, seed_df


def test_holm_adjusts_a_known_example_step_down():
    # Sorted: 0.005×4 = 0.02, 0.01×3 = 0.03, 0.03×2 = 0.06, 0.04×1 = 0.04 → kept at 0.06 (monotone).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_leaves_undefined_tests_out_of_the_family():
    adjusted = holm([0.4, math.nan, 0.02])
    assert adjusted[0] == pytest.approx(0.4) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([]) == []


def test_twenty_eight_tests_at_three_percent_fail_none_but_one_clear_drop_still_fails():
    assert all(p >= 0.05 for p in holm([0.03] * 28))
    adjusted = holm([0.001] + [0.5] * 27)
    assert adjusted[0] == pytest.approx(0.028) and adjusted[0] < 0.05


def test_a_drop_exactly_at_the_bound_has_p_one_half_and_one_beyond_it_by_two_errors_is_significant():
    assert drop_beyond_p(0.01, 0.004, 0.01) == pytest.approx(0.5)
    assert drop_beyond_p(0.02, 0.005, 0.01) == pytest.approx(1 - stats.norm.cdf(2.0))
    assert drop_beyond_p(-0.01, 0.004, 0.01) > 0.99  # an improvement is no evidence of a drop


def test_without_spread_the_drop_decides_and_undefined_input_stays_undefined():
    assert drop_beyond_p(0.02, 0.0, 0.01) == 0.0 and drop_beyond_p(0.01, 0.0, 0.01) == 1.0
    assert math.isnan(drop_beyond_p(math.nan, 0.01, 0.01)) and math.isnan(drop_beyond_p(0.02, math.nan, 0.01))
    assert normal_p(0.0, 0.0) == 1.0 and normal_p(0.1, 0.0) == 0.0 and math.isnan(normal_p(math.nan, 1.0))
    assert normal_p(0.0196, 0.01) == pytest.approx(2 * (1 - stats.norm.cdf(1.96)))


def test_four_discordant_rows_against_the_candidate_are_not_significant_by_mcnemar():
    """The candidate errs on 4 rows the baseline got right and gains none: exact p = 2 × 0.5⁴ = 0.125."""
    assert mcnemar_p(0, 4) == pytest.approx(0.125)
    assert mcnemar_p(4, 0) == pytest.approx(0.125)
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(3, 17) == pytest.approx(stats.binomtest(3, 20, 0.5).pvalue)

    y = np.ones(500, dtype=int)
    baseline = y.copy()
    candidate = y.copy()
    candidate[:4] = 0
    delta = paired_bootstrap(["accuracy"], y, Predictions(candidate), Predictions(baseline), [0, 1], 1,
                             resamples=400)["accuracy"]
    assert delta.discordant == (0, 4, 500)
    assert delta.p_value == pytest.approx(0.125) and delta.significant is False and delta.verdict == "unchanged"


def test_the_accuracy_bound_test_is_mcnemars_one_sided_test_at_a_zero_bound():
    assert accuracy_drop_beyond_p(3, 12, 1000, 0.0) == pytest.approx(stats.binom.sf(11, 15, 0.5))
    # A bound of 0.01 on 1,000 rows allows 10 more rows lost than won: 15 discordant rows can't show more.
    assert accuracy_drop_beyond_p(0, 15, 1000, 0.01) == pytest.approx(stats.binom.sf(14, 15, 0.5 + 10 / 30))
    assert accuracy_drop_beyond_p(2, 3, 1000, 0.01) == 1.0
    assert accuracy_drop_beyond_p(0, 0, 1000, 0.0) == 1.0


@pytest.mark.parametrize("discordant", [4, 10, 25, 50])
def test_the_exact_accuracy_test_keeps_false_alarms_at_most_nominal_for_few_discordant_rows(discordant):
    """Equally good versions: each discordant row goes either way with probability ½, so the false-alarm
    rate is exactly the binomial probability of the counts the test rejects."""
    rate = sum(stats.binom.pmf(k, discordant, 0.5) for k in range(discordant + 1)
               if mcnemar_p(discordant - k, k) < 0.05)
    assert 0 < rate <= 0.05 if discordant >= 10 else rate == 0  # 4 rows cannot show anything at 5%


def test_a_true_accuracy_drop_at_the_bound_fails_at_most_at_the_stated_rate():
    """Rows: the baseline alone right with p 0.06, the candidate alone right with p 0.04: a true drop of 0.02."""
    rng = np.random.default_rng(7)
    rows, experiments = 1000, 4000
    counts = rng.multinomial(rows, [0.06, 0.04, 0.90], size=experiments)
    judged: dict[tuple[int, int], bool] = {}  # the same counts recur: test each pair once
    for baseline_only, candidate_only, _ in counts.tolist():
        if (candidate_only, baseline_only) not in judged:
            judged[candidate_only, baseline_only] = accuracy_drop_beyond_p(candidate_only, baseline_only, rows,
                                                                          0.02) < 0.05
    rate = np.mean([judged[c, b] for b, c, _ in counts.tolist()])
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / experiments)


def test_the_bound_test_uses_students_t_with_few_degrees_of_freedom():
    assert drop_beyond_p(0.03, 0.01, 0.0, 3.0) == pytest.approx(stats.t.sf(3.0, 3.0))
    assert drop_beyond_p(0.03, 0.01, 0.0, 3.0) > drop_beyond_p(0.03, 0.01, 0.0)  # heavier tails: less evidence
    assert seed_df(1.0, 0.0, 5) == math.inf and seed_df(1.0, 1.0, 1) == math.inf
    assert seed_df(0.0, 2.0, 5) == pytest.approx(4.0)  # all of the error from the seeds: n − 1
