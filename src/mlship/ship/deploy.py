"""Deploying a released version to a stage, and rolling a stage back to an earlier version.

A deploy fetches the version's artifacts from the registry backend and checks their
digests, brings the target to that version, and then records the assignment as the tag
``MODEL#STAGE#N``. The tag comes once the target is ready, so a stage never names a
version that failed to start; a deploy that fails leaves the target and the tags as they
were. Targets:

- ``local`` (the default): the bento served by ``bentoml serve`` on 127.0.0.1. The new
  server must answer ``/readyz`` and report the version's fingerprint before it replaces
  the old one, which keeps serving until then. The stage's server is remembered in
  ``.mlship/deploy/<stage>/<model>.json``, and its processes carry that file's path as
  their mark (see :mod:`mlship.ship.serving`).
- ``kubernetes``: manifests written to ``deploy/<stage>/<model>.yaml`` for Argo CD or Flux
  to sync, for the image ``bentoml containerize`` builds (where a Docker daemon runs).

A rollback is a deploy of an earlier version: the one assigned to the stage before the
current one, or a given one. It makes a new assignment tag, so the history keeps every step.

A deploy, rollback or stop of a model's stage holds the stage's lock, so two never interleave.
Each first reconciles what an interrupted one left: servers of the stage that the state file
does not name (a new server whose deploy was killed, a worker whose arbiter was killed) are
stopped; an assignment the state file records as under way is completed when its server serves.
The state file names the new server (``"assigning": true``) before the tag is made, and the
old server is stopped only after, so at every point the state, the tags and the servers can
be brought back to agree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from mlship.errors import MlshipError
from mlship.files import atomic_write_json
from mlship.project import Project
from mlship.ship import packaging, registry, releases, serving
# stop_local and status_local are the commands' entry points, here beside deploy and serve.
from mlship.ship.stages import (DeployError, LocalState, check_stage, local_state_path, read_local_state,  # noqa: F401
                                reconcile_local, remove_home, retire, serves, stage_lock, status_local, stop_local)
from mlship.ship.registry import ASSIGNMENT, Event, Registry

TARGETS = ("local", "kubernetes")
#: Where `mlship serve` marks its foreground servers (no file is written there).
SERVE_DIR = Path(".mlship") / "serve"
#: The release version a served bento reports in ``/metadata`` (see ``templates/service.py.j2``).
RELEASE_ENV = "MLSHIP_RELEASE"
PREDICTION_LOG_DIR_ENV = "MLSHIP_PREDICTION_LOG_DIR"
PREDICTION_LOG_RATE_ENV = "MLSHIP_PREDICTION_LOG_RATE"
IMAGE_REGISTRY_ENV = "MLSHIP_IMAGE_REGISTRY"
CONTAINERIZE_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class Landed:
    """Where a target brought the version: what serves it now, and whether anything changed."""

    changed: bool
    url: str | None = None
    manifest: Path | None = None
    image: str | None = None
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Deployed:
    """The outcome of :func:`deploy` and :func:`rollback`."""

    stage: str
    target: str
    #: The registration of the version now in the stage.
    version: Event
    #: The assignment that put it there.
    assignment: Event
    #: False when the version was the stage's current one already: no tag was made.
    assigned: bool
    pushed: bool
    landed: Landed
    #: The stage's version before, if any.
    previous: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "stage": self.stage,
            "target": self.target,
            "version": self.version.version,
            "fingerprint": self.version.fingerprint,
            "bento": self.version.fields.get("bento"),
            "assignment": self.assignment.tag,
            "assigned": self.assigned,
            "pushed": self.pushed,
            "previous": self.previous,
            "changed": self.landed.changed,
            "url": self.landed.url,
            "manifest": str(self.landed.manifest) if self.landed.manifest else None,
            "image": self.landed.image,
            "messages": self.landed.messages,
        }


class Target(Protocol):
    kind: str

    def reconcile(self, model: str, stage: str) -> list[str]:
        """Bring back to agreement what an interrupted command left for ``model``'s ``stage``; say what was done."""

    def land(self, version: Event, stage: str, archive: Path) -> Any:
        """A context manager bringing the target to ``version``: entered, the version is ready (or
        prepared) and a :class:`Landed` is given; an error inside the block undoes it."""


