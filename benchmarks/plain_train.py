"""The baseline of benchmark (b): the work of ``mlship train``, written as a plain script.

It does what mlship does for a classification spec with a CSV ``path`` and
``preprocess: true`` (see src/mlship/train/data.py, fit.py and evaluation.py), and
nothing else: read the CSV, hold out the same rows (it calls mlship's own hash split,
``mlship.train.split``, which imports only NumPy and pandas, rather than keep a copy
that could drift from it), build the same preprocessing pipeline, fit, predict,
predict_proba, and call the same scikit-learn metrics.
It leaves out what only mlship does: spec validation, the fingerprint, the cache
entry (model pickle, predictions Parquet, JSON files) and the git calls. That is
the overhead the benchmark measures.

Usage: python plain_train.py CONFIG.json  (written by run.py; it holds the same
values as the benchmark's model.yaml). Prints JSON: the metrics and stage timings.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlship.train.split import held_out, row_digests

#: The same cap as mlship.train.fit.MAX_CATEGORIES.
MAX_CATEGORIES = 50


def build_pipeline(estimator: HistGradientBoostingClassifier, numeric: list[str],
                   categorical: list[str]) -> Pipeline:
    """The pipeline of mlship.train.fit.build_pipeline, step for step."""
    numeric_steps = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES,
                            sparse_output=False)
    categorical_steps = Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("encode", encoder)])
    preprocess = ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        remainder="drop", verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def main(config_path: str) -> None:
    with open(config_path) as stream:
        config = json.load(stream)
    target, categorical, seed = config["target"], config["categorical"], config["seed"]

    started = time.perf_counter()
    table = pd.read_csv(config["csv"])
    features = [c for c in table.columns if c != target]
    numeric = [c for c in features if c not in categorical]
    held = held_out(row_digests(table), config["test_size"], seed)
    train, test = table[~held], table[held]
    X_train, y_train, X_test, y_test = train[features], train[target], test[features], test[target]
    loaded = time.perf_counter()

    model = build_pipeline(HistGradientBoostingClassifier(**config["params"]), numeric, categorical)
    np.random.seed(seed)
    model.fit(X_train, y_train)
    fitted = time.perf_counter()

    y_pred = model.predict(X_test)
    proba = model.predict_proba(X_test)
    y_true, positive = y_test.to_numpy(), config["positive_class"]
    metrics = {
        "roc_auc": float(roc_auc_score(y_true == positive, proba[:, list(model.classes_).index(positive)])),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0, average="binary", pos_label=positive)),
    }
    evaluated = time.perf_counter()

    print(json.dumps({
        "metrics": metrics,
        "rows": {"train": len(X_train), "test": len(X_test)},
        "timings": {"load_seconds": loaded - started, "fit_seconds": fitted - loaded,
                    "evaluate_seconds": evaluated - fitted, "total_seconds": evaluated - started},
    }))


if __name__ == "__main__":
    main(sys.argv[1])
