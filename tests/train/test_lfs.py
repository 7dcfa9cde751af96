"""A data file that is still a Git LFS pointer is refused with what to run, never read as a table."""

from __future__ import annotations

import pytest

from test_cache import churn_model, customers

POINTER = ("version https://git-lfs.github.com/spec/v1\n"
           "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
           "size 1234567\n")

HELD_OUT_SPEC = """\
task: classification
data:
  path: data/train.csv
  test_path: data/test.csv
  target: churned
model:
  estimator: sklearn.linear_model.LogisticRegression
"""


@pytest.mark.parametrize("command", [("train", "churn"), ("train", "churn", "--no-cache")])
def test_training_on_an_lfs_pointer_exits_2_naming_the_file_and_git_lfs_pull(factory, run_cli, command):
    churn_model(factory)
    (factory.root / "models/churn/data/train.csv").write_text(POINTER)

    result = run_cli(*command)

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: models/churn/model.yaml:")
    assert "data file models/churn/data/train.csv is a Git LFS pointer to 1,234,567 bytes" in result.stderr
    assert "`git lfs pull`" in result.stderr
    assert "Traceback" not in result.output
    assert not (factory.project.cache_dir).exists() or not any(factory.project.cache_dir.glob("*/model.pkl"))


def test_a_test_path_that_is_an_lfs_pointer_is_named(factory, run_cli):
    table = customers()
    factory.model("churn", HELD_OUT_SPEC, {"data/train.csv": table.to_csv(index=False), "data/test.csv": POINTER})

    result = run_cli("train", "churn")

    assert result.exit_code == 2, result.output
    assert "data file models/churn/data/test.csv is a Git LFS pointer" in result.stderr
    assert "test_path" in result.stderr


def test_a_csv_that_only_starts_like_a_pointer_trains(factory, run_cli):
    """Only git-lfs's exact version line makes a pointer: a table with a 'version' column is data."""
    table = customers(30).rename(columns={"age": "version https://git-lfs.github.com/spec/v1"})
    factory.model("churn", HELD_OUT_SPEC.replace("  test_path: data/test.csv\n", ""),
                  {"data/train.csv": table.to_csv(index=False)})

    result = run_cli("train", "churn")

    assert result.exit_code == 0, result.output
