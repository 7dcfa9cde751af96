"""What git knows about the folder a model was trained from."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def head_commit(folder: Path) -> str | None:
    return _git(folder, "rev-parse", "HEAD")


def is_dirty(folder: Path, paths: list[Path]) -> bool | None:
    """Whether any of ``paths`` differs from HEAD (changed, staged or untracked); None outside git."""
    status = _git(folder, "status", "--porcelain", "--", *[str(p) for p in paths])
    return None if status is None else bool(status)
