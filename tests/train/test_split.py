"""The split: a row's side is a function of the row alone, so growing the data never moves a row.

The rules are checked on generated tables with :mod:`mlship.train.split` directly, and
end to end through real training, where each cache entry records the digests of the
rows its model trained on and of the rows it was scored on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlship import api
from mlship.train.cache import Cache, CacheEntry
from mlship.train.data import STRATIFY_IGNORED, load_dataset
from mlship.train.split import digest_columns, held_out, row_digests


def customers(n: int, seed: int = 0) -> pd.DataFrame:
    """Customers from one generator: numbers, text with gaps, a boolean, a yes/no target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.normal(50, 15, n), 2),
        "plan": rng.choice(["basic", "standard", "premium", None], n),
        "paperless": rng.random(n) < 0.5,
    })
    signal = (frame["income"] - 50) / 10 + 1.5 * (frame["plan"] == "premium") - 0.5
    frame["churned"] = np.where(rng.random(n) < 1 / (1 + np.exp(-signal)), "yes", "no")
    return frame


def sides(frame: pd.DataFrame, key: str | None = None, test_size: float = 0.25, seed: int = 0) -> np.ndarray:
    return held_out(row_digests(frame, key), test_size, seed)


SPEC = """
    task: classification
    data:
      path: data/train.csv
      target: churned
      features: [age, income, plan, paperless]
      split: {test_size: 0.25, seed: 7}
    model:
      estimator: sklearn.linear_model.LogisticRegression
"""


# --- the rule ------------------------------------------------------------------------


def test_appending_or_removing_rows_never_moves_another_row_to_the_other_side():
    table = customers(2000)
    before = sides(table)

    grown = pd.concat([table, customers(400, seed=1)], ignore_index=True)
    shrunk = table.drop(index=range(0, 2000, 3))
    shuffled = table.sample(frac=1, random_state=5)

    assert np.array_equal(sides(grown)[:2000], before)
    assert np.array_equal(sides(shrunk), before[shrunk.index])
    assert np.array_equal(sides(shuffled), before[shuffled.index])


def test_the_seed_changes_the_split_and_the_same_seed_repeats_it():
    table = customers(10_000)

    first, again, other = sides(table, seed=0), sides(table, seed=0), sides(table, seed=1)

    assert np.array_equal(first, again)
    # Independent splits disagree on 2 x 0.25 x 0.75 = 37.5% of the rows.
    assert (first != other).mean() == pytest.approx(0.375, abs=0.02)
    assert sides(table, seed=-3).mean() == pytest.approx(0.25, abs=0.02)  # any int is a seed


@pytest.mark.parametrize("test_size", [0.1, 0.25, 0.5])
def test_the_held_out_share_of_10000_rows_is_close_to_test_size(test_size):
    share = sides(customers(10_000), test_size=test_size).mean()

    assert share == pytest.approx(test_size, abs=4 * np.sqrt(test_size * (1 - test_size) / 10_000))


def test_identical_rows_fall_on_the_same_side():
    table = customers(500)
    doubled = pd.concat([table, table], ignore_index=True)

    split = sides(doubled)

    assert np.array_equal(split[:500], split[500:])


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([1, 0, 1]),
        pd.Series([1.0, -0.0, 1.0]),
        pd.Series([True, False, True]),
        pd.Series([1, 0, True], dtype=object),
        pd.Series([1, 0, 1], dtype="Int8"),
        pd.Series([True, False, True], dtype="boolean"),
    ],
    ids=["int", "float", "bool", "object", "nullable-int", "nullable-bool"],
)
def test_1_and_1_0_and_true_digest_the_same(column):
    expected = row_digests(pd.DataFrame({"flag": [1.0, 0.0, 1.0], "name": ["a", "b", "a"]}))

    assert np.array_equal(row_digests(pd.DataFrame({"name": ["a", "b", "a"], "flag": column})), expected)


@pytest.mark.parametrize(
    ("numbers", "words"),
    [
        (pd.Series([2.5, np.nan]), pd.Series(["x", None], dtype=object)),
        (pd.Series([2.5, None], dtype=object), pd.Series(["x", np.nan], dtype=object)),
        (pd.Series([2.5, pd.NA], dtype="Float64"), pd.Series(["x", pd.NA], dtype="string")),
        (pd.Series([2.5, np.nan]), pd.Series(pd.Categorical(["x", None]))),
    ],
    ids=["nan-none", "none-nan", "na-na", "categorical"],
)
def test_a_missing_value_digests_the_same_whatever_its_spelling(numbers, words):
    expected = row_digests(pd.DataFrame({"amount": [2.5, np.nan], "word": pd.Series(["x", None], dtype=object)}))

    assert np.array_equal(row_digests(pd.DataFrame({"amount": numbers, "word": words})), expected)


def test_a_content_digest_covers_every_column_sorted_by_name():
    table = customers(300)

    assert digest_columns(table) == ["age", "churned", "income", "paperless", "plan"]
    assert np.array_equal(row_digests(table[table.columns[::-1]]), row_digests(table))
    assert not np.array_equal(row_digests(table.assign(age=table["age"] + 1)), row_digests(table))
    assert not np.array_equal(row_digests(table.assign(note="x")), row_digests(table))  # a new column: declare a key


