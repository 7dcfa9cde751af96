"""Shared fixtures: a hermetic environment, throwaway projects, and the CLI run in-process."""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlship.cli import cli
from mlship.project import Project

pytest_plugins = ["fake_github", "distribution"]

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_MODELS = REPO_ROOT / "models"


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config leaks in: a fresh HOME, no system git config, a test identity, no telemetry."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "mlship tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@mlship.invalid")
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    monkeypatch.delenv("MLSHIP_CACHE_DIR", raising=False)


@dataclass
class ProjectFactory:
    """Builds a project folder of models from YAML text and data files."""

    root: Path

    def model(self, name: str, spec: str, files: dict[str, str | bytes] | None = None) -> Path:
        folder = self.root / "models" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.yaml").write_text(textwrap.dedent(spec).lstrip())
        for relative, content in (files or {}).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content).lstrip())
        return folder

    @property
    def project(self) -> Project:
        return Project(self.root)

    def git_init(self) -> None:
        """Make the project a git repository with everything committed."""
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
            subprocess.run(["git", *args], cwd=self.root, check=True)


@pytest.fixture
def factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectFactory:
    """An empty project in a temporary folder, which is also the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return ProjectFactory(root)


@pytest.fixture
def run_cli():
    """Run ``mlship ARGS...`` in-process; stdout and stderr are kept apart."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run
