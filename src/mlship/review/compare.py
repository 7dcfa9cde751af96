"""Comparing a model with its baseline, the same model at the merge-base, on the same rows.

The candidate is the model at the working tree; the baseline comes from the cache by
its fingerprint or is trained in a worktree of the base commit. Both are scored on the
candidate's held-out rows that neither trained on (:mod:`mlship.review.rows`), so the
paired bootstrap applies: the baseline predicts those rows, or, where it cannot (a
column it needs was renamed or removed), its recorded predictions of the same rows are
used. Where the rows cannot be shared (the target or the classes changed, or the rows
the baseline trained on cannot be told apart), each version is scored on its own
held-out rows, the bootstrap is unpaired, and the comparison says so.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlship.errors import MlshipError
from mlship.git import is_dirty, reviewed_commit
from mlship.project import Project
from mlship.review.acceptance import Acceptance
from mlship.review.bootstrap import (Delta, Predictions, Sample, paired_bootstrap, unpaired_bootstrap,
                                    with_seed_variation)
from mlship.review.curves import Chart, charts
from mlship.review.gates import ChangeTest, GateResult, SliceResult, check_absolute, check_changes
from mlship.review.rows import ComparedRows, compared_rows
from mlship.spec import SPEC_FILE, Evaluation, SliceBy, Spec, load_spec
from mlship.train.cache import CacheEntry
from mlship.train.data import Dataset, load_dataset
from mlship.train.evaluation import score
from mlship.train.fit import seed_params
from mlship.train.remote import local_data_files
from mlship.train.trainer import Trained, train

MISSING_VALUE = "(missing)"
#: A numeric slice column with more distinct values than this is cut into quantile bins.
MAX_SLICE_VALUES = 10
DEFAULT_BINS = 4
#: Metrics that compare classes: a slice judges them only with enough rows of every class.
PER_CLASS_METRICS = {"roc_auc", "precision", "recall", "f1", "balanced_accuracy"}


@dataclass(frozen=True)
class Version:
    """One version of the model in a comparison."""

    fingerprint: str
    #: Metrics on the rows the comparison uses (the candidate's held-out rows when paired).
    metrics: dict[str, float]
    commit: str | None
    cache_hit: bool
    #: Whether the model's files had uncommitted changes (the candidate only).
    dirty: bool | None = False


@dataclass(frozen=True)
class Comparison:
    name: str
    spec: Spec
    candidate: Version
    baseline: Version | None
    #: True when the model does not exist at the merge-base.
    new_model: bool
    #: True when both versions were scored on the same rows.
    paired: bool
    #: Why there is no baseline, or why the comparison is not paired; empty otherwise.
    note: str
    deltas: dict[str, Delta]
    slices: list[SliceResult]
    gates: list[GateResult]
    #: (spec key, baseline value, candidate value) for every key that differs.
    params_diff: list[tuple[str, Any, Any]]
    data_diff: dict[str, Any]
    candidate_lineage: dict[str, Any] = field(repr=False, default_factory=dict)
    candidate_performance: dict[str, float] = field(default_factory=dict)
    #: Every change test of the model (globally and per slice), Holm-adjusted as one family.
    change_tests: list[ChangeTest] = field(default_factory=list)
    #: How many held-out rows were compared, and how many were left out and why.
    rows: dict[str, Any] = field(default_factory=dict)
    #: True when the estimator takes a seed, so that its metrics vary between training seeds.
    seeded: bool = False
    #: Pairs of training seeds whose variation the intervals include (``evaluation.seeds``); 1 when none.
    seeds: int = 1
    #: A maintainer's acceptance of this model's failed gates (see :mod:`mlship.review.acceptance`).
    accepted: Acceptance | None = None
    #: Baseline and candidate curves on the compared rows (only when paired), for the comment.
    charts: list[Chart] = field(default_factory=list, repr=False)

    @property
    def gates_passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def passed(self) -> bool:
        """The verdict: every gate passed, or a maintainer accepted the failures."""
        return self.gates_passed or self.accepted is not None

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable result documented in the README."""
        return {
            "name": self.name,
            "passed": self.passed,
            "gates_passed": self.gates_passed,
            "accepted": self.accepted.to_dict() if self.accepted else None,
            "new_model": self.new_model,
            "paired": self.paired,
            "note": self.note,
            "rows": self.rows,
            "baseline": asdict(self.baseline) if self.baseline else None,
            "candidate": asdict(self.candidate),
            "deltas": {name: delta.to_dict() for name, delta in self.deltas.items()},
            "gates": [gate.to_dict() for gate in self.gates],
            "slices": [
                {**asdict(s), "deltas": {name: d.to_dict() for name, d in s.deltas.items()}} for s in self.slices
            ],
            "change_tests": [{"metric": t.metric, "rule": t.rule, "bound": t.bound, "slice": t.where or None,
                              "drop": t.drop, "p_value": t.p_value, "adjusted_p": t.adjusted_p, "failed": t.failed}
                             for t in self.change_tests],
            "params_diff": [{"key": k, "baseline": old, "candidate": new} for k, old, new in self.params_diff],
            "data_diff": self.data_diff,
        }


