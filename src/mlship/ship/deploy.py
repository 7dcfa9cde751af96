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

from mlship.errors import MlshipError, display_path
from mlship.files import atomic_write_json
from mlship.project import Project
from mlship.ship import packaging, registry, releases, serving
from mlship.ship.registry import ASSIGNMENT, Event, Registry

TARGETS = ("local", "kubernetes")
STATE_DIR = Path(".mlship") / "deploy"
#: Where `mlship serve` marks its foreground servers (no file is written there).
SERVE_DIR = Path(".mlship") / "serve"
STAGE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")
BENTO_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?:[0-9a-z]+$")
#: The release version a served bento reports in ``/metadata`` (see ``templates/service.py.j2``).
RELEASE_ENV = "MLSHIP_RELEASE"
PREDICTION_LOG_DIR_ENV = "MLSHIP_PREDICTION_LOG_DIR"
PREDICTION_LOG_RATE_ENV = "MLSHIP_PREDICTION_LOG_RATE"
IMAGE_REGISTRY_ENV = "MLSHIP_IMAGE_REGISTRY"
CONTAINERIZE_TIMEOUT_SECONDS = 1800


class DeployError(MlshipError):
    """A version cannot be deployed, or a stage cannot be rolled back."""


class StateError(DeployError):
    """A stage's state file is not one mlship wrote: a field is missing or not valid."""

    def __init__(self, path: Path, field_name: str, why: str) -> None:
        super().__init__(f"{display_path(path)}: {field_name} is not valid: {why}. The file was not written by "
                         f"mlship, or was damaged: `mlship stop {path.stem} --stage {path.parent.name}` stops "
                         "whatever serves the stage and removes it")
        self.path, self.field_name, self.why = path, field_name, why


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


def check_stage(stage: str) -> str:
    """``stage`` if it is a stage name: GTO's names without its ``/``, so that a stage is one folder."""
    if not STAGE_RE.match(stage):
        raise DeployError(f"'{stage}' is not a stage name: use lowercase letters, digits and dashes "
                          "(for example prod or staging)")
    return stage


@contextmanager
def stage_lock(project: Project, model: str, stage: str) -> Iterator[None]:
    """Hold ``model``'s ``stage``: one deploy, rollback or stop of it at a time."""
    path = project.root / STATE_DIR / check_stage(stage) / f"{model}.lock"
    try:
        with packaging.exclusive(path, f"another deploy, rollback or stop of {model} in {stage} is running"):
            yield
    except packaging.PackagingError as error:
        raise DeployError(str(error)) from None


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


@dataclass(frozen=True)
class LocalState:
    """What ``.mlship/deploy/<stage>/<model>.json`` remembers: the stage's server and what it serves."""

    model: str
    stage: str
    version: str
    fingerprint: str
    #: The server's own BentoML home, ``<model>-<version>.bentoml`` beside the file.
    home: Path
    server: serving.Server
    #: The server was started and the state written, but the assignment tag may not be made yet.
    assigning: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "stage": self.stage, "version": self.version, "fingerprint": self.fingerprint,
                "home": str(self.home), "server": self.server.to_dict(), "assigning": self.assigning}


@dataclass(frozen=True)
class Stopped:
    """What :func:`stop_local` stopped: the stage's recorded server (None when there was none) and what else."""

    state: LocalState | None
    notes: list[str]


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
        if old is not None and old.version == version.version and _serves(old, bento):
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
                _remove_home(path, home)
            raise
        atomic_write_json(path, state.to_dict())
        if old is not None:
            _retire(path, old, keep=home)

    def _environment(self, home: Path, version: Event) -> dict[str, str]:
        env = {**packaging.bentoml_env(home), RELEASE_ENV: str(version.version)}
        if self.prediction_log is not None:
            env[PREDICTION_LOG_DIR_ENV] = str(Path(self.prediction_log).resolve())
        if self.prediction_log_rate is not None:
            env[PREDICTION_LOG_RATE_ENV] = str(self.prediction_log_rate)
        return env


def local_state_path(project: Project, model: str, stage: str) -> Path:
    return project.root / STATE_DIR / check_stage(stage) / f"{model}.json"


