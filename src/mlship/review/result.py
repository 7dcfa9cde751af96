"""The outcome of the PR flow, kept below the flow and the report that renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlship.errors import Problem

if TYPE_CHECKING:  # compare needs numpy and pandas, which a PR touching no model never loads
    from mlship.review.compare import Comparison


@dataclass
class PrResult:
    """The PR flow's outcome: a comparison per touched model, and the models that could not be evaluated."""

    base: str
    merge_base: str
    comparisons: list["Comparison"]
    #: Model name → the problems that stopped its evaluation (a broken spec, unusable data).
    errors: dict[str, list[str]]
    removed: list[str]
    comment: str = ""
    written: list[Path] = field(default_factory=list)
    #: The spec problems behind ``errors``, with their locations (for annotations).
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors and all(c.passed for c in self.comparisons)

    @property
    def exit_code(self) -> int:
        return 2 if self.errors else 0 if self.passed else 1

    def model_verdicts(self) -> dict[str, bool]:
        """Each evaluated model's verdict; a model that could not be evaluated did not pass."""
        return {**{c.name: c.passed for c in self.comparisons}, **{name: False for name in self.errors}}

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "merge_base": self.merge_base,
            "passed": self.passed,
            "models": [c.to_dict() for c in self.comparisons],
            "errors": self.errors,
            "removed": self.removed,
        }
