"""The package users install: its name on the index, the built wheel and sdist, and a journey run by the wheel.

Nothing here imports the source tree: the wheel is installed into a clean venv (see
tests/distribution.py) and run as a user runs it, in a project folder outside this repository.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
import zipfile
from pathlib import Path

from conftest import REPO_ROOT
from mlship import __version__

CANCER = """\
task: classification
data: {sklearn: breast_cancer}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {C: 1.0, max_iter: 2000}
evaluation: {metrics: [roc_auc, accuracy], bootstrap: {resamples: 200}}
gates:
  roc_auc: {min: 0.9, max_drop: 0.01}
"""


def test_the_distribution_is_named_apart_from_pypis_other_mlship_and_keeps_the_mlship_command(installed):
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "mlship-gitops", "PyPI's `mlship` is another project: `pip install mlship` installs it"
    assert project["scripts"] == {"mlship": "mlship.cli:main"}
    assert installed.wheel.name == f"mlship_gitops-{__version__}-py3-none-any.whl"
    assert installed.sdist.name == f"mlship_gitops-{__version__}.tar.gz"
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    assert "mlship/templates/comment.md.j2" in names and "mlship/py.typed" in names


def sh(installed, cwd: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, env=installed.env(), capture_output=True, text=True)
    if check is not None:
        assert done.returncode == check, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_installed_wheel_reviews_a_pull_request_outside_the_source_tree(installed, tmp_path):
    version = sh(installed, tmp_path, "mlship", "--version")
    assert version.stdout.strip() == f"mlship, version {__version__}"
    where = sh(installed, tmp_path, "python", "-c", "import mlship; print(mlship.__file__)").stdout.strip()
    assert Path(where).is_relative_to(installed.venv), f"mlship was imported from {where}, not the wheel"

    repo = tmp_path / "adopter"
    (repo / "models" / "cancer").mkdir(parents=True)
    (repo / "models" / "cancer" / "model.yaml").write_text(CANCER)
    (repo / ".gitignore").write_text(".mlship/\nreports/pr-*\ndist/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "the cancer model"],
                 ["checkout", "-qb", "tune"]):
        sh(installed, repo, "git", *args)
    spec = repo / "models" / "cancer" / "model.yaml"
    spec.write_text(CANCER.replace("C: 1.0", "C: 0.5"))

    sh(installed, repo, "mlship", "validate")
    reviewed = sh(installed, repo, "mlship", "pr", "--base", "main", "--dry-run")
    assert "cancer" in reviewed.stdout and "✅" in reviewed.stdout
    assert json.loads((repo / "reports" / "cancer" / "metrics.json").read_text())["passed"] is True
    for args in (["add", "-A"], ["commit", "-qm", "C 0.5, reviewed"], ["checkout", "-q", "main"],
                 ["merge", "-q", "--no-ff", "-m", "merge tune", "tune"]):
        sh(installed, repo, "git", *args)

    assert json.loads(sh(installed, repo, "mlship", "unreleased", "--json").stdout) == ["cancer"]
