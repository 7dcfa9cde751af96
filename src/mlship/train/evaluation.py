"""Scoring a fitted model on its held-out rows with scikit-learn's metric functions."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mlship.errors import TrainingError
from mlship.spec import Spec
from mlship.train.data import Dataset


@dataclass(frozen=True)
class Scores:
    metrics: dict[str, float]
    #: Metrics that could not be computed, with the reason.
    unavailable: dict[str, str]
    #: ``row``, ``digest``, ``y_true``, ``y_pred`` and, for classifiers with probabilities, ``proba:<class>``.
    predictions: pd.DataFrame
    predict_seconds_per_row: float


def evaluate(spec: Spec, model: Any, dataset: Dataset) -> Scores:
    started = time.perf_counter()
    try:
        y_pred = model.predict(dataset.X_test)
        elapsed = time.perf_counter() - started
        proba = model.predict_proba(dataset.X_test) if hasattr(model, "predict_proba") else None
    except (ValueError, TypeError) as error:
        raise TrainingError(f"{spec.name}: predicting the held-out rows failed: {error}") from error
    classes = list(model.classes_) if spec.task == "classification" else None
    values, unavailable = score(spec.metrics, dataset.y_test.to_numpy(), y_pred, proba, classes,
                                dataset.positive_class)
    return Scores(values, unavailable, predictions_frame(dataset, y_pred, proba, classes),
                  elapsed / max(len(dataset.X_test), 1))


def score(
    names: list[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: list[Any] | None,
    positive_class: Any | None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Compute each named metric; one that cannot be computed is reported with the reason instead."""
    values, unavailable = {}, {}
    for name in names:
        if name in ("roc_auc", "log_loss") and proba is None:
            unavailable[name] = "the estimator has no predict_proba"
            continue
        try:
            value = float(_metric(name, y_true, y_pred, proba, classes, positive_class))
        except ValueError as error:
            unavailable[name] = str(error)
            continue
        if math.isfinite(value):
            values[name] = value
        else:
            unavailable[name] = f"undefined on these {len(y_true)} held-out rows"
    return values, unavailable


def _metric(name: str, y: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None,
            classes: list[Any] | None, positive: Any | None) -> float:
    averaging = {"average": "binary", "pos_label": positive} if positive is not None else {"average": "macro"}
    if name == "accuracy":
        return skm.accuracy_score(y, y_pred)
    if name == "balanced_accuracy":
        return skm.balanced_accuracy_score(y, y_pred)
    if name == "precision":
        return skm.precision_score(y, y_pred, zero_division=0, **averaging)
    if name == "recall":
        return skm.recall_score(y, y_pred, zero_division=0, **averaging)
    if name == "f1":
        return skm.f1_score(y, y_pred, zero_division=0, **averaging)
    if name == "roc_auc":
        if positive is not None:
            return skm.roc_auc_score(y == positive, proba[:, classes.index(positive)])
        return skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    if name == "log_loss":
        return skm.log_loss(y, proba, labels=classes)
    if name == "rmse":
        return math.sqrt(skm.mean_squared_error(y, y_pred))
    if name == "mae":
        return skm.mean_absolute_error(y, y_pred)
    if name == "r2":
        return skm.r2_score(y, y_pred)
    if name == "mape":
        return skm.mean_absolute_percentage_error(y, y_pred)
    raise AssertionError(f"metric {name} is in the catalogue but not computed")


def predictions_frame(dataset: Dataset, y_pred: np.ndarray, proba: np.ndarray | None,
                      classes: list[Any] | None) -> pd.DataFrame:
    frame = pd.DataFrame({"row": dataset.test_rows, "digest": dataset.test_digests,
                          "y_true": dataset.y_test.to_numpy(), "y_pred": y_pred})
    if proba is not None:
        for index, label in enumerate(classes):
            frame[f"proba:{label}"] = proba[:, index]
    return frame
