"""The Markdown a reviewer reads: the PR comment and each model's card.

Templates are Jinja2 files shipped in ``mlship/templates``; a project overrides any of
them by putting a file of the same name in ``.mlship/templates/``. This module turns
results into plain rows of formatted text, so templates hold layout only.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlship import __version__
from mlship.markdown import Markdown, code, code_block, paragraphs
from mlship.numbers import number
from mlship.review.acceptance import command
from mlship.templating import environment

if TYPE_CHECKING:
    from mlship.review.bootstrap import Delta
    from mlship.review.compare import Comparison
    from mlship.review.result import PrResult

MARKER = Markdown("<!-- mlship:report -->")
#: GitHub rejects comment bodies over 65,536 characters; keep a margin for the marker and links.
MAX_COMMENT = 65_000
VERDICTS = {"better": "✅ better", "worse": "❌ worse", "unchanged": "➖ within noise"}


def render_comment(result: "PrResult", project_root: Path | None = None, run_url: str | None = None,
                   full_report_hint: str = "", limit: int = MAX_COMMENT) -> str:
    """The PR comment. Over ``limit`` characters, the ``<details>`` are dropped, then the text is cut."""
    template = environment(project_root).get_template("comment.md.j2")
    context = _comment_context(result, run_url, full_report_hint)
    body = template.render(details=True, **context)
    if len(body) <= limit:
        return body
    body = template.render(details=False, **context)
    if len(body) <= limit:
        return body
    cut = "\n\n> ⚠️ The report was cut here to fit GitHub's size limit. " + full_report_hint + "\n"
    return body[: limit - len(cut)] + cut


def render_model_card(comparison: "Comparison", project_root: Path | None = None) -> str:
    template = environment(project_root).get_template("model_card.md.j2")
    return template.render(**_card_context(comparison))


def verdict_line(result: "PrResult") -> tuple[str, str]:
    """The comment's headline and its icon, e.g. ("❌", "1 of 2 models failed")."""
    failed = [c.name for c in result.comparisons if not c.passed] + list(result.errors)
    accepted = sum(1 for c in result.comparisons if c.accepted)
    count = len(result.comparisons) + len(result.errors)
    plural = "s" if count != 1 else ""
    if not count:
        return "✅", "no model is touched by this change"
    if failed:
        return "❌", f"{len(failed)} of {count} model{plural} failed"
    if accepted:
        return "✅", f"{count} model{plural} passed ({accepted} by a maintainer's acceptance of failed gates)"
    return "✅", f"{count} model{plural} passed"


def _comment_context(result: "PrResult", run_url: str | None, full_report_hint: str) -> dict[str, Any]:
    icon, headline = verdict_line(result)
    confidence = {c.spec.config.evaluation.bootstrap.confidence for c in result.comparisons} or {0.95}
    settings = {("paired" if c.paired else "unpaired", c.spec.config.evaluation.bootstrap.resamples,
                 c.spec.config.evaluation.bootstrap.confidence) for c in result.comparisons if c.baseline}
    method = Markdown("; ").join(f"{kind} bootstrap, {r:,} resamples, {c:.0%} intervals"
                                 for kind, r, c in sorted(settings))
    if any(c.change_tests for c in result.comparisons):
        method += "; change gates test each drop against its bound, Holm-adjusted per model"
    method += _seed_method(result.comparisons)
    footer = Markdown(" · ").join(filter(None, [f"mlship {__version__}", method,
                                                Markdown("[workflow run]({})").format(run_url) if run_url else ""]))
    return {
        "marker": MARKER,
        "verdict_icon": icon,
        "headline": headline,
        "intro": Markdown("Compared with {} at {} (the merge-base).").format(
            code(result.base), code(result.merge_base[:7])) if result.merge_base else "",
        "confidence_label": "/".join(f"{c:.0%}" for c in sorted(confidence)),
        # What failed comes first: models that cannot be evaluated (in the template), then failed gates.
        "models": [_model_view(c) for c in sorted(result.comparisons, key=lambda c: c.passed)],
        "errors": [{"name": name, "problems": problems} for name, problems in result.errors.items()],
        "removed": result.removed,
        "full_report_hint": full_report_hint,
        "footer": footer,
    }


