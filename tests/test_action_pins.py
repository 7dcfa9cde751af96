"""Each action runs the mlship of its own commit: one pinned to another commit than the setup
action that installed mlship fails at once, saying which two and what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT
from mlship import __version__

CHECK = "'\"$GITHUB_ACTION_PATH/../common/same-mlship.sh\"'"
USERS = sorted(p.parent.name for p in (REPO_ROOT / "actions").glob("*/action.yml") if p.parent.name != "setup")


@pytest.mark.parametrize("action", USERS)
def test_every_action_but_setup_first_checks_the_installed_mlship_is_its_own(action):
    steps = yaml.safe_load((REPO_ROOT / "actions" / action / "action.yml").read_text())["runs"]["steps"]
    assert steps[0] == {"shell": "bash", "run": yaml.safe_load(CHECK)}


def check(tmp_path: Path, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO_ROOT / "actions/common/same-mlship.sh")], capture_output=True, text=True, env={
        "PATH": path, "HOME": str(tmp_path), "GITHUB_ACTION_PATH": str(REPO_ROOT / "actions" / "pr"), **env})


def test_an_action_of_the_setups_commit_passes(tmp_path):
    done = check(tmp_path, os.environ["PATH"], MLSHIP_ACTIONS=str(REPO_ROOT.resolve()))
    assert done.returncode == 0 and done.stdout == "", done.stdout


def test_an_action_of_another_commit_than_the_setups_fails_naming_both(tmp_path):
    other = tmp_path / "_actions" / "acme" / "mlship" / ("0" * 40)
    done = check(tmp_path, os.environ["PATH"], MLSHIP_ACTIONS=str(other))
    assert done.returncode == 2
    assert done.stdout == (f"::error title=mlship pr::mlship was installed by the setup action at {other}, but this "
                           f"action is at {REPO_ROOT.resolve()}: pin actions/setup and actions/pr to the same commit\n")


def fake_mlship(tmp_path: Path, version: str) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "mlship").write_text(f"#!/bin/sh\necho 'mlship, version {version}'\n")
    (folder / "mlship").chmod(0o755)
    return f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin"


def test_without_the_setup_action_the_installed_version_must_be_the_actions(tmp_path):
    done = check(tmp_path, fake_mlship(tmp_path, "0.0.9"))
    assert done.returncode == 2
    assert done.stdout == (f"::error title=mlship pr::the installed mlship is 0.0.9, but this action is mlship "
                           f"{__version__}: install it with actions/setup pinned to the same commit as actions/pr\n")
    assert check(tmp_path, f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin").returncode == 0


def test_without_mlship_the_action_says_to_run_setup_first(tmp_path):
    done = check(tmp_path, f"/usr/bin{os.pathsep}/bin")
    assert done.returncode == 2 and "mlship is not installed: run mlship's actions/setup" in done.stdout