def deploy(project: Project, model: str, stage: str, store: releases.Backend, target: Target,
           version: str | None = None, push: bool = False, remote: str = "origin", note: str = "") -> Deployed:
    """Bring ``target`` to ``version`` (default: the latest) of ``model``, then assign it to ``stage``.

    With ``push``, the model's tags are fetched from ``remote`` first and the new assignment
    tag is pushed. Raises :class:`DeployError` (the target and the tags unchanged) when the
    version cannot be fetched, verified or started.
    """
    name = registry.model_name(project, model)
    if push:
        registry.fetch(project, name, remote)
    with stage_lock(project, name, stage):
        notes = target.reconcile(name, stage)
        found = registry.read(project, name)
        return _deploy(project, found, stage, store, target, _resolve(found, version), push, remote, note, notes)


def rollback(project: Project, model: str, stage: str, store: releases.Backend, target: Target,
             to: str | None = None, push: bool = False, remote: str = "origin") -> Deployed:
    """Deploy to ``stage`` the version assigned there before the current one, or ``to``.

    Raises :class:`DeployError` when nothing is deployed to the stage, when there is no
    earlier version, or when ``to`` is the current one; :class:`releases.StorageError` when
    the stored artifact does not match its digest.
    """
    name = registry.model_name(project, model)
    if push:
        registry.fetch(project, name, remote)
    with stage_lock(project, name, stage):
        notes = target.reconcile(name, stage)
        return _rollback(project, registry.read(project, name), stage, store, target, to, push, remote, notes)


def _rollback(project: Project, found: Registry, stage: str, store: releases.Backend, target: Target,
              to: str | None, push: bool, remote: str, notes: list[str]) -> Deployed:
    name = found.model
    current = found.current(stage)
    if current is None:
        raise DeployError(f"{name} has no version in {stage}, so there is nothing to roll back: deploy one with "
                          f"`mlship deploy {name} --stage {stage}`")
    wanted = found.find(to) if to else previous_version(found, stage)
    if wanted.version == current.version:
        raise DeployError(f"{name} {current.version} is already the version in {stage}: choose another with --to "
                          f"(versions: {', '.join(str(e.version) for e in found.versions())})")
    note = f"rollback from {current.version} to {wanted.version}"
    return _deploy(project, found, stage, store, target, wanted, push, remote, note, notes)


def previous_version(found: Registry, stage: str) -> Event:
    """The version assigned to ``stage`` before the assignment that made the current one current."""
    current = found.current(stage)
    active = {e.version: e for e in found.versions()}
    assignments = [e for e in found.stage_history(stage) if e.kind == ASSIGNMENT]
    if current is not None:
        last = max(i for i, e in enumerate(assignments) if e.version == current.version)
        for event in reversed(assignments[:last]):
            if event.version != current.version and event.version in active:
                return active[event.version]
    raise DeployError(f"{found.model} has no earlier version assigned to {stage} to roll back to: pick one with "
                      f"--to (versions: {', '.join(str(e.version) for e in found.versions()) or 'none'})")


def serve(project: Project, model: str, store: releases.Backend, stage: str | None = None,
          version: str | None = None, port: int = serving.DEFAULT_PORT,
          notify: Callable[[str], None] = lambda _: None) -> int:
    """Serve a version of ``model`` in the foreground until interrupted; return the server's exit code.

    The version is ``version``, else ``stage``'s current one, else the latest. Its archive is
    fetched and checked like a deploy's; no tag is made. A server an earlier ``mlship serve`` of
    the model on ``port`` left running (its command killed) is stopped first, and ``notify`` told.
    Raises :class:`serving.Interrupted` after stopping the server when a signal arrives.
    """
    found = registry.read(project, model)
    if stage:
        check_stage(stage)
    if stage and not version:
        current = found.current(stage)
        if current is None:
            raise DeployError(f"{found.model} has no version in {stage}: deploy one with `mlship deploy "
                              f"{found.model} --stage {stage}`, or pass --version")
        version = str(current.version)
    event = _resolve(found, version)
    home = packaging.store_home(project)
    with tempfile.TemporaryDirectory(prefix=f"mlship-serve-{found.model}-") as scratch:
        fetched = releases.fetch(project, found.model, str(event.version), store, Path(scratch))
        packaging.import_archive(fetched.archive, home, event.fields.get("bento-sha256"))
    env = {**packaging.bentoml_env(home), RELEASE_ENV: str(event.version)}
    mark = f"{project.root / SERVE_DIR / found.model}:{port}"
    left = serving.marked(mark)
    if left:
        notify(f"stopped the server an earlier `mlship serve {found.model} --port {port}` left running: "
               f"{serving.describe(left)}")
        serving.terminate(left)
    return serving.run(_bento(event), env, mark, port)


def _resolve(found: Registry, version: str | None) -> Event:
    if version:
        return found.find(version)
    latest = found.latest()
    if latest is None:
        raise DeployError(f"{found.model} has no released version to deploy: run `mlship release {found.model}` "
                          "first (after the change is merged)")
    return latest


