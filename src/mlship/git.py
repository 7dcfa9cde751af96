"""The few git operations mlship needs, through the ``git`` command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mlship.errors import MlshipError


class GitError(MlshipError):
    """A git command failed in a way the user can fix (a missing ref, not a repository)."""


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``git ARGS`` in ``cwd`` (with ``env`` as its environment if given) and return its stdout;
    raise :class:`GitError` on failure."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def _try(cwd: Path, *args: str) -> str | None:
    try:
        return run(cwd, *args).strip()
    except GitError:
        return None


def head_commit(folder: Path) -> str | None:
    return _try(folder, "rev-parse", "HEAD")


def reviewed_commit(folder: Path) -> str | None:
    """The commit under review: HEAD, except on GitHub's test-merge commit of a pull request.

    A ``pull_request`` job checks out ``refs/pull/N/merge`` (``GITHUB_REF``), a merge of the
    head into the base that ``GITHUB_SHA`` names and no branch will ever hold. What was
    reviewed, and what the ledger and model card must name, is the pull request's head:
    that merge's second parent.
    """
    head = head_commit(folder)
    on_test_merge = re.fullmatch(r"refs/pull/\d+/merge", os.environ.get("GITHUB_REF", ""))
    if head and on_test_merge and head == os.environ.get("GITHUB_SHA"):
        return _try(folder, "rev-parse", "--verify", "--quiet", "HEAD^2") or head
    return head


def is_dirty(folder: Path, paths: list[Path]) -> bool | None:
    """Whether any of ``paths`` differs from HEAD (changed, staged or untracked); None outside git."""
    status = _try(folder, "status", "--porcelain", "--", *[str(p) for p in paths])
    return None if status is None else bool(status)


def toplevel(folder: Path) -> Path:
    try:
        return Path(run(folder, "rev-parse", "--show-toplevel").strip())
    except GitError:
        raise GitError(f"{folder} is not inside a git repository") from None


def is_commit(repo: Path, ref: str) -> bool:
    return _try(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is not None


def merge_base(repo: Path, base: str) -> str:
    """The commit where HEAD's history and ``base`` meet."""
    if not is_commit(repo, base):
        if head_commit(repo) is None:
            raise GitError("this repository has no commit yet, so there is no base to compare with: commit on "
                           f"{base} first (`git commit --allow-empty -m start` will do), then work on a branch")
        raise GitError(
            f"'{base}' is not a commit in this repository. In GitHub Actions, check out with "
            "fetch-depth: 0 (actions/checkout) so the base branch's history is present"
        )
    found = _try(repo, "merge-base", "HEAD", base)
    if found is None:
        raise GitError(f"HEAD and '{base}' share no history")
    return found


def changed_files(repo: Path, since: str) -> set[str]:
    """Paths (relative to the repository root) that differ between ``since`` and the working tree.

    Uncommitted and untracked (not ignored) files count, so a local run sees what CI will see
    once they are committed.
    """
    tracked = run(repo, "diff", "--name-only", "--no-renames", since, "--").splitlines()
    untracked = run(repo, "ls-files", "--others", "--exclude-standard").splitlines()
    return {path for path in (*tracked, *untracked) if path}


def changed_lines_of(repo: Path, since: str, path: str) -> tuple[list[str], list[str]] | None:
    """The removed and the added lines of one file between ``since`` and the working tree; None
    when the file did not exist at ``since`` (its lines are all new, nothing was changed)."""
    if file_at(repo, since, path) is None:
        return None
    diff = run(repo, "diff", "-U0", "--no-renames", since, "--", path)
    lines = [line for line in diff.splitlines() if not line.startswith(("+++", "---"))]
    return [line[1:] for line in lines if line[:1] == "-"], [line[1:] for line in lines if line[:1] == "+"]


def file_at(repo: Path, commit: str, path: str) -> bytes | None:
    """The content of ``path`` at ``commit``, or None where it did not exist."""
    done = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=repo, capture_output=True, check=False)
    return done.stdout if done.returncode == 0 else None


@contextmanager
def worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A temporary, detached checkout of ``commit``, removed afterwards even on error."""
    parent = Path(tempfile.mkdtemp(prefix="mlship-worktree-"))
    path = parent / "tree"
    run(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path
    finally:
        _try(repo, "worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        _try(repo, "worktree", "prune")


def current_branch(folder: Path) -> str | None:
    """The checked-out branch's name, or None on a detached HEAD."""
    return _try(folder, "symbolic-ref", "--quiet", "--short", "HEAD") or None


def branch_exists(repo: Path, branch: str) -> bool:
    return _try(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}") is not None


def uncommitted(folder: Path, paths: list[Path]) -> list[str]:
    """The files among ``paths`` that differ from HEAD (changed, staged or untracked), relative to the
    repository's root."""
    status = run(folder, "status", "--porcelain", "--no-renames", "-z", "--untracked-files=all", "--",
                 *[str(p) for p in paths])
    return sorted(entry[3:] for entry in status.split("\0") if entry)


@contextmanager
def branch_worktree(repo: Path, branch: str, start: str) -> Iterator[Path]:
    """A temporary checkout of a new branch ``branch`` made at ``start``, so the user's own checkout
    is never touched. The branch is kept when the block succeeds and deleted when it raises."""
    parent = Path(tempfile.mkdtemp(prefix="mlship-branch-"))
    path = parent / "tree"
    try:
        run(repo, "worktree", "add", "--quiet", "-b", branch, str(path), start)
    except GitError:
        shutil.rmtree(parent, ignore_errors=True)
        raise
    succeeded = False
    try:
        yield path
        succeeded = True
    finally:
        _try(repo, "worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        _try(repo, "worktree", "prune")
        if not succeeded:
            _try(repo, "branch", "-D", branch)


def commit(folder: Path, paths: list[str], message: str) -> str:
    """Commit ``paths`` (relative to ``folder``) with ``message``; return the new commit."""
    run(folder, "add", "--", *paths)
    try:
        run(folder, "commit", "--quiet", "--cleanup=verbatim", "--message", message, "--", *paths)
    except GitError as error:
        if any(hint in str(error) for hint in ("tell me who you are", "empty ident", "auto-detect")):
            raise GitError("git has no name and email for the commit: set them, e.g. `git config user.name "
                           "\"github-actions[bot]\"` and `git config user.email "
                           "\"41898282+github-actions[bot]@users.noreply.github.com\"`") from None
        raise
    return run(folder, "rev-parse", "HEAD").strip()


def remote_has_branch(repo: Path, remote: str, branch: str) -> bool:
    try:
        return bool(run(repo, "ls-remote", "--heads", remote, f"refs/heads/{branch}").strip())
    except GitError as error:
        raise _remote_error(error, remote) from None


def push_branch(repo: Path, remote: str, branch: str) -> None:
    """Push ``branch`` to a branch of the same name on ``remote``, which must not have it yet."""
    try:
        run(repo, "push", "--quiet", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    except GitError as error:
        if "[rejected]" in str(error) or "non-fast-forward" in str(error):
            raise GitError(f"{remote} already has a different branch {branch}: delete it there, or keep it and "
                           "open its pull request by hand") from None
        raise _remote_error(error, remote) from None


def _remote_error(error: GitError, remote: str) -> GitError:
    if "does not appear to be a git repository" in str(error) or "No such remote" in str(error):
        return GitError(f"there is no git remote '{remote}' here (`git remote -v` lists them): add it, or name "
                        "another with --remote")
    return error
