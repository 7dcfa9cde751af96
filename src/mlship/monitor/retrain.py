"""Retraining through a pull request: a model's new data on a new branch, ready for the PR flow.

:func:`retrain` checks the new file against the spec (readable, the spec's columns, a
target it can learn from, rows it can split), then makes the branch
``mlship/retrain-<model>-<digest of the new data>`` at HEAD, replaces the data file the
spec reads with the new one, bumps the spec's ``version:`` if it pins one (``mlship
release`` refuses a version that exists already), and commits. Nothing is trained here:
the PR flow trains the model on the new data and compares it with the base branch's model
on the same held-out rows, where a reviewer sees the result.

The branch is made in a temporary worktree, so the user's checkout is never touched: they
stay on their branch with their working tree as it was, and the result names the branch
(``git switch`` to it, or push it). The model's own files must be committed, since the
branch starts from HEAD and would silently leave their changes out. With ``push``, the
branch is pushed; with a GitHub client, a pull request is opened. Either the branch is
made (and pushed, when asked) or nothing is: a failure before the pull request removes it.

A pull request opened with a workflow's ``GITHUB_TOKEN`` starts no workflow (GitHub does
not let that token trigger runs, to prevent loops), so the PR flow would not run on it:
give a personal access token or a GitHub App token for that.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlship import git
from mlship.errors import DataError, Location, MlshipError, Problem, SpecError, display_path
from mlship.files import atomic_copy, atomic_write_text, sha256_file
from mlship.github.publish import REPOSITORY_RE
from mlship.markdown import Markdown, code, escape
from mlship.project import Project
from mlship.spec import SEMVER_RE, SPEC_FILE, Spec, load_spec

if TYPE_CHECKING:
    import pandas as pd

    from mlship.github.client import GitHub

BRANCH_PREFIX = "mlship/retrain-"
SHORT_DIGEST = 12
MARKER = "<!-- mlship:retrain:{model} -->"
FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".pq": "Parquet"}
VERSION_LINE_RE = re.compile(
    r"^(?P<key>version[ \t]*:[ \t]*)(?P<quote>[\"']?)(?P<value>[^\"'#\s]+)(?P=quote)(?P<rest>[ \t]*(?:#.*)?)$")


@dataclass(frozen=True)
class DataChange:
    """The data file the spec reads, before and after."""

    #: Relative to the repository's root.
    path: str
    old_sha256: str
    new_sha256: str
    old_rows: int
    new_rows: int
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    #: True when the spec lists no features, so added columns become features.
    implicit_features: bool = False


@dataclass(frozen=True)
class Retrained:
    model: str
    branch: str
    commit: str
    #: The commit the branch was made from (HEAD when retrain ran).
    start: str
    data: DataChange
    note: str = ""
    old_version: str | None = None
    new_version: str | None = None
    #: The remote the branch was pushed to, if it was.
    remote: str | None = None
    pull_request_number: int | None = None
    pull_request_url: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "branch": self.branch,
            "commit": self.commit,
            "start": self.start,
            "note": self.note,
            "data": dataclasses.asdict(self.data),
            "version": {"old": self.old_version, "new": self.new_version} if self.new_version else None,
            "remote": self.remote,
            "pull_request": ({"number": self.pull_request_number, "url": self.pull_request_url}
                             if self.pull_request_number else None),
        }


def retrain(project: Project, model: str, data: Path, note: str | None = None, *, push: bool = False,
            remote: str = "origin", client: GitHub | None = None, repo: str | None = None,
            base: str | None = None) -> Retrained:
    """Put ``data`` in place of ``model``'s data file on a new branch at HEAD, and commit it.

    With ``push``, the branch is pushed to ``remote``; with ``client`` (which needs ``push``),
    a pull request is opened on GitHub's ``repo`` into ``base`` (default: the current branch).
    """
    spec = load_spec(project.model_dir(model))
    root = git.toplevel(spec.dir)
    target = _data_file(spec, root)
    new = _new_file(Path(data), spec, target)
    base = _pull_request_base(root, push, client, repo, base)
    start = git.head_commit(root)
    if start is None:
        raise git.GitError(f"{display_path(root)} has no commit yet: commit the model first, then retrain it")
    _check_committed(spec, root, new)
    change = _data_change(spec, root, start, target, new)
    branch = _free_branch(root, f"{BRANCH_PREFIX}{spec.name}-{change.new_sha256[:SHORT_DIGEST]}", push, remote)
    note = (note or "").strip()
    retrained = Retrained(spec.name, branch, "", start, change, note, spec.config.version,
                          _next_version(project, spec) if spec.config.version else None, remote if push else None)
    retrained = dataclasses.replace(retrained, commit=_commit_on_branch(root, spec, new, retrained, push))
    if client is None:
        return retrained
    assert repo is not None and base is not None, "checked by _pull_request_base"
    return _open_pull_request(client, repo, base, retrained)


def _free_branch(root: Path, branch: str, push: bool, remote: str) -> str:
    """``branch``, which must exist neither here nor (when pushing) on ``remote``."""
    if git.branch_exists(root, branch):
        raise MlshipError(f"the branch {branch} exists already (a retraining with the same data?): delete it "
                          f"(`git branch -D {branch}`) or use it")
    if push and git.remote_has_branch(root, remote, branch):
        raise MlshipError(f"{remote} has the branch {branch} already (a retraining with the same data?): open a pull "
                          f"request from it, or delete it there (`git push {remote} --delete {branch}`)")
    return branch


def _commit_on_branch(root: Path, spec: Spec, new: Path, retrained: Retrained, push: bool) -> str:
    """Make the branch in a temporary worktree, commit the new data (and version), push it if asked.
    Any failure removes the branch."""
    change = retrained.data
    with git.branch_worktree(root, retrained.branch, retrained.start) as tree:
        atomic_copy(new, tree / change.path)
        written = [change.path]
        if retrained.new_version is not None:
            spec_path = (spec.dir / SPEC_FILE).resolve().relative_to(root).as_posix()
            _set_version(tree / spec_path, retrained.new_version)
            written.append(spec_path)
        load_spec(tree / spec.dir.resolve().relative_to(root))  # the branch's spec still validates
        commit = git.commit(tree, written, _commit_message(retrained))
        if push:
            assert retrained.remote is not None
            git.push_branch(tree, retrained.remote, retrained.branch)
    return commit


def _data_file(spec: Spec, root: Path) -> Path:
    """The data file the spec reads, which must lie in the repository."""
    data = spec.config.data
    if data.url:
        raise SpecError([Problem(spec.location("data", "url"),
                                 "retraining replaces the model's data file, but this model reads a file pinned by URL: "
                                 "publish the new data at a URL and set data.url and data.sha256 to it in a pull "
                                 "request (or keep the data in the repository and set data.path)")])
    if not data.path:
        raise SpecError([Problem(spec.location("data", "sklearn"),
                                 f"retraining replaces the model's data file, but this model reads scikit-learn's "
                                 f"bundled dataset '{data.sklearn}': save the data as a CSV or Parquet file in the "
                                 "model folder and set data.path (and data.target) instead of data.sklearn, then "
                                 "retrain")])
    target = Path(os.path.normpath(spec.dir.resolve() / data.path))
    if not target.is_relative_to(root):
        raise SpecError([Problem(spec.location("data", "path"),
                                 f"{data.path} is outside the repository ({display_path(root)}), so a branch cannot "
                                 "carry new data for it: keep the data file in the repository to retrain this way")])
    return target


def _new_file(new: Path, spec: Spec, target: Path) -> Path:
    if not new.is_file():
        raise DataError(f"{display_path(new)} does not exist or is not a file: give the new data as a CSV or Parquet "
                        "file")
    kind = FORMATS.get(new.suffix.lower())
    if kind is None:
        raise DataError(f"{display_path(new)} is not a .csv or .parquet file")
    wanted = FORMATS[target.suffix.lower()]
    if kind != wanted:
        raise DataError(f"{display_path(new)} is a {kind} file, but the spec reads a {wanted} file "
                        f"({spec.config.data.path}): convert the new data to {wanted}", spec.location("data", "path"))
    return new.resolve()


def _pull_request_base(root: Path, push: bool, client: GitHub | None, repo: str | None,
                       base: str | None) -> str | None:
    """The branch a pull request will merge into; checked before anything is made."""
    if client is None:
        return base
    if not push:
        raise MlshipError("opening a pull request needs the branch on GitHub: push it too (--push)")
    if not repo or not REPOSITORY_RE.fullmatch(repo):
        raise MlshipError(f"opening a pull request needs the repository as owner/name (--repo, or $GITHUB_REPOSITORY), "
                          f"got {repo!r}")
    base = base or git.current_branch(root)
    if not base:
        raise MlshipError("HEAD is detached, so there is no branch to merge into: give the pull request's base branch "
                          "(--base main)")
    return base


def _check_committed(spec: Spec, root: Path, new: Path) -> None:
    """The model's files must be as committed (apart from the new data itself, which may be anywhere)."""
    changed = [path for path in git.uncommitted(root, [spec.dir, *spec.data_files()]) if (root / path) != new]
    if changed:
        raise MlshipError(f"{spec.name}'s files have uncommitted changes ({', '.join(changed)}): the retraining branch "
                          "starts from HEAD and would leave them out; commit or stash them first")


