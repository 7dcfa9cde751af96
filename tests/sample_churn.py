"""A small churn model shared by the packaging and registry tests: its spec and its data."""

from __future__ import annotations

import numpy as np
import pandas as pd

CHURN = """
description: Predicts which customers will cancel.
task: classification
data:
  path: customers.csv
  target: churned
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 1000}
evaluation:
  bootstrap: {resamples: 100}
gates:
  roc_auc: {min: 0.6}
"""


def customers(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.normal(50, 15, n), 2),
        "plan": rng.choice(["basic", "standard", "premium"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    score = (frame["income"] - 50) / 8 + 1.0 * (frame["plan"] == "premium") - 0.5 * (frame["region"] == "south")
    frame["churned"] = np.where(rng.random(n) < 1 / (1 + np.exp(-score)), "yes", "no")
    return frame