@dataclass(frozen=True)
class Checkout:
    """The base commit checked out at ``path``, mirroring the repository at ``repo``."""

    commit: str
    path: Path
    repo: Path

    def mirror(self, path: Path) -> Path:
        """Where ``path`` of the repository lies in the checkout."""
        return self.path / Path(path).resolve().relative_to(self.repo.resolve())

    def unmirror(self, text: str) -> str:
        """``text`` with paths into the checkout written as paths in the repository."""
        # Error texts show paths as the user would type them: relative to the working directory when inside it.
        prefixes = {str(self.path), str(self.path.resolve()), os.path.relpath(self.path)}
        for prefix in sorted(prefixes, key=len, reverse=True):  # the longest first: one may end another
            text = text.replace(prefix + os.sep, "")
        return text


NEW_MODEL = "new model: there is no baseline at the merge-base, so only absolute gates apply"


def compare_model(project: Project, name: str, base: Checkout) -> Comparison:
    """Compare model ``name`` at the working tree of ``project`` with the same model at ``base``."""
    spec = project.spec(name)
    candidate_result = train(spec, project.cache_dir)
    candidate_entry = CacheEntry(candidate_result.entry)
    folder = base.mirror(project.model_dir(name))
    if not (folder / SPEC_FILE).is_file():
        return _without_baseline(spec, candidate_result, candidate_entry, NEW_MODEL, new=True)
    try:
        baseline_spec = load_spec(folder)
        baseline_result = train(baseline_spec, project.cache_dir)
    except MlshipError as error:
        reason = base.unmirror(str(error).splitlines()[0])
        note = f"the baseline at the merge-base cannot be evaluated ({reason}), so only absolute gates apply"
        return _without_baseline(spec, candidate_result, candidate_entry, note, new=False)
    return _compare(spec, baseline_spec, candidate_result, candidate_entry, baseline_result,
                    CacheEntry(baseline_result.entry), base.commit, project.cache_dir)


def _without_baseline(spec: Spec, result: Trained, entry: CacheEntry, note: str, new: bool) -> Comparison:
    gates = check_absolute(spec.config.gates, result.metrics, result.unavailable)
    gates += check_changes(spec.config.gates, {}, None, [], False, spec.config.evaluation.bootstrap.confidence)[0]
    return Comparison(
        name=spec.name, spec=spec,
        candidate=_candidate_version(spec, result),
        baseline=None, new_model=new, paired=False, note=note, deltas={}, slices=[], gates=gates,
        params_diff=[], data_diff=_data_diff(None, entry.lineage()),
        candidate_lineage=entry.lineage(), candidate_performance=result.performance,
    )