def _data_change(spec: Spec, root: Path, start: str, target: Path, new: Path) -> DataChange:
    """Check the new data against the spec and the committed data it replaces."""
    from mlship.train.data import load_dataset, read_table

    path = target.relative_to(root).as_posix()
    committed = git.file_at(root, start, path)
    if committed is None:
        raise DataError(f"{path} is not committed at HEAD (is it in .gitignore?): retraining replaces a committed data "
                        "file on a new branch; commit it first", spec.location("data", "path"))
    new_sha256, old_sha256 = sha256_file(new), _sha256_bytes(committed)
    if new_sha256 == old_sha256:
        raise DataError(f"{display_path(new)} is identical to {path}: there is nothing to retrain on")
    where = spec.location("data", "path")
    old, fresh = _table_from_bytes(committed, target.suffix, where), read_table(new, where)
    retargeted = dataclasses.replace(spec, config=spec.config.model_copy(
        update={"data": spec.config.data.model_copy(update={"path": str(new)})}))
    load_dataset(retargeted)  # the spec's columns, a learnable target, a feasible split
    old_columns, new_columns = _columns(old), _columns(fresh)
    implicit = not spec.config.data.features
    lacking = [c for c in old_columns if c not in new_columns and c != spec.target]
    if implicit and lacking:
        raise DataError(f"{display_path(new)} lacks column{'s' if len(lacking) > 1 else ''} "
                        f"{', '.join(repr(c) for c in lacking)}, which the model uses: the spec lists no features, so "
                        "every column but the target is one. Add the columns, or list the features in the spec in a "
                        "pull request first", spec.location("data", "features"))
    return DataChange(path, old_sha256, new_sha256, len(old), len(fresh),
                      [c for c in new_columns if c not in old_columns], lacking, implicit)


