"""The paired bootstrap: exact metrics, honest intervals, and the direction of each metric."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mlship.review.bootstrap import Draws, Predictions, paired_bootstrap, score

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
    draws = Draws.random(rng, 3, 500)
    for index, rows in enumerate(draws.rows):
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