def _compare(spec: Spec, baseline_spec: Spec, candidate: Trained, candidate_entry: CacheEntry,
             baseline: Trained, baseline_entry: CacheEntry, base_commit: str, cache_dir: Path) -> Comparison:
    dataset = load_dataset(spec, local_data_files(spec, cache_dir))
    candidate_predictions = candidate_entry.predictions()
    assert np.array_equal(candidate_predictions["row"].to_numpy(), dataset.test_rows), "split is deterministic"
    candidate_model = _predictions_of(candidate_predictions, dataset.classes)
    settings = spec.config.evaluation.bootstrap
    # The base's seed: a pull request cannot pick the resamples its verdict is drawn from.
    seed = baseline_spec.config.evaluation.bootstrap.seed
    notes = [] if seed == settings.seed else [
        f"the bootstrap seed changed ({seed} → {settings.seed}); the comparison keeps the base's seed, so that a "
        "seed cannot be chosen to pass"]
    metrics = [m for m in spec.metrics if m in candidate.metrics]
    rows = compared_rows(dataset.test_table, dataset.test_digests, candidate_entry.train_digests(),
                         baseline_entry.lineage().get("split"), baseline_entry.train_digests())
    shared, why_unpaired = _shared_rows(spec, baseline_spec, baseline_entry, dataset, rows)
    pairs: list[tuple[Predictions, Predictions]] = []
    if shared is not None:
        paired = True
        mask, baseline_model = shared
        dataset, candidate_model = _restricted(dataset, mask), _subset(candidate_model, mask)
        y = dataset.y_test.to_numpy()
        candidate_metrics, _ = score(metrics, y, candidate_model.y_pred, candidate_model.proba, dataset.classes,
                                     dataset.positive_class)
        baseline_metrics, _ = score(metrics, y, baseline_model.y_pred, baseline_model.proba, dataset.classes,
                                    dataset.positive_class)
        pairs, why_one_seed = _seed_pairs(candidate_entry, baseline_entry, dataset)
        pairs.insert(0, (candidate_model, baseline_model))
        if why_one_seed:
            notes.append(why_one_seed)
        deltas = _with_seeds(paired_bootstrap(metrics, y, candidate_model, baseline_model, dataset.classes,
                                              dataset.positive_class, settings.resamples, settings.confidence, seed),
                             y, pairs, dataset, settings.confidence)
        slices = _slices(spec, dataset, pairs, seed)
        counted = {"compared": len(y), "held_out": len(rows.mask), "excluded": _excluded(rows, mask)}
        drawn = charts(spec.task, y, candidate_model, baseline_model, dataset.classes, dataset.positive_class)
    else:
        paired = False
        notes.insert(0, f"not paired: {why_unpaired}; each version is scored on its own held-out rows")
        candidate_metrics, baseline_metrics = candidate.metrics, baseline.metrics
        own, recorded = baseline_entry.predictions(), baseline_entry.metrics()
        deltas = unpaired_bootstrap(
            [m for m in metrics if m in baseline_metrics],
            Sample(dataset.y_test.to_numpy(), candidate_model, dataset.classes, dataset.positive_class),
            Sample(own["y_true"].to_numpy(), _predictions_of(own, recorded["classes"]), recorded["classes"],
                   recorded["positive_class"]),
            settings.resamples, settings.confidence, seed,
        )
        slices, drawn = [], []
        counted = {"compared": None, "held_out": len(dataset.y_test), "excluded": {}}
    gates = check_absolute(spec.config.gates, candidate.metrics, candidate.unavailable)
    changes, tests = check_changes(spec.config.gates, deltas, baseline_metrics, slices, paired, settings.confidence)
    gates += changes
    return Comparison(
        name=spec.name, spec=spec,
        candidate=_candidate_version(spec, candidate, candidate_metrics),
        baseline=Version(baseline.fingerprint, baseline_metrics, base_commit, baseline.cache_hit),
        new_model=False, paired=paired, note="; ".join(notes), deltas=deltas, slices=slices, gates=gates,
        params_diff=_params_diff(baseline_spec, spec),
        data_diff=_data_diff(baseline_entry.lineage(), candidate_entry.lineage()),
        candidate_lineage=candidate_entry.lineage(), candidate_performance=candidate.performance,
        change_tests=tests, rows=counted, seeded=bool(seed_params(candidate_entry.load_model())),
        seeds=max(len(pairs), 1), charts=drawn,
    )


