"""Training a model at the working tree, or taking it from the cache by its fingerprint.

This is the one way every journey gets a trained model. scikit-learn and pandas are
imported only when a model really has to be trained, so a cache hit stays fast.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlship.errors import MlshipError, TrainingError
from mlship.files import atomic_write_json
from mlship.git import is_dirty, reviewed_commit
from mlship.metrics import CATALOGUE
from mlship.spec import Spec
from mlship.train.cache import (LINEAGE_FILE, METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE, PROFILE_FILE,
                               REPLICAS_FILE, TRAIN_DIGESTS_FILE, Cache, CacheEntry)
from mlship.train.fingerprint import Fingerprint, data_sources, fingerprint

if TYPE_CHECKING:
    from mlship.train.data import Dataset


@dataclass(frozen=True)
class Trained:
    """A trained and evaluated model, as its cache entry records it."""

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
    warnings: list[str] = field(default_factory=list)
    entry: Path | None = None
    #: Each metric on the held-out rows for every training seed, the model's own first
    #: (``evaluation.seeds``; empty when it was trained once).
    seed_metrics: dict[str, list[float]] = field(default_factory=dict)
    #: How each feature was treated (a number, a category, a date), in words; empty for entries
    #: trained before mlship recorded it.
    features: dict[str, str] = field(default_factory=dict)


def train(spec: Spec, cache_dir: Path, use_cache: bool = True) -> Trained:
    """Train and evaluate the model of ``spec`` as its files are now, or load it from the cache in ``cache_dir``."""
    fp = fingerprint(spec, cache_dir)
    cache = Cache(cache_dir)
    entry = cache.get(fp.value) if use_cache else None
    cache_hit = entry is not None
    if entry is None:
        entry = _train_into_cache(spec, fp, cache)
    document, lineage = entry.metrics(), entry.lineage()
    return Trained(
        name=spec.name,
        task=spec.task,
        fingerprint=entry.fingerprint,
        cache_hit=cache_hit,
        primary_metric=document["primary_metric"],
        metrics=document["metrics"],
        unavailable=document["unavailable"],
        rows=document["rows"],
        performance=document["performance"],
        warnings=lineage.get("warnings", []),
        entry=entry.path,
        seed_metrics=document.get("seed_metrics", {}),
        features=lineage.get("data", {}).get("treatment", {}) if spec.config.model.preprocess else {},
    )


def _train_into_cache(spec: Spec, fp: Fingerprint, cache: Cache) -> CacheEntry:
    import cloudpickle
    import numpy as np

    from mlship.train import dates
    from mlship.train.data import load_dataset
    from mlship.train.evaluation import evaluate
    from mlship.train.fit import build_estimator, fit
    from mlship.train.importance import permutation_importance
    from mlship.train.profile import build_profile, save_profile
    from mlship.train.remote import local_data_files

    started = time.perf_counter()
    with _users_code(spec, "building the estimator"):
        estimator, entrypoint_module = build_estimator(spec)
    dataset = load_dataset(spec, local_data_files(spec, cache.root))
    loaded = time.perf_counter()
    with _users_code(spec, "fitting"):
        trained = fit(spec, estimator, dataset)
    with _users_code(spec, "evaluating"):
        scores = evaluate(spec, trained.model, dataset)
    with _users_code(spec, "measuring the features' importance"):
        importance = permutation_importance(spec, trained.model, dataset)
    with _users_code(spec, "training the seed replicas"):
        replicas, seed_metrics, seed_warnings = _seed_replicas(spec, estimator, dataset, scores.metrics)
    evaluated = time.perf_counter()

    with cache.new_entry(fp.value) as staging:
        if entrypoint_module is not None:
            cloudpickle.register_pickle_by_value(entrypoint_module)
        if dataset.dates:  # the served model must read dates without mlship installed
            cloudpickle.register_pickle_by_value(dates)
        with open(staging / MODEL_FILE, "wb") as stream, _users_code(spec, "saving the model (it must pickle)"):
            cloudpickle.dump(trained.model, stream)
        if replicas:
            with open(staging / REPLICAS_FILE, "wb") as stream, _users_code(spec, "saving the seed replicas"):
                cloudpickle.dump(replicas, stream)
        scores.predictions.to_parquet(staging / PREDICTIONS_FILE, index=False)
        np.save(staging / TRAIN_DIGESTS_FILE, dataset.train_digests, allow_pickle=False)
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
            "seed_metrics": seed_metrics,
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
            "git": {"commit": reviewed_commit(spec.dir), "dirty": is_dirty(spec.dir, [spec.dir, *spec.data_files()])},
            "data": {"digests": fp.parts["data"], "sources": data_sources(spec, fp.parts["data"]),
                     "train_rows": len(dataset.X_train),
                     "test_rows": len(dataset.X_test), "columns": dataset.columns,
                     "features": list(dataset.X_train.columns), "categorical": dataset.categorical,
                     "dates": dataset.dates, "treatment": dataset.treatment, "target": dataset.target},
            "split": dataset.split.to_json(),
            "versions": fp.parts["versions"],
            "platform": platform.platform(),
            "timings": {
                "load_seconds": loaded - started,
                "fit_seconds": trained.fit_seconds,
                "evaluate_seconds": evaluated - loaded - trained.fit_seconds,
                "total_seconds": time.perf_counter() - started,
            },
            "warnings": dataset.warnings + trained.warnings + seed_warnings,
        })
        save_profile(staging / PROFILE_FILE, build_profile(spec, dataset, scores.predictions, importance))
    entry = cache.get(fp.value)
    assert entry is not None, "the entry was just installed"
    return entry


def _seed_replicas(spec: Spec, estimator: Any, dataset: Dataset,
                   metrics: dict[str, float]) -> tuple[list[Any], dict[str, list[float]], list[str]]:
    """With ``evaluation.seeds: N``, the model trained N − 1 more times with shifted seeds: the fitted
    replicas, every metric per seed (the model's own first), and a warning when seeds cannot vary."""
    from mlship.train.evaluation import evaluate
    from mlship.train.fit import fit, reseeded

    count = spec.config.evaluation.seeds
    if count == 1:
        return [], {}, []
    replicas, per_seed = [], {name: [value] for name, value in metrics.items()}
    for shift in range(1, count):
        copy = reseeded(estimator, shift)
        if copy is None:
            return [], {}, [f"evaluation.seeds: {count} has no effect: {type(estimator).__name__} takes no "
                            "integer random_state, so every seed trains the same model"]
        replica = fit(spec, copy, dataset, shift).model
        replicas.append(replica)
        for name, value in evaluate(spec, replica, dataset).metrics.items():
            per_seed.setdefault(name, []).append(value)
    return replicas, {name: values for name, values in per_seed.items() if len(values) == count}, []


@contextmanager
def _users_code(spec: Spec, stage: str) -> Iterator[None]:
    """Where the model's own code runs (its estimator, its entrypoint): whatever it raises, even
    ``sys.exit(0)`` or an exception outside :class:`Exception`, is a :class:`TrainingError` naming
    the model, never a traceback or a silent exit. Ctrl-C still interrupts."""
    try:
        yield
    except (MlshipError, KeyboardInterrupt):
        raise
    except SystemExit as error:
        raise TrainingError(f"{_where(spec)}: {stage}: the model's code called sys.exit({error.code!r}); "
                            "an entrypoint must return an estimator") from None
    except BaseException as error:
        raise TrainingError(f"{_where(spec)}: {stage} failed: {type(error).__name__}: {error}") from error


def _where(spec: Spec) -> str:
    return str(spec.location("model", "entrypoint" if spec.config.model.entrypoint else "estimator"))


def _plain(value: Any) -> Any:
    """NumPy scalars (class labels) as plain Python values, for JSON."""
    return value.tolist() if hasattr(value, "tolist") else [_plain(v) for v in value] if isinstance(value, list) else value
