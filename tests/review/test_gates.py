"""Change gates: each drop tested against its bound, all of a model's tests as one family, failing closed."""

from __future__ import annotations

import math

import pytest

from mlship.review.bootstrap import Delta
from mlship.review.gates import GateResult, SliceResult, check_absolute, check_changes, drop_of
from mlship.spec import Gate


def delta(value: float, se: float = 0.01, discordant: tuple[int, int, int] | None = None) -> Delta:
    return Delta(value, value - 1.96 * se, value + 1.96 * se, False, "unchanged", se, math.nan, discordant)


def part(value: str, deltas: dict[str, Delta]) -> SliceResult:
    return SliceResult("region", value, 100, {}, {}, deltas)


def by_rule(results):
    return {(g.metric, g.rule): g for g in results}


def test_a_drop_is_measured_in_the_metrics_bad_direction():
    assert drop_of("roc_auc", -0.02) == 0.02 and drop_of("rmse", 3.0) == 3.0
    assert drop_of("mae", -1.0) == -1.0 and drop_of("mape", 0.1) == 0.1 and drop_of("r2", 0.1) == -0.1
    assert drop_of("log_loss", 0.2) == 0.2 and drop_of("accuracy", 0.05) == -0.05


def test_a_drop_significantly_beyond_the_bound_fails_and_one_inside_it_passes():
    gates = {"roc_auc": Gate(max_drop=0.01)}
    (failed,), tests = check_changes(gates, {"roc_auc": delta(-0.05)}, {"roc_auc": 0.9}, [], True, 0.95)
    assert failed.passed is False and failed.p_value == pytest.approx(1 - 0.9999683, abs=1e-6)
    assert failed.message.startswith("roc_auc worse by 0.05 (roc_auc fell), significantly more than the 0.01 allowed "
                                      "(adjusted p = ")
    assert [t.failed for t in tests] == [True]
    (passed,), _ = check_changes(gates, {"roc_auc": delta(-0.005)}, {"roc_auc": 0.9}, [], True, 0.95)
    assert passed.passed is True and passed.message == "roc_auc worse by 0.005 (roc_auc fell), within max_drop 0.01"


def test_a_change_says_better_or_worse_and_which_way_the_metric_moved():
    def message(metric: str, change: float) -> str:
        return check_changes({metric: Gate(max_drop=1.0)}, {metric: delta(change)}, {metric: 0.5}, [], True,
                             0.95)[0][0].message

    assert message("roc_auc", 0.02) == "roc_auc better by 0.02 (roc_auc rose), within max_drop 1"
    assert message("rmse", -0.02) == "rmse better by 0.02 (rmse fell), within max_drop 1"
    assert message("rmse", 0.0213333) == "rmse worse by 0.0213 (rmse rose), within max_drop 1"
    assert message("mae", 0.0) == "mae unchanged, within max_drop 1"
    assert message("mae", -2.133e-05) == "mae better by 0.00002 (mae fell), within max_drop 1"


def test_a_drop_beyond_the_bound_within_its_noise_passes_and_says_so():
    (result,), _ = check_changes({"roc_auc": Gate(max_drop=0.01)}, {"roc_auc": delta(-0.02)}, {"roc_auc": 0.9},
                                 [], True, 0.95)
    assert result.passed is True
    assert result.message.startswith("roc_auc worse by 0.02 (roc_auc fell), more than the 0.01 allowed but not "
                                     "significantly (adjusted p = ")


def test_the_stated_confidence_sets_the_level():
    gates, deltas = {"roc_auc": Gate(max_drop=0.01)}, {"roc_auc": delta(-0.03)}  # z = 2, one-sided p = 0.023
    assert check_changes(gates, deltas, {"roc_auc": 0.9}, [], True, 0.95)[0][0].passed is False
    assert check_changes(gates, deltas, {"roc_auc": 0.9}, [], True, 0.99)[0][0].passed is True