def _seed_pairs(candidate: CacheEntry, baseline: CacheEntry,
                dataset: Dataset) -> tuple[list[tuple[Predictions, Predictions]], str]:
    """Each pair of seed replicas' predictions of the compared rows (``evaluation.seeds``), or why there are none."""
    candidates, baselines = candidate.replicas(), baseline.replicas()
    if not candidates:
        return [], ""  # one seed was asked for, or the estimator takes none (training warned)
    if not baselines:
        return [], ("the intervals leave out seed variation: the baseline was trained with one seed (evaluation.seeds "
                    "applies to both versions once the base branch has it)")
    features = baseline.lineage()["data"]["features"]
    pairs = []
    for candidate_model, baseline_model in zip(candidates, baselines):
        own, _ = _model_predictions(candidate_model, list(dataset.X_test.columns), dataset.X_test)
        other, why = _model_predictions(baseline_model, features, dataset.test_table)
        if own is None or other is None:
            return [], f"the intervals leave out seed variation: {why}"
        pairs.append((own, other))
    return pairs, ""


def _with_seeds(deltas: dict[str, Delta], y: np.ndarray, pairs: list[tuple[Predictions, Predictions]],
                dataset: Dataset, confidence: float) -> dict[str, Delta]:
    """``deltas`` with the variation between the pairs of seed replicas (the shipped pair first) added."""
    if len(pairs) < 2:
        return deltas
    per_pair = [_point_deltas(list(deltas), y, candidate, baseline, dataset) for candidate, baseline in pairs]
    return {name: with_seed_variation(name, delta, [values.get(name, math.nan) for values in per_pair], confidence)
            for name, delta in deltas.items()}


def _point_deltas(metrics: list[str], y: np.ndarray, candidate: Predictions, baseline: Predictions,
                  dataset: Dataset) -> dict[str, float]:
    cand, _ = score(metrics, y, candidate.y_pred, candidate.proba, dataset.classes, dataset.positive_class)
    base, _ = score(metrics, y, baseline.y_pred, baseline.proba, dataset.classes, dataset.positive_class)
    return {name: cand[name] - base[name] for name in metrics if name in cand and name in base}


def _shared_rows(spec: Spec, baseline_spec: Spec, entry: CacheEntry, dataset: Dataset,
                 rows: ComparedRows) -> tuple[tuple[np.ndarray, Predictions] | None, str]:
    """The held-out rows both versions are scored on (a mask over the candidate's) with the baseline's
    predictions of them, or why there are none."""
    if baseline_spec.target != spec.target or baseline_spec.task != spec.task:
        return None, "the target changed"
    if rows.mask is None:
        return None, rows.unknown
    if not rows.mask.any():
        return None, "every held-out row was in the training data of one version or the other"
    model = entry.load_model()
    if spec.task == "classification" and list(model.classes_) != list(dataset.classes):
        return None, "the classes changed"
    predicted, why = _model_predictions(model, entry.lineage()["data"]["features"], dataset.test_table[rows.mask])
    if predicted is not None:
        return (rows.mask, predicted), ""
    recorded = _recorded_predictions(entry, rows, dataset.classes)
    if recorded is not None:
        return recorded, ""
    return None, why


