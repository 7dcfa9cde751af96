"""The setup action's project requirements: which files it installs, into which Python, with which key.

The scripts run as the action runs them (``GITHUB_ACTION_PATH``, the working-directory as
cwd), with ``python`` a fresh virtual environment, so the test's own environment is untouched.
pip fetches from the package index into the user's own cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from distribution import USER_CACHE

SETUP = REPO_ROOT / "actions" / "setup"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for name, requirements in (("boosted", "six==1.17.0\n"), ("plain", None)):
        (root / "models" / name).mkdir(parents=True)
        (root / "models" / name / "model.yaml").write_text("task: classification\n")
        if requirements:
            (root / "models" / name / "requirements.txt").write_text(requirements)
    (root / "shared.txt").write_text("# the project's shared libraries\n")
    return root


def run(script: str, project: Path, tmp_path: Path, python: Path | None = None, **env: str):
    outputs = tmp_path / "output"
    outputs.touch()
    path = f"{python.parent}{os.pathsep}" if python else f"{Path(sys.executable).parent}{os.pathsep}"
    done = subprocess.run([str(SETUP / script)], cwd=project, capture_output=True, text=True, env={
        "PATH": path + os.environ["PATH"], "HOME": str(tmp_path), "GITHUB_ACTION_PATH": str(SETUP),
        "GITHUB_OUTPUT": str(outputs), "RUNNER_TEMP": str(tmp_path), "RUNNER_OS": "Linux",
        "PIP_CACHE_DIR": str(USER_CACHE / "pip"), "GITHUB_TOKEN": "not-for-pip", **env})
    return done, dict(line.split("=", 1) for line in outputs.read_text().splitlines())


def test_a_models_requirements_txt_is_installed_and_its_neighbours_are_not(project, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([str(Path(sys.executable).parent / "uv"), "venv", "--quiet", "--seed", str(venv)], check=True,
                   env={**os.environ, "UV_CACHE_DIR": str(USER_CACHE / "uv")})
    python = venv / "bin" / "python"
    done, _ = run("requirements.sh", project, tmp_path, python, MLSHIP_MODELS="boosted",
                  MLSHIP_REQUIREMENTS="shared.txt")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["installing shared.txt", "installing models/boosted/requirements.txt"]
    installed = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    assert "six==1.17.0" in installed

    none, _ = run("requirements.sh", project, tmp_path, python, MLSHIP_MODELS="plain")
    assert none.returncode == 0 and none.stdout == "no requirements files to install\n"


def test_a_missing_requirements_file_fails_the_step_naming_it(project, tmp_path):
    done, _ = run("requirements.sh", project, tmp_path, MLSHIP_REQUIREMENTS="shared.txt nope.txt")
    assert done.returncode == 2
    assert "::error title=mlship setup::the requirements file nope.txt does not exist" in done.stdout


def test_the_pip_cache_key_follows_the_requirements_and_falls_back_to_the_same_pins(project, tmp_path):
    _, every = run("cache-key.sh", project, tmp_path, MLSHIP_MODELS="*")
    _, none = run("cache-key.sh", project, tmp_path)
    assert every["key"] != none["key"]
    assert every["restore-key"] == none["restore-key"] and every["key"].startswith(every["restore-key"])
    (project / "models" / "boosted" / "requirements.txt").write_text("six==1.16.0\n")
    _, changed = run("cache-key.sh", project, tmp_path, MLSHIP_MODELS="*")
    assert changed["key"] != every["key"]
