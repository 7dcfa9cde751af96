"""Each feature's importance to the model: how much its primary metric drops on the held-out
rows when that feature's values are shuffled (permutation importance, scikit-learn's).

Recorded at training in the reference profile, so that a drift report can list first the
shifts the model is sensitive to. Held-out rows, not training rows: a feature the model
overfits looks important on the rows it learnt. Measured on at most :data:`MAX_ROWS` rows
with :data:`REPEATS` shuffles each, which keeps it to a small share of training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlship.metrics import CATALOGUE

if TYPE_CHECKING:
    from mlship.spec import Spec
    from mlship.train.data import Dataset

MAX_ROWS = 2_000
REPEATS = 5
SEED = 0


def permutation_importance(spec: "Spec", model: Any, dataset: "Dataset") -> dict[str, Any] | None:
    """``{"metric", "rows", "repeats", "features": {name: mean drop}}``, or None where the metric
    cannot be computed (one class only in the rows, no ``predict_proba``): then the report shows no ranking."""
    import numpy as np
    from sklearn import inspection

    from mlship.train.evaluation import score

    metric = spec.primary_metric
    sign = 1.0 if CATALOGUE[metric].higher_is_better else -1.0
    needs_proba = CATALOGUE[metric].needs_proba
    if needs_proba and not hasattr(model, "predict_proba"):
        return None
    X, y = dataset.X_test, dataset.y_test.to_numpy()
    if len(X) > MAX_ROWS:
        chosen = np.sort(np.random.default_rng(SEED).choice(len(X), MAX_ROWS, replace=False))
        X, y = X.iloc[chosen], y[chosen]

    def scorer(fitted: Any, rows: Any, truth: Any) -> float:
        proba = fitted.predict_proba(rows) if needs_proba else None
        y_pred = fitted.predict(rows) if not needs_proba else None
        values, _ = score([metric], np.asarray(truth), y_pred, proba, dataset.classes, dataset.positive_class)
        return sign * values[metric] if metric in values else float("nan")

    if not np.isfinite(scorer(model, X, y)):
        return None
    result = inspection.permutation_importance(model, X, y, scoring=scorer, n_repeats=REPEATS, random_state=SEED)
    means = np.nan_to_num(result.importances_mean)
    return {"metric": metric, "rows": len(X), "repeats": REPEATS,
            "features": {str(name): round(float(value), 6) for name, value in zip(X.columns, means)}}
