"""Churn repositories as a reviewed merge leaves them: the helpers the registry, deploy and journey tests share."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlship.cli import cli
from repo_helpers import commit_all, git
from sample_churn import CHURN, customers

GTO = Path(sys.executable).with_name("gto")


def mlship(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args], catch_exceptions=False)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def hermetic(patch: pytest.MonkeyPatch, home: Path) -> None:
    """conftest's hermetic environment, for the module-scoped fixture (which runs before it)."""
    patch.setenv("HOME", str(home))
    patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    patch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for role in ("AUTHOR", "COMMITTER"):
        patch.setenv(f"GIT_{role}_NAME", "mlship tests")
        patch.setenv(f"GIT_{role}_EMAIL", "tests@mlship.invalid")
    patch.setenv("BENTOML_DO_NOT_TRACK", "true")
    for name in ("BENTOML_HOME", "MLSHIP_CACHE_DIR", "MLSHIP_REGISTRY_DIR"):
        patch.delenv(name, raising=False)


def write_spec(root: Path, extra: str = "", params: str = "{max_iter: 1000}") -> None:
    spec = CHURN.replace("{max_iter: 1000}", params) + extra
    (root / "models" / "churn" / "model.yaml").write_text(textwrap.dedent(spec).lstrip())


def review(root: Path, params: str, extra: str = "") -> None:
    """A change of the model on main, its ledger written by `mlship pr` and committed with it."""
    write_spec(root, extra, params)
    ok(mlship(root, "pr", "--base", "main", "--dry-run"))
    commit_all(root, f"churn with {params}")


def gto(root: Path, *args: str) -> str:
    done = subprocess.run([str(GTO), *args], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def reviewed_churn(root: Path, ignore: str = "") -> None:
    """A repository whose main holds the churn model and its ledger, as a reviewed merge leaves it."""
    (root / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\n" + ignore)
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "initial")
    (root / "models" / "churn").mkdir(parents=True)
    write_spec(root)
    customers().to_csv(root / "models" / "churn" / "customers.csv", index=False)
    ok(mlship(root, "pr", "--base", "main", "--dry-run"))
    commit_all(root, "add churn, reviewed")
