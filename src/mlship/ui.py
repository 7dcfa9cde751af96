"""How results look in a terminal. The library returns data; only the CLI prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from mlship.monitor.retrain import Retrained
    from mlship.review.changes import ChangeSet
    from mlship.review.gates import TrainResult
    from mlship.scaffold import Scaffold
    from mlship.ship.deploy import Deployed
    from mlship.ship.registry import Event, Registry
    from mlship.ship.releases import Released
    from mlship.spec import Spec

PASS, FAIL, WARN = "✅", "❌", "⚠️"


def train_summary(result: "TrainResult") -> str:
    how = "from cache" if result.cache_hit else f"trained in {result.performance['fit_seconds']:.2f} s"
    verdict = "passed" if result.passed else "FAILED its gates"
    lines = [f"{PASS if result.passed else FAIL} {result.name}: {verdict} ({how}, fingerprint {result.fingerprint[:12]})"]
    gates_by_metric: dict[str, list[str]] = {}
    for gate in result.gates:
        gates_by_metric.setdefault(gate.metric, []).append(f"{gate.rule} {PASS if gate.passed else FAIL}")
    names = list(result.metrics) + [m for m in result.unavailable if m not in result.metrics]
    width = max(14, *(len(n) + 3 for n in names))
    for name in names:
        label = f"{name}{'*' if name == result.primary_metric else ''}".ljust(width)
        value = f"{result.metrics[name]:.4f}" if name in result.metrics else f"n/a: {result.unavailable[name]}"
        gate = "   ".join(gates_by_metric.get(name, []))
        spread = _seed_spread(result.seed_metrics.get(name, []))
        lines.append(f"   {label}{value:>10}{spread}   {gate}".rstrip())
    perf = result.performance
    lines.append(
        f"   {result.rows['train']:,} train / {result.rows['test']:,} held-out rows · fit {perf['fit_seconds']:.2f} s"
        f" · predict {perf['predict_seconds_per_row'] * 1e6:.1f} µs/row · model {_size(perf['model_bytes'])}"
    )
    if result.features:
        lines.append("   features:")
        width = max(len(name) for name in result.features) + 2
        lines += [f"     {name.ljust(width)}{treatment}" for name, treatment in result.features.items()]
    for gate in result.gates:
        if not gate.passed:
            lines.append(f"   {FAIL} gate: {gate.message}")
    for warning in result.warnings:
        lines.append(f"   {WARN} {warning}")
    return "\n".join(lines)


def _seed_spread(values: list[float]) -> str:
    """How much a metric varies between training seeds (``evaluation.seeds``), e.g. " ± 0.0123 sd over 5 seeds"."""
    if len(values) < 2:
        return ""
    import statistics

    return f" ± {statistics.stdev(values):.4f} sd over {len(values)} seeds"


def train_footer(results: list["TrainResult"], errors: Sequence[str] = ()) -> str:
    """The last line of ``mlship train``: gate failures, and the models that could not be trained (``errors``)."""
    failed = [r.name for r in results if not r.passed]
    total = len(results) + len(errors)
    parts = []
    if errors:
        parts.append(f"{len(errors)} of {total} could not be trained (see the errors above): {', '.join(errors)}")
    if failed:
        parts.append(f"{len(failed)} of {total} failed their gates: {', '.join(failed)}")
    if parts:
        return "; ".join(parts)
    return f"{len(results)} model{'s' if len(results) != 1 else ''} trained and evaluated; all gates passed."


def changes(result: "ChangeSet", shown_reasons: int = 3) -> str:
    head = f"since {result.merge_base[:12]} (merge-base with {result.base})"
    if not result.touched:
        lines = [f"No model is touched {head}."]
    else:
        count = len(result.touched)
        lines = [f"{count} model{'s' if count != 1 else ''} touched {head}:"]
        for model in result.touched:
            reasons = model.reasons[:shown_reasons]
            if len(model.reasons) > shown_reasons:
                reasons.append(f"and {len(model.reasons) - shown_reasons} more")
            lines.append(f"  {model.name}: {'; '.join(reasons)}")
    if result.removed:
        lines.append(f"Removed: {', '.join(result.removed)}")
    return "\n".join(lines)


def validated(spec: "Spec") -> str:
    from mlship.errors import display_path

    source = spec.config.data.path or spec.config.data.url or f"sklearn:{spec.config.data.sklearn}"
    model = spec.config.model.estimator or spec.config.model.entrypoint
    return f"{PASS} {spec.name} ({display_path(spec.file)}): {spec.task}, {model}, data {source}"


def released(result: "Released", remote: str) -> str:
    version = result.version
    fingerprint = (version.fingerprint or "")[:12]
    if result.created:
        lines = [f"🏷️  {version.model} {version.version}: registered as {version.tag} at {version.commit[:12]} "
                 f"(fingerprint {fingerprint})"]
    else:
        lines = [f"{PASS} {version.model}: fingerprint {fingerprint} is already released as {version.version} "
                 f"({version.tag} at {version.commit[:12]}); no new version"]
    if version.metrics:
        lines.append("   metrics  " + " · ".join(f"{name} {value:.4f}" for name, value in version.metrics.items()))
    stored = result.stored
    if stored.written:
        lines.append(f"   stored   {stored.location}: {', '.join(stored.written)}"
                     + (f" (already there: {', '.join(stored.kept)})" if stored.kept else ""))
    else:
        lines.append(f"   stored   {stored.location}: already there, checked")
    if result.pushed:
        lines.append(f"   pushed   {version.tag} to {remote}")
    elif result.created:
        lines.append(f"   push it  git push {remote} '{version.tag}'")
    if result.note:
        lines.append(f"   {WARN} {result.note}")
    return "\n".join(lines)


def deployed(result: "Deployed", remote: str) -> str:
    version, landed = result.version, result.landed
    where = landed.url or (str(landed.manifest) if landed.manifest else result.target)
    if not landed.changed and not result.assigned:
        lines = [f"{PASS} {version.model} {version.version} is already in {result.stage} ({where}); nothing to do"]
    else:
        came = f" (was {result.previous})" if result.previous and result.previous != version.version else ""
        lines = [f"🚀 {version.model} {version.version} → {result.stage}{came}: {where}"]
    lines.append(f"   fingerprint {(version.fingerprint or '')[:12]} · bento {version.fields.get('bento', '?')}")
    if result.assigned:
        lines.append(f"   assigned   {result.assignment.tag}")
    if result.pushed:
        lines.append(f"   pushed     {result.assignment.tag} to {remote}")
    elif result.assigned:
        lines.append(f"   push it    git push {remote} '{result.assignment.tag}'")
    if landed.image:
        lines.append(f"   image      {landed.image}")
    lines += [f"   {message}" for message in landed.messages]
    return "\n".join(lines)


def deploy_status(model: str, rows: list[dict]) -> str:
    """`mlship deploy --status`: per stage, the assigned version and the local server's state."""
    if not rows:
        return f"{model}: no stage assigned, no local server"
    lines = [f"{model}"]
    for row in rows:
        if row["problem"]:
            server = f"{FAIL} {row['problem']}"
        elif row["pid"] is None:
            server = "no local server"
        elif row["ready"]:
            server = f"{PASS} {row['version']} ready at {row['url']} (pid {row['pid']})"
        elif row["running"]:
            server = f"{WARN} {row['version']} running but /readyz does not answer 200 (pid {row['pid']}, {row['url']})"
        else:
            server = f"{FAIL} {row['version']}: its server (pid {row['pid']}, port {row['port']}) is gone"
        if row["others"]:
            server += f"; {len(row['others'])} other process(es) of the stage: `mlship stop` stops them"
        lines.append(f"   {row['stage']:<10} assigned {row['assigned'] or '-':<8} {server}")
    return "\n".join(lines)


