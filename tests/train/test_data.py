"""Data: every way a model's data can fail to match its spec is a clear user error.

Each user error is checked through the real CLI: exit code 2, one ``error:`` line on
stderr naming the spec file, the line and the field, never a traceback. The data are
real CSV and Parquet files written into a throwaway project.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from mlship import api
from mlship.train.cache import Cache
from mlship.train.split import held_out, row_digests

SPEC = "models/churn/model.yaml"


# --- helpers -----------------------------------------------------------------------


def customers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small customer table: numeric and categorical features, a yes/no target, a numeric one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.normal(50, 15, n), 2),
        "plan": rng.choice(["basic", "standard", "premium"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    signal = (frame["income"] - 50) / 10 + 1.5 * (frame["plan"] == "premium") - 0.5
    frame["churned"] = np.where(rng.random(n) < 1 / (1 + np.exp(-signal)), "yes", "no")
    frame["spend"] = np.round(20 + 0.8 * frame["income"] + rng.normal(0, 5, n), 2)
    return frame


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet(frame: pd.DataFrame) -> bytes:
    return frame.to_parquet(index=False)


def line_of(spec: str, needle: str) -> int:
    """The 1-based line of the only line of ``spec`` (as the factory writes it) containing ``needle``."""
    lines = textwrap.dedent(spec).lstrip().splitlines()
    found = [number for number, line in enumerate(lines, 1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def assert_user_error(result, spec: str, needle: str, field: str, message: str) -> None:
    """Exit 2 and ``error: <file>:<line>: <field>: <message...>`` on stderr, without a traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    expected = f"error: {SPEC}:{line_of(spec, needle)}: {field}: {message}"
    assert expected in result.stderr, f"expected {expected!r} in stderr:\n{result.stderr}"


CLASSIFIER = """
    task: classification
    data:
      path: data/train.csv
      target: churned
    model:
      estimator: sklearn.linear_model.LogisticRegression
"""


# --- missing files and columns -----------------------------------------------------


@pytest.mark.parametrize("field", ["path", "test_path"])
def test_missing_data_file_names_the_file_and_the_spec_field(factory, run_cli, field):
    spec = f"""
        task: classification
        data:
          path: data/{'absent' if field == 'path' else 'train'}.csv
          test_path: data/{'absent' if field == 'test_path' else 'test'}.csv
          target: churned
        model:
          estimator: sklearn.linear_model.LogisticRegression
    """
    factory.model("churn", spec, {"data/train.csv": csv(customers()), "data/test.csv": csv(customers(50, seed=1))})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "absent.csv", f"data.{field}",
                      "data file models/churn/data/absent.csv does not exist (paths are relative to the model folder)")


def test_missing_target_column_names_the_column_and_suggests_a_near_match(factory, run_cli):
    spec = CLASSIFIER.replace("target: churned", "target: churn")
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "target:", "data.target",
                      "target column 'churn' is not in data/train.csv (did you mean 'churned'?). "
                      "Columns: age, income, plan, region, churned, spend")


def test_missing_target_column_without_a_near_match_lists_the_columns_only(factory, run_cli):
    spec = CLASSIFIER.replace("target: churned", "target: label")
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "target:", "data.target",
                      "target column 'label' is not in data/train.csv. Columns: age, income")
    assert "did you mean" not in result.stderr


@pytest.mark.parametrize("key", ["features", "categorical"])
def test_missing_listed_feature_column_points_at_its_list_item_and_suggests_a_near_match(factory, run_cli, key):
    spec = f"""
        task: classification
        data:
          path: data/train.csv
          target: churned
          {key}:
            - age
            - incme
        model:
          estimator: sklearn.linear_model.LogisticRegression
    """
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "- incme", f"data.{key}[1]",
                      "column 'incme' is not in data/train.csv (did you mean 'income'?)")


def test_feature_column_missing_from_the_test_path_file_names_that_file(factory, run_cli):
    spec = """
        task: classification
        data:
          path: data/train.csv
          test_path: data/test.csv
          target: churned
          features: [age, income, plan]
        model:
          estimator: sklearn.linear_model.LogisticRegression
    """
    factory.model("churn", spec, {
        "data/train.csv": csv(customers()),
        "data/test.csv": csv(customers(60, seed=1).drop(columns=["income"])),
    })

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "features:", "data.features[1]", "column 'income' is not in data/test.csv")