def _table_from_bytes(content: bytes, suffix: str, where: Location) -> pd.DataFrame:
    from mlship.train.data import read_table

    with tempfile.TemporaryDirectory(prefix="mlship-retrain-") as folder:
        path = Path(folder) / f"committed{suffix}"
        path.write_bytes(content)
        return read_table(path, where)


def _columns(table: pd.DataFrame) -> list[str]:
    return [str(c) for c in table.columns]


def _sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _next_version(project: Project, spec: Spec) -> str:
    """A patch bump of the pinned version, or of the highest registered one when that is higher."""
    from mlship.ship.registry import TAG_RE, read, version_key

    pinned = spec.config.version
    assert pinned is not None
    candidates = [f"v{_patch_bump(pinned)}"]
    found = read(project, spec.name)
    if any((m := TAG_RE.match(tag)) and m["version"] for tag in found.taken):
        candidates.append(found.next_version(None))
    return max(candidates, key=version_key).removeprefix("v")


def _patch_bump(version: str) -> str:
    """``1.2.0`` -> ``1.2.1``; pre-release and build parts are dropped, as the registry does."""
    match = SEMVER_RE.match(version)
    assert match, "validated at load"
    major, minor, patch = match.groups()[:3]
    return f"{major}.{minor}.{int(patch) + 1}"