def test_a_relative_bound_is_a_share_of_the_baseline_and_a_zero_baseline_allows_no_drop():
    gates = {"rmse": Gate(max_relative_drop=0.05)}
    (result,), _ = check_changes(gates, {"rmse": delta(8.0, se=1.0)}, {"rmse": 100.0}, [], True, 0.95)
    assert result.passed is False and result.message.startswith("rmse worse by 8.00% (rmse rose), significantly more "
                                                                "than the 5.00% allowed")
    (result,), _ = check_changes(gates, {"rmse": delta(4.0, se=1.0)}, {"rmse": 100.0}, [], True, 0.95)
    assert result.passed is True
    (result,), _ = check_changes(gates, {"rmse": delta(0.1, se=0.01)}, {"rmse": 0.0}, [], True, 0.95)
    assert result.passed is False and "worse by inf% (rmse rose)" in result.message


def test_a_gated_metric_without_a_usable_delta_fails_closed():
    gates = {"roc_auc": Gate(max_drop=0.01), "r2": Gate(max_drop=0.1)}
    results = by_rule(check_changes(gates, {"r2": delta(math.nan)}, {"r2": 0.5}, [], True, 0.95)[0])
    for key in (("roc_auc", "max_drop 0.01"), ("r2", "max_drop 0.1")):
        assert results[key].passed is False
        assert results[key].message.endswith("was not computed for both versions, so its change gate fails")


def test_without_a_baseline_change_gates_are_not_applied():
    gates = {"roc_auc": Gate(max_drop=0.01, max_relative_drop=0.1, slice_max_drop=0.05)}
    results, tests = check_changes(gates, {}, None, [], False, 0.95)
    assert tests == [] and all(g.passed for g in results) and len(results) == 3
    assert results[0].message == "not applied: no baseline to compare roc_auc with"
    assert results[2].message == "not applied: no slice was compared with a baseline on the same rows"


def test_every_metrics_slice_gate_is_checked_whatever_the_gates_before_it():
    gates = {"accuracy": Gate(max_drop=0.5), "roc_auc": Gate(slice_max_drop=0.05), "f1": Gate(slice_max_drop=0.05)}
    slices = [part("north", {"roc_auc": delta(-0.3), "f1": delta(-0.3), "accuracy": delta(0.0)}),
              part("south", {"roc_auc": delta(0.0), "f1": delta(0.0)})]
    results = by_rule(check_changes(gates, {"accuracy": delta(0.0)}, {"accuracy": 0.8}, slices, True, 0.95)[0])
    for metric in ("roc_auc", "f1"):
        gate = results[metric, "slice_max_drop 0.05"]
        assert gate.passed is False
        assert gate.message.startswith(f"{metric} significantly worse by more than 0.05 in region=north (worse by")
    assert results["accuracy", "max_drop 0.5"].passed is True


def test_all_change_tests_of_a_model_share_one_error_budget():
    """Each test alone would fail (one-sided p ≈ 0.02); as one of eight, none does."""
    gates = {"roc_auc": Gate(max_drop=0.01, slice_max_drop=0.01)}
    slices = [part(f"r{i}", {"roc_auc": delta(-0.0305)}) for i in range(7)]
    results, tests = check_changes(gates, {"roc_auc": delta(-0.0305)}, {"roc_auc": 0.9}, slices, True, 0.95)
    assert len(tests) == 8 and all(t.p_value < 0.05 for t in tests)
    assert all(g.passed for g in results) and not any(t.failed for t in tests)
    assert all(t.adjusted_p == pytest.approx(min(1, 8 * tests[0].p_value)) for t in tests)
    assert results[1].message == "no slice's roc_auc was significantly worse by more than 0.01 (7 slices judged)"


def test_a_gated_metric_whose_spread_is_undefined_fails_closed_and_such_a_slice_is_not_tested():
    undefined = Delta(-0.02, math.nan, math.nan, False, "unchanged")  # a resample where the metric is undefined
    gates = {"roc_auc": Gate(max_drop=0.01, slice_max_drop=0.05)}
    results, tests = check_changes(gates, {"roc_auc": undefined}, {"roc_auc": 0.9},
                                   [part("north", {"roc_auc": undefined})], True, 0.95)
    assert tests == []
    assert [(g.rule, g.passed) for g in results] == [("max_drop 0.01", False), ("slice_max_drop 0.05", True)]


def test_slices_without_a_delta_for_the_metric_are_not_tested():
    gates = {"roc_auc": Gate(slice_max_drop=0.05)}
    slices = [part("north", {}), part("south", {"roc_auc": delta(math.nan)}), part("east", {"roc_auc": delta(0.0)})]
    (result,), tests = check_changes(gates, {}, {"roc_auc": 0.9}, slices, True, 0.95)
    assert [t.where for t in tests] == ["region=east"] and result.passed is True


