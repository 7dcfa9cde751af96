"""Packaging: the ledger-approved model as a BentoML bento, exported to ``dist/`` with its digest.

``mlship package MODEL`` is the first step of the merge journey. The model at the
working tree must have its ledger's fingerprint (what was reviewed is what ships), and
the fitted pipeline comes from the cache by that fingerprint. It is saved in a BentoML
model store as ``<name>:<first 16 hex of the fingerprint>``, with the reference profile of
its training data beside it (``profile.json``, also in the model's metadata under
``profile``); a service pinned to that exact tag is generated from
``templates/service.py.j2``, with an input schema derived from the training features and
the monitoring described there (Prometheus metrics, an optional sampled prediction log);
the bento is built offline with pinned packages and exported as
``dist/<name>-<version>.bento``, its SHA-256 in a ``.sha256`` file beside it.
The bento's version is a digest of everything it is built from, so packaging again
reuses the model, the bento and the archive instead of making new ones.

Every BentoML call runs in a subprocess (this module run as ``python -m
mlship.ship.packaging``, or ``python -m bentoml``) with an explicit environment: the store's
``BENTOML_HOME`` and telemetry off. No other BentoML home or model can be picked up,
BentoML's global state and logging stay out of the caller's process, and importing
mlship never imports BentoML.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from mlship import __version__
from mlship.errors import MlshipError, display_path
from mlship.files import atomic_write_json, atomic_write_text, sha256_file, sha256_text
from mlship.project import Project
from mlship.ship import environment
from mlship.train.cache import MODEL_FILE, PROFILE_FILE, CacheEntry

if TYPE_CHECKING:
    from mlship.review.ledger import Verification

#: The project-local BentoML home, used unless ``BENTOML_HOME`` is set.
STORE_DIR = Path(".mlship") / "bentoml"
DIST_DIR = "dist"
SERVICE_FILE = "service.py"
#: The generated service class, as ``bentoml build`` imports it from the build context.
SERVICE = "service:ModelService"
#: Hex digits of a digest in a model or bento version.
VERSION_DIGITS = 16
#: Categorical features with more known categories than this accept any value (the
#: encoder tolerates unseen ones) instead of an enumeration in the schema.
MAX_ENUMERATED_CATEGORIES = 1000
ANY_CATEGORY = "t.Union[str, int, float, bool]"
#: The service's own imports, pinned beside the libraries the model was trained with.
SERVICE_LIBRARIES = ("cloudpickle", "pydantic", "prometheus_client", "threadpoolctl")
#: Bucket bounds of the predicted-probability histogram.
PROBABILITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: Quantiles of the held-out predictions that bound the predicted-value histogram's buckets.
VALUE_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
#: Significant digits of a bucket bound.
BUCKET_DIGITS = 3
SUBPROCESS_TIMEOUT_SECONDS = 900
ERROR_TAIL_LINES = 15
#: How long a command waits for another one holding the same lock (a model's store, a stage).
LOCK_TIMEOUT_SECONDS = 900
LOCK_POLL_SECONDS = 0.2


class PackagingError(MlshipError):
    """The model cannot be packaged, or a packaged archive cannot be used."""


class LedgerMismatchError(PackagingError):
    """The model at the working tree is not the one its ledger approved."""


class FailedGatesError(PackagingError):
    """The ledger records that the model failed its gates: it was not approved."""


class ArchiveError(PackagingError):
    """An exported archive is missing, corrupted, or cannot be imported."""


@dataclass(frozen=True)
class Package:
    """What :func:`package` made or found already made."""

    name: str
    fingerprint: str
    model_tag: str
    bento_tag: str
    archive: Path
    sha256: str
    #: The BentoML home holding the model and the bento.
    store: Path
    #: The model came from the cache (nothing was trained).
    cache_hit: bool
    #: False when each already existed and was reused.
    model_saved: bool
    bento_built: bool
    exported: bool


@dataclass(frozen=True)
class Feature:
    """A field of the service's input schema."""

    name: str
    #: Its Python name in the generated pydantic model (the feature's name is the alias,
    #: so any column name works, even one that is not an identifier).
    attribute: str
    #: Its type as Python source, e.g. ``float`` or ``t.Literal['basic', 'premium']``.
    annotation: str


