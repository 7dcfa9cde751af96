"""The library's face: every command of the ``mlship`` CLI is one call here.

Functions return data and print nothing. Heavy libraries (scikit-learn, pandas) are
imported only when a model really has to be trained, so a cache hit stays fast.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from mlship.cache import LINEAGE_FILE, METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE, Cache, CacheEntry
from mlship.errors import MlshipError, Problem, SpecError, display_path
from mlship.fingerprint import Fingerprint, fingerprint
from mlship.files import atomic_write_json, atomic_write_text
from mlship.gates import GateResult, check_absolute
from mlship.git import head_commit, is_dirty
from mlship.metrics import CATALOGUE
from mlship.project import Project
from mlship.spec import Spec, load_spec

if TYPE_CHECKING:
    from mlship.actions import RunContext


@dataclass(frozen=True)
class TrainResult:
    name: str
    task: str
    fingerprint: str
    #: True when the model came from the cache and nothing was trained.
    cache_hit: bool
    primary_metric: str
    metrics: dict[str, float]
    unavailable: dict[str, str]
    rows: dict[str, int]
    performance: dict[str, float]
    gates: list[GateResult]
    warnings: list[str] = field(default_factory=list)
    entry: Path | None = None

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


@dataclass
class PrResult:
    """The PR flow's outcome: a comparison per touched model, and the models that could not be evaluated."""

    base: str
    merge_base: str
    comparisons: list[Any]
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


def model_names(project: Project | None = None) -> list[str]:
    return (project or Project.find()).model_names()


def load(model: str, project: Project | None = None) -> Spec:
    """The validated spec of a model given by name or folder."""
    return load_spec((project or Project.find()).model_dir(model))


def validate(models: Sequence[str] = (), project: Project | None = None) -> list[Spec]:
    """Validate the specs of ``models`` (default: every model), estimator and params included.

    Problems of every model are gathered into one :class:`SpecError`.
    """
    from mlship.training import check_model

    project = project or Project.find()
    specs, problems = [], []
    for model in models or project.model_names():
        try:
            spec = load(model, project)
            check_model(spec)
            specs.append(spec)
        except SpecError as error:
            problems += error.problems
    if problems:
        raise SpecError(problems)
    return specs


def train(model: str, project: Project | None = None, use_cache: bool = True) -> TrainResult:
    """Train and evaluate a model at the working tree, or load it from the cache by fingerprint."""
    project = project or Project.find()
    spec = load(model, project)
    fp = fingerprint(spec)
    cache = Cache(project.cache_dir)
    entry = cache.get(fp.value) if use_cache else None
    cache_hit = entry is not None
    if entry is None:
        entry = _train_into_cache(spec, fp, cache)
    return _result(spec, entry, cache_hit)