def _seed_method(comparisons: list["Comparison"]) -> Markdown:
    """Once for the comment: which models' intervals include the variation between training seeds, and
    which leave it out though their estimator takes a seed."""
    text = Markdown("")
    for seeds in sorted({c.seeds for c in comparisons if c.baseline and c.seeds > 1}):
        names = Markdown(", ").join(code(c.name) for c in comparisons if c.baseline and c.seeds == seeds)
        text += Markdown("; the intervals of {} include the variation between {} training seeds").format(names, seeds)
    left_out = [code(c.name) for c in comparisons if c.seeded and c.baseline and c.seeds == 1]
    if left_out:
        text += Markdown("; the intervals do not include variation between training seeds ({} {} a random_state; "
                         "{} adds it)").format(Markdown(", ").join(left_out), "has" if len(left_out) == 1 else "have",
                                               code("evaluation.seeds"))
    return text


def _model_view(c: "Comparison") -> dict[str, Any]:
    primary = c.spec.primary_metric
    rows = []
    for name in c.spec.metrics:
        base = c.baseline.metrics.get(name) if c.baseline else None
        cand = c.candidate.metrics.get(name)
        delta = c.deltas.get(name)
        scale = base if base is not None else cand  # one precision per row: the values, the change, its interval
        rows.append({
            "name": Markdown("**{}**").format(name) if name == primary else name,
            "baseline": fmt(base, scale),
            "candidate": fmt(cand, scale),
            "delta": arrow_delta(delta.delta, scale) if delta else "",
            "ci": interval(delta, scale) if delta else "",
            "verdict": VERDICTS[delta.verdict] if delta else ("new" if c.baseline is None else ""),
        })
    gates = sorted(c.gates, key=lambda g: g.passed)
    return {
        "name": c.name,
        "icon": "☑️" if c.accepted else "✅" if c.passed else "❌",
        "headline": _headline(c, primary) + (f"; failed gates accepted by @{c.accepted.by}" if c.accepted else ""),
        "accepted": c.accepted,
        "accepted_link": Markdown("[comment]({})").format(c.accepted.url) if c.accepted else "",
        "accept_command": "" if c.passed else command(c.name, c.candidate.fingerprint),
        "note": c.note,
        "rows": rows,
        "compared_rows": _compared_rows(c),
        "gates": [{"icon": "✅" if g.passed else "❌", "metric": g.metric, "rule": g.rule, "message": g.message}
                  for g in gates],
        "slice_regressions": _slice_regressions(c),
        "slices": _slice_rows(c),
        "slice_metrics": c.spec.metrics,
        "min_slice_size": c.spec.config.evaluation.min_slice_size,
        "min_slice_class_size": c.spec.config.evaluation.min_slice_class_size,
        "params_diff": [{"key": k, "baseline": _value(old), "candidate": _value(new)} for k, old, new in c.params_diff],
        "data_rows": _data_rows(c.data_diff),
        "provenance": _provenance(c),
        # Mermaid sources built from numbers and mlship's labels only, fenced by the escaping layer.
        "charts": [{"source": code_block(chart.mermaid(), "mermaid"), "legend": chart.legend} for chart in c.charts],
    }


def _headline(c: "Comparison", primary: str) -> str:
    cand = c.candidate.metrics.get(primary)
    if c.baseline is None:
        return f"{'new model' if c.new_model else 'no usable baseline'}, {primary} {fmt(cand)}"
    delta = c.deltas.get(primary)
    if delta is None:
        return f"{primary} {fmt(c.baseline.metrics.get(primary))} → {fmt(cand)}"
    word = {"better": "significantly better", "worse": "significantly worse", "unchanged": "within noise"}
    base = c.baseline.metrics[primary]
    return f"{primary} {fmt(base)} → {fmt(cand, base)} ({arrow_delta(delta.delta, base)}, {word[delta.verdict]})"


def _slice_regressions(c: "Comparison") -> list[dict[str, str]]:
    """The slices whose drop failed a slice gate, after the family-wise adjustment: only what failed."""
    by_name = {s.name: s for s in c.slices}
    found = []
    for test in c.change_tests:
        if test.failed and test.where:
            s = by_name[test.where]
            scale = s.baseline.get(test.metric)
            found.append({"slice": f"{s.column} = {s.value}", "rows": f"{s.rows:,}", "metric": test.metric,
                          "baseline": fmt(scale), "candidate": fmt(s.candidate.get(test.metric), scale),
                          "delta": arrow_delta(test.delta.delta, scale), "ci": interval(test.delta, scale),
                          "p": f"{test.adjusted_p:.2g}"})
    return found


