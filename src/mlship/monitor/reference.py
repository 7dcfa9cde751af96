"""The reference of a drift check: which model version recent data is compared with.

By default it is the model at the working tree (trained, or taken from the cache). With a
stage or a version it is a released version: the one a stage serves is what its prediction
log comes from, so judging the log against the checkout (a newer commit after a rollback)
would compare the wrong model and skip the predictions as "another version's".

A released version's profile is the ledger at its tag's commit: ``profile.json`` there,
accepted only when ``metrics.json`` beside it records the version's fingerprint and the
profile's SHA-256 (the ledger's commit point; a release's ``SHA256SUMS`` covers that
``metrics.json``). Tags are never moved, so this is the profile approved with the version.
The version's model is needed only to predict a table's rows: it comes from the cache by
fingerprint, else is trained again at the tag's commit and must reproduce the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mlship import git
from mlship.errors import ProjectError
from mlship.project import Project
from mlship.ship import registry
from mlship.ship.registry import Event, RegistryError
from mlship.spec import Monitoring

WORKING_TREE = "the working tree"
#: The ledger's folder and files, as :mod:`mlship.review.ledger` writes them. Monitoring may not import
#: the review (the independence contract in pyproject.toml); a test holds the two in step.
REPORTS_DIR, METRICS, PROFILE = "reports", "metrics.json", "profile.json"


class ReferenceError(RegistryError):
    """A released version's reference profile is missing, or is not the one its ledger records."""


@dataclass(frozen=True)
class Reference:
    model: str
    fingerprint: str
    profile: dict[str, Any]
    #: What the reference is, for the report: "v0.1.0 (prod)", or "the working tree".
    label: str
    settings: Monitoring
    #: Loads the reference's model (slow: only when a table's rows must be predicted).
    load_model: Callable[[], Any]


def working_tree(project: Project, model: str) -> Reference:
    """The model at the working tree, trained first when the cache lacks it."""
    from mlship.train.cache import CacheEntry
    from mlship.train.trainer import train

    spec = project.spec(model)
    trained = train(spec, project.cache_dir)
    entry = CacheEntry(trained.entry)
    return Reference(spec.name, trained.fingerprint, entry.profile(), WORKING_TREE, spec.config.monitoring,
                     entry.load_model)


def released(project: Project, model: str, stage: str | None = None, version: str | None = None) -> Reference:
    """The version ``stage`` serves, or ``version``: its profile from the ledger at its tag's commit."""
    name = registry.model_name(project, model)
    found = registry.read(project, name)
    if stage is not None:
        event = found.current(stage)
        if event is None:
            raise RegistryError(f"{name} has no version in {stage}: deploy one (`mlship deploy {name} --stage "
                                f"{stage}`), or check the working tree's model without --stage")
        label = f"{event.version} ({stage})"
    else:
        event = found.find(version or "")
        label = str(event.version)
    if not event.fingerprint:
        raise ReferenceError(f"{event.tag} records no fingerprint: it was not made by `mlship release`")
    profile = released_profile(project, event)
    settings = _settings(project, name)
    return Reference(name, event.fingerprint, profile, label, settings, lambda: _model_of(project, event))


def released_profile(project: Project, event: Event) -> dict[str, Any]:
    """``event``'s ``profile.json`` at its commit, checked against the ``metrics.json`` there."""
    repo = git.toplevel(project.root)
    reports = (project.root / REPORTS_DIR / event.model).resolve().relative_to(repo.resolve())
    where = f"{reports.as_posix()}/ at {event.commit[:12]} ({event.tag})"
    metrics = git.file_at(repo, event.commit, (reports / METRICS).as_posix())
    profile = git.file_at(repo, event.commit, (reports / PROFILE).as_posix())
    if metrics is None or profile is None:
        raise ReferenceError(f"{where} lacks {METRICS} or {PROFILE}: the version has no reference "
                             "profile to compare with")
    try:
        document = json.loads(metrics)
    except ValueError as error:
        raise ReferenceError(f"{where}: {METRICS} is not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("fingerprint") != event.fingerprint:
        raise ReferenceError(f"{where}: {METRICS} does not record the fingerprint of {event.tag} "
                             f"({(event.fingerprint or '')[:12]}): the ledger there is not the version's")
    recorded = (document.get("files") or {}).get(PROFILE)
    if recorded != hashlib.sha256(profile).hexdigest():
        raise ReferenceError(f"{where}: {PROFILE} is not the one {METRICS} records (SHA-256 "
                             f"{str(recorded)[:12]}…): the reference profile cannot be trusted")
    return json.loads(profile)


def _settings(project: Project, name: str) -> Monitoring:
    """The working tree's monitoring thresholds (defaults when the model's folder is gone)."""
    try:
        return project.spec(name).config.monitoring
    except ProjectError:
        return Monitoring()


def _model_of(project: Project, event: Event) -> Any:
    """The version's model: from the cache by fingerprint, else trained at the tag's commit."""
    from mlship.spec import load_spec
    from mlship.train.cache import Cache, CacheEntry
    from mlship.train.trainer import train

    entry = Cache(project.cache_dir).get(event.fingerprint or "")
    if entry is not None:
        return entry.load_model()
    repo = git.toplevel(project.root)
    folder = project.models_dir.resolve().relative_to(repo.resolve()) / event.model
    with git.worktree(repo, event.commit) as tree:
        trained = train(load_spec(Path(tree) / folder), project.cache_dir)
    if trained.fingerprint != event.fingerprint:
        raise ReferenceError(f"{event.tag}'s model cannot be rebuilt here: trained at {event.commit[:12]} it has the "
                             f"fingerprint {trained.fingerprint[:12]}, not {(event.fingerprint or '')[:12]} (other "
                             "library versions?). Give the service's prediction log of that version instead of a "
                             "table: its predictions need no model")
    return CacheEntry(trained.entry).load_model()
