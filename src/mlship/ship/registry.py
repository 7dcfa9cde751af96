"""The version registry: annotated git tags in GTO's format, so the ``gto`` CLI reads the same registry.

A model's history is its tags (iterative/gto's grammar, ``gto/constants.py``):

- ``churn@v1.2.0`` registers version v1.2.0 at the tag's commit;
- ``churn#prod#3`` assigns the version registered at the tag's commit to stage ``prod``.
  ``3`` is gto's counter, which counts the model's numbered tags across *all* stages
  (``churn#staging#4`` may follow), so a number is never reused;
- gto's other tags are read too: ``churn@v1.2.0!`` (deregistration), ``churn#prod!#5``
  (unassignment) and ``churn@deprecated``.

Only annotated tags count, as in gto (a lightweight tag still occupies its name). A
message starts with the line gto itself writes (``Registering artifact churn version
v1.2.0``); mlship adds ``key: value`` lines after a blank line (fingerprint, metrics,
bento and its digest), which gto shows as part of the message.

gto orders events by the tagger date, which git keeps to the second, and it gets a
stage wrong when two of a model's tags share a second. So every tag written here is
dated at least one second after the model's latest tag; only a burst of tags in the
same second is dated (at most a few seconds) ahead of the clock.

Reading returns a :class:`Registry`, a snapshot of one model's tags; writing
(:func:`register`, :func:`assign`) creates one tag and returns the new event. Nothing
is pushed unless asked (:func:`push`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from mlship import git
from mlship.errors import MlshipError, ProjectError
from mlship.project import Project

NAME = r"[a-z0-9](?:[a-z0-9-/]*[a-z0-9])?"
#: semver.org's regular expression, as gto uses it.
SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
          r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
          r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
NAME_RE = re.compile(f"^{NAME}$")
VERSION_RE = re.compile(f"^v{SEMVER}$")
TAG_RE = re.compile(
    rf"^(?P<model>{NAME})(?:(?:#(?P<stage>{NAME})|@(?P<version>v{SEMVER}))(?P<cancel>!?)|@(?P<deprecated>deprecated))"
    r"(?:#(?P<number>[0-9]+))?$")
FIRST_VERSION = "v0.1.0"

REGISTRATION, DEREGISTRATION = "registration", "deregistration"
ASSIGNMENT, UNASSIGNMENT, DEPRECATION = "assignment", "unassignment", "deprecation"
#: gto's priorities, which break ties between events of the same second.
PRIORITY = {DEPRECATION: 2, REGISTRATION: 3, DEREGISTRATION: 4, ASSIGNMENT: 5, UNASSIGNMENT: 6}

#: One field per NUL; for-each-ref ends each record with a newline after the last NUL.
_FORMAT = "%00".join(["%(refname:strip=2)", "%(objecttype)", "%(objectname)", "%(*objectname)", "%(taggername)",
                      "%(taggeremail)", "%(taggerdate:iso-strict)", "%(contents:subject)", "%(contents:body)"]) + "%00"
_FIELDS = 9


class RegistryError(MlshipError):
    """A version or stage cannot be registered, assigned or found."""


@dataclass(frozen=True)
class Event:
    """One tag of a model: a registration, an assignment, or one of gto's other events."""

    kind: str
    model: str
    tag: str
    commit: str
    tagger: str
    tagger_email: str
    date: dt.datetime
    #: The message's first line (gto's sentence).
    subject: str
    #: The ``key: value`` lines after it (``fingerprint``, ``metrics``, ``bento``, ``bento-sha256``, ``note``...).
    fields: dict[str, str] = field(default_factory=dict)
    #: ``v1.2.0``: the registered version, or for an assignment the version registered at its commit
    #: (None when there is none, which only gto can make).
    version: str | None = None
    stage: str | None = None
    #: gto's counter of the model's numbered tags (assignments).
    number: int | None = None

    @property
    def fingerprint(self) -> str | None:
        return self.fields.get("fingerprint")

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics written in the message (``metrics: roc_auc=0.81 accuracy=0.77``), primary first."""
        found = {}
        for pair in self.fields.get("metrics", "").split():
            name, _, value = pair.partition("=")
            try:
                found[name] = float(value)
            except ValueError:
                continue
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "tag": self.tag,
            "version": self.version,
            "stage": self.stage,
            "number": self.number,
            "commit": self.commit,
            "tagger": self.tagger,
            "tagger_email": self.tagger_email,
            "date": self.date.isoformat(),
            "message": self.subject,
            "fingerprint": self.fingerprint,
            "metrics": self.metrics,
            "fields": self.fields,
        }


@dataclass(frozen=True)
class Registry:
    """A snapshot of one model's tags: its events in time order, and every tag name it holds."""

    model: str
    #: Annotated tags in time order (gto's order: tagger date, then priority, then counter).
    events: list[Event]
    #: Every tag name of the model, lightweight ones too: none of them can be created again.
    taken: frozenset[str]

    def versions(self) -> list[Event]:
        """The registrations of active versions (not deregistered since), lowest version first."""
        dropped = {e.version for e in self.events if e.kind == DEREGISTRATION}
        active = [e for e in self.events if e.kind == REGISTRATION and e.version not in dropped]
        return sorted(active, key=lambda e: version_key(e.version or ""))

    def latest(self) -> Event | None:
        """The highest active version (gto's "latest"), or None before the first release."""
        versions = self.versions()
        return versions[-1] if versions else None

    def find(self, version: str) -> Event:
        """The registration of ``version`` (``1.2.0`` or ``v1.2.0``); raises when it is not an active version."""
        wanted = version if version.startswith("v") else f"v{version}"
        for event in self.versions():
            if event.version == wanted:
                return event
        known = ", ".join(e.version or "" for e in self.versions()) or "none yet"
        raise RegistryError(f"{self.model} has no version {wanted} (versions: {known}): run `mlship history "
                            f"{self.model}` to see them")

    def with_fingerprint(self, fingerprint: str) -> Event | None:
        """The active version whose registration records ``fingerprint``."""
        return next((e for e in self.versions() if e.fingerprint == fingerprint), None)

    def at_commit(self, commit: str) -> Event | None:
        """The active version registered at ``commit`` (gto allows one per commit)."""
        return next((e for e in self.versions() if e.commit == commit), None)

    def stage_history(self, stage: str) -> list[Event]:
        """The assignments (and gto's unassignments) of ``stage``, oldest first."""
        return [e for e in self.events if e.kind in (ASSIGNMENT, UNASSIGNMENT) and e.stage == stage]

    def stages(self) -> dict[str, Event]:
        """Each stage's current version (its registration), by stage name."""
        names = dict.fromkeys(e.stage for e in self.events if e.stage is not None)
        current = {stage: self.current(stage) for stage in names}
        return {stage: event for stage, event in current.items() if event is not None}

    def current(self, stage: str) -> Event | None:
        """The version (its registration) in ``stage``, or None when nothing is assigned.

        As gto decides it: a version is in the stage while its latest event there is an
        assignment, and among those the most recently assigned wins (so unassigning the
        current version brings back the previous one, if still assigned).
        """
        active = {e.version: e for e in self.versions()}
        last: dict[str, tuple[int, Event]] = {}
        for position, event in enumerate(self.stage_history(stage)):
            if event.version is not None and event.version in active:
                last[event.version] = (position, event)
        assigned = [(position, version) for version, (position, e) in last.items() if e.kind == ASSIGNMENT]
        return active[max(assigned)[1]] if assigned else None

    def next_number(self) -> int:
        """gto's next counter: one more than the highest number of any of the model's tags."""
        numbers = [int(m["number"]) for m in map(TAG_RE.match, self.taken) if m and m["number"]]
        return max(numbers, default=0) + 1

    def next_version(self, requested: str | None, source: str = "") -> str:
        """The version to register: ``requested`` (``1.2.0``, from ``source``) or a patch bump of the highest.

        The first version is :data:`FIRST_VERSION`. A requested version must be new and higher
        than every existing one, so the latest version is always the newest release.
        """
        existing = sorted({m["version"] for m in map(TAG_RE.match, self.taken) if m and m["version"]},
                          key=version_key)
        if requested is None:
            if not existing:
                return FIRST_VERSION
            major, minor, patch = (int(part) for part in VERSION_RE.match(existing[-1]).groups()[:3])  # type: ignore[union-attr]
            return f"v{major}.{minor}.{patch + 1}"
        wanted = requested if requested.startswith("v") else f"v{requested}"
        where = f"{source}: " if source else ""
        if not VERSION_RE.match(wanted):
            raise RegistryError(f"{where}'{requested}' is not a semantic version like 1.2.0 (gto cannot read it)")
        if any(version_key(v) == version_key(wanted) for v in existing):
            owner = next((e for e in self.events if e.version == wanted and e.kind == REGISTRATION), None)
            what = f" (fingerprint {owner.fingerprint[:12]})" if owner and owner.fingerprint else ""
            raise RegistryError(f"{where}{self.model} {wanted} already exists{what} and versions are never reused: "
                                f"set a higher version, or remove `version:` for a patch bump of {existing[-1]}")
        if existing and version_key(wanted) < version_key(existing[-1]):
            raise RegistryError(f"{where}{wanted} is lower than {self.model}'s highest version {existing[-1]}; "
                                "versions only go up: set a higher one, or remove `version:` for a patch bump")
        return wanted

    def event(self, tag: str) -> Event:
        return next(e for e in self.events if e.tag == tag)

    def to_dict(self) -> dict[str, Any]:
        latest = self.latest()
        return {
            "model": self.model,
            "latest": latest.version if latest else None,
            "versions": [e.version for e in self.versions()],
            "stages": {stage: event.version for stage, event in self.stages().items()},
            "events": [e.to_dict() for e in self.events],
        }


