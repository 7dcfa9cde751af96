"""Change gates: each drop tested against its bound, all of a model's tests as one family, failing closed."""

from __future__ import annotations

import math

import pytest

from mlship.review.bootstrap import Delta
from mlship.review.gates import SliceResult, check_absolute, check_changes, drop_of
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
    assert failed.message.startswith("roc_auc dropped by 0.05, significantly more than 0.01 (adjusted p = ")
    assert [t.failed for t in tests] == [True]
    (passed,), _ = check_changes(gates, {"roc_auc": delta(-0.005)}, {"roc_auc": 0.9}, [], True, 0.95)
    assert passed.passed is True and passed.message == "roc_auc changed by -0.005, within max_drop 0.01"


def test_a_drop_beyond_the_bound_within_its_noise_passes_and_says_so():
    (result,), _ = check_changes({"roc_auc": Gate(max_drop=0.01)}, {"roc_auc": delta(-0.02)}, {"roc_auc": 0.9},
                                 [], True, 0.95)
    assert result.passed is True
    assert result.message.startswith("roc_auc dropped by 0.02, more than 0.01 but not significantly (adjusted p = ")


def test_the_stated_confidence_sets_the_level():
    gates, deltas = {"roc_auc": Gate(max_drop=0.01)}, {"roc_auc": delta(-0.03)}  # z = 2, one-sided p = 0.023
    assert check_changes(gates, deltas, {"roc_auc": 0.9}, [], True, 0.95)[0][0].passed is False
    assert check_changes(gates, deltas, {"roc_auc": 0.9}, [], True, 0.99)[0][0].passed is True


def test_a_relative_bound_is_a_share_of_the_baseline_and_a_zero_baseline_allows_no_drop():
    gates = {"rmse": Gate(max_relative_drop=0.05)}
    (result,), _ = check_changes(gates, {"rmse": delta(8.0, se=1.0)}, {"rmse": 100.0}, [], True, 0.95)
    assert result.passed is False and result.message.startswith("rmse dropped by 8.00%, significantly more than 5.00%")
    (result,), _ = check_changes(gates, {"rmse": delta(4.0, se=1.0)}, {"rmse": 100.0}, [], True, 0.95)
    assert result.passed is True
    (result,), _ = check_changes(gates, {"rmse": delta(0.1, se=0.01)}, {"rmse": 0.0}, [], True, 0.95)
    assert result.passed is False and "dropped by inf%" in result.message


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
        assert gate.message.startswith(f"{metric} dropped significantly by more than 0.05 in region=north (dropped by")
    assert results["accuracy", "max_drop 0.5"].passed is True


def test_all_change_tests_of_a_model_share_one_error_budget():
    """Each test alone would fail (one-sided p ≈ 0.02); as one of eight, none does."""
    gates = {"roc_auc": Gate(max_drop=0.01, slice_max_drop=0.01)}
    slices = [part(f"r{i}", {"roc_auc": delta(-0.0305)}) for i in range(7)]
    results, tests = check_changes(gates, {"roc_auc": delta(-0.0305)}, {"roc_auc": 0.9}, slices, True, 0.95)
    assert len(tests) == 8 and all(t.p_value < 0.05 for t in tests)
    assert all(g.passed for g in results) and not any(t.failed for t in tests)
    assert all(t.adjusted_p == pytest.approx(min(1, 8 * tests[0].p_value)) for t in tests)
    assert results[1].message == "no slice's roc_auc dropped significantly by more than 0.01 (7 slices judged)"


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
