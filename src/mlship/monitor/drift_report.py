"""The drift report: Markdown from ``drift.md.j2`` (a project may override it in ``.mlship/templates/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlship.markdown import Markdown, code
from mlship.monitor.current import MAX_LISTED
from mlship.monitor.result import DriftResult
from mlship.monitor.statistics import ColumnDrift

#: Numbers outside the reference's range are listed in the report from this share of the values.
OUT_OF_RANGE_SHOWN = 0.01


def render(result: DriftResult, project_root: Path | None = None) -> str:
    """The Markdown report of ``result``."""
    from mlship.templating import environment

    return environment(project_root).get_template("drift.md.j2").render(**_report_context(result))


def _report_context(result: DriftResult) -> dict[str, Any]:
    from mlship import __version__

    settings = result.settings
    share = f"{len(result.drifted_features)} of {len(result.features)} features drifted"
    if result.drifted_features:
        share += f" ({result.share:.0%})"
    if result.drifted:
        majors = [_major(c) for c in result.features if c.major]
        reasons = ["a major shift of " + ", ".join(majors)] if majors else []
        reasons += [share] if result.dataset_drift else []
        reasons += ["the predictions drifted"] if result.prediction_drift else []
        reasons += ["the target drifted"] if result.target_drift else []
        reasons += [] if result.dataset_drift else [share]
        icon, headline = "❌", "drift: " + ", ".join(reasons)
    else:
        icon, headline = "✅", f"no drift: {share}"
        if result.drifted_features:
            headline += (f", below the {settings.drift_share:.0%} that makes the dataset drift, and none a major "
                         "shift")
    importance = result.importance
    features = sorted(result.features, key=lambda c: -importance.get(c.name, 0.0)) if importance else result.features
    return {
        "icon": icon,
        "headline": headline,
        "model": result.model,
        "fingerprint": result.fingerprint[:12],
        "reference": result.reference,
        "importance": bool(importance),
        "importance_metric": result.importance_metric,
        "source": result.source,
        "rows": f"{result.rows:,}",
        "reference_rows": f"{result.reference_rows:,}",
        "period": result.period,
        "features": [{**_row(c), "importance": _importance(importance.get(c.name))} for c in features],
        "predictions": [_row(c) for c in result.predictions],
        "target": _row(result.target) if result.target else None,
        "unseen": [_unseen(c) for c in [*result.features, *result.predictions] if c.unseen],
        "out_of_range": [{"name": c.name, "share": f"{c.out_of_range:.1%}"} for c in result.features
                         if c.out_of_range and c.out_of_range >= OUT_OF_RANGE_SHOWN],
        "notes": result.notes,
        "settings": settings,
        "tests": result.tests,
        "version": __version__,
    }


def _major(c: ColumnDrift) -> str:
    """``'mean radius' (PSI 4.2, 20% outside the training range)``."""
    shown = c.out_of_range is not None and c.out_of_range >= OUT_OF_RANGE_SHOWN
    outside = f", {c.out_of_range:.0%} outside the training range" if shown else ""
    return f"'{c.name}' (PSI {c.psi:.2f}{outside})"


def _importance(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _row(c: ColumnDrift) -> dict[str, str]:
    if c.major:
        verdict = "❌ major shift"
    elif c.drifted:
        verdict = "❌ drifted"
    elif c.significant:
        verdict = "➖ small change"
    elif c.large:
        verdict = "➖ within noise"
    else:
        verdict = "✅"
    distance = "n/a" if c.distance is None else (f"{c.distance:.3f} sd" if c.distance_name == "wasserstein"
                                                 else f"{c.distance:.3f}")
    return {
        "name": c.name,
        "kind": "number" if c.kind == "numeric" else "category",
        "test": c.test,
        "p": _p(c.adjusted_p),
        "distance": f"{'W' if c.distance_name == 'wasserstein' else 'JS'} {distance}",
        "psi": f"{c.psi:.3f}",
        "missing": f"{c.missing[0]:.1%} → {c.missing[1]:.1%}" if c.missing else "",
        "rows": f"{c.current_rows:,}",
        "verdict": verdict,
    }


def _unseen(c: ColumnDrift) -> dict[str, Any]:
    shown = list(c.unseen.items())[:MAX_LISTED]
    listed = Markdown(", ").join(Markdown("{} ({:,})").format(code(category), count) for category, count in shown)
    if len(c.unseen) > MAX_LISTED:
        listed += Markdown(", ... ({} in all)").format(len(c.unseen))
    pooled = (f" (the reference pooled {c.reference_pooled:,} rare categories, so some of these may be rare "
              "rather than new)") if c.reference_pooled else ""
    share = sum(c.unseen.values()) / max(c.current_rows, 1)
    return {"name": c.name, "listed": listed, "share": f"{share:.1%}", "pooled": pooled}


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"