def version_key(version: str) -> tuple[Any, ...]:
    """Semantic-version precedence: a release sorts above its pre-releases; build metadata is ignored."""
    match = VERSION_RE.match(version)
    if match is None:
        return (-1,)
    major, minor, patch, pre, _ = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


def model_name(project: Project, model: str) -> str:
    """The model's name from a name or a model folder; a model whose folder is gone still has a name."""
    try:
        name = project.model_dir(model).name
    except ProjectError:
        name = model
    if not NAME_RE.match(name):
        raise RegistryError(f"'{model}' is not a model name: names are lowercase letters, digits and dashes, "
                            "as in gto (for example churn)")
    return name


def read(project: Project, model: str) -> Registry:
    """The registry of ``model`` (a name or folder) from the repository's tags."""
    name = model_name(project, model)
    repo = git.toplevel(project.root)
    output = git.run(repo, "for-each-ref", f"--format={_FORMAT}", f"refs/tags/{name}@*", f"refs/tags/{name}#*")
    values = output.split("\0")
    taken, events = set(), []
    for start in range(0, len(values) - 1, _FIELDS):
        tag, kind, target, peeled, tagger, email, date, subject, body = values[start:start + _FIELDS]
        tag = tag.lstrip("\n")
        match = TAG_RE.match(tag)
        if match is None or match["model"] != name:
            continue
        taken.add(tag)
        if kind != "tag":  # a lightweight tag: gto ignores it
            continue
        events.append(Event(_kind(match), name, tag, peeled or target, tagger, email.strip("<>"),
                            _date(date), subject, _fields(body), match["version"],
                            match["stage"], int(match["number"]) if match["number"] else None))
    events.sort(key=lambda e: (e.date, PRIORITY[e.kind], e.number or 0))
    registered = {e.commit: e.version for e in events if e.kind == REGISTRATION}
    events = [replace(e, version=registered.get(e.commit)) if e.stage else e for e in events]
    return Registry(name, events, frozenset(taken))