def _train_into_cache(spec: Spec, fp: Fingerprint, cache: Cache) -> CacheEntry:
    import cloudpickle

    from mlship.cache import PROFILE_FILE
    from mlship.data import load_dataset
    from mlship.evaluation import evaluate
    from mlship.profile import build_profile, save_profile
    from mlship.training import build_estimator, fit

    started = time.perf_counter()
    estimator, entrypoint_module = build_estimator(spec)
    dataset = load_dataset(spec)
    loaded = time.perf_counter()
    trained = fit(spec, estimator, dataset)
    scores = evaluate(spec, trained.model, dataset)
    evaluated = time.perf_counter()

    with cache.new_entry(fp.value) as staging:
        if entrypoint_module is not None:
            cloudpickle.register_pickle_by_value(entrypoint_module)
        with open(staging / MODEL_FILE, "wb") as stream:
            cloudpickle.dump(trained.model, stream)
        scores.predictions.to_parquet(staging / PREDICTIONS_FILE, index=False)
        atomic_write_json(staging / METRICS_FILE, {
            "model": spec.name,
            "task": spec.task,
            "fingerprint": fp.value,
            "primary_metric": spec.primary_metric,
            "metrics": scores.metrics,
            "unavailable": scores.unavailable,
            "higher_is_better": {m: CATALOGUE[m].higher_is_better for m in spec.metrics},
            "classes": _plain(dataset.classes),
            "positive_class": _plain(dataset.positive_class),
            "rows": {"train": len(dataset.X_train), "test": len(dataset.X_test)},
            "performance": {
                "fit_seconds": trained.fit_seconds,
                "predict_seconds_per_row": scores.predict_seconds_per_row,
                "model_bytes": (staging / MODEL_FILE).stat().st_size,
            },
        })
        atomic_write_json(staging / LINEAGE_FILE, {
            "model": spec.name,
            "fingerprint": fp.value,
            "fingerprint_parts": fp.parts,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git": {"commit": head_commit(spec.dir), "dirty": is_dirty(spec.dir, [spec.dir, *spec.data_files()])},
            "data": {"digests": fp.parts["data"], "train_rows": len(dataset.X_train),
                     "test_rows": len(dataset.X_test), "columns": dataset.columns,
                     "features": list(dataset.X_train.columns), "categorical": dataset.categorical,
                     "target": dataset.target},
            "versions": fp.parts["versions"],
            "platform": platform.platform(),
            "timings": {
                "load_seconds": loaded - started,
                "fit_seconds": trained.fit_seconds,
                "evaluate_seconds": evaluated - loaded - trained.fit_seconds,
                "total_seconds": time.perf_counter() - started,
            },
            "warnings": trained.warnings,
        })
        save_profile(staging / PROFILE_FILE, build_profile(spec, dataset, scores.predictions))
    entry = cache.get(fp.value)
    assert entry is not None, "the entry was just installed"
    return entry


def _plain(value: Any) -> Any:
    """NumPy scalars (class labels) as plain Python values, for JSON."""
    return value.tolist() if hasattr(value, "tolist") else [_plain(v) for v in value] if isinstance(value, list) else value


def _result(spec: Spec, entry: CacheEntry, cache_hit: bool) -> TrainResult:
    document, lineage = entry.metrics(), entry.lineage()
    return TrainResult(
        name=spec.name,
        task=spec.task,
        fingerprint=entry.fingerprint,
        cache_hit=cache_hit,
        primary_metric=document["primary_metric"],
        metrics=document["metrics"],
        unavailable=document["unavailable"],
        rows=document["rows"],
        performance=document["performance"],
        gates=check_absolute(spec.config.gates, document["metrics"], document["unavailable"]),
        warnings=lineage.get("warnings", []),
        entry=entry.path,
    )


def pr(project: Project | None = None, base: str | None = None, out: Path | None = None,
       run_url: str | None = None, only: Sequence[str] = ()) -> PrResult:
    """The PR flow: compare every touched model (or those in ``only``) with its baseline, write the
    ledger and the comment.

    Writes ``reports/<name>/metrics.json`` and ``model_card.md`` for each compared model, and the
    comment to ``pr-comment.md`` (plus ``pr-comment.full.md`` when the comment had to be shortened)
    and the result to ``pr-result.json`` in ``out`` (default ``reports/``).
    """
    from mlship import git, ledger
    from mlship.changes import changed_models, default_base
    from mlship.report import MAX_COMMENT, render_comment

    project = project or Project.find()
    changes = changed_models(project, base or default_base(project))
    if only:
        unknown = sorted(set(only) - set(changes.names))
        if unknown:
            raise MlshipError(f"--model {', '.join(unknown)}: not touched by this change "
                              f"(touched: {', '.join(changes.names) or 'none'})")
        changes.touched[:] = [model for model in changes.touched if model.name in only]
    result = PrResult(changes.base, changes.merge_base, [], {}, changes.removed)
    for model in changes.touched:
        if model.problems:
            result.errors[model.name] = [str(problem) for problem in model.problems]
            result.problems += model.problems
    evaluable = [model.name for model in changes.touched if not model.problems]
    if evaluable:
        from mlship.compare import Checkout, compare_model

        repo = git.toplevel(project.root)
        with git.worktree(repo, changes.merge_base) as checkout:
            base = Checkout(changes.merge_base, checkout, repo)
            for name in evaluable:
                try:
                    comparison = compare_model(project, name, base)
                except MlshipError as error:
                    result.errors[name] = str(error).splitlines()
                    if isinstance(error, SpecError):
                        result.problems += error.problems
                    continue
                result.comparisons.append(comparison)
                result.written += ledger.write(project, comparison)
    out = out or project.root / ledger.REPORTS_DIR
    full_path = out / "pr-comment.full.md"
    hint = f"The full report is in `{full_path.name}` beside this comment's file, and in the workflow run's artifacts."
    full = render_comment(result, project.root, run_url, hint, limit=sys.maxsize)
    result.comment = full if len(full) <= MAX_COMMENT else render_comment(result, project.root, run_url, hint)
    atomic_write_text(out / "pr-comment.md", result.comment)
    result.written.append(out / "pr-comment.md")
    if full != result.comment:
        atomic_write_text(full_path, full)
        result.written.append(full_path)
    else:
        full_path.unlink(missing_ok=True)
    atomic_write_json(out / "pr-result.json", result.to_dict())
    result.written.append(out / "pr-result.json")
    return result


