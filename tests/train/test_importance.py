"""Permutation importance recorded at training: the feature the target depends on ranks first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlship import api
from mlship.train.cache import CacheEntry
from mlship.train.importance import _binary_auc

SPEC = """
task: {task}
data: {{path: data.csv, target: y}}
model:
  estimator: {estimator}
evaluation:
  metrics: [{metric}]
"""


def table(rows: int = 600, classification: bool = True) -> str:
    rng = np.random.default_rng(0)
    signal, weak, noise = rng.normal(0, 1, rows), rng.normal(0, 1, rows), rng.normal(0, 1, rows)
    latent = 3 * signal + 0.7 * weak + rng.normal(0, 0.5, rows)
    y = (latent > 0).astype(int) if classification else latent
    return pd.DataFrame({"noise": noise, "weak": weak, "signal": signal, "y": y}).to_csv(index=False)


@pytest.mark.parametrize("task,estimator,metric", [
    ("classification", "sklearn.linear_model.LogisticRegression", "roc_auc"),
    ("classification", "sklearn.ensemble.RandomForestClassifier", "accuracy"),
    ("regression", "sklearn.linear_model.Ridge", "rmse"),  # lower is better: the drop is a rise in error
])
def test_the_profile_ranks_the_feature_the_target_depends_on_first(factory, task, estimator, metric):
    factory.model("m", SPEC.format(task=task, estimator=estimator, metric=metric),
                  {"data.csv": table(classification=task == "classification")})
    profile = CacheEntry(api.train("m", factory.project).entry).profile()
    importance = profile["importance"]
    assert importance["metric"] == metric and importance["repeats"] == 5 and importance["rows"] > 0
    ranks = importance["features"]
    assert ranks["signal"] > ranks["weak"] > abs(ranks["noise"]) and ranks["signal"] > 0.05


def test_the_batched_auc_is_scikit_learns_with_ties():
    rng = np.random.default_rng(1)
    positive = rng.random(300) < 0.4
    scores = np.round(rng.random((4, 300)), 1)  # many ties
    assert _binary_auc(positive, scores).tolist() == pytest.approx([roc_auc_score(positive, s) for s in scores])
    assert np.isnan(_binary_auc(np.zeros(5, bool), scores[:, :5])).all()
