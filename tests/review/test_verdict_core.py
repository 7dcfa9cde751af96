"""The comparison's rules on fixed arrays, without training: slices, eligibility, seed pairs, the rows
compared, and the diffs the comment shows. The journeys' tests (test_pr.py) check the same rules
on real models; these are the fast ones the mutation run of the verdict core relies on."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlship.review import compare
from mlship.review.bootstrap import Predictions, paired_bootstrap
from mlship.review.rows import BASELINE_TRAINED, CANDIDATE_TRAINED, ComparedRows, compared_rows
from mlship.spec import ModelSpec, SliceBy, Spec
from mlship.train.data import Dataset
from mlship.train.split import row_digests

CLASSES = ["no", "yes"]


def spec(slices: list, metrics: list[str] | None = None, **evaluation) -> Spec:
    config = ModelSpec.model_validate({
        "task": "classification",
        "data": {"path": "unused.csv", "target": "y"},
        "model": {"estimator": "sklearn.dummy.DummyClassifier", "params": {"strategy": "prior"}},
        "evaluation": {"metrics": metrics or ["roc_auc", "accuracy"], "slices": slices, "positive_class": "yes",
                       "bootstrap": {"resamples": 200}, **evaluation},
    })
    return Spec("core", Path("."), config, {})


def dataset(y: np.ndarray, table: pd.DataFrame) -> Dataset:
    known = {"y_test": pd.Series(y), "test_rows": np.arange(len(y)), "test_table": table.reset_index(drop=True),
             "X_test": table.reset_index(drop=True), "classes": CLASSES, "positive_class": "yes",
             "test_digests": np.arange(len(y), dtype=np.uint64)}
    return Dataset(**{f.name: known.get(f.name) for f in fields(Dataset)})


def models(y: np.ndarray, seed: int = 0, skill: float = 0.3) -> Predictions:
    rng = np.random.default_rng(seed)
    p = np.clip(0.5 + skill * (y == "yes") - skill / 2 + rng.normal(0, 0.2, len(y)), 0.01, 0.99)
    return Predictions(np.where(p >= 0.5, "yes", "no"), np.column_stack([1 - p, p]))


def truth(n: int, positives: int) -> np.ndarray:
    return np.array(["yes"] * positives + ["no"] * (n - positives))


# --- slices ----------------------------------------------------------------------------------


def test_a_slice_at_exactly_the_minimum_size_is_judged_and_one_row_fewer_is_not():
    y = np.concatenate([truth(30, 15), truth(29, 14)])
    table = pd.DataFrame({"region": ["a"] * 30 + ["b"] * 29})
    found = compare._slices(spec(["region"], min_slice_class_size=1), dataset(y, table),
                            [(models(y, 1), models(y, 2))], seed=0)
    by_value = {s.value: s for s in found}
    assert set(by_value["a"].deltas) == {"roc_auc", "accuracy"} and by_value["a"].unjudged == {}
    assert by_value["b"].deltas == {} and by_value["b"].unjudged == {
        m: "29 rows, fewer than min_slice_size 30" for m in ("roc_auc", "accuracy")}


def test_a_metric_comparing_classes_needs_enough_rows_of_each_class_and_accuracy_does_not():
    y = truth(40, 9)
    table = pd.DataFrame({"region": ["a"] * 40})
    (found,) = compare._slices(spec(["region"]), dataset(y, table), [(models(y, 1), models(y, 2))], seed=0)
    assert set(found.deltas) == {"accuracy"}
    assert found.unjudged == {"roc_auc": "9 rows of class 'yes'; roc_auc needs 10 of each class (min_slice_class_size)"}
    y = truth(40, 10)
    (found,) = compare._slices(spec(["region"]), dataset(y, table), [(models(y, 1), models(y, 2))], seed=0)
    assert set(found.deltas) == {"roc_auc", "accuracy"}


def test_a_slices_deltas_are_the_paired_bootstrap_on_its_own_rows():
    y = np.concatenate([truth(60, 30), truth(60, 20)])
    table = pd.DataFrame({"region": ["a"] * 60 + ["b"] * 60})
    candidate, baseline = models(y, 1), models(y, 2, skill=0.1)
    found = compare._slices(spec(["region"]), dataset(y, table), [(candidate, baseline)], seed=4)
    for s, rows in zip(found, (slice(0, 60), slice(60, 120))):
        expected = paired_bootstrap(["roc_auc", "accuracy"], y[rows], compare._subset(candidate, np.r_[rows]),
                                    compare._subset(baseline, np.r_[rows]), CLASSES, "yes", 200, 0.95, 4)
        assert s.deltas == expected
        assert s.rows == 60 and s.candidate["accuracy"] == pytest.approx(
            np.mean(candidate.y_pred[rows] == y[rows]))


def test_numeric_slices_are_quantile_bins_in_order_of_value_with_missing_values_last():
    ages = pd.Series([float(v) for v in range(40)] + [np.nan] * 3)
    labels, order = compare._slice_labels(ages, SliceBy(column="age"))
    assert order == ["0 to 9.75", "9.75 to 19.5", "19.5 to 29.25", "29.25 to 39", compare.MISSING_VALUE]
    assert labels.iloc[0] == "0 to 9.75" and labels.iloc[39] == "29.25 to 39"
    assert (labels.iloc[40:] == compare.MISSING_VALUE).all()
    assert compare._slice_labels(ages, SliceBy(column="age", bins=2))[1][:2] == ["0 to 19.5", "19.5 to 39"]


def test_a_numeric_column_with_few_values_keeps_one_slice_per_value_sorted_as_numbers():
    labels, order = compare._slice_labels(pd.Series([10, 2, 2, 10, 1]), SliceBy(column="n"))
    assert order == ["1", "2", "10"] and list(labels) == ["10", "2", "2", "10", "1"]
    eleven = pd.Series(range(11))
    assert len(compare._slice_labels(eleven, SliceBy(column="n"))[1]) == compare.DEFAULT_BINS
    ten = pd.Series(range(10))
    assert len(compare._slice_labels(ten, SliceBy(column="n"))[1]) == 10
    _, text = compare._slice_labels(pd.Series(["b", "a", None]), SliceBy(column="s"))
    assert text == ["a", "b", compare.MISSING_VALUE]


def test_r2_is_not_judged_on_a_slice_with_a_constant_target():
    evaluation = spec([]).config.evaluation
    regression = dataset(np.zeros(3), pd.DataFrame({"x": [1, 2, 3]}))
    regression = Dataset(**{**{f.name: getattr(regression, f.name) for f in fields(Dataset)}, "classes": None})
    assert compare._why_unjudged("r2", np.full(30, 2.0), regression, evaluation) == \
        "the target is constant in this slice"
    assert compare._why_unjudged("r2", np.r_[np.full(29, 2.0), 3.0], regression, evaluation) == ""
    assert compare._why_unjudged("rmse", np.full(30, 2.0), regression, evaluation) == ""


# --- seed pairs ------------------------------------------------------------------------------


def test_seed_pairs_widen_the_deltas_by_the_variation_of_the_pairs_deltas():
    y = truth(200, 80)
    data = dataset(y, pd.DataFrame({"r": ["a"] * 200}))
    pairs = [(models(y, 10 + k), models(y, 20 + k)) for k in range(4)]
    plain = paired_bootstrap(["roc_auc"], y, *pairs[0], CLASSES, "yes", 200, 0.95, 0)
    varied = compare._with_seeds(plain, y, pairs, data, 0.95)["roc_auc"]
    per_pair = [compare._point_deltas(["roc_auc"], y, c, b, data)["roc_auc"] for c, b in pairs]
    assert varied.seeds == 4 and varied.seed_sd == pytest.approx(np.std(per_pair, ddof=1))
    assert varied.delta == plain["roc_auc"].delta == pytest.approx(per_pair[0])
    assert compare._with_seeds(plain, y, pairs[:1], data, 0.95) == plain


# --- the rows compared -----------------------------------------------------------------------


def test_rows_either_version_trained_on_are_left_out_and_counted_by_reason():
    table = pd.DataFrame({"id": [1, 2, 3, 4, 5], "x": [0.1, 0.2, 0.3, 0.4, 0.5]})
    digests = row_digests(table, "id")
    split = {"key": "id", "columns": ["id"]}
    rows = compared_rows(table, digests, candidate_trained=digests[[3]], baseline_split=split,
                         baseline_trained=digests[[0, 3]])
    assert rows.mask.tolist() == [False, True, True, False, True]
    assert rows.excluded == {BASELINE_TRAINED: 2}  # row 4 was trained on by both: counted once, for the baseline
    rows = compared_rows(table, digests, candidate_trained=digests[[1]], baseline_split=split,
                         baseline_trained=digests[[0]])
    assert rows.excluded == {BASELINE_TRAINED: 1, CANDIDATE_TRAINED: 1}


def test_rows_cannot_be_compared_when_the_baselines_key_is_gone_or_it_recorded_no_split():
    table = pd.DataFrame({"x": [1, 2]})
    gone = compared_rows(table, np.zeros(2, np.uint64), np.array([], np.uint64), {"key": "id", "columns": ["id"]},
                         np.array([], np.uint64))
    assert gone.mask is None and "its split key 'id'" in gone.unknown
    unrecorded = compared_rows(table, np.zeros(2, np.uint64), np.array([], np.uint64), None, np.array([], np.uint64))
    assert unrecorded.mask is None and unrecorded.unknown == "the baseline did not record which rows it trained on"


def test_rows_the_baseline_can_neither_predict_nor_recorded_are_counted_as_left_out():
    rows = ComparedRows(np.array([True, True, False, True]), None, {BASELINE_TRAINED: 1})
    assert compare._excluded(rows, np.array([True, False, False, True])) == {
        BASELINE_TRAINED: 1, "the baseline cannot predict them and did not hold them out": 1}
    assert compare._excluded(rows, rows.mask) == {BASELINE_TRAINED: 1}


def test_a_model_that_lacks_a_column_it_needs_says_which():
    predicted, why = compare._model_predictions(object(), ["age", "plan"], pd.DataFrame({"age": [1]}))
    assert predicted is None and why == "the baseline needs columns the new data lacks (plan)"


# --- what changed ----------------------------------------------------------------------------


def test_the_params_diff_lists_every_key_that_differs_with_both_values():
    before, after = spec(["region"]), spec(["region"], min_slice_size=50)
    assert compare._params_diff(before, after) == [("evaluation.min_slice_size", 30, 50)]
    assert compare._params_diff(before, before) == []


def test_the_data_diff_names_added_and_removed_columns_and_features():
    old = {"data": {"columns": ["a", "b", "y"], "features": ["a", "b"], "train_rows": 10, "test_rows": 5,
                    "target": "y", "digests": {"d.csv": "1"}}}
    new = {"data": {"columns": ["a", "c", "y"], "features": ["a", "c"], "train_rows": 12, "test_rows": 6,
                    "target": "y", "digests": {"d.csv": "2"}}}
    diff = compare._data_diff(old, new)
    assert diff["columns_added"] == ["c"] and diff["columns_removed"] == ["b"]
    assert diff["features_added"] == ["c"] and diff["features_removed"] == ["b"]
    assert diff["rows"] == {"baseline": {"train": 10, "test": 5}, "candidate": {"train": 12, "test": 6}}
    assert compare._data_diff(None, new)["columns_added"] == [] and compare._data_diff(None, new)["rows"][
        "baseline"] is None


def test_slices_with_seed_pairs_include_the_seed_variation_and_keep_both_versions_metrics():
    y = np.concatenate([truth(60, 30), truth(60, 25)])
    table = pd.DataFrame({"size": np.r_[np.full(60, 1.5), np.full(60, 2.0)]})
    pairs = [(models(y, 10 + k), models(y, 20 + k, skill=0.2)) for k in range(3)]
    found = compare._slices(spec(["size"], ["f1", "roc_auc"]), dataset(y, table), pairs, 0)
    assert [(s.column, s.value, s.rows) for s in found] == [("size", "1.5", 60), ("size", "2", 60)]
    for s, rows in zip(found, (slice(0, 60), slice(60, 120))):
        part = [(compare._subset(c, np.r_[rows]), compare._subset(b, np.r_[rows])) for c, b in pairs]
        per_pair = [compare._point_deltas(["f1"], y[rows], c, b, dataset(y[rows], table[rows]))["f1"]
                    for c, b in part]
        assert s.deltas["f1"].seeds == 3 and s.deltas["f1"].seed_sd == pytest.approx(np.std(per_pair, ddof=1))
        assert s.baseline["f1"] == pytest.approx(s.candidate["f1"] - per_pair[0])


def test_point_deltas_cover_the_metrics_both_versions_have():
    y = truth(40, 20)
    data = dataset(y, pd.DataFrame({"r": ["a"] * 40}))
    with_proba, without = models(y, 1), Predictions(models(y, 2).y_pred)
    found = compare._point_deltas(["accuracy", "roc_auc"], y, with_proba, without, data)
    assert set(found) == {"accuracy"}
    assert found["accuracy"] == pytest.approx(np.mean(with_proba.y_pred == y) - np.mean(without.y_pred == y))


def test_two_seed_pairs_are_enough_to_add_seed_variation():
    y = truth(100, 50)
    data = dataset(y, pd.DataFrame({"r": ["a"] * 100}))
    pairs = [(models(y, 1), models(y, 2)), (models(y, 3), models(y, 4))]
    plain = paired_bootstrap(["roc_auc"], y, *pairs[0], CLASSES, "yes", 200, 0.95, 0)
    varied = compare._with_seeds(plain, y, pairs, data, 0.95)["roc_auc"]
    assert varied.seeds == 2 and varied.se > plain["roc_auc"].se
    assert varied.ci_high - varied.delta == pytest.approx(varied.delta - varied.ci_low)


def test_a_subset_keeps_the_rows_of_the_mask_with_or_without_probabilities():
    regression = Predictions(np.array([1.0, 2.0, 3.0]))
    kept = compare._subset(regression, np.array([True, False, True]))
    assert kept.y_pred.tolist() == [1.0, 3.0] and kept.proba is None
    proba = compare._subset(Predictions(np.array(["a", "b"]), np.array([[0.9, 0.1], [0.2, 0.8]])), np.array([0, 1]) == 1)
    assert proba.proba.tolist() == [[0.2, 0.8]]


def test_slice_values_are_named_and_ordered_whatever_the_column_holds():
    assert compare._slice_labels(pd.Series([2.0, 0.5, 2.0]), SliceBy(column="f"))[1] == ["0.5", "2"]
    assert compare._slice_labels(pd.Series([2_000_000, 1_000_000]), SliceBy(column="n"))[1] == ["1000000", "2000000"]
    assert compare._slice_labels(pd.Series([True, False, True]), SliceBy(column="b", bins=2))[1] == ["False", "True"]
    assert compare._slice_labels(pd.Series(["b", 1, "a"], dtype=object), SliceBy(column="m"))[1] == ["1", "a", "b"]
    skewed = pd.Series([0.0] * 30 + [float(v) for v in range(1, 12)])  # quartile edges repeat: fewer bins
    assert compare._slice_labels(skewed, SliceBy(column="s"))[1] == ["0 to 1", "1 to 11"]


def test_the_baseline_digests_name_every_missing_column():
    table = pd.DataFrame({"x": [1, 2]})
    rows = compared_rows(table, np.zeros(2, np.uint64), np.array([], np.uint64), {"key": None, "columns": ["a", "b"]},
                         np.array([], np.uint64))
    assert rows.unknown == ("the rows the baseline trained on cannot be told apart: the data no longer has "
                            "columns 'a', 'b', which identified its rows")
    one = compared_rows(table, np.zeros(2, np.uint64), np.array([], np.uint64), {"key": None, "columns": ["x", "a"]},
                        np.array([], np.uint64))
    assert one.unknown.endswith("no longer has column 'a', which identified its rows")
    whole = compared_rows(table, np.zeros(2, np.uint64), np.array([], np.uint64), {"key": None, "columns": ["x"]},
                          np.array([], np.uint64))
    assert whole.digests.tolist() == row_digests(table[["x"]], None).tolist() and whole.mask.all()


def test_a_metric_a_seed_pair_cannot_score_leaves_the_delta_as_the_bootstrap_gave_it():
    y = truth(100, 50)
    data = dataset(y, pd.DataFrame({"r": ["a"] * 100}))
    pairs = [(models(y, 1), models(y, 2)), (models(y, 3), Predictions(models(y, 4).y_pred))]  # no proba: no AUC
    plain = paired_bootstrap(["roc_auc", "accuracy"], y, *pairs[0], CLASSES, "yes", 200, 0.95, 0)
    varied = compare._with_seeds(plain, y, pairs, data, 0.95)
    assert varied["roc_auc"] == plain["roc_auc"] and varied["accuracy"].seeds == 2
