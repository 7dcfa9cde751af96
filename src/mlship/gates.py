"""Gates: the bounds a model's metrics must meet for it to pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlship.spec import Gate


@dataclass(frozen=True)
class GateResult:
    metric: str
    rule: str
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