def test_accuracy_with_discordant_counts_is_tested_exactly():
    """5 rows lost, none won, of 1,000: a drop of 0.005 against a bound of 0.001. The normal approximation
    with this standard error would fail it (z = 2); given 5 discordant rows, a true drop of 0.001 makes
    each one the baseline's with probability 0.6, and all five so with probability 0.6⁵ = 0.078."""
    gates = {"accuracy": Gate(max_drop=0.001)}
    (result,), (test,) = check_changes(gates, {"accuracy": delta(-0.005, se=0.002, discordant=(0, 5, 1000))},
                                       {"accuracy": 0.9}, [], True, 0.95)
    assert test.p_value == pytest.approx(0.6 ** 5, rel=1e-9)
    assert result.passed is True


def test_absolute_gates_fail_closed_on_a_metric_that_was_not_computed():
    results = check_absolute({"roc_auc": Gate(min=0.8)}, {}, {"roc_auc": "the estimator has no predict_proba"})
    assert [(g.passed, g.message) for g in results] == [
        (False, "roc_auc could not be computed (the estimator has no predict_proba), so its gate fails")]


# --- every word of the verdict, pinned ---------------------------------------------------------


def test_absolute_gates_check_both_bounds_of_every_metric_and_say_how_they_compare():
    gates = {"rmse": Gate(min=1.0, max=3.0), "mae": Gate(max=2.0), "r2": Gate(min=0.5)}
    assert check_absolute(gates, {"rmse": 3.5, "mae": 2.0, "r2": 0.4}, {}) == [
        GateResult("rmse", "min 1", True, "rmse 3.5 >= min 1"),
        GateResult("rmse", "max 3", False, "rmse 3.5 > max 3"),
        GateResult("mae", "max 2", True, "mae 2 <= max 2"),
        GateResult("r2", "min 0.5", False, "r2 0.4 < min 0.5"),
    ]
    assert [g.passed for g in check_absolute({"rmse": Gate(min=1.0, max=3.0)}, {"rmse": 0.5}, {})] == [False, True]


def test_an_absolute_gate_on_a_metric_not_computed_fails_closed_with_the_reason():
    gates = {"roc_auc": Gate(min=0.7, max=0.99), "f1": Gate(min=0.5)}
    assert check_absolute(gates, {}, {"roc_auc": "the estimator has no predict_proba"}) == [
        GateResult("roc_auc", "min 0.7", False,
                   "roc_auc could not be computed (the estimator has no predict_proba), so its gate fails"),
        GateResult("roc_auc", "max 0.99", False,
                   "roc_auc could not be computed (the estimator has no predict_proba), so its gate fails"),
        GateResult("f1", "min 0.5", False, "f1 could not be computed (not computed), so its gate fails"),
    ]


def test_a_change_gates_messages_give_the_drop_the_bound_and_the_evidence():
    gates = {"roc_auc": Gate(max_drop=0.01), "rmse": Gate(max_relative_drop=0.05)}
    deltas = {"roc_auc": Delta(-0.05, -0.0696, -0.0304, True, "worse", 0.01, 0.0),
              "rmse": Delta(4.0, 2.04, 5.96, True, "worse", 1.0, 0.0)}
    results, tests = check_changes(gates, deltas, {"roc_auc": 0.9, "rmse": 100.0}, [], True, 0.95)
    auc_p, rmse_p = (t.adjusted_p for t in tests)
    assert results == [
        GateResult("roc_auc", "max_drop 0.01", False, f"roc_auc worse by 0.05 (roc_auc fell), significantly more than "
                   f"the 0.01 allowed (adjusted p = {auc_p:.2g}, CI [−0.0696, −0.0304])", auc_p),
        GateResult("rmse", "max_relative_drop 0.05", True, "rmse worse by 4.00% (rmse rose), within max_relative_drop "
                   "5.00%", rmse_p),
    ]
    assert [(t.metric, t.rule, t.bound, t.where, t.failed) for t in tests] == [
        ("roc_auc", "max_drop", 0.01, "", True), ("rmse", "max_relative_drop", 0.05, "", False)]
    assert tests[1].drop == pytest.approx(0.04) and tests[0].drop == pytest.approx(0.05)


