"""Releases: the packaged, ledger-approved model registered as a version, and its artifacts stored.

``mlship release MODEL`` packages the model (which verifies it against its ledger),
tags the commit ``MODEL@vX.Y.Z`` (see :mod:`mlship.ship.registry`) and stores four files
in a backend: the BentoML archive, ``metrics.json`` and ``model_card.md`` of the
ledger at the tagged commit, and ``SHA256SUMS`` over the three (``sha256sum -c``
format). Backends: :class:`LocalRegistry`, a folder (the default, so every journey
runs without GitHub), and :class:`GitHubReleases`, a GitHub release for the tag.

A release is idempotent. When the fingerprint already has a version, nothing is
tagged: the run reports that version and only stores what a previous run left out
(an interrupted upload). A stored file is never replaced; a backend holding something
else under a version is an error.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlship import git
from mlship.errors import display_path
from mlship.files import sha256_file
from mlship.github.client import GitHub
from mlship.project import Project
from mlship.review import ledger
from mlship.ship import registry
from mlship.ship.registry import Event, RegistryError

if TYPE_CHECKING:
    from mlship.ship.packaging import Package
    from mlship.spec import Spec

SUMS = "SHA256SUMS"
REGISTRY_ENV = "MLSHIP_REGISTRY_DIR"
REGISTRY_DIR = Path(".mlship") / "registry"
BACKENDS = ("local", "github")


class StorageError(RegistryError):
    """A release's artifacts cannot be stored or fetched, or are not what the tag records."""


@dataclass(frozen=True)
class Stored:
    """What a backend did with a version's files."""

    #: The folder, or the release's web page.
    location: str
    #: Files stored by this run, and files that were there already (checked).
    written: list[str]
    kept: list[str]


@dataclass(frozen=True)
class Released:
    """The outcome of :func:`release`."""

    version: Event
    #: False when the fingerprint was released before: no tag was made.
    created: bool
    pushed: bool
    backend: str
    stored: Stored
    #: Why a requested ``version:`` was not used, when it was not.
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.version,
            "tag": self.version.tag,
            "commit": self.version.commit,
            "fingerprint": self.version.fingerprint,
            "metrics": self.version.metrics,
            "created": self.created,
            "pushed": self.pushed,
            "backend": self.backend,
            "location": self.stored.location,
            "written": self.stored.written,
            "kept": self.stored.kept,
            "note": self.note,
        }


@dataclass(frozen=True)
class Fetched:
    """A version's artifacts, checked against ``SHA256SUMS`` and the tag's record."""

    version: Event
    archive: Path
    metrics: Path
    card: Path


class Backend(Protocol):
    kind: str
    #: The tag must be on the remote before :meth:`store` runs.
    needs_pushed_tag: bool

    def store(self, version: Event, files: dict[str, Path]) -> Stored:
        """Store ``files`` (name → path; ``SHA256SUMS`` lists the others) for ``version``.

        The archive may be missing from ``files``; that is an error only if the backend lacks it.
        """

    def fetch(self, version: Event, into: Path) -> Path:
        """The folder holding ``version``'s files (``into`` when they had to be downloaded)."""


class LocalRegistry:
    """A folder of releases, ``<root>/<model>/<version>/``, each written whole or not at all."""

    kind = "local"
    needs_pushed_tag = False

    def __init__(self, root: Path):
        self.root = Path(root)

    def store(self, version: Event, files: dict[str, Path]) -> Stored:
        final = self.root / version.model / str(version.version)
        sums = files[SUMS].read_text(encoding="utf-8")
        names = [*_listed(sums), SUMS]
        if final.is_dir():
            _check_stored(final, sums)
            return Stored(display_path(final), [], names)
        missing = [name for name in names if name not in files]
        if missing:
            raise StorageError(_no_archive(version, missing))
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{version.version}-", dir=final.parent))
        try:
            for name in names:
                shutil.copyfile(files[name], staging / name)
            staging.chmod(0o755)  # mkdtemp's 0700 would stay on the release folder
            try:
                os.rename(staging, final)
            except OSError:
                if not final.is_dir():
                    raise
                _check_stored(final, sums)  # a parallel run stored the same release first
                return Stored(display_path(final), [], names)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Stored(display_path(final), names, [])

    def fetch(self, version: Event, into: Path) -> Path:
        folder = self.root / version.model / str(version.version)
        if not (folder / SUMS).is_file():
            raise StorageError(f"{version.model} {version.version} is not in the local registry "
                               f"({display_path(folder)} has no {SUMS}): release it there with `mlship release "
                               f"{version.model}`, or point --registry/${REGISTRY_ENV} at the folder that has it")
        return folder