def _slice_rows(c: "Comparison") -> list[dict[str, Any]]:
    failed = {(test.where, test.metric) for test in c.change_tests if test.failed and test.where}
    rows = []
    for s in c.slices:
        cells = []
        for metric in c.spec.metrics:
            value, delta = s.candidate.get(metric), s.deltas.get(metric)
            if value is None:
                cells.append("n/a")
            elif metric in s.unjudged:
                cells.append(f"{fmt(value)} (not judged)")
            elif delta is None:
                cells.append(fmt(value))
            else:
                mark = " ❌" if (s.name, metric) in failed else ""
                scale = s.baseline.get(metric)
                cells.append(f"{fmt(value, scale)} ({arrow_delta(delta.delta, scale)}){mark}")
        rows.append({"slice": f"{s.column} = {s.value}", "rows": f"{s.rows:,}", "cells": cells})
    return rows


def _data_rows(diff: dict[str, Any]) -> list[dict[str, str]]:
    rows_old, rows_new = diff["rows"]["baseline"], diff["rows"]["candidate"]
    target_old, target_new = diff["target"]["baseline"], diff["target"]["candidate"]
    digest_old, digest_new = diff["digests"]["baseline"], diff["digests"]["candidate"]
    lines = [{"label": "rows (train / held-out)", "baseline": _rows(rows_old), "candidate": _rows(rows_new)},
             {"label": "target", "baseline": _target(target_old), "candidate": _target(target_new)}]
    for key, label in (("columns_added", "columns added"), ("columns_removed", "columns removed"),
                       ("features_added", "features added"), ("features_removed", "features removed")):
        if diff[key]:
            lines.append({"label": label, "baseline": "", "candidate": Markdown(", ").join(map(code, diff[key]))})
    lines.append({"label": "data digest", "baseline": _digests(digest_old), "candidate": _digests(digest_new)})
    return lines


def _provenance(c: "Comparison") -> list[dict[str, str]]:
    base = c.baseline
    return [
        {"label": "commit", "baseline": Markdown("{} (merge-base)").format(code(base.commit[:7])) if base else "none",
         "candidate": (code(c.candidate.commit[:7]) if c.candidate.commit else Markdown("outside git"))
         + (Markdown(" + uncommitted changes") if c.candidate.dirty else "")},
        {"label": "fingerprint", "baseline": code(base.fingerprint[:12]) if base else "none",
         "candidate": code(c.candidate.fingerprint[:12])},
        {"label": "trained", "baseline": ("from cache" if base.cache_hit else "in this run") if base else "",
         "candidate": "from cache" if c.candidate.cache_hit else "in this run"},
        {"label": "rows compared", "baseline": "the candidate's held-out rows" if c.paired else "its own held-out rows",
         "candidate": "its held-out rows"},
    ]


def _compared_rows(c: "Comparison") -> str:
    """How many held-out rows both versions were scored on, and which were left out and why."""
    compared, held_out = c.rows.get("compared"), c.rows.get("held_out")
    if compared is None:
        return ""
    line = f"Compared on {compared:,} of the candidate's {held_out:,} held-out rows"
    excluded = c.rows.get("excluded") or {}
    if excluded:
        line += "; left out: " + ", ".join(f"{count:,} because {why}" for why, count in excluded.items())
    return line + "."