def _model_predictions(model: Any, features: list[str], table: pd.DataFrame) -> tuple[Predictions | None, str]:
    """A model's predictions of ``table``'s rows, or why it cannot make them (the baseline may need
    columns the candidate's data no longer has)."""
    missing = [c for c in features if c not in table.columns]
    if missing:
        return None, f"the baseline needs columns the new data lacks ({', '.join(missing)})"
    try:
        rows = table[features]
        proba = model.predict_proba(rows) if hasattr(model, "predict_proba") else None
        return Predictions(model.predict(rows), proba), ""
    except (ValueError, TypeError) as error:
        return None, f"the baseline cannot score the new rows ({error})"


def _recorded_predictions(entry: CacheEntry, rows: ComparedRows,
                          classes: list[Any] | None) -> tuple[np.ndarray, Predictions] | None:
    """The baseline's own recorded predictions of the compared rows it also held out (matched by
    digest), for when it cannot predict the new data: the same rows, so still a paired comparison."""
    recorded = entry.predictions()
    position = {digest: index for index, digest in enumerate(recorded["digest"].to_numpy().tolist())}
    mask = rows.mask & np.isin(rows.digests, recorded["digest"].to_numpy())
    if not mask.any():
        return None
    order = [position[digest] for digest in rows.digests[mask].tolist()]
    return mask, _subset(_predictions_of(recorded, classes), np.asarray(order))


def _excluded(rows: ComparedRows, mask: np.ndarray) -> dict[str, int]:
    """Why held-out rows were left out of the comparison, with the rows the baseline never held out."""
    excluded = dict(rows.excluded)
    unrecorded = int(rows.mask.sum()) - int(mask.sum())
    if unrecorded:
        excluded["the baseline cannot predict them and did not hold them out"] = unrecorded
    return excluded


def _restricted(dataset: Dataset, mask: np.ndarray) -> Dataset:
    """``dataset`` with only the held-out rows in ``mask``."""
    return replace(dataset, X_test=dataset.X_test[mask], y_test=dataset.y_test[mask],
                   test_rows=dataset.test_rows[mask], test_digests=dataset.test_digests[mask],
                   test_table=dataset.test_table[mask])


def _candidate_version(spec: Spec, result: Trained, metrics: dict[str, float] | None = None) -> Version:
    dirty = is_dirty(spec.dir, [spec.dir, *spec.data_files()])
    return Version(result.fingerprint, result.metrics if metrics is None else metrics, reviewed_commit(spec.dir),
                   result.cache_hit, dirty)


def _slices(spec: Spec, dataset: Dataset, pairs: list[tuple[Predictions, Predictions]],
            seed: int) -> list[SliceResult]:
    """Both versions' metrics on each slice, with deltas for the metrics the slice can judge.

    ``pairs`` are both versions' predictions, the shipped models first, then any seed replicas.
    """
    evaluation = spec.config.evaluation
    settings = evaluation.bootstrap
    y = dataset.y_test.to_numpy()
    results = []
    for by in evaluation.slices:
        labels, order = _slice_labels(dataset.test_table[by.column], by)
        for value in order:
            mask = (labels == value).to_numpy()
            parts = [(_subset(c, mask), _subset(b, mask)) for c, b in pairs]
            part_c, part_b = parts[0]
            cand, _ = score(spec.metrics, y[mask], part_c.y_pred, part_c.proba, dataset.classes, dataset.positive_class)
            base, _ = score(spec.metrics, y[mask], part_b.y_pred, part_b.proba, dataset.classes, dataset.positive_class)
            unjudged = {m: why for m in spec.metrics if (why := _why_unjudged(m, y[mask], dataset, evaluation))}
            judged = [m for m in spec.metrics if m in cand and m in base and m not in unjudged]
            deltas = _with_seeds(paired_bootstrap(judged, y[mask], part_c, part_b, dataset.classes,
                                                  dataset.positive_class, settings.resamples, settings.confidence,
                                                  seed), y[mask], parts, dataset, settings.confidence)
            results.append(SliceResult(by.column, value, int(mask.sum()), cand, base, deltas, unjudged))
    return results


