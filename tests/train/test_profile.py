"""The reference profile: what training saves for drift checks, and what the ledger keeps of it.

Profiles are built by real training of the shared sample churn model, or from generated
columns, and checked against the data they summarise.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlship import api
from mlship.review import ledger
from mlship.train.cache import PROFILE_FILE, CacheEntry
from mlship.train.data import load_dataset
from mlship.train.profile import MAX_CATEGORIES, QUANTILE_BINS, category_counts, numeric_profile, profile_frame
from repo_helpers import branch_off, commit_all, edit
from sample_churn import CHURN, customers


@pytest.fixture
def churn(factory):
    factory.model("churn", CHURN, {"customers.csv": customers().to_csv(index=False)})
    return factory


def test_training_saves_a_profile_of_every_feature_the_target_and_the_predictions(churn):
    entry = CacheEntry(api.train("churn", churn.project).entry)
    profile = json.loads((entry.path / PROFILE_FILE).read_text())
    dataset = load_dataset(api.load("churn", churn.project))
    train = dataset.X_train

    assert profile["model"] == "churn" and profile["task"] == "classification"
    assert profile["rows"] == len(train) == 463
    assert list(profile["features"]) == ["age", "income", "plan", "region"]
    assert {name: f["kind"] for name, f in profile["features"].items()} == {
        "age": "numeric", "income": "numeric", "plan": "categorical", "region": "categorical"}
    plan = profile["features"]["plan"]
    assert plan["categories"] == train["plan"].value_counts().to_dict()
    assert plan["other"] == plan["missing"] == 0
    income = profile["features"]["income"]
    assert sum(income["counts"]) == len(train) and income["missing"] == 0
    assert income["min"] == train["income"].min() and income["max"] == train["income"].max()
    assert income["mean"] == pytest.approx(train["income"].mean())
    assert profile["target"]["name"] == "churned"
    assert profile["target"]["categories"] == dataset.y_train.value_counts().to_dict()
    predictions = entry.predictions()
    assert list(profile["predictions"]) == ["prediction", "proba:yes"]  # two classes: the positive one suffices
    assert profile["predictions"]["prediction"]["categories"] == predictions["y_pred"].value_counts().to_dict()
    assert sum(profile["predictions"]["proba:yes"]["counts"]) == len(predictions) == 137


def test_a_cache_entry_without_a_profile_is_trained_again(churn):
    entry = CacheEntry(api.train("churn", churn.project).entry)
    (entry.path / PROFILE_FILE).unlink()
    again = api.train("churn", churn.project)
    assert again.cache_hit is False
    assert (again.entry / PROFILE_FILE).is_file()


def test_numbers_with_few_distinct_values_get_one_bin_per_value():
    values = pd.Series(np.random.default_rng(0).integers(0, 5, 1000).astype(float))
    profile = numeric_profile(values)
    assert profile["edges"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    # Nothing is below the smallest edge; each value's bin starts at its edge.
    assert profile["counts"] == [0, *[int((values == v).sum()) for v in range(5)]]


def test_continuous_numbers_get_percentile_edges_with_equal_counts():
    values = pd.Series(np.random.default_rng(1).normal(0, 1, 10_000))
    profile = numeric_profile(values)
    assert len(profile["edges"]) == QUANTILE_BINS + 1
    assert profile["edges"][0] == pytest.approx(values.min(), abs=1e-3)  # 5 digits of the range
    assert profile["edges"][-1] == pytest.approx(values.max(), abs=1e-3)
    inner = profile["counts"][1:-1]
    assert min(inner) >= 95 and max(inner) <= 105  # 1% of the rows each, up to rounding of the edges
    assert sum(profile["counts"]) == len(values)


def test_missing_values_are_counted_not_binned():
    profile = numeric_profile(pd.Series([1.0, np.nan, 2.0, None, 3.0, 4.0]))
    assert profile["missing"] == 2 and sum(profile["counts"]) == 4 and profile["rows"] == 6


def test_integer_categories_read_as_floats_keep_their_labels():
    as_ints = pd.Series([3, 1, 3, 2])
    with_gap = pd.Series([3.0, 1.0, np.nan, 3.0, 2.0])  # how pandas reads an integer column with a gap
    assert category_counts(as_ints) == ({"3": 2, "1": 1, "2": 1}, 0)
    assert category_counts(with_gap) == ({"3": 2, "1": 1, "2": 1}, 1)
    assert category_counts(pd.Series([True, False, True])) == ({"True": 2, "False": 1}, 0)


def test_categories_beyond_the_most_frequent_are_pooled():
    rng = np.random.default_rng(2)
    ids = pd.Series([f"id-{i}" for i in rng.integers(0, 500, 5000)])
    profile = profile_frame(pd.DataFrame({"customer": ids}), ["customer"])["customer"]
    assert len(profile["categories"]) == MAX_CATEGORIES
    assert profile["other_categories"] == ids.nunique() - MAX_CATEGORIES
    assert sum(profile["categories"].values()) + profile["other"] == len(ids)
    assert min(profile["categories"].values()) >= max(ids.value_counts().iloc[MAX_CATEGORIES:])


def test_a_profile_of_twenty_features_stays_well_under_100_kb(factory):
    rng = np.random.default_rng(3)
    rows = 20_000
    frame = pd.DataFrame({f"n{i}": rng.normal(i, 1 + i, rows) for i in range(14)})
    for i in range(6):
        frame[f"c{i}"] = rng.choice([f"level-{j}" for j in range(5 + 40 * i)], rows)
    frame["y"] = rng.integers(0, 2, rows)
    factory.model("wide", """
        task: classification
        data: {path: wide.csv, target: y}
        model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 200}}
        """, {"wide.csv": frame.to_csv(index=False)})
    profile_file = api.train("wide", factory.project).entry / PROFILE_FILE
    assert len(json.loads(profile_file.read_text())["features"]) == 20
    assert profile_file.stat().st_size < 50_000  # half the budget


def test_the_ledger_keeps_the_candidates_profile(churn, run_cli):
    root = branch_off(churn)
    edit(root, "models/churn/model.yaml", "max_iter: 1000", "max_iter: 1000, C: 0.5")
    commit_all(root, "tune C")
    result = run_cli("pr", "--base", "main", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "wrote reports/churn/profile.json" in result.stderr
    candidate = api.train("churn", churn.project)
    assert (root / "reports/churn/profile.json").read_text() == (candidate.entry / PROFILE_FILE).read_text()
    assert ledger.read(churn.project, "churn")["fingerprint"] == candidate.fingerprint