def read_local_state(path: Path) -> LocalState | None:
    """The remembered server of a model's stage (``path`` from :func:`local_state_path`), None when there is none.

    Every field is checked, for the file decides which process is signalled and which folder is
    deleted. Raises :class:`DeployError` naming the field when the file is not one mlship wrote.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise StateError(path, "the file", f"it is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise StateError(path, "the file", "it is not a JSON object")
    model, stage = path.stem, path.parent.name
    expected = {"model": lambda v: v == model, "stage": lambda v: v == stage,
                "version": lambda v: isinstance(v, str) and registry.VERSION_RE.match(v),
                "fingerprint": lambda v: isinstance(v, str) and FINGERPRINT_RE.match(v),
                "home": lambda v: isinstance(v, str) and Path(v).name.startswith(f"{model}-v")
                and _inside(path.parent, Path(v)),
                "assigning": lambda v: isinstance(v, bool)}
    for name, valid in expected.items():
        if name == "assigning" and name not in document:
            continue
        if not valid(document.get(name)):
            raise StateError(path, name, f"{document.get(name)!r} is not what mlship wrote there")
    return LocalState(model, stage, document["version"], document["fingerprint"], Path(document["home"]),
                      _server(path, document.get("server")), bool(document.get("assigning", False)))


def _server(path: Path, value: Any) -> serving.Server:
    if not isinstance(value, dict):
        raise StateError(path, "server", "it is not an object")
    pid, port, bento, log = (value.get(key) for key in ("pid", "port", "bento", "log"))
    if not (isinstance(pid, int) and not isinstance(pid, bool) and pid > 1):
        raise StateError(path, "server.pid", f"{pid!r} is not a process id")
    if not (isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536):
        raise StateError(path, "server.port", f"{port!r} is not a port")
    if not (isinstance(bento, str) and BENTO_RE.match(bento)):
        raise StateError(path, "server.bento", f"{bento!r} is not a bento tag")
    if not (isinstance(log, str) and _inside(path.parent, Path(log))):
        raise StateError(path, "server.log", f"{log!r} is not a file beside the state file")
    return serving.Server(pid, port, bento, log)


def _inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` is strictly inside ``folder``, links resolved (so nothing outside is ever deleted)."""
    try:
        return path.is_absolute() and path.resolve().is_relative_to(folder.resolve()) \
            and path.resolve() != folder.resolve()
    except (OSError, RuntimeError):
        return False


def reconcile_local(project: Project, model: str, stage: str) -> list[str]:
    """Stop the stage's processes its state does not name; complete an assignment left under way."""
    path = local_state_path(project, model, stage)
    state = read_local_state(path)
    notes = []
    recorded = _tree(state.server) if state is not None and serving.is_running(state.server) else set()
    left = [process for process in serving.marked(str(path)) if process.pid not in recorded]
    if state is not None and not recorded:
        notes.append(f"the recorded server of {model} in {stage} (pid {state.server.pid}, port {state.server.port}) "
                     "was gone" + (": stopped what was left of it and any other server of the stage: "
                                   f"{serving.describe(left)}" if left else ""))
    elif left:
        notes.append(f"stopped servers of {model} in {stage} that an interrupted command left: "
                     f"{serving.describe(left)}")
    serving.terminate(left)
    if state is not None and state.assigning and recorded and _serves(state, state.server.bento):
        assigned = registry.assign(project, model, state.version, stage, "completes an interrupted deploy")
        if assigned.created:
            notes.append(f"completed the assignment of {state.version} to {stage} that an interrupted deploy "
                         f"left: {assigned.event.tag}")
        atomic_write_json(path, replace(state, assigning=False).to_dict())
    return notes


def _tree(server: serving.Server) -> set[int]:
    import psutil

    try:
        leader = psutil.Process(server.pid)
        return {leader.pid, *(child.pid for child in leader.children(recursive=True))}
    except psutil.Error:
        return set()


def stop_local(project: Project, model: str, stage: str) -> Stopped:
    """Stop every server of ``model``'s ``stage`` (the recorded one, and any left by a killed command) and forget it."""
    name = registry.model_name(project, model)
    with stage_lock(project, name, stage):
        path = local_state_path(project, name, stage)
        notes = []
        try:
            state = read_local_state(path)
        except StateError as error:
            state = None
            notes.append(f"ignored {display_path(path)}, which is not valid ({error.field_name}: {error.why})")
        left = serving.marked(str(path))
        if state is not None:
            _retire(path, state)
            left = [process for process in left if process.is_running()]
        if left:
            notes.append(f"stopped what was left of {name}'s servers in {stage} (workers of a killed server, or the "
                         f"server of a killed deploy): {serving.describe(left)}")
            serving.terminate(left)
        path.unlink(missing_ok=True)
        return Stopped(state, notes)