@dataclass(frozen=True)
class Publication:
    """How a PR result reached GitHub."""

    #: "posted", or "handoff" for a fork PR (a trusted workflow posts it later).
    mode: str
    #: "created", "updated" or "unchanged"; None for a hand-off.
    comment: str | None = None
    comment_url: str = ""
    #: "check run" or "commit status"; None for a hand-off.
    verdict: str | None = None
    written: list[Path] = field(default_factory=list)


def check_publishable(context: "RunContext", token: str | None, handoff_only: bool = False) -> None:
    """Fail before any training when the result could not be published."""
    missing = [flag for flag, value in (("--repo", context.repository), ("--pr", context.pr_number),
                                        ("--sha", context.head_sha)) if not value]
    if missing:
        raise MlshipError(f"cannot post without {', '.join(missing)}: run on a pull_request event in GitHub "
                          "Actions, pass them, or use --dry-run")
    if not (context.is_fork or handoff_only) and not token:
        raise MlshipError("cannot post without a token: set GITHUB_TOKEN (in a workflow step: "
                          "`env: GITHUB_TOKEN: ${{ github.token }}`), or use --dry-run")


def publish(result: PrResult, context: "RunContext", token: str | None, handoff: Path,
            key: str = "report", verdict: str = "auto", handoff_only: bool = False,
            per_model: bool = False) -> Publication:
    """Post the comment and the verdict, or write them to ``handoff`` for a later step to post:
    always for a fork PR (its token is read-only), and when ``handoff_only`` (so that the step
    that runs the models' code holds no token).

    Both the comment and the verdict are attempted; if either fails, the error names it and
    says where the report is kept.
    """
    from mlship.github import GitHub, GitHubError
    from mlship.publish import Handoff, post_sticky, publish_model_statuses, publish_verdict, write_handoff
    from mlship.report import verdict_line

    check_publishable(context, token, handoff_only)
    if context.is_fork or handoff_only:
        written = write_handoff(handoff, Handoff(context.repository, context.pr_number, context.head_sha,
                                                 result.passed, key, result.comment,
                                                 result.model_verdicts() if per_model else None))
        return Publication("handoff", written=written)
    client = GitHub(token)
    failures, posted, made = [], None, None
    try:
        posted = post_sticky(client, context.repository, context.pr_number, result.comment, key)
    except GitHubError as error:
        failures.append(f"the comment was not posted: {error}")
    icon, headline = verdict_line(result)
    try:
        made = publish_verdict(client, context.repository, context.head_sha, result.passed, f"{icon} {headline}",
                               result.comment, context.run_url, kind=verdict)
        if per_model:
            publish_model_statuses(client, context.repository, context.head_sha, result.model_verdicts(),
                                   context.run_url)
    except GitHubError as error:
        failures.append(f"the verdict was not set: {error}")
    if failures:
        kept = ", ".join(display_path(p) for p in result.written if p.name.startswith("pr-comment"))
        raise MlshipError("; ".join(failures) + f". The report is kept in {kept}")
    return Publication("posted", posted.action, posted.url, made)