def retrained(result: "Retrained") -> str:
    data = result.data
    lines = [f"🔁 {result.model}: new data on branch {result.branch} (commit {result.commit[:12]})",
             f"   data     {data.path}: {data.old_rows:,} → {data.new_rows:,} rows "
             f"(sha256 {data.old_sha256[:12]} → {data.new_sha256[:12]})"]
    if data.columns_added or data.columns_removed:
        lines.append(f"   columns  added: {', '.join(data.columns_added) or 'none'}; "
                     f"removed: {', '.join(data.columns_removed) or 'none'}")
    if result.new_version:
        lines.append(f"   version  {result.old_version} → {result.new_version}")
    if result.pull_request_url:
        lines.append(f"   pull request #{result.pull_request_number}: {result.pull_request_url}")
    elif result.remote:
        lines.append(f"   pushed to {result.remote}; open a pull request from {result.branch}")
    else:
        lines.append(f"   your checkout is unchanged; `git switch {result.branch}` to see it, "
                     f"`git push -u origin {result.branch}` to share it")
    return "\n".join(lines)


def history(registry: "Registry") -> str:
    """The model's versions and stages, then one line per event, oldest first."""
    latest = registry.latest()
    if not registry.events:
        return f"{registry.model}: no versions yet; `mlship release {registry.model}` registers the first"
    stages = "".join(f" · {stage} {event.version}" for stage, event in registry.stages().items())
    head = f"{registry.model}: latest {latest.version if latest else 'none'}{stages}"
    rows = [_event_row(event) for event in registry.events]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]).rstrip() for row in rows]
    return "\n".join([head, *lines])


_VERBS = {"registration": "registered", "deregistration": "deregistered", "assignment": "assigned",
          "unassignment": "unassigned", "deprecation": "deprecated"}


def _event_row(event: "Event") -> list[str]:
    what = event.version or event.commit[:12]
    if event.stage:
        what = f"{event.stage} ← {what}" if event.kind == "assignment" else f"{event.stage} ✕ {what}"
    details = []
    if event.fingerprint:
        details.append(f"fingerprint {event.fingerprint[:12]}")
    details += [f"{name} {value:.4f}" for name, value in list(event.metrics.items())[:3]]
    if "note" in event.fields:
        details.append(event.fields["note"])
    return [event.date.isoformat(sep=" "), _VERBS[event.kind], what, event.tag, event.commit[:12],
            f"{event.tagger} <{event.tagger_email}>", " · ".join(details)]


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def scaffolded(made: "Scaffold") -> str:
    """What ``mlship init`` wrote and what to do next."""
    from mlship.errors import display_path

    lines = [f"{PASS} {made.model}: a {made.task} model predicting '{made.target}'"]
    lines += [f"   wrote  {display_path(path)}" for path in made.written]
    lines += [f"   kept   {display_path(path)} (exists)" for path in made.kept]
    lines += [f"   {WARN} {note}" for note in made.notes]
    lines += ["next:",
              f"   read and edit {display_path(made.spec)}, then `mlship validate {made.model}`",
              f"   `mlship train {made.model}` shows the metrics and how each feature was treated",
              "   on a branch (a repository with no commit yet needs one on main first):",
              "   `mlship pr --dry-run` prints the pull request's comment"]
    return "\n".join(lines)
