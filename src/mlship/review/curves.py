"""Baseline and candidate curves on the compared rows, as Mermaid charts GitHub draws in the comment.

A classifier gets its ROC curve and its calibration (the observed share of positives per bin of
predicted probability); a regressor gets predicted against actual (the mean prediction per decile of
the actual value) and the distribution of its residuals. Each chart has the baseline, the candidate
and, where one helps, a reference line (chance, perfect calibration), in fixed colours named under
the chart, since Mermaid's XY chart has no legend.

Only numbers and mlship's own labels go into a chart: nothing a pull request controls (the positive
class, column names) is written, so the source needs no escaping beyond its code fence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: Mermaid's XY chart keyword since 10.5 (the bare "xychart" only in recent releases), which GitHub draws.
CHART = "xychart-beta"
#: Baseline, candidate, reference: the order the series are drawn in, and their colours.
PALETTE = ("#9e9e9e", "#1f6feb", "#d4a72c")
LEGEND = "Grey: baseline · blue: candidate."
ROC_POINTS = 21
CALIBRATION_BINS = 10
DECILES = 10
RESIDUAL_BINS = 12


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    x: list[str]
    baseline: list[float]
    candidate: list[float]
    y_range: tuple[float, float]
    #: A line to read the others against (chance, perfect calibration), or None.
    reference: list[float] | None = None
    reference_name: str = ""

    def mermaid(self) -> list[str]:
        """The chart's Mermaid source, one line per item."""
        init = '{"themeVariables": {"xyChart": {"plotColorPalette": "' + ", ".join(PALETTE) + '"}}}'
        low, high = self.y_range
        labels = [f'"{x}"' for x in self.x]
        return [
            f"%%{{init: {init}}}%%",
            CHART,
            f'    title "{self.title}"',
            f'    x-axis "{self.x_label}" [{", ".join(labels)}]',
            f'    y-axis "{self.y_label}" {_number(low)} --> {_number(high)}',
            *(f"    line [{', '.join(_number(v) for v in series)}]"
              for series in (self.baseline, self.candidate, self.reference) if series is not None),
        ]

    @property
    def legend(self) -> str:
        return LEGEND if self.reference is None else f"{LEGEND[:-1]} · yellow: {self.reference_name}."


def charts(task: str, y_true: np.ndarray, candidate: Any, baseline: Any, classes: Sequence[Any] | None,
           positive_class: Any) -> list[Chart]:
    """The charts of a comparison on shared rows; ``candidate`` and ``baseline`` are
    :class:`~mlship.review.bootstrap.Predictions`. Empty where no chart applies (a multiclass model,
    a classifier without probabilities, too few rows)."""
    if len(y_true) < 2:
        return []
    if task == "regression":
        actual = np.asarray(y_true, dtype=float)
        pred_c, pred_b = (np.asarray(p.y_pred, dtype=float) for p in (candidate, baseline))
        return [_predicted_vs_actual(actual, pred_b, pred_c), _residuals(actual - pred_b, actual - pred_c)]
    if classes is None or len(classes) != 2 or candidate.proba is None or baseline.proba is None:
        return []
    column = list(classes).index(positive_class) if positive_class in list(classes) else 1
    positive = np.asarray(y_true) == classes[column]
    if positive.all() or not positive.any():
        return []
    score_b, score_c = baseline.proba[:, column], candidate.proba[:, column]
    return [_roc(positive, score_b, score_c), _calibration(positive, score_b, score_c)]


def _roc(positive: np.ndarray, score_b: np.ndarray, score_c: np.ndarray) -> Chart:
    grid = np.linspace(0.0, 1.0, ROC_POINTS)
    return Chart("ROC curve", "false positive rate", "true positive rate", [_number(x) for x in grid],
                 _tpr_at(positive, score_b, grid), _tpr_at(positive, score_c, grid), (0.0, 1.0), list(grid),
                 "chance")


def _tpr_at(positive: np.ndarray, score: np.ndarray, grid: np.ndarray) -> list[float]:
    """The ROC curve's true positive rate at each false positive rate of ``grid`` (the highest reached)."""
    order = np.argsort(-score, kind="mergesort")
    ranked, sorted_scores = positive[order], score[order]
    last_of_tie = np.r_[np.diff(sorted_scores) != 0, True]
    tpr = np.r_[0.0, np.cumsum(ranked)[last_of_tie] / ranked.sum()]
    fpr = np.r_[0.0, np.cumsum(~ranked)[last_of_tie] / (~ranked).sum()]
    return [float(tpr[np.searchsorted(fpr, x, side="right") - 1]) for x in grid]


def _calibration(positive: np.ndarray, score_b: np.ndarray, score_c: np.ndarray) -> Chart:
    """Observed share of positives per tenth of predicted probability, in the bins both versions fill."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins_b, bins_c = (np.clip(np.digitize(s, edges[1:-1]), 0, CALIBRATION_BINS - 1) for s in (score_b, score_c))
    used = [b for b in range(CALIBRATION_BINS) if (bins_b == b).any() and (bins_c == b).any()]
    middle = [(edges[b] + edges[b + 1]) / 2 for b in used]
    return Chart("Calibration", "predicted probability (bin middle)", "observed share of positives",
                 [_number(m) for m in middle], [float(positive[bins_b == b].mean()) for b in used],
                 [float(positive[bins_c == b].mean()) for b in used], (0.0, 1.0), middle, "perfectly calibrated")


def _predicted_vs_actual(actual: np.ndarray, pred_b: np.ndarray, pred_c: np.ndarray) -> Chart:
    """The mean prediction of each version in each tenth of the rows by actual value."""
    groups = [group for group in np.array_split(np.argsort(actual, kind="mergesort"), DECILES) if len(group)]
    mean_actual = [float(actual[g].mean()) for g in groups]
    series_b, series_c = [float(pred_b[g].mean()) for g in groups], [float(pred_c[g].mean()) for g in groups]
    values = mean_actual + series_b + series_c
    return Chart("Predicted vs actual (mean per decile of actual)", "mean actual value", "mean predicted value",
                 [_number(a) for a in mean_actual], series_b, series_c, _padded(min(values), max(values)),
                 mean_actual, "predicted = actual")


def _residuals(res_b: np.ndarray, res_c: np.ndarray) -> Chart:
    """The share of rows per residual bin (actual − predicted), bins over both versions' 1st–99th percentiles."""
    low, high = np.percentile(np.r_[res_b, res_c], [1, 99])
    if high <= low:
        low, high = low - 1.0, high + 1.0
    edges = np.linspace(low, high, RESIDUAL_BINS + 1)
    share_b, share_c = (np.histogram(np.clip(r, low, high), edges)[0] / len(r) for r in (res_b, res_c))
    middle = (edges[:-1] + edges[1:]) / 2
    return Chart("Residuals (actual − predicted)", "residual (bin middle)", "share of rows",
                 [_number(m) for m in middle], [float(v) for v in share_b], [float(v) for v in share_c],
                 (0.0, float(max(share_b.max(), share_c.max())) * 1.1))


def _padded(low: float, high: float) -> tuple[float, float]:
    pad = (high - low) * 0.05 or 1.0
    return low - pad, high + pad


def _number(value: float) -> str:
    """A number as Mermaid reads it (no exponent), to 4 significant digits."""
    return np.format_float_positional(float(value), precision=4, unique=False, fractional=False, trim="-")