class GitHubReleases:
    """One GitHub release per version tag, with the files as its assets."""

    kind = "github"
    #: GitHub makes its own lightweight tag on the default branch for a release whose tag it lacks.
    needs_pushed_tag = True

    def __init__(self, client: GitHub, repository: str):
        self.client = client
        self.repository = repository

    def store(self, version: Event, files: dict[str, Path]) -> Stored:
        sums = files[SUMS].read_text(encoding="utf-8")
        release = self.client.release_by_tag(self.repository, version.tag)
        if release is None:
            release = self.client.create_release(self.repository, version.tag, f"{version.model} {version.version}",
                                                 _release_notes(version, sums))
        present = {asset["name"]: asset for asset in release.get("assets", [])}
        written, kept = [], []
        for name in [*_listed(sums), SUMS]:  # SHA256SUMS last: a release that has it is complete
            if name in present and present[name].get("state", "uploaded") != "uploaded":
                # An upload cut off (a 502) leaves an empty asset that is not "uploaded" (the docs say
                # "starter", the OpenAPI description "open"); GitHub documents that it can be safely
                # deleted, so it is, and the upload is done again.
                self.client.delete_asset(self.repository, present.pop(name)["id"])
            if name in present:
                if name in files and present[name]["size"] != files[name].stat().st_size:
                    raise StorageError(f"the release {release['html_url']} has a {name} of another size than this "
                                       "release's; assets are never replaced: check the release by hand")
                kept.append(name)
                continue
            if name not in files:
                raise StorageError(_no_archive(version, [name]))
            self.client.upload_asset(release, files[name], name, content_type=_content_type(name))
            written.append(name)
        return Stored(release["html_url"], written, kept)

    def fetch(self, version: Event, into: Path) -> Path:
        release = self.client.release_by_tag(self.repository, version.tag)
        assets = {asset["name"]: asset for asset in (release or {}).get("assets", [])}
        if SUMS not in assets:
            state = "has no release" if release is None else f"has an incomplete release (no {SUMS})"
            raise StorageError(f"{self.repository} {state} for {version.tag}: run `mlship release {version.model} "
                               "--backend github` to store it")
        into.mkdir(parents=True, exist_ok=True)
        sums = self.client.download_asset(self.repository, assets[SUMS]["id"], into / SUMS).read_text(encoding="utf-8")
        for name in _listed(sums):
            if name not in assets:
                raise StorageError(f"the release of {version.tag} lacks {name}: run `mlship release {version.model} "
                                   "--backend github` to complete it")
            self.client.download_asset(self.repository, assets[name]["id"], into / name)
        return into


def backend(project: Project, kind: str = "local", folder: Path | None = None, repository: str | None = None,
            token: str | None = None) -> Backend:
    """The backend ``kind``: a local folder (``folder``, else ``$MLSHIP_REGISTRY_DIR``, else
    ``.mlship/registry``), or GitHub releases of ``repository`` (else ``$GITHUB_REPOSITORY``)."""
    if kind == "local":
        configured = folder or os.environ.get(REGISTRY_ENV)
        return LocalRegistry(Path(configured).resolve() if configured else project.root / REGISTRY_DIR)
    if kind == "github":
        repository = repository or os.environ.get("GITHUB_REPOSITORY")
        if not repository:
            raise StorageError("the github backend needs the repository: pass --repo OWNER/NAME or set "
                               "GITHUB_REPOSITORY (set in GitHub Actions)")
        return GitHubReleases(GitHub(token or ""), repository)
    raise StorageError(f"unknown backend '{kind}': choose one of {', '.join(BACKENDS)}")


@dataclass(frozen=True)
class Pending:
    """The models whose committed ledger has no version yet, and those left out because their gates failed."""

    models: list[str]
    failed: list[str]


def unreleased(project: Project) -> Pending:
    """Every model whose ledger approves a fingerprint that no version of it records.

    This is what a release run does, whatever earlier runs did: a run that was cancelled
    or skipped (GitHub keeps one pending run per concurrency group) leaves its models
    here for the next one, so releasing converges without diffing pushes. A ledger that
    records failed gates is left out (it was not approved). The tags are read as checked
    out (in Actions, ``fetch-depth: 0`` brings them all).
    """
    models, failed = [], []
    for name in project.model_names():
        if not (ledger.folder(project, name) / ledger.METRICS).is_file():
            continue
        document = ledger.read(project, name)
        if registry.read(project, name).with_fingerprint(document.get("fingerprint", "")) is not None:
            continue
        (failed if document.get("passed") is False else models).append(name)
    return Pending(models, failed)