def test_inferred_feature_column_missing_from_the_test_path_file_is_a_user_error(factory, run_cli):
    spec = """
        task: classification
        data:
          path: data/train.csv
          test_path: data/test.csv
          target: churned
        model:
          estimator: sklearn.linear_model.LogisticRegression
    """
    factory.model("churn", spec, {
        "data/train.csv": csv(customers()),
        "data/test.csv": csv(customers(60, seed=1).drop(columns=["income"])),
    })

    result = run_cli("train", "churn")

    assert result.exit_code == 2
    assert "data/test.csv" in result.stderr and "'income'" in result.stderr


def test_missing_slice_column_points_at_the_slice_and_suggests_a_near_match(factory, run_cli):
    spec = textwrap.dedent(CLASSIFIER) + "evaluation:\n  slices: [plan, regoin]\n"
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "slices:", "evaluation.slices[1]",
                      "slice column 'regoin' is not in data/train.csv (did you mean 'region'?)")


def test_listing_the_target_among_the_features_is_a_user_error(factory, run_cli):
    spec = textwrap.dedent(CLASSIFIER).replace("target: churned", "target: churned\n  features: [age, churned]")
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "features:", "data.features[1]", "")
    assert "'churned'" in result.stderr and "target" in result.stderr


# --- empty and unreadable tables ------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("train.csv", b"age,income,plan,churned\n", "data/train.csv has a header but no rows"),
        ("train.csv", b"", "models/churn/data/train.csv is empty: it has no header and no rows"),
        ("train.parquet", parquet(customers().iloc[:0]), "data/train.parquet has a header but no rows"),
        ("train.parquet", b"", "cannot read models/churn/data/train.parquet: "),
        ("train.parquet", b"age,churned\n1,yes\n", "cannot read models/churn/data/train.parquet: "),
    ],
    ids=["csv-header-only", "csv-zero-bytes", "parquet-no-rows", "parquet-zero-bytes", "parquet-not-parquet"],
)
def test_empty_or_unreadable_table_is_a_user_error_at_data_path(factory, run_cli, file, content, message):
    spec = CLASSIFIER.replace("data/train.csv", f"data/{file}")
    factory.model("churn", spec, {f"data/{file}": content})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "path:", "data.path", message)


def parquet_named(frame: pd.DataFrame, second: str) -> bytes:
    """``frame`` as Parquet with its second column renamed ``second`` (pandas refuses to write that; pyarrow does not)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [frame.columns[0], second, *frame.columns[2:]]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays([pa.array(frame[c]) for c in frame.columns], names=names), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("file", ["train.csv", "train.parquet"])
def test_a_column_named_twice_in_the_header_is_refused_naming_it(factory, run_cli, file):
    """pandas would rename the second ``plan`` to ``plan.1`` and train on both."""
    frame = customers()
    frame.insert(1, "plan_copy", frame["plan"])
    content = csv(frame).replace(b"plan_copy", b"plan", 1) if file.endswith(".csv") else parquet_named(frame, "plan")
    factory.model("churn", CLASSIFIER.replace("data/train.csv", f"data/{file}"), {f"data/{file}": content})

    result = run_cli("train", "churn")

    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr == (f"error: models/churn/data/{file}:1: plan: the column 'plan' appears twice in the header "
                             f"of models/churn/data/{file}: rename or remove one\n")


# --- the target ---------------------------------------------------------------------


def test_single_class_target_is_a_user_error_naming_the_class(factory, run_cli):
    frame = customers().assign(churned="no")
    factory.model("churn", CLASSIFIER, {"data/train.csv": csv(frame)})

    result = run_cli("train", "churn")

    assert_user_error(result, CLASSIFIER, "target:", "data.target",
                      "target 'churned' in data/train.csv has a single class ('no'): a classifier needs at least two")


@pytest.mark.parametrize(
    ("blank_rows", "listed"),
    [([4, 16, 41], "(data rows 5, 17, 42)"), ([0, 1, 2, 3, 4, 5, 299], "(data rows 1, 2, 3, 4, 5, ...)")],
    ids=["three-rows", "seven-rows-listed-up-to-five"],
)
def test_missing_values_in_the_target_say_how_many_rows_and_which(factory, run_cli, blank_rows, listed):
    frame = customers()
    frame.loc[blank_rows, "churned"] = None
    factory.model("churn", CLASSIFIER, {"data/train.csv": csv(frame)})

    result = run_cli("train", "churn")

    assert_user_error(result, CLASSIFIER, "target:", "data.target",
                      f"{len(blank_rows)} of 300 rows of data/train.csv have no value in target 'churned' "
                      f"{listed}; drop or fill them")


REGRESSOR = """
    task: regression
    data:
      path: data/train.csv
      target: churned
    model:
      estimator: sklearn.linear_model.Ridge