def status_local(project: Project, model: str) -> list[dict[str, Any]]:
    """Per stage of ``model`` (assigned by a tag or served here): versions, the server, whether it is ready."""
    name = registry.model_name(project, model)
    assigned = registry.read(project, name).to_dict().get("stages", {})
    folder = project.root / STATE_DIR
    served = {path.parent.name for path in folder.glob(f"*/{name}.json")} if folder.is_dir() else set()
    rows = []
    for stage in sorted(set(assigned) | served):
        path = local_state_path(project, name, stage)
        row: dict[str, Any] = {"stage": stage, "assigned": assigned.get(stage), "version": None, "pid": None,
                               "port": None, "url": None, "running": False, "ready": False, "problem": None}
        try:
            state = read_local_state(path)
        except StateError as error:
            state, row["problem"] = None, str(error)
        if state is not None:
            running = serving.is_running(state.server)
            row.update(version=state.version, pid=state.server.pid, port=state.server.port, url=state.server.url,
                       running=running, ready=running and serving.is_ready(state.server))
            recorded = _tree(state.server) if running else set()
        else:
            recorded = set()
        row["others"] = [process.pid for process in serving.marked(str(path)) if process.pid not in recorded]
        rows.append(row)
    return rows


def _retire(path: Path, state: LocalState, keep: Path | None = None) -> None:
    """Stop a remembered server if it still runs, and remove its BentoML home (unless it is ``keep``)."""
    if serving.is_running(state.server):
        serving.stop(state.server)
    if state.home != keep:
        _remove_home(path, state.home)


def _remove_home(path: Path, home: Path) -> None:
    """Delete a server's BentoML home, only ever a ``*.bentoml`` folder beside the stage's state file."""
    if home.suffix == ".bentoml" and not home.is_symlink() and _inside(path.parent, home):
        shutil.rmtree(home, ignore_errors=True)


def _serves(state: LocalState, bento: str) -> bool:
    server = state.server
    return server.bento == bento and serving.is_running(server) and serving.is_ready(server)


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
        text = manifests.render_manifests(version.model, stage, str(version.version), image, bento_tag=bento,
                                          fingerprint=str(version.fingerprint), task=self._task(version.model),
                                          project_root=self.project.root)
        path = manifests.manifest_path(self.project.root, stage, version.model)
        messages = []
        if self.build_image or self.push_image:
            home = packaging.store_home(self.project)
            packaging.import_archive(archive, home, version.fields.get("bento-sha256"))
            messages.append(containerize(home, bento, image, self.push_image))
        changed = not path.is_file() or path.read_text(encoding="utf-8") != text
        yield Landed(changed, manifest=path, image=image, messages=messages)
        manifests.write_manifests(self.project.root, stage, version.model, text)


    def _task(self, model: str) -> str | None:
        """The model's task, for the dashboard's panels; None when its folder is gone."""
        try:
            return self.project.spec(model).task
        except MlshipError:
            return None


def containerize(home: Path, bento: str, image: str, push: bool = False) -> str:
    """Build ``image`` from ``bento`` with ``bentoml containerize`` (and push it); return what was done.

    Where no Docker daemon answers, nothing is built and the message says how to build it elsewhere.
    """
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True, check=False).returncode != 0:
        return (f"the image {image} was not built: no Docker daemon answers here. Build it where Docker runs "
                f"(GitHub's Ubuntu runners have one): bentoml containerize {bento} --image-tag {image}")
    _run_or_fail([sys.executable, "-m", "bentoml", "containerize", bento, "--image-tag", image],
                 packaging.bentoml_env(home), f"building the image {image} failed")
    if not push:
        return f"built the image {image}"
    _run_or_fail([docker, "push", image], os.environ, f"pushing the image {image} failed (is the registry logged in?)")
    return f"built and pushed the image {image}"


def _run_or_fail(command: list[str], env: Any, failure: str) -> None:
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False,
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