def test_a_slice_gate_names_each_failing_slice_with_its_drop_and_adjusted_p():
    gates = {"roc_auc": Gate(slice_max_drop=0.05)}
    slices = [part("north", {"roc_auc": delta(-0.3, se=0.02)}), part("south", {"roc_auc": delta(0.01)}),
              part("east", {"roc_auc": delta(-0.25, se=0.02)})]
    (result,), tests = check_changes(gates, {}, {"roc_auc": 0.9}, slices, True, 0.95)
    north, east = (t.adjusted_p for t in tests if t.where != "region=south")
    assert result == GateResult(
        "roc_auc", "slice_max_drop 0.05", False,
        f"roc_auc significantly worse by more than 0.05 in region=north (worse by 0.3, adjusted p = {north:.2g}), "
        f"region=east (worse by 0.25, adjusted p = {east:.2g})", min(t.adjusted_p for t in tests))
    (calm,), tests = check_changes(gates, {}, {"roc_auc": 0.9}, slices[1:2], True, 0.95)
    assert calm == GateResult("roc_auc", "slice_max_drop 0.05", True,
                              "no slice's roc_auc was significantly worse by more than 0.05 (1 slice judged)",
                              tests[0].adjusted_p)
    (none,), _ = check_changes(gates, {}, {"roc_auc": 0.9}, [], True, 0.95)
    assert none == GateResult("roc_auc", "slice_max_drop 0.05", True,
                              "no slice's roc_auc was significantly worse by more than 0.05 (0 slices judged)", None)


def test_change_gates_without_a_baseline_or_a_delta_say_so_in_full():
    gates = {"roc_auc": Gate(max_drop=0.01, slice_max_drop=0.05)}
    assert check_changes(gates, {}, None, [], False, 0.95) == ([
        GateResult("roc_auc", "max_drop 0.01", True, "not applied: no baseline to compare roc_auc with"),
        GateResult("roc_auc", "slice_max_drop 0.05", True,
                   "not applied: no slice was compared with a baseline on the same rows"),
    ], [])
    results, tests = check_changes({"f1": Gate(max_relative_drop=0.1)}, {}, {"f1": 0.5}, [], True, 0.95)
    assert results == [GateResult("f1", "max_relative_drop 0.1", False,
                                  "f1 was not computed for both versions, so its change gate fails")] and tests == []


def test_a_test_at_exactly_the_level_does_not_fail():
    # A drop exactly at its bound has p = ½; at 50% confidence the level is ½ too, and p < level is false.
    (result,), (test,) = check_changes({"roc_auc": Gate(max_drop=0.01)}, {"roc_auc": delta(-0.01)},
                                       {"roc_auc": 0.9}, [], True, 0.5)
    assert test.adjusted_p == 0.5 and test.where == "" and test.failed is False and result.passed


def test_students_t_decides_when_the_delta_carries_degrees_of_freedom():
    few = Delta(-0.03, -0.1, 0.04, False, "unchanged", 0.01, 0.5, None, 3, 0.02, 3.0)
    (_,), (test,) = check_changes({"roc_auc": Gate(max_drop=0.0)}, {"roc_auc": few}, {"roc_auc": 0.9}, [], True, 0.95)
    from scipy import stats

    assert test.p_value == pytest.approx(stats.t.sf(3.0, 3.0))


def test_a_relative_drop_against_a_zero_baseline_is_shown_as_infinite_or_none():
    gates = {"rmse": Gate(max_relative_drop=0.1)}
    (worse,), (test,) = check_changes(gates, {"rmse": delta(0.5, se=0.1)}, {"rmse": 0.0}, [], True, 0.95)
    assert test.drop == math.inf and not worse.passed
    (better,), (test,) = check_changes(gates, {"rmse": delta(-0.5, se=0.1)}, {"rmse": 0.0}, [], True, 0.95)
    assert test.drop == 0.0 and better.passed
    (same,), (test,) = check_changes(gates, {"rmse": delta(0.0, se=0.1)}, {"rmse": 0.0}, [], True, 0.95)
    assert test.drop == 0.0 and same.passed
