"""Helpers for tests that build a git history: commit, branch off main, edit a file in place."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def commit_all(root: Path, message: str) -> str:
    """Commit everything; return the new HEAD."""
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


def branch_off(factory) -> Path:
    """Commit the project on main and check out a new branch ``feature``."""
    factory.git_init()
    git(factory.root, "checkout", "-q", "-b", "feature")
    return factory.root


def edit(root: Path, relative: str, old: str, new: str) -> None:
    """Replace ``old`` with ``new`` in a file, which must contain it."""
    path = root / relative
    text = path.read_text()
    assert old in text, f"{old!r} is not in {relative}"
    path.write_text(text.replace(old, new))