def _card_context(c: "Comparison") -> dict[str, Any]:
    spec, lineage = c.spec, c.candidate_lineage
    return {
        "name": c.name,
        "description": paragraphs(spec.config.description) if spec.config.description.strip()
        else Markdown("No description in the spec (add `description:`)."),
        "task": spec.task,
        "model": spec.config.model.estimator or spec.config.model.entrypoint,
        "params": [{"key": k, "value": _value(v)} for k, v in sorted(spec.config.model.params.items())],
        "data_source": spec.config.data.path or spec.config.data.url
        or Markdown("scikit-learn's bundled {} dataset").format(code(spec.config.data.sklearn)),
        "target": spec.target,
        "data": lineage["data"],
        "target_profile": _target(lineage["data"].get("target")),
        "metrics": _model_view(c)["rows"],
        "primary": spec.primary_metric,
        "slices": _slice_rows(c),
        "slice_metrics": spec.metrics,
        "gates": [{"icon": "✅" if g.passed else "❌", "metric": g.metric, "rule": g.rule, "message": g.message}
                  for g in c.gates],
        "passed": c.passed,
        "accepted": c.accepted,
        "baseline": c.baseline,
        "note": c.note,
        "compared_rows": _compared_rows(c),
        "fingerprint": c.candidate.fingerprint,
        "commit": c.candidate.commit or lineage["git"]["commit"],  # the reviewed commit, where a cache hit trained elsewhere
        "dirty": c.candidate.dirty,
        "owners": list(spec.config.owners),
        "intended_use": paragraphs(spec.config.intended_use) if spec.config.intended_use.strip() else "",
        "limitations": paragraphs(spec.config.limitations) if spec.config.limitations.strip() else "",
        "digests": _data_digests(lineage["data"].get("digests") or {}),
        "split": _split(lineage.get("split")),
        "inputs": _inputs(lineage["data"]),
        "versions": lineage["versions"],
        "performance": c.candidate_performance,
    }


def _split(split: dict[str, Any] | None) -> str:
    """The split as the card states it: its kind and settings, in one line."""
    if not split:
        return "not recorded"
    return ", ".join(f"{key} {value}" for key, value in split.items()
                     if value is not None and not isinstance(value, (dict, list)))


def _data_digests(digests: dict[str, str]) -> list[dict[str, str]]:
    """Each data file and the start of its SHA-256 (a bundled dataset says so instead)."""
    return [{"name": name, "digest": value[:16] if re.fullmatch(r"[0-9a-f]{64}", value) else value}
            for name, value in digests.items()]


def _inputs(data: dict[str, Any]) -> str:
    """``the 4 features listed under Data (3 numbers, 1 category)``."""
    features, categories = len(data.get("features") or []), len(data.get("categorical") or [])
    numbers = features - categories
    return (f"the {features} features listed under Data ({numbers} number{'s' if numbers != 1 else ''}, "
            f"{categories} categor{'ies' if categories != 1 else 'y'})")


def fmt(value: float | None, scale: float | None = None) -> str:
    """A metric value to significant digits (see :mod:`mlship.numbers`), with the decimals of ``scale`` if given."""
    return "n/a" if value is None else number(value, value if scale is None else scale)


def arrow_delta(delta: float, scale: float | None = None) -> str:
    """A change with ▲ (up) or ▼ (down), to the decimals of the value it changes (``scale``);
    whether up is good depends on the metric."""
    if delta == 0 or not math.isfinite(delta):
        return "0"
    return f"{'▲' if delta > 0 else '▼'} {number(delta, scale, sign=True)}"


def interval(delta: "Delta", scale: float | None = None) -> str:
    """The interval, to the decimals of the value it changes (``scale``), and with ``evaluation.seeds``
    how much the delta varies between training seeds."""
    if not math.isfinite(delta.ci_low):
        return "n/a"
    shown = Markdown("[{}, {}]").format(number(delta.ci_low, scale, sign=True), number(delta.ci_high, scale, sign=True))
    return shown + (f" (seeds ±{number(delta.seed_sd, scale)})" if delta.seed_sd is not None else "")


def _value(value: Any) -> Markdown:
    return Markdown("*(unset)*") if value is None else code(json.dumps(value))


def _rows(rows: dict[str, int] | None) -> str:
    return f"{rows['train']:,} / {rows['test']:,}" if rows else ""


def _target(profile: dict[str, Any] | None) -> str:
    if not profile:
        return ""
    if "classes" in profile:
        return ", ".join(f"{label} {share:.1%}" for label, share in profile["classes"].items())
    return f"mean {profile['mean']:.4g}, sd {profile['std']:.4g}, range {profile['min']:.4g} to {profile['max']:.4g}"


def _digests(digests: dict[str, str] | None) -> str:
    if not digests:
        return ""
    return Markdown("<br>").join(Markdown("{} {}").format(code(path), digest[:12]) if len(digest) == 64 else code(path)
                                 for path, digest in digests.items())