def register(project: Project, model: str, version: str, commit: str, fields: dict[str, str]) -> Event:
    """Create the annotated tag ``MODEL@VERSION`` at ``commit``, with ``fields`` in its message."""
    found = read(project, model)
    tag = f"{found.model}@{version}"
    if not VERSION_RE.match(version):
        raise RegistryError(f"'{version}' is not a version like v1.2.0")
    if tag in found.taken:
        raise RegistryError(f"the tag {tag} exists already, and tags are never moved or reused")
    _create_tag(project, found, tag, commit, f"Registering artifact {found.model} version {version}", fields)
    return read(project, model).event(tag)


@dataclass(frozen=True)
class Assigned:
    """What :func:`assign` did: the stage's assignment, and whether it was created now."""

    event: Event
    created: bool


def assign(project: Project, model: str, version: str, stage: str, note: str = "") -> Assigned:
    """Assign ``version`` to ``stage``: the annotated tag ``MODEL#STAGE#N`` at the version's commit.

    ``N`` is gto's next counter, never reused. When ``version`` is already the stage's current
    version nothing is tagged, and the assignment that made it current is returned. ``note``
    (why, e.g. "rollback from v1.2.1") goes into the message.
    """
    found = read(project, model)
    if not NAME_RE.match(stage):
        raise RegistryError(f"'{stage}' is not a stage name: use lowercase letters, digits and dashes "
                            "(for example prod or staging)")
    target = found.find(version)
    if found.current(stage) == target:
        last = [e for e in found.stage_history(stage) if e.kind == ASSIGNMENT and e.version == target.version][-1]
        return Assigned(last, created=False)
    tag = f"{found.model}#{stage}#{found.next_number()}"
    subject = f"Assigning stage {stage} to artifact {found.model} version {target.version}"
    _create_tag(project, found, tag, target.commit, subject, {"note": note} if note else {})
    return Assigned(read(project, model).event(tag), created=True)


