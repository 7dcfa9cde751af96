"""Gates: the bounds a model's metrics must meet for it to pass.

Absolute gates (``min``, ``max``) compare a metric with a number. Change gates
(``max_drop``, ``max_relative_drop``, ``slice_max_drop``) compare the candidate with the
baseline: each is a one-sided test of the drop against its bound, and all of one model's
change tests share one error budget (see :mod:`mlship.review.significance`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from mlship.metrics import CATALOGUE
from mlship.numbers import number, together
from mlship.review.significance import accuracy_drop_beyond_p, drop_beyond_p, holm
from mlship.spec import Gate, Spec
from mlship.train.trainer import Trained

if TYPE_CHECKING:
    from mlship.review.bootstrap import Delta


@dataclass(frozen=True)
class SliceResult:
    """A slice of the compared rows (one value, or one bin, of a slice column): both versions'
    metrics, the deltas of the metrics it can judge, and why it cannot judge the others."""

    column: str
    value: str
    rows: int
    candidate: dict[str, float]
    baseline: dict[str, float]
    deltas: dict[str, Delta]
    #: Metric → why this slice cannot judge it (too few rows, or too few of a class); never gated.
    unjudged: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``column=value``: how a change test names the slice it judged."""
        return f"{self.column}={self.value}"


@dataclass(frozen=True)
class GateResult:
    metric: str
    rule: str
    passed: bool
    message: str
    #: A change gate's Holm-adjusted p-value (the smallest over its slices for ``slice_max_drop``).
    p_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainResult(Trained):
    """A trained model and the verdict of its absolute gates (what ``mlship train`` reports)."""

    gates: list[GateResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "passed": self.passed,
            "fingerprint": self.fingerprint,
            "cache_hit": self.cache_hit,
            "primary_metric": self.primary_metric,
            "metrics": self.metrics,
            "unavailable": self.unavailable,
            "rows": self.rows,
            "seed_metrics": self.seed_metrics,
            "performance": self.performance,
            "gates": [gate.to_dict() for gate in self.gates],
            "warnings": self.warnings,
            "features": self.features,
            "cache_entry": str(self.entry) if self.entry else None,
        }


def judge_trained(spec: Spec, trained: Trained) -> TrainResult:
    """``trained`` with the verdict of the spec's absolute gates."""
    gates = check_absolute(spec.config.gates, trained.metrics, trained.unavailable)
    return TrainResult(**{f.name: getattr(trained, f.name) for f in fields(Trained)}, gates=gates)


def check_absolute(gates: dict[str, Gate], metrics: dict[str, float],
                   unavailable: dict[str, str]) -> list[GateResult]:
    """Check ``min``/``max`` bounds. A gated metric that was not computed fails closed."""
    results = []
    for metric, gate in gates.items():
        for rule, bound in (("min", gate.min), ("max", gate.max)):
            if bound is None:
                continue
            if metric not in metrics:
                reason = unavailable.get(metric, "not computed")
                results.append(GateResult(metric, f"{rule} {bound:g}", False,
                                          f"{metric} could not be computed ({reason}), so its gate fails"))
                continue
            value = metrics[metric]
            passed = value >= bound if rule == "min" else value <= bound
            relation = (">=" if passed else "<") if rule == "min" else ("<=" if passed else ">")
            results.append(GateResult(metric, f"{rule} {bound:g}", passed,
                                      f"{metric} {value:.4g} {relation} {rule} {bound:g}"))
    return results


@dataclass(frozen=True)
class ChangeTest:
    """One test of a change gate: did ``metric`` drop by more than the bound (globally, or in one slice)?"""

    metric: str
    rule: str
    bound: float
    #: "" for the whole of the compared rows, else the slice ("region=north").
    where: str
    #: The observed drop, in the rule's units (a share of the baseline for ``max_relative_drop``).
    drop: float
    delta: Delta
    p_value: float
    #: Holm-adjusted over all change tests of the model.
    adjusted_p: float = math.nan
    failed: bool = False