@contextmanager
def exclusive(path: Path, busy: str, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block, waiting up to ``timeout`` seconds.

    The lock is the operating system's (``flock``), so a killed holder never leaves it taken.
    Raises :class:`PackagingError` saying ``busy`` when it is still held after ``timeout``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PackagingError(f"{busy} (it holds {display_path(path)} after {timeout:.0f} s): wait for "
                                         "it to finish, or stop it") from None
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def store_home(project: Project) -> Path:
    """``$BENTOML_HOME`` if set, else ``.mlship/bentoml`` in the project."""
    configured = os.environ.get("BENTOML_HOME")
    return Path(configured).resolve() if configured else project.root / STORE_DIR


def bentoml_env(home: Path) -> dict[str, str]:
    """The environment of every BentoML subprocess: the store ``home``, and telemetry off
    (BentoML honours only the word ``true``)."""
    return {**os.environ, "BENTOML_HOME": str(Path(home).resolve()), "BENTOML_DO_NOT_TRACK": "true"}


def digest_file(archive: Path) -> Path:
    """Where an archive's SHA-256 is kept: ``<archive>.sha256``, in ``sha256sum`` format."""
    return archive.with_name(archive.name + ".sha256")


def package(project: Project, model: str, allow_failed: bool = False) -> Package:
    """Package ``model`` (a name or folder) as a bento and export it to ``dist/``.

    Raises :class:`LedgerMismatchError` unless the model at the working tree has the
    fingerprint its ledger (``reports/<name>/metrics.json``) approved, and
    :class:`FailedGatesError` when the ledger records failed gates (a pull request merged
    over a red check), unless ``allow_failed``.
    """
    from mlship.git import head_commit
    from mlship.review import ledger
    from mlship.train.trainer import train

    spec = project.spec(model)
    name = spec.name
    approved = ledger.verify(project, name)
    if not approved.matches:
        raise _mismatch(project, approved)
    if not allow_failed and ledger.read(project, name).get("passed") is False:
        recorded = display_path(ledger.folder(project, name) / ledger.METRICS)
        raise FailedGatesError(f"{name}: the ledger ({recorded}) records that this version failed its gates, so it "
                               "was not approved; only approved models are shipped. Fix the model and merge a "
                               "passing change, or pass --allow-failed to ship it anyway")
    result = train(spec, project.cache_dir)
    if result.fingerprint != approved.ledger_fingerprint:  # a file changed while the model trained
        raise _mismatch(project, ledger.verify(project, name))
    entry = CacheEntry(result.entry)
    fitted, lineage = entry.load_model(), entry.lineage()
    profile_file = entry.path / PROFILE_FILE
    profile = json.loads(profile_file.read_text(encoding="utf-8")) if profile_file.is_file() else None
    model_tag = f"{name}:{result.fingerprint[:VERSION_DIGITS]}"
    service = render_service(project, name, result.task, model_tag, result.fingerprint, fitted, lineage,
                             reference_missing=missing_shares(profile, lineage["data"]["features"]),
                             held_out_predictions=entry.predictions()["y_pred"].tolist(),
                             serving=spec.config.serving.model_dump())
    card = ledger.folder(project, name) / ledger.CARD
    bento = {
        "name": name,
        "service": SERVICE,
        "include": [SERVICE_FILE],
        "labels": {"model": model_tag, "fingerprint": result.fingerprint},
        "description": card.read_text(encoding="utf-8") if card.is_file() else None,
        # Every package pinned here, to the tested environment: nothing left for BentoML to lock or resolve.
        "python": {"packages": _requirements(lineage), "lock_packages": False},
        "docker": environment.docker_options(),
    }
    # The bento is named by everything it is made of: the same inputs give the same bento.
    inputs = {"service": service, "bento": bento, "bentoml": metadata.version("bentoml"),
              "dockerfile": environment.dockerfile_template()}
    bento["version"] = sha256_text(json.dumps(inputs, sort_keys=True))[:VERSION_DIGITS]
    saved = {
        "tag": model_tag,
        "file": str(entry.path / MODEL_FILE),
        # The reference profile goes beside the model file, as written, and into the metadata.
        "profile": str(profile_file) if profile is not None else None,
        "labels": {"fingerprint": result.fingerprint, "task": result.task},
        "metadata": _without_none({
            "model": name,
            "task": result.task,
            "fingerprint": result.fingerprint,
            "commit": head_commit(project.root),  # where it was first packaged: a model reused from the store keeps it
            "primary_metric": result.primary_metric,
            "metrics": result.metrics,
            "lineage": lineage,
            "profile": profile,
            "mlship_version": __version__,
        }),
    }
    archive = project.root / DIST_DIR / f"{name}-{bento['version']}.bento"
    home = store_home(project)
    # One packaging of a model at a time per store: two would both find the model missing and both save it.
    with exclusive(home / f".{name}.lock", f"another `mlship package` or `release` of {name} is running"):
        _remove_abandoned_exports(archive.parent, name)
        export = not _verifies(archive)
        outcome = _save_build_export_in_subprocess(home, saved, bento, service, archive if export else None)
    return Package(name, result.fingerprint, model_tag, f"{name}:{bento['version']}", archive, verify_archive(archive),
                   home, result.cache_hit, outcome["model_saved"], outcome["bento_built"], export)


def _save_build_export_in_subprocess(home: Path, model: dict[str, Any], bento: dict[str, Any], service: str,
                                     archive: Path | None) -> dict[str, bool]:
    """Run :func:`_save_build_export` in a BentoML subprocess; export to ``archive`` (with its digest) if given.

    The export goes to a partial file first, renamed over ``archive`` only when whole.
    """
    with tempfile.TemporaryDirectory(prefix=f"mlship-package-{bento['name']}-") as scratch:
        context = Path(scratch)
        (context / SERVICE_FILE).write_text(service, encoding="utf-8")
        (context / environment.DOCKERFILE_TEMPLATE_FILE).write_text(environment.dockerfile_template(), encoding="utf-8")
        staged = _staging_path(archive) if archive else None
        job = {"model": model, "bento": {**bento, "build_ctx": str(context)},
               "export_to": str(staged) if staged else None, "result": str(context / "result.json")}
        atomic_write_json(context / "job.json", job)
        try:
            # In the build context: BentoML reads the Dockerfile template only from below the working folder.
            _run([sys.executable, "-m", "mlship.ship.packaging", str(context / "job.json")], home,
                 f"packaging {bento['name']} with BentoML failed", cwd=context)
            if archive is not None and staged is not None:
                os.replace(staged, archive)
                atomic_write_text(digest_file(archive), f"{sha256_file(archive)}  {archive.name}\n")
            return json.loads((context / "result.json").read_text())
        finally:
            if staged:
                staged.unlink(missing_ok=True)


def verify_archive(archive: Path) -> str:
    """Check an exported archive against the SHA-256 recorded beside it; return the digest.

    Raises :class:`ArchiveError` when either file is missing or the digests differ.
    """
    archive = Path(archive)
    recorded = digest_file(archive)
    if not archive.is_file():
        raise ArchiveError(f"{display_path(archive)} does not exist: run `mlship package` to make it")
    if not recorded.is_file():
        raise ArchiveError(f"{display_path(archive)} has no {recorded.name} beside it, so it cannot be checked: "
                           "run `mlship package` again, or fetch the digest with the archive")
    expected = (recorded.read_text(encoding="utf-8").split() or [""])[0].lower()
    actual = sha256_file(archive)
    if actual != expected:
        raise ArchiveError(f"{display_path(archive)} is corrupted or was replaced: its SHA-256 is {actual}, but "
                           f"{recorded.name} records {expected or 'nothing'}. Do not use it: download it again, "
                           "or run `mlship package` to export it again")
    return actual


def import_archive(archive: Path, home: Path, sha256: str | None = None) -> None:
    """Import a verified archive into the BentoML store ``home``; a bento already there is kept.

    The archive is checked against ``sha256`` when given (a digest from a release's records),
    else against the ``.sha256`` file beside it.
    """
    if sha256 is None:
        verify_archive(archive)
    elif sha256_file(archive) != sha256:
        raise ArchiveError(f"{display_path(archive)} is corrupted or was replaced: its SHA-256 is not {sha256}, the "
                           "digest its release records. Do not use it: fetch it again")
    try:
        _run([sys.executable, "-m", "bentoml", "import", str(Path(archive).resolve())], home,
             f"importing {display_path(archive)} failed", error=ArchiveError)
    except ArchiveError as error:
        # BentoML refuses a tag it holds ("Item 'churn:…' already exists in the store"); the tag names the
        # bento's inputs, so the one there is the same bento.
        if "already exists" not in str(error):
            raise


def render_service(project: Project, name: str, task: str, model_tag: str, fingerprint: str, model: Any,
                   lineage: dict[str, Any], *, reference_missing: Mapping[str, float] | None = None,
                   held_out_predictions: Sequence[float] = (), serving: Mapping[str, Any] | None = None) -> str:
    """The source of the BentoML service for the fitted ``model`` (a project may override the template).

    ``reference_missing`` is each feature's share of missing values in training, which the service
    exposes beside the live share; ``held_out_predictions`` (of a regressor) set the buckets of the
    predicted-value histogram (see :func:`value_buckets`); ``serving`` is the spec's ``serving``
    section (workers, threads, request limits), its defaults when None.
    """
    from mlship.spec import Serving

    from mlship.templating import environment

    features = input_schema(model, lineage["data"]["features"], lineage["data"]["categorical"],
                            lineage["data"].get("dates", []))
    has_proba = task == "classification" and hasattr(model, "predict_proba")
    env = environment(project.root)
    env.filters["py"] = repr
    return env.get_template("service.py.j2").render(
        name=name,
        task=task,
        model_tag=model_tag,
        fingerprint=fingerprint,
        mlship_version=__version__,
        model_file=MODEL_FILE,
        features=features,
        numeric=[f.name for f in features if f.annotation == "float"],
        label_annotation=(_literal(model.classes_) or "t.Any") if task == "classification" else "float",
        has_proba=has_proba,
        endpoints=["predict", "predict_proba"] if has_proba else ["predict"],
        reference_missing=dict(reference_missing or {}),
        probability_buckets=list(PROBABILITY_BUCKETS),
        value_buckets=value_buckets(held_out_predictions) if task == "regression" else [],
        serving=Serving(**(serving or {})).model_dump(),
    )


def missing_shares(profile: Mapping[str, Any] | None, features: Sequence[str]) -> dict[str, float]:
    """Each feature's share of missing values in the training rows, as the reference profile counts them
    (``features.<name>.rows`` and ``.missing``); empty without a profile."""
    columns = (profile or {}).get("features") or {}
    shares = {}
    for name in features:
        column = columns.get(name) or {}
        rows, missing = column.get("rows"), column.get("missing")
        if isinstance(rows, int) and rows > 0 and isinstance(missing, int):
            shares[name] = missing / rows
    return shares


def value_buckets(predictions: Sequence[float]) -> list[float]:
    """Bounds of the predicted-value histogram: quantiles of the held-out predictions (see
    :data:`VALUE_QUANTILES`), to :data:`BUCKET_DIGITS` significant digits, so the buckets resolve
    the model's usual range whatever its scale. Prometheus's default buckets when there are none."""
    import numpy as np

    values = np.asarray(predictions, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    quantiles = np.quantile(values, VALUE_QUANTILES)
    return sorted({float(f"{bound:.{BUCKET_DIGITS}g}") for bound in quantiles.tolist()})


def input_schema(model: Any, features: list[str], categorical: list[str], dates: Sequence[str] = ()) -> list[Feature]:
    """One field per training feature: numbers are floats, dates ISO 8601 strings; a categorical
    feature takes the categories its fitted one-hot encoder knows, or any scalar when they are unknown."""
    categories = _known_categories(model)
    fields = []
    for index, name in enumerate(features):
        known = categories.get(name, [])
        if name in dates:
            annotation = "str"
        elif name not in categorical:
            annotation = "float"
        else:
            annotation = (_literal(known) if len(known) <= MAX_ENUMERATED_CATEGORIES else "") or ANY_CATEGORY
        fields.append(Feature(name, f"f{index}", annotation))
    return fields


def _known_categories(model: Any) -> dict[str, list[Any]]:
    """The categories of each one-hot encoded column, from the fitted pipeline's encoders."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    found: dict[str, list[Any]] = {}

    def visit(step: Any, columns: Any) -> None:
        if isinstance(step, Pipeline):
            for _, inner in step.steps:
                visit(inner, columns)
        elif isinstance(step, ColumnTransformer):
            for _, inner, selected in step.transformers_:
                visit(inner, selected)
        elif isinstance(step, OneHotEncoder) and isinstance(columns, list) and len(columns) == len(step.categories_):
            found.update((column, values.tolist()) for column, values in zip(columns, step.categories_))

    visit(model, None)
    return found


def _literal(values: Any) -> str:
    """``t.Literal[...]`` of ``values`` as Python source, or "" when some cannot be a literal (a float)."""
    plain = [value.item() if hasattr(value, "item") else value for value in values]
    if not plain or not all(isinstance(value, (str, int, bool)) for value in plain):
        return ""
    return f"t.Literal[{', '.join(repr(value) for value in plain)}]"


def _requirements(lineage: dict[str, Any]) -> list[str]:
    """Exact pins of the libraries the model was trained with (the fingerprint guarantees they are the
    installed ones), of the service's own imports and of BentoML's, with everything each needs, so the
    bento installs the tested environment without resolving anything."""
    names = [name for name in lineage["versions"] if name not in ("mlship", "python")] + list(SERVICE_LIBRARIES)
    return environment.pinned_closure([*dict.fromkeys(names), environment.BENTOML])


def _without_none(value: Any) -> Any:
    """BentoML metadata rejects None: drop such entries, which mean "unknown" anyway."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value if item is not None]
    return value


def _mismatch(project: Project, verification: "Verification") -> LedgerMismatchError:
    from mlship.review import ledger

    name = verification.name
    recorded = display_path(ledger.folder(project, name) / ledger.METRICS)
    return LedgerMismatchError(
        f"{name}: the working tree does not match the ledger ({recorded}): fingerprint "
        f"{verification.fingerprint[:12]} here, {verification.ledger_fingerprint[:12]} approved; differs in: "
        f"{', '.join(verification.differing) or 'unknown parts'}. Only the reviewed model is packaged: run "
        f"`mlship pr` and commit {ledger.REPORTS_DIR}/{name}/")


def _verifies(archive: Path) -> bool:
    try:
        verify_archive(archive)
    except ArchiveError:
        return False
    return True


def _remove_abandoned_exports(dist: Path, name: str) -> None:
    """Delete the partial exports of ``name`` that a killed ``mlship package`` left (its pid is in the name)."""
    import psutil

    for partial in dist.glob(f".{name}-*.partial.bento"):
        pid = partial.name.rsplit(".", 3)[-3]
        if not (pid.isdigit() and psutil.pid_exists(int(pid))) or int(pid) == os.getpid():
            partial.unlink(missing_ok=True)


def _staging_path(archive: Path) -> Path:
    """A path beside ``archive`` to export into, renamed over it only when whole. It ends with
    ".bento" because BentoML appends that to an export path without it."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    return archive.with_name(f".{archive.stem}.{os.getpid()}.partial.bento")


def _run(command: list[str], home: Path, failure: str, error: type[PackagingError] = PackagingError,
         cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(command, env=bentoml_env(home), cwd=cwd, capture_output=True, text=True,
                              timeout=SUBPROCESS_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise error(f"{failure}: no answer after {SUBPROCESS_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        tail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()][-ERROR_TAIL_LINES:]
        raise error(f"{failure} (BentoML home {home}):\n" + "\n".join(f"  {line}" for line in tail))


# --- what runs in the BentoML subprocess ---------------------------------------------------


def _save_build_export(job: dict[str, Any]) -> dict[str, bool]:
    """Save the model unless the store has it, build the bento unless the store has it, export if asked."""
    import bentoml
    from bentoml.exceptions import NotFound

    model, bento = job["model"], job["bento"]
    outcome = {"model_saved": False, "bento_built": False}
    try:
        stored = bentoml.models.get(model["tag"])
    except NotFound:
        with bentoml.models.create(model["tag"], labels=model["labels"], metadata=model["metadata"]) as created:
            shutil.copyfile(model["file"], created.path_of(MODEL_FILE))
            if model["profile"]:
                shutil.copyfile(model["profile"], created.path_of(PROFILE_FILE))
        outcome["model_saved"] = True
    else:
        found = stored.info.labels.get("fingerprint")
        if found != model["labels"]["fingerprint"]:
            raise SystemExit(f"the store holds {model['tag']} with fingerprint {found}, not "
                             f"{model['labels']['fingerprint']}: delete it with `bentoml models delete {model['tag']}`")
    tag = f"{bento['name']}:{bento['version']}"
    try:
        bentoml.bentos.get(tag)
    except NotFound:
        bentoml.bentos.build(service=bento["service"], name=bento["name"], version=bento["version"],
                             build_ctx=bento["build_ctx"], include=bento["include"], labels=bento["labels"],
                             description=bento["description"], python=bento["python"], docker=bento["docker"])
        outcome["bento_built"] = True
    if job["export_to"]:
        bentoml.bentos.export_bento(tag, job["export_to"])
    return outcome


if __name__ == "__main__":
    _job = json.loads(Path(sys.argv[1]).read_text())
    Path(_job["result"]).write_text(json.dumps(_save_build_export(_job)))
