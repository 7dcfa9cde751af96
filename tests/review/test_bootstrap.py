"""The paired bootstrap: exact metrics, honest intervals, and the direction of each metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from mlship.review.bootstrap import (Delta, Predictions, Resampler, Sample, paired_bootstrap, score,
                                    unpaired_bootstrap, with_seed_variation)
from mlship.review.significance import normal_p

CLASSIFICATION = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]


def _classifier_outputs(rng, classes, n, skill=0.0):
    y = rng.choice(classes, n)
    logits = rng.normal(size=(n, len(classes)))
    logits[np.arange(n), np.searchsorted(classes, y)] += skill
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba = np.round(proba, 2)  # rounding makes ties, which ROC AUC must count as half
    proba /= proba.sum(axis=1, keepdims=True)
    return y, Predictions(np.asarray(classes)[proba.argmax(axis=1)], proba)


def _sklearn(name, y, model, classes, positive):
    averaging = {"average": "binary", "pos_label": positive} if positive is not None else {"average": "macro"}
    pred, proba = model.y_pred, model.proba
    return {
        "accuracy": lambda: skm.accuracy_score(y, pred),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, pred),
        "precision": lambda: skm.precision_score(y, pred, zero_division=0, **averaging),
        "recall": lambda: skm.recall_score(y, pred, zero_division=0, **averaging),
        "f1": lambda: skm.f1_score(y, pred, zero_division=0, **averaging),
        "roc_auc": lambda: (skm.roc_auc_score(y == positive, proba[:, classes.index(positive)]) if positive is not None
                            else skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)),
        "log_loss": lambda: skm.log_loss(y, proba, labels=classes),
    }[name]()


@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("classes, positive", [([0, 1], 1), (["no", "yes"], "no"), (["a", "b", "c"], None)])
def test_unresampled_classification_metric_equals_scikit_learn(name, classes, positive):
    y, model = _classifier_outputs(np.random.default_rng(3), classes, 2000, skill=1.0)
    assert score(name, y, model, classes, positive)[0] == pytest.approx(_sklearn(name, y, model, classes, positive),
                                                                        rel=1e-12)


@pytest.mark.parametrize("name, reference", [
    ("rmse", lambda y, p: np.sqrt(skm.mean_squared_error(y, p))),
    ("mae", skm.mean_absolute_error),
    ("r2", skm.r2_score),
    ("mape", skm.mean_absolute_percentage_error),
])
def test_unresampled_regression_metric_equals_scikit_learn(name, reference):
    rng = np.random.default_rng(4)
    y = rng.normal(150, 40, 1000)
    predicted = y + rng.normal(0, 20, 1000)
    assert score(name, y, Predictions(predicted))[0] == pytest.approx(reference(y, predicted), rel=1e-12)


def test_a_resample_scores_like_scikit_learn_on_the_drawn_rows():
    rng = np.random.default_rng(5)
    y, model = _classifier_outputs(rng, [0, 1], 500, skill=1.0)
    draws = Resampler(500, y, np.random.SeedSequence(5)).draw(3)
    for index, rows in enumerate(draws.indices):
        drawn = Predictions(model.y_pred[rows], model.proba[rows])
        for name in CLASSIFICATION:
            expected = _sklearn(name, y[rows], drawn, [0, 1], 1)
            assert score(name, y, model, [0, 1], 1, draws)[index] == pytest.approx(expected, rel=1e-12), name


def test_identical_models_have_a_zero_delta_that_is_not_significant():
    y, model = _classifier_outputs(np.random.default_rng(6), [0, 1], 1000, skill=1.0)
    result = paired_bootstrap(CLASSIFICATION, y, model, model, [0, 1], 1, resamples=200)
    for delta in result.values():
        assert (delta.delta, delta.ci_low, delta.ci_high, delta.significant, delta.verdict) == (
            0.0, 0.0, 0.0, False, "unchanged")


def test_a_clearly_better_model_is_significantly_better_on_every_metric_whatever_its_direction():
    rng = np.random.default_rng(7)
    y, weak = _classifier_outputs(rng, [0, 1], 3000, skill=0.3)
    strong_proba = weak.proba.copy()
    strong_proba[:, 1] = np.clip(0.5 * weak.proba[:, 1] + 0.5 * (y == 1), 0.01, 0.99)
    strong_proba[:, 0] = 1 - strong_proba[:, 1]
    strong = Predictions(np.where(strong_proba[:, 1] > 0.5, 1, 0), strong_proba)
    result = paired_bootstrap(CLASSIFICATION, y, strong, weak, [0, 1], 1, resamples=300)
    assert {name: d.verdict for name, d in result.items()} == {name: "better" for name in CLASSIFICATION}
    assert result["log_loss"].delta < 0 < result["roc_auc"].delta
    worse = paired_bootstrap(["rmse", "r2"], np.arange(100.0), Predictions(np.arange(100.0) + 9),
                             Predictions(np.arange(100.0) + np.random.default_rng(0).normal(0, 1, 100)))
    assert (worse["rmse"].verdict, worse["r2"].verdict) == ("worse", "worse")


def test_the_interval_contains_the_point_delta_and_is_reproducible_with_the_seed():
    rng = np.random.default_rng(8)
    y, first = _classifier_outputs(rng, [0, 1], 800, skill=1.0)
    _, second = _classifier_outputs(np.random.default_rng(9), [0, 1], 800, skill=1.0)
    second = Predictions(second.y_pred, second.proba)
    one = paired_bootstrap(["roc_auc", "f1"], y, first, second, [0, 1], 1, resamples=300, seed=11)
    again = paired_bootstrap(["roc_auc", "f1"], y, first, second, [0, 1], 1, resamples=300, seed=11)
    other = paired_bootstrap(["roc_auc", "f1"], y, first, second, [0, 1], 1, resamples=300, seed=12)
    assert one == again
    assert one != other
    for delta in one.values():
        assert delta.ci_low <= delta.delta <= delta.ci_high


def test_chunking_does_not_change_the_result(monkeypatch):
    import mlship.review.bootstrap as module

    y, a = _classifier_outputs(np.random.default_rng(10), ["a", "b", "c"], 400, skill=1.0)
    _, b = _classifier_outputs(np.random.default_rng(11), ["a", "b", "c"], 400, skill=1.0)
    whole = paired_bootstrap(CLASSIFICATION, y, a, b, ["a", "b", "c"], resamples=100)
    monkeypatch.setattr(module, "CHUNK_CELLS", 400 * 7)
    chunked = paired_bootstrap(CLASSIFICATION, y, a, b, ["a", "b", "c"], resamples=100)
    for name, delta in whole.items():
        got = chunked[name]
        assert (got.significant, got.verdict) == (delta.significant, delta.verdict), name
        assert (got.delta, got.ci_low, got.ci_high) == pytest.approx((delta.delta, delta.ci_low, delta.ci_high),
                                                                     rel=1e-12), name


def test_metrics_needing_probabilities_are_skipped_when_a_model_has_none():
    y, model = _classifier_outputs(np.random.default_rng(12), [0, 1], 300)
    bare = Predictions(model.y_pred)
    assert set(paired_bootstrap(["accuracy", "roc_auc", "log_loss"], y, model, bare, [0, 1], 1, 50)) == {"accuracy"}


def test_two_equally_good_models_are_called_significantly_different_about_five_percent_of_the_time():
    """Calibration: with no true difference, a 95% interval excludes zero in about 5% of experiments."""
    false_alarms = 0
    experiments = 200
    for seed in range(experiments):
        rng = np.random.default_rng(1000 + seed)
        y = rng.integers(0, 2, 300)
        # Each model is right 80% of the time, independently: the same accuracy in truth.
        first = np.where(rng.random(300) < 0.8, y, 1 - y)
        second = np.where(rng.random(300) < 0.8, y, 1 - y)
        result = paired_bootstrap(["accuracy"], y, Predictions(first), Predictions(second), [0, 1], 1,
                                  resamples=400, seed=seed)
        false_alarms += result["accuracy"].significant
    assert false_alarms / experiments <= 0.09


def test_a_classifiers_resamples_keep_the_class_counts_of_the_data():
    y = np.array([0] * 45 + [1] * 10 + [0] * 45)
    draws = Resampler(100, y, np.random.SeedSequence(1)).draw(50)
    assert all(np.sum(y[rows] == 1) == 10 for rows in draws.indices)
    assert len(np.unique(draws.indices)) > 80, "rows are still drawn with replacement across the data"
    assert np.array_equal(draws.weights.sum(axis=1), np.full(50, 100.0))
    for index in range(3):
        assert np.array_equal(draws.weights[index], np.bincount(draws.indices[index], minlength=100))


def test_resamples_do_not_depend_on_how_they_are_chunked():
    y = np.random.default_rng(3).integers(0, 3, 200)
    whole = Resampler(200, y, np.random.SeedSequence(9)).draw(10).indices
    chunked = Resampler(200, y, np.random.SeedSequence(9))
    assert np.array_equal(np.vstack([chunked.draw(4).indices, chunked.draw(6).indices]), whole)


def test_a_slice_with_one_positive_never_has_a_resample_without_it():
    """40 rows, one positive: without strata about a third of the resamples would have no positive."""
    rng = np.random.default_rng(2)
    y = np.array([1] + [0] * 39)
    first, second = rng.random((40, 1)), rng.random((40, 1))
    a = Predictions((first[:, 0] > 0.5).astype(int), np.hstack([1 - first, first]))
    b = Predictions((second[:, 0] > 0.5).astype(int), np.hstack([1 - second, second]))
    auc = paired_bootstrap(["roc_auc"], y, a, b, [0, 1], 1, resamples=300)["roc_auc"]
    assert np.isfinite(auc.ci_low) and np.isfinite(auc.se) and auc.se > 0


def test_the_interval_is_the_delta_plus_or_minus_z_standard_errors_and_agrees_with_its_p_value():
    y, a = _classifier_outputs(np.random.default_rng(20), [0, 1], 600, skill=1.2)
    _, b = _classifier_outputs(np.random.default_rng(21), [0, 1], 600, skill=1.0)
    for confidence in (0.9, 0.95):
        for delta in paired_bootstrap(["roc_auc", "f1", "log_loss"], y, a, b, [0, 1], 1, 400, confidence).values():
            z = stats.norm.ppf(1 - (1 - confidence) / 2)
            assert (delta.ci_low, delta.ci_high) == pytest.approx((delta.delta - z * delta.se, delta.delta + z * delta.se))
            assert delta.p_value == pytest.approx(2 * stats.norm.sf(abs(delta.delta) / delta.se))
            assert delta.significant is (delta.ci_low > 0 or delta.ci_high < 0)


def test_log_loss_is_scikit_learns_on_probabilities_that_do_not_sum_to_one():
    rng = np.random.default_rng(22)
    y = rng.integers(0, 2, 300)
    proba = rng.uniform(0.05, 0.6, size=(300, 2))  # rows do not sum to 1: scikit-learn does not renormalise
    model = Predictions((proba[:, 1] > proba[:, 0]).astype(int), proba)
    with pytest.warns(UserWarning):
        expected = skm.log_loss(y, proba, labels=[0, 1])
    assert score("log_loss", y, model, [0, 1], 1)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("offset, expected", [(0.0, 1.0), (0.5, 0.0)])
def test_r2_on_a_constant_target_is_scikit_learns_on_every_resample(offset, expected):
    y = np.full(50, 3.0)
    model = Predictions(y + offset * np.random.default_rng(23).normal(size=50))
    assert skm.r2_score(y, model.y_pred) == expected
    draws = Resampler(50, None, np.random.SeedSequence(24)).draw(20)
    assert np.all(score("r2", y, model, draws=draws) == expected)


def test_the_unpaired_comparison_is_candidate_minus_baseline_with_independent_draws():
    rng = np.random.default_rng(25)
    y = rng.normal(0, 1, 500)
    shared = rng.normal(0, 1.0, 500)  # an error both versions make: pairing cancels it
    good, bad = Predictions(y + shared + rng.normal(0, 0.3, 500)), Predictions(y + shared + rng.normal(0, 0.6, 500))
    forward = unpaired_bootstrap(["rmse"], Sample(y, good), Sample(y, bad), resamples=300)["rmse"]
    backward = unpaired_bootstrap(["rmse"], Sample(y, bad), Sample(y, good), resamples=300)["rmse"]
    assert forward.delta < 0 and forward.verdict == "better"
    assert backward.delta == pytest.approx(-forward.delta) and backward.verdict == "worse"
    paired = paired_bootstrap(["rmse"], y, good, bad, resamples=300)["rmse"]
    assert forward.se > 1.2 * paired.se, "paired draws cancel the shared noise; independent ones cannot"
    small = unpaired_bootstrap(["rmse"], Sample(y[:100], Predictions(good.y_pred[:100])), Sample(y, bad),
                               resamples=300)["rmse"]
    assert small.se > forward.se, "each side is resampled at its own size"


# --- seed variation (evaluation.seeds) ---


def seeded_delta(value: float, se: float, **extra) -> Delta:
    return Delta(value, value - 1.96 * se, value + 1.96 * se, False, "unchanged", se, normal_p(value, se), **extra)


def test_seed_variation_adds_its_variance_and_uses_welch_satterthwaite_degrees_of_freedom():
    seed_deltas = [-0.02, 0.01, -0.005, 0.015]
    varied = with_seed_variation("roc_auc", seeded_delta(-0.02, 0.01), seed_deltas, 0.95)

    seed_variance = np.var(seed_deltas, ddof=1)
    se = math.sqrt(0.01 ** 2 + seed_variance)
    df = (0.01 ** 2 + seed_variance) ** 2 * 3 / seed_variance ** 2
    assert varied.se == pytest.approx(se) and varied.df == pytest.approx(df) and varied.seeds == 4
    assert varied.seed_sd == pytest.approx(math.sqrt(seed_variance))
    assert varied.ci_low == pytest.approx(-0.02 - stats.t.ppf(0.975, df) * se)
    assert varied.ci_high == pytest.approx(-0.02 + stats.t.ppf(0.975, df) * se)
    assert not varied.significant and varied.verdict == "unchanged" and varied.discordant is None
    assert varied.p_value == pytest.approx(2 * stats.t.sf(0.02 / se, df))
    assert varied.delta == -0.02


def test_seeds_that_do_not_move_the_delta_keep_the_exact_accuracy_test():
    exact = seeded_delta(-0.01, 0.005, discordant=(1, 5, 500))
    kept = with_seed_variation("accuracy", exact, [-0.01, -0.01, -0.01], 0.95)
    assert kept.discordant == (1, 5, 500) and kept.se == exact.se and kept.seeds == 3 and kept.seed_sd == 0


def test_an_undefined_seed_delta_leaves_the_delta_as_the_bootstrap_gave_it():
    original = seeded_delta(-0.01, 0.005)
    assert with_seed_variation("roc_auc", original, [-0.01, math.nan, 0.0], 0.95) == original


# --- edges the mutation run found untested ---


@pytest.mark.parametrize("scale", [0.01, 1000.0])
def test_a_regressors_resample_scores_like_scikit_learn_on_the_drawn_rows_at_any_scale(scale):
    rng = np.random.default_rng(31)
    y = rng.normal(0.05, 0.02, 200) * scale  # a small spread: r2's denominator is far below 1
    model = Predictions(y + rng.normal(0, 0.01 * scale, 200))
    draws = Resampler(200, None, np.random.SeedSequence(8)).draw(3)
    reference = {"rmse": lambda t, p: skm.root_mean_squared_error(t, p), "mae": skm.mean_absolute_error,
                 "r2": skm.r2_score, "mape": skm.mean_absolute_percentage_error}
    for index, rows in enumerate(draws.indices):
        for name, metric in reference.items():
            assert score(name, y, model, draws=draws)[index] == pytest.approx(metric(y[rows], model.y_pred[rows]),
                                                                               rel=1e-9), name


@pytest.mark.parametrize("value", [0.1, 1 / 3, 7e8 + 0.1])
def test_r2_on_a_constant_target_whose_value_floats_cannot_hold_is_still_exactly_scikit_learns(value):
    y = np.full(7, value)
    draws = Resampler(7, None, np.random.SeedSequence(2)).draw(50)
    assert np.all(score("r2", y, Predictions(y.copy()), draws=draws) == 1.0)
    assert np.all(score("r2", y, Predictions(y + 1.0), draws=draws) == 0.0)


def test_the_unpaired_bootstrap_repeats_exactly_with_its_seed_and_moves_with_another():
    rng = np.random.default_rng(40)
    y = rng.normal(0, 1, 80)
    a, b = Sample(y, Predictions(y + rng.normal(0, 0.5, 80))), Sample(y, Predictions(y + rng.normal(0, 0.7, 80)))
    first = unpaired_bootstrap(["rmse"], a, b, resamples=200, seed=3)
    assert unpaired_bootstrap(["rmse"], a, b, resamples=200, seed=3) == first
    assert unpaired_bootstrap(["rmse"], a, b, resamples=200, seed=4)["rmse"].se != first["rmse"].se