def check_changes(gates: dict[str, Gate], deltas: dict[str, Delta], baseline: dict[str, float] | None,
                  slices: list[SliceResult], slices_compared: bool,
                  confidence: float) -> tuple[list[GateResult], list[ChangeTest]]:
    """Check every change gate of one model as one family of tests; return the gates' results and the tests.

    ``baseline`` is None for a model without a baseline: its change gates are not applied,
    and say so. ``slices_compared`` is False when no slice was compared on the same rows.
    A gated metric without a usable delta fails closed. Each test fails when its
    Holm-adjusted p-value is below ``1 − confidence``.
    """
    results: list[GateResult] = []
    tests: list[ChangeTest] = []
    for metric, gate in gates.items():
        for rule in ("max_drop", "max_relative_drop"):
            bound = getattr(gate, rule)
            if bound is None:
                continue
            delta = deltas.get(metric)
            test = _test(metric, rule, bound, "", delta, baseline[metric]) if (
                baseline is not None and delta is not None and metric in baseline) else None
            if baseline is None:
                results.append(GateResult(metric, f"{rule} {bound:g}", True,
                                          f"not applied: no baseline to compare {metric} with"))
            elif test is None or math.isnan(test.p_value):
                results.append(GateResult(metric, f"{rule} {bound:g}", False,
                                          f"{metric} was not computed for both versions, so its change gate fails"))
            else:
                tests.append(test)
        if gate.slice_max_drop is not None and baseline is not None and slices_compared:
            judged = [_test(metric, "slice_max_drop", gate.slice_max_drop, s.name, s.deltas[metric])
                      for s in slices if metric in s.deltas]
            tests += [test for test in judged if not math.isnan(test.p_value)]
        elif gate.slice_max_drop is not None:
            results.append(GateResult(metric, f"slice_max_drop {gate.slice_max_drop:g}", True,
                                      "not applied: no slice was compared with a baseline on the same rows"))
    alpha = 1 - confidence
    tests = [replace(test, adjusted_p=p_value, failed=p_value < alpha)
             for test, p_value in zip(tests, holm([test.p_value for test in tests]))]
    by_gate: dict[tuple[str, str], list[ChangeTest]] = defaultdict(list)
    for test in tests:
        by_gate[test.metric, test.rule].append(test)
    for metric, gate in gates.items():
        for rule in ("max_drop", "max_relative_drop"):
            if (metric, rule) in by_gate:
                (test,) = by_gate[metric, rule]
                results.append(_change_result(test))
        if gate.slice_max_drop is not None and baseline is not None and slices_compared:
            results.append(_slice_result(metric, gate.slice_max_drop, by_gate.get((metric, "slice_max_drop"), [])))
    return results, tests


def drop_of(metric: str, delta: float) -> float:
    """How much worse ``delta`` (candidate − baseline) makes the metric; negative for an improvement."""
    return -delta if CATALOGUE[metric].higher_is_better else delta


def _test(metric: str, rule: str, bound: float, where: str, delta: Delta, baseline: float = 1.0) -> ChangeTest:
    """The test of one change gate. A relative bound is a share of the baseline's value, so the drop is
    tested against ``bound × |baseline|`` (a zero baseline allows no drop at all)."""
    drop = drop_of(metric, delta.delta)
    scale = abs(baseline) if rule == "max_relative_drop" else 1.0
    absolute = bound * scale
    if delta.discordant is not None:
        p_value = accuracy_drop_beyond_p(*delta.discordant, absolute)
    else:
        p_value = drop_beyond_p(drop, delta.se, absolute, math.inf if delta.df is None else delta.df)
    shown = drop / scale if scale else (math.inf if drop > 0 else 0.0)
    return ChangeTest(metric, rule, bound, where, shown, delta, p_value)


def _change_result(test: ChangeTest) -> GateResult:
    """The verdict of a change gate in words a reviewer cannot misread: "worse by 13.15% (rmse rose)",
    never "dropped" for an error that rose; numbers to significant digits (:mod:`mlship.numbers`)."""
    metric, rule, delta, p_value = test.metric, test.rule, test.delta, test.adjusted_p
    relative = rule == "max_relative_drop"
    shown, limit = (f"{abs(test.drop):.2%}", f"{test.bound:.2%}") if relative else (number(abs(test.drop)), f"{test.bound:g}")
    evidence = f"adjusted p = {p_value:.2g}, CI [{', '.join(together([delta.ci_low, delta.ci_high], sign=True))}]"
    label = f"{rule} {test.bound:g}"
    change = _change_words(metric, test.drop, delta.delta, shown)
    if test.failed:
        return GateResult(metric, label, False,
                          f"{change}, significantly more than the {limit} allowed ({evidence})", p_value)
    if test.drop <= test.bound:
        return GateResult(metric, label, True, f"{change}, within {rule} {limit}", p_value)
    return GateResult(metric, label, True,
                      f"{change}, more than the {limit} allowed but not significantly ({evidence})", p_value)


def _change_words(metric: str, drop: float, delta: float, shown: str) -> str:
    """``rmse worse by 13.15% (rmse rose)``, ``roc_auc better by 0.02 (roc_auc rose)``, ``mae unchanged``."""
    if delta == 0:
        return f"{metric} unchanged"
    return f"{metric} {'worse' if drop > 0 else 'better'} by {shown} ({metric} {'rose' if delta > 0 else 'fell'})"


def _slice_result(metric: str, bound: float, tests: list[ChangeTest]) -> GateResult:
    label = f"slice_max_drop {bound:g}"
    failing = [f"{test.where} (worse by {number(test.drop)}, adjusted p = {test.adjusted_p:.2g})" for test in tests
               if test.failed]
    smallest = min((test.adjusted_p for test in tests), default=None)
    if failing:
        return GateResult(metric, label, False,
                          f"{metric} significantly worse by more than {bound:g} in " + ", ".join(failing), smallest)
    return GateResult(metric, label, True, f"no slice's {metric} was significantly worse by more than {bound:g} "
                                           f"({len(tests)} slice{'s' if len(tests) != 1 else ''} judged)", smallest)
