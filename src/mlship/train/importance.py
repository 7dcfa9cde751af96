"""Each feature's importance to the model: how much its primary metric drops on the held-out
rows when that feature's values are shuffled (permutation importance, as scikit-learn defines it).

Recorded at training in the reference profile, so that a drift report can list first the
shifts the model is sensitive to. Held-out rows, not training rows: a feature the model
overfits looks important on the rows it learnt. Measured on at most :data:`MAX_ROWS` rows
with :data:`REPEATS` shuffles each, which keeps it to a small share of training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlship.metrics import CATALOGUE

if TYPE_CHECKING:
    import numpy as np

    from mlship.spec import Spec
    from mlship.train.data import Dataset

MAX_ROWS = 2_000
REPEATS = 5
#: At most this many shuffled scorings in all: a model with many features gets fewer repeats each
#: (scikit-learn's metrics validate their input at a cost of milliseconds per call).
MAX_SCORINGS = 150
SEED = 0


def permutation_importance(spec: "Spec", model: Any, dataset: "Dataset") -> dict[str, Any] | None:
    """``{"metric", "rows", "repeats", "features": {name: mean drop}}``, or None where the metric
    cannot be computed (one class only in the rows, no ``predict_proba``): then the report shows no ranking.

    The rule is scikit-learn's ``permutation_importance``; the work is batched: each feature's
    :data:`REPEATS` shuffled copies of the rows go to the model in one call, since a call's fixed
    cost (a Pipeline's column transformer) outweighs its rows here (150 calls took 15 s on the
    breast-cancer example on a busy machine; 30 take a fifth of that).
    """
    import numpy as np
    import pandas as pd

    metric = spec.primary_metric
    sign = 1.0 if CATALOGUE[metric].higher_is_better else -1.0
    needs_proba = CATALOGUE[metric].needs_proba
    if needs_proba and not hasattr(model, "predict_proba"):
        return None
    rng = np.random.default_rng(SEED)
    X, y = dataset.X_test, dataset.y_test.to_numpy()
    if len(X) > MAX_ROWS:
        chosen = np.sort(rng.choice(len(X), MAX_ROWS, replace=False))
        X, y = X.iloc[chosen], y[chosen]
    X = X.reset_index(drop=True)
    repeats = max(1, min(REPEATS, MAX_SCORINGS // max(len(X.columns), 1)))
    baseline = _scores(spec, model, X, y, 1, dataset, needs_proba)[0]
    if not np.isfinite(baseline):
        return None
    importance = {}
    for name in X.columns:
        shuffled = pd.concat([X] * repeats, ignore_index=True)
        column = X[name].to_numpy()
        shuffled[name] = np.concatenate([column[rng.permutation(len(X))] for _ in range(repeats)])
        drops = sign * (baseline - _scores(spec, model, shuffled, y, repeats, dataset, needs_proba))
        importance[str(name)] = round(float(np.nan_to_num(np.mean(drops))), 6)
    return {"metric": metric, "rows": len(X), "repeats": repeats, "features": importance}


def _scores(spec: "Spec", model: Any, rows: Any, y: Any, blocks: int, dataset: "Dataset",
            needs_proba: bool) -> "np.ndarray":
    """The primary metric of each of ``blocks`` consecutive blocks of ``rows`` (NaN where undefined)."""
    import numpy as np

    from mlship.train.evaluation import score

    metric = spec.primary_metric
    outputs = model.predict_proba(rows) if needs_proba else model.predict(rows)
    if metric == "roc_auc" and dataset.positive_class is not None:
        column = list(dataset.classes or []).index(dataset.positive_class)
        return _binary_auc(y == dataset.positive_class, np.asarray(outputs)[:, column].reshape(blocks, -1))
    values = []
    for block in np.split(np.asarray(outputs), blocks):
        proba, y_pred = (block, None) if needs_proba else (None, block)
        found, _ = score([metric], y, y_pred, proba, dataset.classes, dataset.positive_class)
        values.append(found.get(metric, float("nan")))
    return np.asarray(values)


def _binary_auc(positive: "np.ndarray", scores: "np.ndarray") -> "np.ndarray":
    """The ROC AUC of each row of ``scores`` (Mann-Whitney: ties count half, as in ``roc_auc_score``).

    scikit-learn's ``roc_auc_score`` spends its time validating its input: 60 ms a call on a
    busy machine, against a fraction of a millisecond here, and importance scores 150 times.
    """
    import numpy as np
    from scipy.stats import rankdata

    hits, misses = int(positive.sum()), int((~positive).sum())
    if not hits or not misses:
        return np.full(len(scores), np.nan)
    ranks = rankdata(scores, axis=1)
    return (ranks[:, positive].sum(axis=1) - hits * (hits + 1) / 2) / (hits * misses)

