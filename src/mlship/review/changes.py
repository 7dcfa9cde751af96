"""Which models a change touches, since the merge-base with a base branch.

A model is touched when any file in its folder changed (the spec, an entrypoint and
its neighbours, data kept there), when a data file it reads elsewhere in the
repository changed, when its ledger (``reports/<name>/``) changed (what a pull request
approves is recomputed, never taken from the file; and a model's first ledger, written
with ``mlship pr --model NAME``, gets its review this way), or when a pinned version of
mlship or of a library in every fingerprint changed in a requirements, constraints,
pyproject or workflow file (see :func:`pin_changes`). A
spec that does not validate counts as touched, so the PR flow reports its errors.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlship import git
from mlship.errors import Problem, SpecError
from mlship.project import Project
from mlship.spec import load_spec
from mlship.train.fingerprint import LIBRARIES

PIN_FILES = ("requirements*.txt", "constraints*.txt", "pyproject.toml", "setup.cfg",
             ".github/workflows/*.yml", ".github/workflows/*.yaml")
#: Where the ledger lives (:data:`mlship.review.ledger.REPORTS_DIR`; not imported, which would pull in training).
LEDGER_DIR = "reports"
_NAMES = "|".join(re.escape(name) for name in ("mlship", *LIBRARIES))
#: A requirement pin (``scikit-learn==1.5.2``, ``"numpy>=2"`` in pyproject.toml, ``mlship @ git+...@sha``).
REQUIREMENT = re.compile(rf"(?<![\w.-])(?P<name>{_NAMES})\s*(?P<version>(?:==|~=|>=|<=|!=|>|<|@)\s*[^\s,;\"'\]#]+)",
                         re.IGNORECASE)
#: mlship's commit in a workflow: ``uses: OWNER/mlship/...@SHA`` or ``mlship-ref: SHA``.
WORKFLOW_PIN = re.compile(r"(?:uses:\s*[\w.-]+/mlship\S*@|mlship-ref:\s*['\"]?)(?P<version>[\w.-]+)")


@dataclass(frozen=True)
class TouchedModel:
    name: str
    reasons: list[str]
    #: The spec's problems, when it does not validate.
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class ChangeSet:
    base: str
    merge_base: str
    touched: list[TouchedModel]
    #: Models that existed at the merge-base and are gone now.
    removed: list[str]

    @property
    def names(self) -> list[str]:
        return [model.name for model in self.touched]

    def to_dict(self) -> dict:
        return {"base": self.base, "merge_base": self.merge_base, "removed": self.removed,
                "touched": [{"name": m.name, "reasons": m.reasons, "problems": [str(p) for p in m.problems]}
                            for m in self.touched]}


def default_base(project: Project) -> str:
    """The PR's base branch in GitHub Actions, else ``origin/main``, else ``main``."""
    if os.environ.get("GITHUB_BASE_REF"):
        return f"origin/{os.environ['GITHUB_BASE_REF']}"
    repo = git.toplevel(project.root)
    return "origin/main" if git.is_commit(repo, "origin/main") else "main"


def changed_models(project: Project, base: str) -> ChangeSet:
    repo = git.toplevel(project.root)
    since = git.merge_base(repo, base)
    files = git.changed_files(repo, since)
    models_prefix = _relative(project.models_dir, repo)
    pins = sorted(f for f in files if any(fnmatch.fnmatch(f, pattern) for pattern in PIN_FILES))
    pin_change = [change for path in pins for change in pin_changes(repo, since, path)]

    touched = []
    for name in project.model_names():
        reasons, problems = _reasons(project.model_dir(name), repo, files)
        ledger = _relative(project.root / LEDGER_DIR / name, repo) + "/"
        if not reasons and any(path.startswith(ledger) for path in files):
            reasons.append(f"its ledger {ledger} changed")
        reasons += pin_change
        if reasons:
            touched.append(TouchedModel(name, reasons, problems))
    removed = sorted(set(_models_at(repo, since, models_prefix)) - set(project.model_names()))
    return ChangeSet(base, since, touched, removed)


def pin_changes(repo: Path, since: str, path: str) -> list[str]:
    """What changed in the pins of mlship and the fingerprinted libraries in ``path``, in words.

    In a workflow only mlship's commit counts, and only when it changed: adding mlship's own
    workflows pins nothing that was pinned before, so it touches no model. In a requirements
    file a pin added or removed counts too, as it moves what gets installed.
    """
    lines = git.changed_lines_of(repo, since, path)
    workflow = path.startswith(".github/workflows/")
    if lines is None:  # a new file: all its lines are added
        lines = ([], (repo / path).read_text(errors="replace").splitlines())
    before, after = (_pins(side, workflow) for side in lines)
    changes = []
    for name in sorted(set(before) | set(after), key=str.lower):
        old, new = before.get(name), after.get(name)
        if old == new or (workflow and (old is None or new is None)):
            continue
        if old and new:
            changes.append(f"{name} {old} → {new} in {path}")
        elif new:
            changes.append(f"{name} pinned {new} in {path}")
        else:
            changes.append(f"{name} pin {old} removed from {path}")
    return changes


def _pins(lines: list[str], workflow: bool) -> dict[str, str]:
    """The pinned version of each name in ``lines`` (comments left out)."""
    pins = {}
    for line in lines:
        text = line.split(" #")[0] if not line.lstrip().startswith("#") else ""
        if workflow and (match := WORKFLOW_PIN.search(text)):
            pins["mlship"] = "@" + match["version"]
        for match in REQUIREMENT.finditer(text):
            pins[match["name"].lower()] = re.sub(r"\s+", "", match["version"])
    return pins


def _reasons(folder: Path, repo: Path, files: set[str]) -> tuple[list[str], list[Problem]]:
    prefix = _relative(folder, repo) + "/"
    reasons = [f"{path} changed" for path in sorted(files) if path.startswith(prefix)]
    try:
        spec = load_spec(folder)
    except SpecError as error:
        return reasons + ["the spec does not validate"], error.problems
    for data_file in spec.data_files():
        relative = _relative(data_file, repo)
        if relative in files and not relative.startswith(prefix):
            reasons.append(f"data {relative} changed")
    return reasons, []


def _models_at(repo: Path, commit: str, models_prefix: str) -> list[str]:
    listing = git.run(repo, "ls-tree", "-r", "--name-only", commit, "--", models_prefix).splitlines()
    suffix = "/model.yaml"
    return [path[len(models_prefix) + 1: -len(suffix)] for path in listing
            if path.endswith(suffix) and path.count("/") == models_prefix.count("/") + 2]


def _relative(path: Path, repo: Path) -> str:
    return Path(path).resolve().relative_to(repo.resolve()).as_posix()