def release(project: Project, model: str, store: Backend, push: bool = False, remote: str = "origin",
            allow_failed: bool = False) -> Released:
    """Register ``model``'s approved model as its next version and store its artifacts in ``store``.

    The version is the spec's ``version:`` or a patch bump of the highest (``v0.1.0`` first).
    When the fingerprint already has a version, no tag is made and the missing artifacts of
    that version are stored. With ``push`` (always for a backend that needs the tag on the
    remote), the model's tags are fetched from ``remote`` first and the tag is pushed.
    """
    from mlship.ship import packaging

    spec = project.spec(model)
    # One release of a model at a time: two would both find the model unreleased and take the same version.
    with packaging.exclusive(project.root / ".mlship" / "locks" / f"release-{spec.name}.lock",
                             f"another `mlship release` of {spec.name} is running"):
        return _release(project, spec, store, push, remote, allow_failed)


def _release(project: Project, spec: "Spec", store: Backend, push: bool, remote: str, allow_failed: bool) -> Released:
    from mlship.ship import packaging

    name = spec.name
    made = packaging.package(project, name, allow_failed=allow_failed)
    digest = packaging.verify_archive(made.archive)
    push = push or store.needs_pushed_tag
    if push:
        registry.fetch(project, name, remote)
    found = registry.read(project, name)
    existing = found.with_fingerprint(made.fingerprint)
    note = ""
    if existing is None:
        commit = _committed(project, spec)
        other = found.at_commit(commit)
        if other is not None:
            raise RegistryError(f"{name}: the commit {commit[:12]} already carries {other.tag} (fingerprint "
                                f"{(other.fingerprint or 'unknown')[:12]}), and gto reads one version of a model per "
                                "commit: a new version needs a new commit")
        source = str(spec.location("version")) if spec.config.version else ""
        version = found.next_version(spec.config.version, source)
        event = registry.register(project, name, version, commit, _fields(project, name, made, digest))
    else:
        event = existing
        requested = spec.config.version
        if requested and f"v{requested}" != existing.version:
            note = (f"version: {requested} in the spec is not used: the model is the one released as "
                    f"{existing.version} (the fingerprint does not cover `version:`)")
    if push:
        registry.push(project, [event.tag], remote)
    with tempfile.TemporaryDirectory(prefix=f"mlship-release-{name}-") as scratch:
        files = _artifacts(project, event, made.archive, digest, Path(scratch))
        stored = store.store(event, files)
    return Released(event, existing is None, push, store.kind, stored, note)


def fetch(project: Project, model: str, version: str, store: Backend, into: Path) -> Fetched:
    """``version``'s artifacts from ``store``, each checked against ``SHA256SUMS``, and the archive
    against the digest in the version's tag (``into`` receives downloads)."""
    event = registry.read(project, model).find(version)
    folder = store.fetch(event, into)
    sums = (folder / SUMS).read_text(encoding="utf-8")
    _check_stored(folder, sums)
    archive = _archive_name(event)
    recorded = event.fields.get("bento-sha256")
    if _listed(sums).get(archive) != recorded:
        raise StorageError(f"the stored {archive} of {event.tag} is not the archive its tag records "
                           f"(SHA-256 {recorded}): do not deploy it")
    return Fetched(event, folder / archive, folder / ledger.METRICS, folder / ledger.CARD)


def _committed(project: Project, spec: "Spec") -> str:
    """HEAD, once the model's folder, data and ledger are committed there: the tag names that commit."""
    paths = [spec.dir, *spec.data_files(), ledger.folder(project, spec.name)]
    dirty = git.is_dirty(project.root, paths)
    commit = git.head_commit(project.root)
    if dirty is None or commit is None:
        raise RegistryError(f"{spec.name}: cannot tell whether the model is committed: is {project.root} in a git "
                            "repository with a commit, and is the data inside it?")
    if dirty:
        raise RegistryError(f"{spec.name}: its folder, data or {ledger.REPORTS_DIR}/{spec.name}/ differ from HEAD: "
                            "commit them first, since a version is a tag on a commit")
    return commit


def _fields(project: Project, name: str, made: "Package", digest: str) -> dict[str, str]:
    """The registration's ``key: value`` lines: fingerprint, the ledger's metrics (primary first), the bento."""
    document = ledger.read(project, name)
    metrics = document.get("metrics", {})
    primary = document.get("primary_metric")
    ordered = [primary] if primary in metrics else []
    ordered += [metric for metric in metrics if metric != primary]
    fields = {
        "fingerprint": made.fingerprint,
        "metrics": " ".join(f"{metric}={metrics[metric]:.6g}" for metric in ordered),
        "bento": made.bento_tag,
        "bento-sha256": digest,
    }
    accepted = document.get("accepted")
    if isinstance(accepted, dict):  # failed gates a maintainer accepted: who, and where they said why
        fields["accepted-by"] = _one_line(accepted.get("by"))
        fields["accepted-in"] = _one_line(accepted.get("url"))
    return fields