def _slice_labels(column: pd.Series, by: SliceBy) -> tuple[pd.Series, list[str]]:
    """Each row's slice, and the slices in order of their values (missing values last).

    A numeric column is cut into quantile bins when ``bins`` is set or it has more than
    :data:`MAX_SLICE_VALUES` distinct values; otherwise each value is a slice.
    """
    present = column.dropna()
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if numeric and (by.bins or present.nunique() > MAX_SLICE_VALUES):
        bins = pd.qcut(present, by.bins or DEFAULT_BINS, duplicates="drop")
        # pandas widens the first bin's left edge a little below the minimum; show the minimum.
        lefts = [present.min(), *(interval.left for interval in bins.cat.categories[1:])]
        names = {interval: f"{left:.4g} to {interval.right:.4g}" for left, interval in zip(lefts, bins.cat.categories)}
        labels, order = bins.map(names).astype(object), list(names.values())
    else:
        values = sorted(present.unique(), key=None if numeric else str)
        names = {v: f"{v:g}" if numeric and isinstance(v, float) else str(v) for v in values}
        labels, order = present.map(names).astype(object), list(names.values())
    labels = labels.reindex(column.index)
    if labels.isna().any():
        order.append(MISSING_VALUE)
    return labels.fillna(MISSING_VALUE), order


def _why_unjudged(metric: str, y: np.ndarray, dataset: Dataset, evaluation: Evaluation) -> str:
    """Why a slice with truth ``y`` cannot judge ``metric``, or "" when it can."""
    if len(y) < evaluation.min_slice_size:
        return f"{len(y)} rows, fewer than min_slice_size {evaluation.min_slice_size}"
    if metric in PER_CLASS_METRICS and dataset.classes is not None:
        fewest = min(dataset.classes, key=lambda c: int(np.sum(y == c)))
        count = int(np.sum(y == fewest))
        if count < evaluation.min_slice_class_size:
            return (f"{count} rows of class {fewest!r}; {metric} needs {evaluation.min_slice_class_size} "
                    "of each class (min_slice_class_size)")
    if metric == "r2" and np.unique(y).size == 1:
        return "the target is constant in this slice"
    return ""


def _subset(model: Predictions, mask: np.ndarray) -> Predictions:
    return Predictions(model.y_pred[mask], None if model.proba is None else model.proba[mask])


def _predictions_of(frame: pd.DataFrame, classes: list[Any] | None) -> Predictions:
    if classes is None or f"proba:{classes[0]}" not in frame.columns:
        return Predictions(frame["y_pred"].to_numpy())
    return Predictions(frame["y_pred"].to_numpy(), frame[[f"proba:{c}" for c in classes]].to_numpy())


def _params_diff(before: Spec, after: Spec) -> list[tuple[str, Any, Any]]:
    old, new = (_flatten(s.config.model_dump(mode="json", exclude={"description"})) for s in (before, after))
    return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _data_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    new = after["data"]
    old = before["data"] if before else None
    columns_old = set(old.get("columns", [])) if old else set()
    columns_new = set(new.get("columns", []))
    return {
        "rows": {"baseline": _rows(old), "candidate": _rows(new)},
        "columns_added": sorted(columns_new - columns_old) if old else [],
        "columns_removed": sorted(columns_old - columns_new) if old else [],
        "features_added": sorted(set(new["features"]) - set(old["features"])) if old else [],
        "features_removed": sorted(set(old["features"]) - set(new["features"])) if old else [],
        "target": {"baseline": old.get("target") if old else None, "candidate": new.get("target")},
        "digests": {"baseline": old["digests"] if old else None, "candidate": new["digests"]},
    }


def _rows(data: dict[str, Any] | None) -> dict[str, int] | None:
    return {"train": data["train_rows"], "test": data["test_rows"]} if data else None