def _deploy(project: Project, found: Registry, stage: str, store: releases.Backend, target: Target, version: Event,
            push: bool, remote: str, note: str, notes: list[str]) -> Deployed:
    previous = found.current(stage)
    with tempfile.TemporaryDirectory(prefix=f"mlship-deploy-{found.model}-") as scratch:
        fetched = releases.fetch(project, found.model, str(version.version), store, Path(scratch))
        with target.land(version, stage, fetched.archive) as landed:
            assigned = registry.assign(project, found.model, str(version.version), stage, note)
    if push:  # also when the assignment was current already: an earlier run may have failed to push it
        registry.push(project, [assigned.event.tag], remote)
    return Deployed(stage, target.kind, version, assigned.event, assigned.created, push,
                    replace(landed, messages=[*notes, *landed.messages]), previous.version if previous else None)


# --- the local target ----------------------------------------------------------------------------


@dataclass
class LocalTarget:
    """The bento served on 127.0.0.1 by a managed ``bentoml serve``, one server per model and stage."""

    project: Project
    #: The new server's port; default: a free one (each deploy's server runs beside the old one until ready).
    port: int | None = None
    ready_timeout: float = serving.READY_TIMEOUT_SECONDS
    #: When set, the service logs a sampled share of its inputs and predictions there as JSONL.
    prediction_log: Path | None = None
    prediction_log_rate: float | None = None
    kind: str = "local"

    def reconcile(self, model: str, stage: str) -> list[str]:
        return reconcile_local(self.project, model, stage)

    @contextmanager
    def land(self, version: Event, stage: str, archive: Path) -> Iterator[Landed]:
        path = local_state_path(self.project, version.model, stage)
        old = read_local_state(path)
        bento = _bento(version)
        if old is not None and old.version == version.version and serves(old, bento):
            yield Landed(False, url=old.server.url)
            return
        # Each server has its own BentoML home: BentoML empties its metrics folder there when a server starts.
        home = path.parent / f"{version.model}-{version.version}.bentoml"
        packaging.import_archive(archive, home, version.fields.get("bento-sha256"))
        log = path.parent / f"{version.model}-{version.version}.log"
        try:
            new = serving.start(bento, self._environment(home, version), log, str(path), self.port,
                                self.ready_timeout)
            try:
                _check_serves(new, version)
                state = LocalState(version.model, stage, str(version.version), str(version.fingerprint), home, new)
                # The state names the new server before the tag is made: a kill between the two is completed later.
                atomic_write_json(path, replace(state, assigning=True).to_dict())
                yield Landed(True, url=new.url)
            except BaseException:
                if old is not None:
                    atomic_write_json(path, old.to_dict())
                else:
                    path.unlink(missing_ok=True)
                serving.stop(new)
                raise
        except BaseException:
            if old is None or old.home != home:
                remove_home(path, home)
            raise
        atomic_write_json(path, state.to_dict())
        if old is not None:
            retire(path, old, keep=home)

    def _environment(self, home: Path, version: Event) -> dict[str, str]:
        env = {**packaging.bentoml_env(home), RELEASE_ENV: str(version.version)}
        if self.prediction_log is not None:
            env[PREDICTION_LOG_DIR_ENV] = str(Path(self.prediction_log).resolve())
        if self.prediction_log_rate is not None:
            env[PREDICTION_LOG_RATE_ENV] = str(self.prediction_log_rate)
        return env


def _check_serves(server: serving.Server, version: Event) -> None:
    served = serving.metadata(server).get("fingerprint")
    if served != version.fingerprint:
        raise DeployError(f"the server started for {version.tag} serves the model with fingerprint {served}, not "
                          f"{version.fingerprint}, so it was stopped: the BentoML store "
                          "holds a different model under the same tag")


def _bento(version: Event) -> str:
    bento = version.fields.get("bento")
    if not bento:
        raise DeployError(f"{version.tag} was not made by `mlship release` (its message names no bento): it cannot "
                          "be deployed")
    return bento


# --- the kubernetes target -----------------------------------------------------------------------


