"""The reference profile: what the training data and the model's predictions looked like.

Training saves one per model (``profile.json`` in the cache entry and the ledger), and
``mlship drift`` compares recent data with it. It is committed to git, so it summarises
rather than samples: a number keeps up to 101 quantiles as bin edges with the count of
training values in each bin and their mean, which is enough for a Kolmogorov-Smirnov
statistic, PSI bins and a Wasserstein distance (the means make the area between two
distribution functions exact over every bin where they do not cross); a category keeps
the counts of its most frequent values and pools the rest. Counts, not shares, so the
tests know the reference's size.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlship.files import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from mlship.spec import Spec
    from mlship.train.data import Dataset

FORMAT = 1
#: Quantile bins of a number: its edges are the 0th, 1st, ..., 100th percentiles.
QUANTILE_BINS = 100
#: Categories beyond the most frequent ones are pooled, so an ID-like column stays small.
MAX_CATEGORIES = 50
#: Significant digits of an edge, relative to the column's range.
EDGE_DIGITS = 5


def build_profile(spec: "Spec", dataset: "Dataset", predictions: "pd.DataFrame",
                  importance: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile of the training rows, the training target and the held-out predictions, with the
    features' permutation importance (see :mod:`mlship.train.importance`) when it could be measured.

    ``predictions`` is the frame of :func:`mlship.train.evaluation.predictions_frame`. For a
    two-class model only the positive class's probability is kept (the other is its complement).
    """
    classification = spec.task == "classification"
    columns = {"prediction": predictions["y_pred"]}
    classes = [dataset.positive_class] if dataset.positive_class is not None else dataset.classes or []
    columns.update({f"proba:{label(c)}": predictions[f"proba:{c}"] for c in classes
                    if f"proba:{c}" in predictions.columns})
    return {
        "format": FORMAT,
        "model": spec.name,
        "task": spec.task,
        "rows": len(dataset.X_train),
        "features": profile_frame(dataset.X_train, dataset.categorical, dataset.dates),
        "target": {"name": spec.target, **column_profile(dataset.y_train, categorical=classification)},
        "predictions": {name: column_profile(values, categorical=classification and name == "prediction")
                        for name, values in columns.items()},
        **({"importance": importance} if importance else {}),
    }


def profile_frame(frame: "pd.DataFrame", categorical: list[str], dates: list[str] = ()) -> dict[str, dict[str, Any]]:
    """Each column's profile; a date column's is the numeric profile of its days since 1970, of kind ``date``."""
    from mlship.train.dates import days_since_epoch

    return {str(name): ({**numeric_profile(days_since_epoch(frame[name])), "kind": "date"} if name in dates
                        else column_profile(frame[name], categorical=name in categorical))
            for name in frame.columns}


def column_profile(values: "pd.Series", categorical: bool) -> dict[str, Any]:
    return categorical_profile(values) if categorical else numeric_profile(values)


def numeric_profile(values: "pd.Series") -> dict[str, Any]:
    import numpy as np

    x = values.to_numpy(dtype=float, na_value=np.nan)
    present = np.sort(x[~np.isnan(x)])
    document: dict[str, Any] = {"kind": "numeric", "rows": len(x), "missing": int(len(x) - len(present))}
    if not len(present):
        return {**document, "mean": None, "std": None, "min": None, "max": None, "edges": [], "counts": [0],
                "means": [0.0]}
    spread = float(present[-1] - present[0])
    # "lower" picks observed values, so a column of a few distinct values gets one bin per value.
    quantiles = np.quantile(present, np.linspace(0, 1, QUANTILE_BINS + 1), method="lower")
    edges = np.unique(_rounded(quantiles, spread))
    bins = np.searchsorted(edges, present, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    sums = np.bincount(bins, weights=present, minlength=len(edges) + 1)
    means = np.divide(sums, counts, out=np.zeros(len(counts)), where=counts > 0)
    return {**document, "mean": float(present.mean()), "std": float(present.std()), "min": float(present[0]),
            "max": float(present[-1]), "edges": edges.tolist(), "counts": counts.tolist(),
            "means": _rounded(means, spread).tolist()}


def categorical_profile(values: "pd.Series") -> dict[str, Any]:
    counts, missing = category_counts(values)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept, pooled = ranked[:MAX_CATEGORIES], ranked[MAX_CATEGORIES:]
    return {"kind": "categorical", "rows": len(values), "missing": missing, "categories": dict(kept),
            "other": sum(count for _, count in pooled), "other_categories": len(pooled)}


def category_counts(values: "pd.Series") -> tuple[dict[str, int], int]:
    """How often each category occurs, by its label (see :func:`label`), and how many values are missing."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    tally = np.bincount(codes[codes >= 0], minlength=len(uniques))
    counts: dict[str, int] = {}
    for value, count in zip(uniques, tally.tolist()):
        counts[label(value)] = counts.get(label(value), 0) + count
    return counts, int((codes < 0).sum())


def label(value: Any) -> str:
    """A category as text: 3.0 and 3 are both "3" (a column of integers with a gap is read as floats)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def save_profile(path: Path, profile: dict[str, Any]) -> None:
    """Write ``profile`` as indented JSON with each list of numbers on one line: about half the size."""
    import json

    def compact(value: Any, indent: str) -> str:
        if isinstance(value, dict) and value:
            inner = indent + "  "
            items = ",\n".join(f"{inner}{json.dumps(key)}: {compact(item, inner)}" for key, item in value.items())
            return "{\n" + items + "\n" + indent + "}"
        return json.dumps(value)

    atomic_write_text(path, compact(profile, "") + "\n")


def _rounded(values: Any, spread: float) -> Any:
    import numpy as np

    if spread <= 0 or not math.isfinite(spread):
        return np.asarray(values)
    decimals = EDGE_DIGITS - 1 - math.floor(math.log10(spread))
    return np.array([round(float(v), decimals) for v in values])