"""


def test_non_numeric_regression_target_shows_values_and_suggests_classification(factory, run_cli):
    factory.model("churn", REGRESSOR, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, REGRESSOR, "target:", "data.target",
                      "target 'churned' in data/train.csv must be numeric for regression, but holds values like ")
    assert "'yes'" in result.stderr and "'no'" in result.stderr
    assert result.stderr.rstrip().endswith("; for categories, set task: classification")


def boolean_target(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(churned=frame["churned"] == "yes")  # written as True/False


def one_stray_word_after_many_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    target = [f"{20 + 0.5 * i:.1f}" for i in range(len(frame))]  # 300 distinct numbers...
    target[200] = "unknown"                                        # ...and one word, past the 50th
    return frame.assign(churned=target)


@pytest.mark.parametrize(
    ("make_target", "shown"),
    [(boolean_target, "True"), (one_stray_word_after_many_numbers, "'unknown'")],
    ids=["boolean", "stray-word-after-50-numbers"],
)
def test_non_numeric_regression_target_error_shows_the_offending_values(factory, run_cli, make_target, shown):
    factory.model("churn", REGRESSOR, {"data/train.csv": csv(make_target(customers()))})

    result = run_cli("train", "churn")

    assert_user_error(result, REGRESSOR, "target:", "data.target",
                      "target 'churned' in data/train.csv must be numeric for regression, "
                      f"but holds values like {shown}")


# --- positive_class -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ('"maybe"', "'maybe' is not a class of 'churned'. Classes: no, yes"),
        ("yes", "True is not a class of 'churned'. Classes: no, yes "
                "(YAML reads unquoted yes/no/true/false as booleans: quote the value)"),
        ("no", "False is not a class of 'churned'. Classes: no, yes "
               "(YAML reads unquoted yes/no/true/false as booleans: quote the value)"),
    ],
    ids=["not-a-class", "unquoted-yes", "unquoted-no"],
)
def test_positive_class_that_is_not_a_class_lists_the_classes(factory, run_cli, written, message):
    spec = textwrap.dedent(CLASSIFIER) + f"evaluation:\n  positive_class: {written}\n"
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "positive_class:", "evaluation.positive_class", message)
    if written.startswith('"'):
        assert "quote the value" not in result.stderr


def test_quoted_positive_class_is_used_for_binary_metrics(factory, run_cli):
    spec = textwrap.dedent(CLASSIFIER) + 'evaluation:\n  metrics: [recall]\n  positive_class: "no"\n'
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn", "--json")

    assert result.exit_code == 0, result.output
    entry = Cache(factory.project.cache_dir).get(json.loads(result.stdout)[0]["fingerprint"])
    predictions = entry.predictions()
    truly_no = predictions["y_true"] == "no"
    recall_of_no = float((predictions["y_pred"][truly_no] == "no").mean())
    assert entry.metrics()["metrics"]["recall"] == pytest.approx(recall_of_no)


def test_positive_class_on_a_three_class_target_is_a_user_error(factory, run_cli):
    spec = textwrap.dedent(CLASSIFIER).replace("target: churned", "target: plan") + \
        'evaluation:\n  positive_class: "basic"\n'
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "positive_class:", "evaluation.positive_class",
                      "positive_class applies to two-class targets; 'plan' has 3")


# --- the split ------------------------------------------------------------------------

SPLIT_BY = "  split: {test_size: TEST_SIZE, seed: SEED}\n"
SPLIT_REMEDY = "add rows, change test_size (or seed), or give the held-out rows in a file with test_path"


def split_spec(test_size: float, seed: int, key: str = "") -> str:
    split = SPLIT_BY.replace("TEST_SIZE", str(test_size)).replace("SEED", str(seed))
    return textwrap.dedent(CLASSIFIER).replace("  target: churned\n", "  target: churned\n" +
                                               (split.replace("}", f", key: {key}}}") if key else split))


def first_seed(frame: pd.DataFrame, test_size: float, wanted) -> int:
    """The first seed whose split of ``frame`` has the property ``wanted(held_out_mask)``."""
    digests = row_digests(frame)
    return next(seed for seed in range(1000) if wanted(held_out(digests, test_size, seed)))


@pytest.mark.parametrize(
    ("rows", "test_size", "wanted", "side"),
    [(4, 0.05, lambda held: not held.any(), "no held-out rows"),
     (4, 0.95, lambda held: held.all(), "no training rows")],
    ids=["none-held-out", "none-to-train"],
)
def test_a_split_that_leaves_a_side_empty_is_a_user_error_at_data_split(factory, run_cli, rows, test_size, wanted,
                                                                         side):
    frame = customers(rows).assign(churned=["yes", "no"] * (rows // 2))
    seed = first_seed(frame, test_size, wanted)
    spec = split_spec(test_size, seed)
    factory.model("churn", spec, {"data/train.csv": csv(frame)})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "split:", "data.split",
                      f"splitting {rows} rows (test_size {test_size}, seed {seed}) leaves {side}: {SPLIT_REMEDY}")


def test_a_split_that_holds_out_every_row_of_a_class_is_a_user_error_at_data_split(factory, run_cli):
    frame = customers(40)
    frame.loc[7, "churned"] = "maybe"  # one row of a third class
    seed = first_seed(frame, 0.25, lambda held: held[7])
    spec = split_spec(0.25, seed)
    factory.model("churn", spec, {"data/train.csv": csv(frame)})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "split:", "data.split",
                      f"splitting 40 rows (test_size 0.25, seed {seed}) puts every row of class 'maybe' of "
                      f"'churned' in the held-out rows, so training never sees it: {SPLIT_REMEDY}")


def test_a_key_column_that_is_not_in_the_data_is_a_user_error_at_split_key(factory, run_cli):
    spec = split_spec(0.25, 0, key="customer")
    factory.model("churn", spec, {"data/train.csv": csv(customers().assign(customer_id=range(300)))})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "split:", "data.split.key",
                      "key column 'customer' is not in data/train.csv (did you mean 'customer_id'?). "
                      "Columns: age, income, plan, region, churned, spend, customer_id")


def test_a_key_column_with_missing_values_is_a_user_error_at_split_key(factory, run_cli):
    frame = customers().assign(customer_id=[f"C{i}" for i in range(300)])
    frame.loc[[3, 250], "customer_id"] = None
    spec = split_spec(0.25, 0, key="customer_id")
    factory.model("churn", spec, {"data/train.csv": csv(frame)})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "split:", "data.split.key",
                      "2 of 300 rows of data/train.csv have no value in key 'customer_id' (data rows 4, 251): "
                      "the key decides each row's side of the split; fill them or declare another key")


def test_a_key_column_missing_from_the_test_path_file_names_that_file(factory, run_cli):
    spec = split_spec(0.25, 0, key="customer_id").replace(
        "  split:", "  test_path: data/test.csv\n  features: [age, income, plan, region]\n  split:")
    factory.model("churn", spec, {"data/train.csv": csv(customers().assign(customer_id=range(300))),
                                  "data/test.csv": csv(customers(60, seed=1))})

    result = run_cli("train", "churn")

    assert_user_error(result, spec, "split:", "data.split.key", "key column 'customer_id' is not in data/test.csv")


def test_duplicate_keys_are_allowed_and_share_a_side(factory):
    frame = customers().assign(customer_id=[i // 4 for i in range(300)])
    factory.model("churn", split_spec(0.25, 0, key="customer_id"), {"data/train.csv": csv(frame)})

    result = api.train("churn")

    held = Cache(factory.project.cache_dir).get(result.fingerprint).predictions()["row"]
    assert set(frame["customer_id"].iloc[held]).isdisjoint(frame["customer_id"].drop(index=held))


# --- sources: Parquet, test_path, bundled datasets -------------------------------------


def test_parquet_and_csv_of_the_same_table_give_the_same_metrics(factory):
    frame = customers()
    factory.model("from-csv", CLASSIFIER, {"data/train.csv": csv(frame)})
    factory.model("from-parquet", CLASSIFIER.replace("train.csv", "train.parquet"),
                  {"data/train.parquet": parquet(frame)})

    from_csv, from_parquet = api.train("from-csv"), api.train("from-parquet")

    assert from_parquet.fingerprint != from_csv.fingerprint  # different bytes, different file
    assert from_parquet.rows == from_csv.rows == {"train": 218, "test": 82}
    assert set(from_csv.metrics) == {"roc_auc", "accuracy", "f1"}
    assert from_parquet.metrics == pytest.approx(from_csv.metrics, rel=1e-12, abs=0)
    cache = Cache(factory.project.cache_dir)
    pd.testing.assert_frame_equal(cache.get(from_csv.fingerprint).predictions(),
                                  cache.get(from_parquet.fingerprint).predictions())


def test_test_path_file_is_the_held_out_set_instead_of_a_split(factory):
    train, test = customers(300, seed=0), customers(80, seed=1)
    spec = """
        task: classification
        data:
          path: data/train.csv
          test_path: data/test.parquet
          target: churned
          split: {test_size: 0.5}
        model:
          estimator: sklearn.linear_model.LogisticRegression
    """
    factory.model("churn", spec, {"data/train.csv": csv(train), "data/test.parquet": parquet(test)})

    result = api.train("churn")

    assert result.rows == {"train": 300, "test": 80}  # all of path trains; test_size is not applied
    predictions = Cache(factory.project.cache_dir).get(result.fingerprint).predictions()
    assert predictions["row"].tolist() == list(range(80))
    assert predictions["y_true"].tolist() == test["churned"].tolist()
    lineage = Cache(factory.project.cache_dir).get(result.fingerprint).lineage()
    assert set(lineage["data"]["digests"]) == {"data/train.csv", "data/test.parquet"}


@pytest.mark.parametrize(
    ("dataset", "task", "estimator", "rows", "held_out", "features", "classes"),
    [
        ("breast_cancer", "classification", "sklearn.tree.DecisionTreeClassifier", 569, 139, 30, 2),
        ("iris", "classification", "sklearn.tree.DecisionTreeClassifier", 150, 43, 4, 3),
        ("wine", "classification", "sklearn.tree.DecisionTreeClassifier", 178, 32, 13, 3),
        ("digits", "classification", "sklearn.tree.DecisionTreeClassifier", 1797, 453, 64, 10),
        ("diabetes", "regression", "sklearn.linear_model.Ridge", 442, 134, 10, None),
    ],
)
def test_each_bundled_sklearn_dataset_loads_and_trains(factory, dataset, task, estimator, rows, held_out, features,
                                                       classes):
    factory.model("bundled", f"""
        task: {task}
        data:
          sklearn: {dataset}
          split: {{test_size: 0.25, seed: 3}}
        model:
          estimator: {estimator}
    """)

    result = api.train("bundled")

    assert result.rows == {"train": rows - held_out, "test": held_out}  # about test_size: 0.25, row by row
    assert not result.unavailable
    entry = Cache(factory.project.cache_dir).get(result.fingerprint)
    lineage = entry.lineage()
    assert len(lineage["data"]["features"]) == features
    assert "target" not in lineage["data"]["features"]
    assert lineage["data"]["digests"] == {f"sklearn:{dataset}": "bundled with scikit-learn"}
    if classes is None:
        assert set(result.metrics) == {"rmse", "mae", "r2"}
        assert result.metrics["r2"] > 0.2
    else:
        assert set(result.metrics) == {"roc_auc", "accuracy", "f1"}
        assert result.metrics["accuracy"] > 0.6
        assert len([c for c in entry.predictions().columns if c.startswith("proba:")]) == classes


@pytest.mark.parametrize(
    ("dataset", "task", "message"),
    [
        ("diabetes", "classification", "'diabetes' is a regression dataset but task is classification"),
        ("iris", "regression", "'iris' is a classification dataset but task is regression"),
    ],
)
def test_bundled_dataset_of_the_other_task_is_a_spec_error(factory, run_cli, dataset, task, message):
    spec = f"""
        task: {task}
        data:
          sklearn: {dataset}
        model:
          estimator: sklearn.dummy.DummyRegressor
    """
    factory.model("churn", spec)

    for command in ("validate", "train"):
        result = run_cli(command, "churn")
        assert_user_error(result, spec, "sklearn:", "data.sklearn", message)
