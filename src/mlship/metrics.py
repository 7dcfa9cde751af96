"""The catalogue of metrics: names, the task each belongs to, and which way is better.

Kept free of heavy imports so that specs can be validated without scikit-learn;
:mod:`mlship.train.evaluation` computes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    higher_is_better: bool
    needs_proba: bool
    description: str


CATALOGUE: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", "classification", True, False, "share of correct predictions"),
        Metric("balanced_accuracy", "classification", True, False, "mean recall over classes"),
        Metric("precision", "classification", True, False, "positive predictive value (macro-averaged for multiclass)"),
        Metric("recall", "classification", True, False, "true positive rate (macro-averaged for multiclass)"),
        Metric("f1", "classification", True, False, "harmonic mean of precision and recall (macro for multiclass)"),
        Metric("roc_auc", "classification", True, True, "area under the ROC curve (one-vs-rest macro for multiclass)"),
        Metric("log_loss", "classification", False, True, "cross-entropy of the predicted probabilities"),
        Metric("rmse", "regression", False, False, "root mean squared error"),
        Metric("mae", "regression", False, False, "mean absolute error"),
        Metric("r2", "regression", True, False, "coefficient of determination"),
        Metric("mape", "regression", False, False, "mean absolute percentage error (as a fraction)"),
    ]
}

DEFAULT_METRICS: dict[str, list[str]] = {
    "classification": ["roc_auc", "accuracy", "f1"],
    "regression": ["rmse", "mae", "r2"],
}


def metrics_for(task: str) -> list[str]:
    return [name for name, metric in CATALOGUE.items() if metric.task == task]
