"""The outcome of a drift check: every column's measures and verdicts, and the verdict on the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlship.monitor.statistics import ColumnDrift
from mlship.spec import Monitoring


@dataclass(frozen=True)
class DriftResult:
    model: str
    fingerprint: str
    source: str
    rows: int
    reference_rows: int
    settings: Monitoring
    features: list[ColumnDrift]
    predictions: list[ColumnDrift]
    target: ColumnDrift | None
    period: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    #: What the profile is of: "the working tree", or a version and the stage serving it.
    reference: str = ""
    #: Each feature's permutation importance to the model on held-out rows (empty for older profiles).
    importance: dict[str, float] = field(default_factory=dict)
    importance_metric: str = ""

    @property
    def drifted_features(self) -> list[str]:
        return [c.name for c in self.features if c.drifted]

    @property
    def major_features(self) -> list[str]:
        """The features that shifted so far that one is enough to call the data drifted."""
        return [c.name for c in self.features if c.major]

    @property
    def major_shift(self) -> bool:
        return bool(self.major_features)

    @property
    def share(self) -> float:
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.drifted_features) and self.share >= self.settings.drift_share

    @property
    def prediction_drift(self) -> bool:
        return any(c.drifted for c in self.predictions)

    @property
    def target_drift(self) -> bool:
        return self.target is not None and self.target.drifted

    @property
    def drifted(self) -> bool:
        return self.major_shift or self.dataset_drift or self.prediction_drift or self.target_drift

    @property
    def exit_code(self) -> int:
        return 1 if self.drifted else 0

    @property
    def tests(self) -> int:
        return len(self.features) + len(self.predictions) + (self.target is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "fingerprint": self.fingerprint,
            "reference": self.reference,
            "source": self.source,
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "period": {"first": self.period[0], "last": self.period[1]} if self.period else None,
            "drifted": self.drifted,
            "dataset_drift": self.dataset_drift,
            "major_shift": self.major_shift,
            "major_features": self.major_features,
            "prediction_drift": self.prediction_drift,
            "target_drift": self.target_drift if self.target else None,
            "drift_share": self.share,
            "drifted_features": self.drifted_features,
            "features": [c.to_dict() for c in self.features],
            "predictions": [c.to_dict() for c in self.predictions],
            "target": self.target.to_dict() if self.target else None,
            "tests": self.tests,
            "thresholds": self.settings.model_dump(),
            "importance": self.importance,
            "notes": self.notes,
        }
