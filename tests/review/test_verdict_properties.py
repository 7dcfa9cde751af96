"""Properties the verdict's statistics keep for any data, searched for counterexamples by Hypothesis.

Fast on purpose (no training, small arrays, few resamples): these run in `make test` and in the
mutation run of the verdict core (`make mutation`).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.metrics import get_scorer

from mlship.metrics import CATALOGUE
from mlship.review.bootstrap import (CONFUSION_METRICS, Delta, Predictions, Resampler, Sample, paired_bootstrap,
                                    unpaired_bootstrap)
from mlship.review.gates import check_absolute, check_changes
from mlship.review.significance import drop_beyond_p, holm, quantile
from mlship.spec import Gate

# 40 examples per property in `make test`; `make mutation` runs each against thousands of mutants, with 10.
settings.register_profile("default", max_examples=40)
settings.register_profile("mutation", max_examples=10)
settings.load_profile(os.environ.get("MLSHIP_HYPOTHESIS_PROFILE", "default"))
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLASSES = ["no", "yes"]
CLASSIFICATION = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]
REGRESSION = ["rmse", "mae", "r2", "mape"]


@st.composite
def two_classifiers(draw, min_rows: int = 12, max_rows: int = 60):
    """Truth with both classes (at least 3 of each) and two classifiers' probabilities of "yes"."""
    n = draw(st.integers(min_rows, max_rows))
    positives = draw(st.integers(3, n - 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = np.array(["yes"] * positives + ["no"] * (n - positives))
    rng.shuffle(y)

    def model() -> Predictions:
        p = np.round(np.clip(rng.normal(0.5 + 0.2 * (y == "yes"), 0.25), 0.01, 0.99), 2)
        return Predictions(np.where(p >= 0.5, "yes", "no"), np.column_stack([1 - p, p]))

    return y, model(), model()


@st.composite
def two_regressors(draw):
    n = draw(st.integers(10, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = rng.normal(10, 3, n)
    return y, Predictions(y + rng.normal(0, 1, n)), Predictions(y + rng.normal(0.3, 1.5, n))


def negated(delta: Delta) -> tuple[float, float, float]:
    return -delta.delta, -delta.ci_high, -delta.ci_low


# --- swapping the versions -------------------------------------------------------------------


@FAST
@given(two_classifiers())
def test_swapping_candidate_and_baseline_negates_every_paired_delta_and_flips_its_verdict(data):
    y, a, b = data
    forward = paired_bootstrap(CLASSIFICATION, y, a, b, CLASSES, "yes", resamples=200, seed=3)
    backward = paired_bootstrap(CLASSIFICATION, y, b, a, CLASSES, "yes", resamples=200, seed=3)
    assert forward.keys() == backward.keys() == set(CLASSIFICATION)
    flipped = {"better": "worse", "worse": "better", "unchanged": "unchanged"}
    for name in CLASSIFICATION:
        assert backward[name].delta == pytest.approx(-forward[name].delta, abs=1e-12), name
        if name in CONFUSION_METRICS:
            # Drawn as multinomial counts over (candidate's, baseline's) labels: swapping reorders the
            # kinds, so the draws differ and only their spread agrees, up to Monte-Carlo noise.
            assert backward[name].se == pytest.approx(forward[name].se, rel=0.3, abs=1e-9), name
            continue
        assert (backward[name].ci_low, backward[name].ci_high) == pytest.approx(negated(forward[name])[1:],
                                                                               abs=1e-12), name
        assert backward[name].verdict == flipped[forward[name].verdict], name
        assert backward[name].p_value == pytest.approx(forward[name].p_value, abs=1e-12), name
    # Accuracy's verdict is McNemar's exact test, which is symmetric in the two versions.
    assert backward["accuracy"].p_value == forward["accuracy"].p_value
    assert backward["accuracy"].verdict == flipped[forward["accuracy"].verdict]


@FAST
@given(two_regressors())
def test_swapping_the_versions_negates_the_unpaired_point_delta(data):
    y, a, b = data
    forward = unpaired_bootstrap(REGRESSION, Sample(y, a), Sample(y[::-1], Predictions(b.y_pred[::-1])),
                                 resamples=300, seed=5)
    backward = unpaired_bootstrap(REGRESSION, Sample(y[::-1], Predictions(b.y_pred[::-1])), Sample(y, a),
                                  resamples=300, seed=5)
    for name in REGRESSION:
        # Each side draws from its own stream, so the spreads agree only in distribution: the point is exact.
        assert backward[name].delta == pytest.approx(-forward[name].delta, abs=1e-9), name
        assert forward[name].ci_low <= forward[name].delta <= forward[name].ci_high, name


# --- the interval ----------------------------------------------------------------------------


@FAST
@given(two_classifiers(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_the_interval_is_the_delta_plus_or_minus_the_stated_quantile_of_standard_errors(data, confidence):
    y, a, b = data
    deltas = paired_bootstrap(["roc_auc", "log_loss", "f1"], y, a, b, CLASSES, "yes", resamples=150,
                              confidence=confidence, seed=1)
    z = quantile(1 - (1 - confidence) / 2)
    for name, delta in deltas.items():
        assert delta.ci_low <= delta.delta <= delta.ci_high, name
        assert delta.ci_high - delta.delta == pytest.approx(z * delta.se, rel=1e-9, abs=1e-15), name
        assert delta.delta - delta.ci_low == pytest.approx(z * delta.se, rel=1e-9, abs=1e-15), name
        assert delta.significant == (delta.p_value < 1 - confidence), name


@FAST
@given(st.integers(1, 40), st.integers(0, 10**6))
def test_every_row_can_be_drawn_and_only_rows_of_its_own_stratum(n, seed):
    strata = np.random.default_rng(seed).integers(0, 3, n)
    draws = Resampler(n, strata, np.random.SeedSequence(seed)).draw(400)
    indices = draws.indices
    assert set(np.unique(indices)) == set(range(n))  # with 400 resamples, each row (even row 0) shows up
    assert np.array_equal(np.sort(strata[indices], axis=1), np.tile(np.sort(strata), (400, 1)))


# --- directions and bounds -------------------------------------------------------------------

SCORERS = {"accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "precision": "precision",
           "recall": "recall", "f1": "f1", "roc_auc": "roc_auc", "log_loss": "neg_log_loss",
           "rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2",
           "mape": "neg_mean_absolute_percentage_error"}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_each_metrics_direction_is_scikit_learns_scorer_sign(name):
    assert CATALOGUE[name].higher_is_better == (get_scorer(SCORERS[name])._sign > 0)


@FAST
@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["min", "max"]))
def test_a_value_exactly_at_an_absolute_bound_passes(value, rule):
    (result,) = check_absolute({"rmse": Gate(**{rule: value})}, {"rmse": value}, {})
    assert result.passed, result.message


@FAST
@given(st.floats(0, 0.5), st.floats(1e-4, 0.1))
@example(bound=0.0, se=0.01)
def test_a_drop_exactly_at_its_bound_is_never_significant(bound, se):
    assert drop_beyond_p(bound, se, bound) == pytest.approx(0.5)
    assert drop_beyond_p(bound, 0.0, bound) == 1.0  # no spread: exactly at the bound is within it
    delta = Delta(-bound, -bound - se, -bound + se, False, "unchanged", se, 0.5)
    results, tests = check_changes({"roc_auc": Gate(max_drop=bound)}, {"roc_auc": delta}, {"roc_auc": 0.8}, [],
                                   True, 0.95)
    assert results[0].passed and tests[0].p_value == pytest.approx(0.5)


@FAST
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_holms_adjustment_never_lowers_a_p_value_keeps_their_order_and_stays_at_most_one(p_values):
    adjusted = holm(p_values)
    assert all(p <= a <= 1 for p, a in zip(p_values, adjusted))
    order = np.argsort(p_values, kind="stable")
    assert all(adjusted[i] <= adjusted[j] for i, j in zip(order, order[1:]))
    assert adjusted[order[0]] == pytest.approx(min(1.0, len(p_values) * p_values[order[0]]))


# --- undefined values ------------------------------------------------------------------------


@FAST
@given(st.sampled_from(["max_drop", "max_relative_drop"]), st.floats(0, 0.1))
def test_an_undefined_delta_never_passes_silently(rule, bound):
    undefined = Delta(math.nan, math.nan, math.nan, False, "unchanged")
    results, tests = check_changes({"roc_auc": Gate(**{rule: bound})}, {"roc_auc": undefined}, {"roc_auc": 0.8},
                                   [], True, 0.95)
    assert tests == [] and len(results) == 1
    assert not results[0].passed and "was not computed for both versions" in results[0].message


def test_a_metric_undefined_on_some_resample_is_undefined_and_never_significant():
    y = np.array(["yes"] + ["no"] * 9)  # one positive: ROC AUC is defined on the data, not per-resample unpaired
    proba = np.column_stack([np.linspace(0.9, 0.1, 10), np.linspace(0.1, 0.9, 10)])
    model = Predictions(np.where(proba[:, 1] > 0.5, "yes", "no"), proba)
    other = Sample(np.array(["no"] * 10), Predictions(np.array(["no"] * 10), proba), CLASSES, "yes")
    (delta,) = unpaired_bootstrap(["roc_auc"], Sample(y, model, CLASSES, "yes"), other, resamples=100).values()
    assert math.isnan(delta.ci_low) and not delta.significant and delta.verdict == "unchanged"