def _set_version(file: Path, version: str) -> None:
    """Rewrite the ``version:`` line of ``file`` in place, keeping its quotes, comment and every other line."""
    spec = load_spec(file.parent)
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    number = spec.lines[("version",)]
    content = lines[number - 1].rstrip("\r\n")
    match = VERSION_LINE_RE.match(content)
    if match is None or match["value"] != spec.config.version:
        raise SpecError([Problem(spec.location("version"),
                                 "cannot bump the version written this way: put it on one line, as "
                                 "`version: \"1.2.0\"`, or remove it for a patch bump of the latest release")])
    ending = lines[number - 1][len(content):]
    lines[number - 1] = f"{match['key']}{match['quote']}{version}{match['quote']}{match['rest']}{ending}"
    atomic_write_text(file, "".join(lines))


def _title(model: str, change: DataChange) -> str:
    return f"Retrain {model} on new data ({change.old_rows:,} → {change.new_rows:,} rows)"


def _commit_message(retrained: Retrained) -> str:
    change = retrained.data
    lines = [_title(retrained.model, change), ""]
    if retrained.note:
        lines += [retrained.note, ""]
    lines += [f"data: {change.path}",
              f"rows: {change.old_rows} -> {change.new_rows}",
              f"sha256: {change.old_sha256} -> {change.new_sha256}"]
    if retrained.new_version:
        lines.append(f"version: {retrained.old_version} -> {retrained.new_version}")
    return "\n".join(lines) + "\n"


def pull_request_body(retrained: Retrained) -> str:
    """What the pull request says: why, what changed in the data, and what happens next."""
    change = retrained.data
    lines = [MARKER.format(model=retrained.model), f"## Retraining {code(retrained.model)} on new data", ""]
    if retrained.note:
        lines += [*(f"> {escape(line)}" if line.strip() else ">" for line in retrained.note.splitlines()), ""]
    lines += [
        f"`mlship retrain` replaced {code(change.path)}, the data file of {code(retrained.model)}, with new data:",
        "",
        "| | rows | SHA-256 |",
        "|---|---:|---|",
        f"| before | {change.old_rows:,} | `{change.old_sha256[:SHORT_DIGEST]}` |",
        f"| after | {change.new_rows:,} | `{change.new_sha256[:SHORT_DIGEST]}` |",
        "",
    ]
    if change.columns_added:
        used = " The spec lists no features, so the model uses them." if change.implicit_features else ""
        lines += [f"New columns: {Markdown(', ').join(map(code, change.columns_added))}.{used}", ""]
    if change.columns_removed:
        lines += [f"Columns no longer in the data: {Markdown(', ').join(map(code, change.columns_removed))}.", ""]
    if retrained.new_version:
        lines += [f"The spec's `version:` goes from {retrained.old_version} to {retrained.new_version}, so the merge "
                  "releases a new version.", ""]
    lines += [
        "The mlship PR check trains the model on this data and compares it with the base branch's model on the same "
        "held-out rows; its comment shows every metric's change with a confidence interval, and the gates. Merge "
        "when they pass: the merge releases and deploys it like any other change.",
        "",
        f"<sub>Branched from {retrained.start[:SHORT_DIGEST]} by `mlship retrain`.</sub>",
    ]
    return "\n".join(lines) + "\n"


def _open_pull_request(client: GitHub, repo: str, base: str, retrained: Retrained) -> Retrained:
    from mlship.github.client import GitHubError

    try:
        pull = client.create_pull_request(repo, _title(retrained.model, retrained.data), retrained.branch, base,
                                          pull_request_body(retrained))
    except GitHubError as error:
        raise MlshipError(f"the branch {retrained.branch} was pushed to {retrained.remote}, but the pull request was "
                          f"not opened: {error}. Open it from the branch on GitHub (or delete the branch there and run "
                          "again)") from error
    return dataclasses.replace(retrained, pull_request_number=pull["number"], pull_request_url=pull["html_url"])
