"""A stage's local server as mlship remembers it: the state file, the stage's lock, and what
reconciles, stops and reports the stage's servers.

``.mlship/deploy/<stage>/<model>.json`` names the server that serves the stage (pid, port,
bento, log), what it serves, and its own BentoML home beside the file. Every field is checked
when read, for the file decides which process is signalled and which folder is deleted; a
file mlship did not write is a :class:`StateError`. The server's processes carry the file's
path as their mark (see :mod:`mlship.ship.serving`), which is how the servers a killed command
left are found.
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from mlship.errors import MlshipError, display_path
from mlship.files import atomic_write_json
from mlship.project import Project
from mlship.ship import packaging, registry, serving

STATE_DIR = Path(".mlship") / "deploy"
STAGE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")
BENTO_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?:[0-9a-z]+$")


class DeployError(MlshipError):
    """A version cannot be deployed, or a stage cannot be rolled back."""


class StateError(DeployError):
    """A stage's state file is not one mlship wrote: a field is missing or not valid."""

    def __init__(self, path: Path, field_name: str, why: str) -> None:
        super().__init__(f"{display_path(path)}: {field_name} is not valid: {why}. The file was not written by "
                         f"mlship, or was damaged: `mlship stop {path.stem} --stage {path.parent.name}` stops "
                         "whatever serves the stage and removes it")
        self.path, self.field_name, self.why = path, field_name, why


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
    if state is not None and state.assigning and recorded and serves(state, state.server.bento):
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
            retire(path, state)
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


def retire(path: Path, state: LocalState, keep: Path | None = None) -> None:
    """Stop a remembered server if it still runs, and remove its BentoML home (unless it is ``keep``)."""
    if serving.is_running(state.server):
        serving.stop(state.server)
    if state.home != keep:
        remove_home(path, state.home)


def remove_home(path: Path, home: Path) -> None:
    """Delete a server's BentoML home, only ever a ``*.bentoml`` folder beside the stage's state file."""
    if home.suffix == ".bentoml" and not home.is_symlink() and _inside(path.parent, home):
        shutil.rmtree(home, ignore_errors=True)


def serves(state: LocalState, bento: str) -> bool:
    server = state.server
    return server.bento == bento and serving.is_running(server) and serving.is_ready(server)
