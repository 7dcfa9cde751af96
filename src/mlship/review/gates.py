"""Gates: the bounds a model's metrics must meet for it to pass."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from mlship.metrics import CATALOGUE
from mlship.spec import Gate, Spec
from mlship.train.trainer import Trained

if TYPE_CHECKING:
    from mlship.review.bootstrap import Delta


@dataclass(frozen=True)
class SliceResult:
    """A slice of the held-out rows (one value of a slice column): both versions' metrics and the deltas."""

    column: str
    value: str
    rows: int
    too_small: bool
    candidate: dict[str, float]
    baseline: dict[str, float]
    deltas: dict[str, Delta]


@dataclass(frozen=True)
class GateResult:
    metric: str
    rule: str
    passed: bool
    message: str

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
            "performance": self.performance,
            "gates": [gate.to_dict() for gate in self.gates],
            "warnings": self.warnings,
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


def check_change(gates: dict[str, Gate], metrics: dict[str, float], deltas: dict[str, Delta],
                 baseline: dict[str, float] | None) -> list[GateResult]:
    """Check ``max_drop`` (in the metric's units) and ``max_relative_drop`` (drop / |baseline|).

    A drop is a change in the metric's bad direction. A change gate fails only when the
    drop exceeds its bound *and* is significant; a metric without a delta fails closed.
    """
    results = []
    for metric, gate in gates.items():
        for rule in ("max_drop", "max_relative_drop"):
            bound = getattr(gate, rule)
            if bound is None:
                continue
            label = f"{rule} {bound:g}"
            if baseline is None:
                results.append(GateResult(metric, label, True, f"not applied: no baseline to compare {metric} with"))
            elif metric not in deltas or metric not in baseline or metric not in metrics:
                results.append(GateResult(metric, label, False,
                                          f"{metric} was not computed for both versions, so its change gate fails"))
            else:
                results.append(_change_result(metric, rule, bound, deltas[metric], baseline[metric]))
    return results


def check_slices(gates: dict[str, Gate], slices: list[SliceResult], compared: bool) -> list[GateResult]:
    """Check ``slice_max_drop``: no slice large enough to judge may drop significantly by more.

    ``compared`` is False when no slice could be compared with a baseline (a new model,
    or versions scored on different rows): the gate is then not applied, and says so.
    """
    results = []
    for metric, gate in gates.items():
        if gate.slice_max_drop is None:
            continue
        if not compared:
            results.append(GateResult(metric, f"slice_max_drop {gate.slice_max_drop:g}", True,
                                      "not applied: no slice was compared with a baseline on the same rows"))
            continue
        failing = []
        for part in slices:
            delta = part.deltas.get(metric)
            if delta is not None and delta.verdict == "worse" and drop_of(metric, delta.delta) > gate.slice_max_drop:
                failing.append(f"{part.column}={part.value} ({delta.delta:+.4g})")
        message = (f"{metric} dropped significantly by more than {gate.slice_max_drop:g} in " + ", ".join(failing)
                   if failing else f"no slice's {metric} dropped significantly by more than {gate.slice_max_drop:g}")
        results.append(GateResult(metric, f"slice_max_drop {gate.slice_max_drop:g}", not failing, message))
    return results


def drop_of(metric: str, delta: float) -> float:
    """How much worse ``delta`` (candidate − baseline) makes the metric; negative for an improvement."""
    return -delta if CATALOGUE[metric].higher_is_better else delta


def _change_result(metric: str, rule: str, bound: float, delta: Delta, baseline: float) -> GateResult:
    drop = drop_of(metric, delta.delta)
    if rule == "max_relative_drop":
        size = drop / abs(baseline) if baseline else (math.inf if drop > 0 else 0.0)
        shown, limit = f"{size:.2%}", f"{bound:.2%}"
    else:
        size, shown, limit = drop, f"{drop:.4g}", f"{bound:g}"
    interval = f"CI [{delta.ci_low:+.4g}, {delta.ci_high:+.4g}]"
    label = f"{rule} {bound:g}"
    if size <= bound:
        return GateResult(metric, label, True, f"{metric} changed by {delta.delta:+.4g}, within {rule} {limit}")
    if delta.verdict != "worse":
        return GateResult(metric, label, True,
                          f"{metric} dropped by {shown} (more than {limit}) but within noise ({interval})")
    return GateResult(metric, label, False, f"{metric} dropped by {shown}, more than {limit}, significantly ({interval})")
