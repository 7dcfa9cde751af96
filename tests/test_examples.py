"""The example models in models/ validate, train, pass their gates, and their data is reproducible."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlship import api
from mlship.project import Project

from conftest import EXAMPLE_MODELS, REPO_ROOT

EXAMPLES = Project(REPO_ROOT)


def test_the_examples_cover_binary_multifeature_regression_and_tabular_cases():
    specs = {spec.name: spec for spec in api.validate(project=EXAMPLES)}
    assert set(specs) == {"cancer", "churn", "diabetes"}
    assert specs["cancer"].config.data.sklearn and specs["cancer"].task == "classification"
    assert specs["diabetes"].task == "regression" and specs["diabetes"].config.model.entrypoint
    churn = specs["churn"]
    assert churn.config.data.path and [s.column for s in churn.config.evaluation.slices] == ["region"]


@pytest.mark.parametrize("name", ["cancer", "churn", "diabetes"])
def test_each_example_trains_and_passes_its_gates(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MLSHIP_CACHE_DIR", str(tmp_path / "cache"))
    result = api.train(name, EXAMPLES)
    assert result.passed, [g.message for g in result.gates if not g.passed]
    assert result.gates, "every example documents its bar with gates"
    assert not result.unavailable


@pytest.mark.parametrize("name", ["cancer", "churn", "diabetes"])
def test_each_example_is_documented(name):
    spec = api.load(name, EXAMPLES)
    assert len(spec.config.description) > 80
    assert (EXAMPLE_MODELS / name / "README.md").is_file()


def test_the_committed_churn_csv_is_what_its_generator_writes(tmp_path):
    out = tmp_path / "churn.csv"
    subprocess.run([sys.executable, str(EXAMPLE_MODELS / "churn" / "generate_data.py"), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == (EXAMPLE_MODELS / "churn" / "data" / "churn.csv").read_bytes()