def _one_line(value: object) -> str:
    """A ledger value fit for a ``key: value`` line of a tag message."""
    return " ".join(str(value or "").split())[:200]


def _artifacts(project: Project, event: Event, archive: Path, digest: str, scratch: Path) -> dict[str, Path]:
    """The files of ``event``'s release: the ledger at its commit, ``SHA256SUMS``, and ``archive`` when
    it is the one the tag records (a re-exported archive has other bytes, so it cannot complete an
    earlier release)."""
    repo = git.toplevel(project.root)
    reports = ledger.folder(project, event.model).resolve().relative_to(repo.resolve())
    name = _archive_name(event)
    recorded = event.fields.get("bento-sha256", "")
    digests, files = {name: recorded}, {}
    if archive.name == name and digest == recorded:
        files[name] = archive
    for member in (ledger.METRICS, ledger.CARD):
        content = git.file_at(repo, event.commit, (reports / member).as_posix())
        if content is None:
            raise StorageError(f"{reports / member} is not in {event.commit[:12]}, the commit of {event.tag}")
        (scratch / member).write_bytes(content)
        files[member] = scratch / member
        digests[member] = sha256_file(scratch / member)
    (scratch / SUMS).write_text("".join(f"{value}  {member}\n" for member, value in digests.items()), encoding="utf-8")
    files[SUMS] = scratch / SUMS
    return files


def _archive_name(event: Event) -> str:
    """The archive's file name, from the bento tag in the message (``churn:1a2b`` → ``churn-1a2b.bento``)."""
    bento = event.fields.get("bento")
    if not bento:
        raise StorageError(f"{event.tag} was not made by `mlship release` (its message names no bento), so it has "
                           "no artifacts to store or fetch")
    return bento.replace(":", "-") + ".bento"


def _listed(sums: str) -> dict[str, str]:
    """File name → SHA-256 from ``SHA256SUMS`` text."""
    listed = {}
    for line in sums.splitlines():
        value, _, name = line.partition("  ")
        if name:
            listed[name] = value
    return listed


def _check_stored(folder: Path, sums: str) -> None:
    """The release in ``folder`` is whole, unchanged, and the one ``sums`` describes."""
    recorded = folder / SUMS
    if not recorded.is_file():
        raise StorageError(f"{display_path(folder)} has no {SUMS}: it is damaged or not a release; it is never "
                           "overwritten, so move it away if it should be stored again")
    if recorded.read_text(encoding="utf-8") != sums:
        raise StorageError(f"{display_path(folder)} holds other artifacts than this release's (its {SUMS} differs); "
                           "a stored release is never overwritten")
    for name, value in _listed(sums).items():
        path = folder / name
        if not path.is_file() or sha256_file(path) != value:
            raise StorageError(f"{display_path(path)} is missing or does not match its SHA-256 in {SUMS}: the "
                               "release is damaged; do not use it")


def _no_archive(version: Event, missing: list[str]) -> str:
    return (f"cannot store {', '.join(missing)} of {version.tag}: the archive in dist/ is not the one the tag records "
            f"(SHA-256 {version.fields.get('bento-sha256', '?')[:12]}…), as happens when it is exported again on "
            "another machine. Run the release where the version was made, or put that archive back into dist/")


def _release_notes(version: Event, sums: str) -> str:
    metrics = "\n".join(f"| {name} | {value:.4f} |" for name, value in version.metrics.items())
    files = "\n".join(f"- `{name}` (SHA-256 `{value}`)" for name, value in _listed(sums).items())
    accepted = version.fields.get("accepted-by")
    accepted_line = (f"⚠️ This version failed its gates; @{accepted} accepted it in {version.fields.get('accepted-in')} "
                     f"(the reason is in `{ledger.METRICS}` and `{ledger.CARD}`).\n\n") if accepted else ""
    return (f"{version.model} {version.version}, registered by the git tag `{version.tag}` at {version.commit}.\n\n"
            f"Fingerprint `{version.fingerprint}`, bento `{version.fields.get('bento')}`.\n\n{accepted_line}"
            f"| metric | value |\n|---|---|\n{metrics}\n\n"
            f"Assets (check them with `sha256sum -c {SUMS}`):\n{files}\n")


def _content_type(name: str) -> str:
    if name == SUMS:
        return "text/plain"
    if name.endswith(".md"):
        return "text/markdown"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