@dataclass
class KubernetesTarget:
    """Manifests in ``deploy/<stage>/<model>.yaml`` for a GitOps controller, and the image where Docker runs."""

    project: Project
    #: Where the image is pushed, e.g. ``ghcr.io/acme``; default ``$MLSHIP_IMAGE_REGISTRY``.
    image_registry: str | None = None
    build_image: bool = False
    push_image: bool = False
    kind: str = "kubernetes"

    def reconcile(self, model: str, stage: str) -> list[str]:
        return []  # the manifests are written after the tag, and writing them again is harmless

    @contextmanager
    def land(self, version: Event, stage: str, archive: Path) -> Iterator[Landed]:
        from mlship.ship import manifests

        image_registry = self.image_registry or os.environ.get(IMAGE_REGISTRY_ENV)
        if not image_registry:
            raise DeployError("the kubernetes target needs the image registry the cluster pulls from: pass "
                              f"--image-registry (for example ghcr.io/acme) or set ${IMAGE_REGISTRY_ENV}")
        bento = _bento(version)
        image = manifests.image_reference(image_registry, bento)
        messages = []
        if self.build_image or self.push_image:
            home = packaging.store_home(self.project)
            packaging.import_archive(archive, home, version.fields.get("bento-sha256"))
            message, image = containerize(home, bento, image, self.push_image)
            messages.append(message)
        text = manifests.render_manifests(version.model, stage, str(version.version), image, bento_tag=bento,
                                          fingerprint=str(version.fingerprint), task=self._task(version.model),
                                          project_root=self.project.root)
        path = manifests.manifest_path(self.project.root, stage, version.model)
        changed = not path.is_file() or path.read_text(encoding="utf-8") != text
        yield Landed(changed, manifest=path, image=image, messages=messages)
        manifests.write_manifests(self.project.root, stage, version.model, text)


    def _task(self, model: str) -> str | None:
        """The model's task, for the dashboard's panels; None when its folder is gone."""
        try:
            return self.project.spec(model).task
        except MlshipError:
            return None


def containerize(home: Path, bento: str, image: str, push: bool = False) -> tuple[str, str]:
    """Build ``image`` from ``bento`` with ``bentoml containerize`` (and push it); return what was done and
    the reference the manifests use: once pushed, ``image@sha256:…``, the registry's digest of what was
    pushed, so the cluster runs those bytes even if the tag is later moved.

    Where no Docker daemon answers, it raises :class:`DeployError` before the stage is assigned: a
    manifest must not name an image nobody built.
    """
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True, check=False).returncode != 0:
        raise DeployError(f"--build-image: the image {image} cannot be built, no Docker daemon answers here; "
                          "nothing was deployed. Run the deploy where Docker runs (GitHub's Ubuntu runners have "
                          f"one), or build it there with `bentoml containerize {bento} --image-tag {image}` and "
                          "deploy without --build-image")
    # BentoML copies the bento to a temporary folder and reads its Dockerfile template from there, but
    # only from below the working folder: run it from the temporary folders' root.
    _run_or_fail([sys.executable, "-m", "bentoml", "containerize", bento, "--image-tag", image],
                 packaging.bentoml_env(home), f"building the image {image} failed", cwd=tempfile.gettempdir())
    if not push:
        return f"built the image {image} (referred to by its tag: only a push gives it a registry digest)", image
    _run_or_fail([docker, "push", image], os.environ, f"pushing the image {image} failed (is the registry logged in?)")
    pinned = f"{image}@{_pushed_digest(docker, image)}"
    return f"built and pushed the image {pinned}", pinned


def _pushed_digest(docker: str, image: str) -> str:
    """The registry digest (``sha256:…``) of ``image`` as pushed, from ``docker inspect``'s RepoDigests."""
    done = subprocess.run([docker, "inspect", "--format", "{{json .RepoDigests}}", image], capture_output=True,
                          text=True, check=False, timeout=CONTAINERIZE_TIMEOUT_SECONDS)
    repository = image.rsplit(":", 1)[0]
    try:
        digests = json.loads(done.stdout) if done.returncode == 0 else []
    except ValueError:
        digests = []
    for reference in digests or []:
        name, _, digest = str(reference).partition("@")
        if name == repository and re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            return digest
    raise DeployError(f"the image {image} was pushed, but docker inspect gives no registry digest for it, so the "
                      "manifests cannot pin it: nothing was deployed. Check `docker inspect --format "
                      f"'{{{{json .RepoDigests}}}}' {image}`")


def _run_or_fail(command: list[str], env: Any, failure: str, cwd: str | None = None) -> None:
    done = subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=CONTAINERIZE_TIMEOUT_SECONDS)
    if done.returncode != 0:
        tail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()][-15:]
        raise DeployError(f"{failure}:\n" + "\n".join(f"  {line}" for line in tail))


def target(project: Project, kind: str, **options: Any) -> Target:
    """The target ``kind`` (one of :data:`TARGETS`) with its options."""
    if kind == "local":
        return LocalTarget(project, **options)
    if kind == "kubernetes":
        return KubernetesTarget(project, **options)
    raise DeployError(f"unknown target '{kind}': choose one of {', '.join(TARGETS)}")