def test_a_key_digest_is_the_key_value_alone():
    table = customers(300).assign(id=[f"C{i // 3}" for i in range(300)])  # three rows per customer

    split = sides(table, key="id")

    assert digest_columns(table, "id") == ["id"]
    assert np.array_equal(sides(table.assign(income=0.0), key="id"), split)
    assert np.array_equal(split.reshape(100, 3), np.repeat(split[::3, None], 3, axis=1))  # a customer's rows together
    assert np.array_equal(row_digests(table, "id"), row_digests(pd.DataFrame({"id": table["id"]})))


# --- through training ------------------------------------------------------------------


def test_a_grown_table_holds_out_none_of_the_rows_the_earlier_model_trained_on(factory):
    """The issue's data refresh, 2,000 rows to 2,400 from the same generator."""
    table = customers(2000)
    factory.model("before", SPEC, {"data/train.csv": table.to_csv(index=False)})
    grown = pd.concat([table, customers(400, seed=1)], ignore_index=True)
    factory.model("after", SPEC, {"data/train.csv": grown.to_csv(index=False)})

    before, after = (CacheEntry(api.train(name).entry) for name in ("before", "after"))

    old_train, new_test = before.train_digests(), after.predictions()["digest"].to_numpy()
    assert not np.isin(new_test, old_train).any()
    assert np.isin(old_train, after.train_digests()).all()
    assert np.isin(before.predictions()["digest"], new_test).all()
    rows = after.predictions()["row"]
    assert rows[rows < 2000].tolist() == before.predictions()["row"].tolist()


def test_the_entry_records_the_digests_of_both_sides_and_how_they_were_made(factory):
    table = customers(400)
    factory.model("churn", SPEC, {"data/train.csv": table.to_csv(index=False)})

    result = api.train("churn")

    entry = Cache(factory.project.cache_dir).get(result.fingerprint)
    train_digests, predictions = entry.train_digests(), entry.predictions()
    assert train_digests.dtype == np.uint64 and predictions["digest"].dtype == np.uint64
    assert (len(train_digests), len(predictions)) == (result.rows["train"], result.rows["test"])
    assert not np.isin(predictions["digest"], train_digests).any()
    expected = row_digests(pd.read_csv(factory.root / "models/churn/data/train.csv"))
    held = held_out(expected, 0.25, 7)
    assert np.array_equal(train_digests, expected[~held])
    assert np.array_equal(predictions["digest"], expected[held])
    assert np.array_equal(predictions["row"], np.flatnonzero(held))
    assert entry.lineage()["split"] == {"method": "hash", "key": None,
                                         "columns": ["age", "churned", "income", "paperless", "plan"],
                                         "test_size": 0.25, "seed": 7}


def test_a_key_split_keeps_each_key_on_one_side_and_is_recorded(factory):
    table = customers(600).assign(id=[i // 2 for i in range(600)])  # two rows per customer
    factory.model("churn", SPEC.replace("seed: 7}", "seed: 7, key: id}"), {"data/train.csv": table.to_csv(index=False)})

    dataset = load_dataset(api.load("churn"))
    entry = CacheEntry(api.train("churn").entry)

    held_ids = set(table["id"].iloc[dataset.test_rows])
    train_ids = set(table["id"].drop(index=dataset.test_rows))
    assert held_ids and train_ids and not held_ids & train_ids
    assert np.array_equal(dataset.test_digests, row_digests(table, "id")[dataset.test_rows])
    assert entry.lineage()["split"] == {"method": "hash", "key": "id", "columns": ["id"], "test_size": 0.25,
                                        "seed": 7}
    assert "id" not in dataset.X_train.columns, "an ID identifies a row; by default it is not a feature"
    assert entry.lineage()["data"]["features"] == ["age", "income", "plan", "paperless"]


def test_a_test_path_records_the_digests_of_both_files_over_their_shared_columns(factory):
    train = customers(300).assign(source="crm")
    test = pd.concat([customers(60, seed=1), customers(300).iloc[:5]], ignore_index=True)  # 5 rows of both files
    spec = SPEC.replace("split: {test_size: 0.25, seed: 7}", "test_path: data/test.csv")
    factory.model("churn", spec, {"data/train.csv": train.to_csv(index=False),
                                  "data/test.csv": test.to_csv(index=False)})

    entry = CacheEntry(api.train("churn").entry)

    shared = ["age", "churned", "income", "paperless", "plan"]  # test.csv has no "source"
    assert entry.lineage()["split"] == {"method": "test_path", "key": None, "columns": shared,
                                        "test_size": None, "seed": None}
    digests = entry.predictions()["digest"].to_numpy()
    assert np.array_equal(entry.train_digests(), row_digests(train[shared]))
    assert np.flatnonzero(np.isin(digests, entry.train_digests())).tolist() == [60, 61, 62, 63, 64]


@pytest.mark.parametrize(
    ("written", "warned"),
    [("seed: 7, stratify: true", True), ("seed: 7", False), ("seed: 7, stratify: false", False)],
)
def test_stratify_is_reported_as_no_longer_applying_only_when_the_spec_asks_for_it(factory, written, warned):
    factory.model("churn", SPEC.replace("seed: 7", written), {"data/train.csv": customers(300).to_csv(index=False)})

    result = api.train("churn")

    assert (STRATIFY_IGNORED in result.warnings) is warned
    assert result.warnings.count(STRATIFY_IGNORED) <= 1