def push(project: Project, tags: Iterable[str], remote: str = "origin") -> None:
    """Push ``tags`` to ``remote``; one the remote holds already (the same tag) is fine."""
    refs = [f"refs/tags/{tag}" for tag in tags]
    try:
        git.run(git.toplevel(project.root), "push", "--quiet", remote, *refs)
    except git.GitError as error:
        _no_such_remote(error, remote)
        if _rejected(str(error)):
            raise RegistryError(f"{remote} already has a different {' or '.join(tags)}: someone registered it in "
                                f"parallel, or this clone's tags are stale. Fetch them (`git fetch {remote} --tags`), "
                                "then run again; tags are never overwritten") from None
        raise


def fetch(project: Project, model: str, remote: str = "origin") -> None:
    """Fetch ``model``'s tags from ``remote``, so versions and counters are computed from the shared registry.

    A local tag that differs from the remote's is an error, never overwritten.
    """
    name = model_name(project, model)
    refspecs = [f"refs/tags/{name}{sign}*:refs/tags/{name}{sign}*" for sign in ("@", "#")]
    try:
        git.run(git.toplevel(project.root), "fetch", "--no-tags", remote, *refspecs)
    except git.GitError as error:
        _no_such_remote(error, remote)
        rejected = _rejected(str(error))
        if rejected:
            raise RegistryError(f"{', '.join(rejected)}: the local tag differs from {remote}'s, and tags are never "
                                "moved: delete the local one if it was never pushed, then run again") from None
        raise


def _create_tag(project: Project, found: Registry, tag: str, commit: str, subject: str,
                fields: dict[str, str]) -> None:
    """``git tag -a``, dated at least a second after the model's latest tag (see the module's docstring)."""
    message = subject + ("\n\n" + "\n".join(f"{key}: {value}" for key, value in fields.items()) if fields else "")
    env = None
    if found.events:
        after = int(max(e.date for e in found.events).timestamp()) + 1
        if time.time() < after:
            env = {**os.environ, "GIT_COMMITTER_DATE": f"{after} +0000"}
    try:
        git.run(git.toplevel(project.root), "tag", "--annotate", "--cleanup=verbatim", "--message", message, tag,
                commit, env=env)
    except git.GitError as error:
        text = str(error)
        if "tell me who you are" in text or "empty ident" in text or "auto-detect" in text:
            raise RegistryError(f"git has no name and email for the tagger of {tag}: set them, e.g. "
                                "`git config user.name \"github-actions[bot]\"` and `git config user.email "
                                "\"41898282+github-actions[bot]@users.noreply.github.com\"`") from None
        if "already exists" in text:
            raise RegistryError(f"the tag {tag} exists already (made in parallel?), and tags are never moved: "
                                "run again") from None
        raise


def _no_such_remote(error: git.GitError, remote: str) -> None:
    if "does not appear to be a git repository" in str(error):
        raise RegistryError(f"there is no git remote '{remote}' here (`git remote -v` lists them): add it, or name "
                            "another with --remote") from None


def _rejected(git_error: str) -> list[str]:
    """The tags git refused to update, from its report (`` ! [rejected]  a -> a  (would clobber existing tag)``)."""
    return [line.split("]", 1)[1].split("->")[0].strip() for line in git_error.splitlines() if "[rejected]" in line]


def _kind(match: re.Match[str]) -> str:
    if match["deprecated"]:
        return DEPRECATION
    if match["version"]:
        return DEREGISTRATION if match["cancel"] else REGISTRATION
    return UNASSIGNMENT if match["cancel"] else ASSIGNMENT


def _fields(body: str) -> dict[str, str]:
    """The ``key: value`` lines of a message's body; other lines (gto's own messages) are left out."""
    found = {}
    for line in body.splitlines():
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[a-z][a-z0-9-]*", key):
            found[key] = value.strip()
    return found


def _date(text: str) -> dt.datetime:
    """git's ``iso-strict`` date; newer gits write UTC as ``Z``, which Python 3.10 cannot read."""
    return dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
