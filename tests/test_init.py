"""`mlship init` in a fresh or an existing repository, then the first pull request journey at once;
the `.gitignore` it writes keeps every piece of mlship's local state out of git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlship.scaffold import GITIGNORE_ENTRIES

BIN = Path(sys.executable).parent
SHA = "0123456789abcdef0123456789abcdef01234567"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An existing repository: one commit on main, and a branch to work on."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    (root / "README.md").write_text("our models\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    git(root, "switch", "-qc", "first-model")
    return root


def wine(folder: Path) -> Path:
    from sklearn.datasets import load_wine

    path = folder / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


def sales(folder: Path, n: int = 400) -> Path:
    """A regression table with missing values, a category, ISO dates, a boolean and an order number."""
    rng = np.random.default_rng(3)
    days = rng.integers(0, 816, n)
    frame = pd.DataFrame({
        "order": [f"O-{i:05d}" for i in range(n)],
        "sold_on": (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
        "store": rng.choice(["a", "b", None], n),
        "promo": rng.choice([True, False], n),
        "size": np.where(rng.random(n) < 0.1, np.nan, rng.normal(10, 2, n).round(2)),
    })
    frame["amount"] = (100 + 0.5 * days + 10 * frame["promo"] + rng.normal(0, 5, n)).round(2)
    path = folder / "sales.csv"
    frame.to_csv(path, index=False)
    return path


def test_init_from_a_multiclass_csv_then_the_first_pr_comment_at_once(repo, run_cli, tmp_path):
    made = run_cli("init", str(wine(tmp_path)), "--mlship-repo", "acme/mlship", "--mlship-ref", SHA)
    assert made.exit_code == 0, made.stderr
    spec = yaml.safe_load((repo / "models/wine/model.yaml").read_text())
    assert spec["task"] == "classification"
    assert spec["data"] == {"path": "data/wine.csv", "target": "target", "features": spec["data"]["features"],
                            "split": {"test_size": 0.25, "seed": 0}}
    assert len(spec["data"]["features"]) == 13 and "od280/od315_of_diluted_wines" in spec["data"]["features"]
    assert (repo / "models/wine/data/wine.csv").read_bytes() == (tmp_path / "wine.csv").read_bytes()
    assert "task: classification            # 'target' holds 3 classes" in (repo / "models/wine/model.yaml").read_text()
    assert run_cli("validate").exit_code == 0

    comment = run_cli("pr", "--dry-run")
    assert comment.exit_code == 0, comment.stderr
    assert "### ✅ `wine`: new model, roc_auc " in comment.stdout
    assert (repo / "reports/wine/metrics.json").is_file()


def test_init_from_a_regression_csv_with_missing_values_a_category_dates_a_boolean_and_an_id(repo, run_cli, tmp_path):
    made = run_cli("init", str(sales(tmp_path)), "--target", "amount", "--name", "sales")
    assert made.exit_code == 0, made.stderr
    text = (repo / "models/sales/model.yaml").read_text()
    spec = yaml.safe_load(text)
    assert spec["task"] == "regression"
    assert spec["data"]["features"] == ["sold_on", "store", "promo", "size"]
    assert spec["data"]["split"] == {"test_size": 0.25, "seed": 0, "key": "order"}
    assert "    # - order                   # left out: an identifier (the split's key, below)" in text
    assert "    - sold_on                   # date: becomes days since 1970, year, month, weekday" in text
    assert "    - size                      # number (41 missing: filled with the median)" in text
    assert "    - store                     # category: 2 values, one-hot encoded" in text
    assert "    - promo                     # true/false: 2 values, one-hot encoded" in text

    trained = run_cli("train")
    assert trained.exit_code == 0, trained.stderr
    assert "sold_on  date: turned into days, year, month and weekday" in trained.stdout
    comment = run_cli("pr", "--dry-run")
    assert comment.exit_code == 0, comment.stderr
    assert "### ✅ `sales`: new model, rmse " in comment.stdout
    assert "`sold_on` (date), `store` (categorical)" in (repo / "reports/sales/model_card.md").read_text()


def test_init_writes_workflows_that_pass_githubs_schema_and_zizmor(repo, run_cli, tmp_path):
    assert run_cli("init", str(wine(tmp_path)), "--mlship-repo", "acme/mlship", "--mlship-ref", SHA).exit_code == 0
    workflows = sorted((repo / ".github/workflows").glob("*.yml"))
    assert [p.name for p in workflows] == ["mlship-post.yml", "mlship-release.yml", "mlship-rollback.yml", "mlship.yml"]
    schema = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, workflows)], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run([str(BIN / "zizmor"), "--offline", str(repo / ".github/workflows")],
                           capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    pr = yaml.load((repo / ".github/workflows/mlship.yml").read_text(), Loader=yaml.BaseLoader)
    assert pr["permissions"] == {"contents": "read"}
    assert pr["jobs"]["mlship"]["uses"] == f"acme/mlship/.github/workflows/mlship-pr.yml@{SHA}"
    assert pr["jobs"]["mlship"]["permissions"] == {"contents": "read", "pull-requests": "write", "checks": "write",
                                                   "statuses": "write", "id-token": "write"}


def test_a_second_init_keeps_what_exists_and_never_overwrites_a_model(repo, run_cli, tmp_path):
    (repo / ".gitignore").write_text("*.log\n/dist/")
    assert run_cli("init", str(wine(tmp_path))).exit_code == 0
    again = run_cli("init", str(tmp_path / "wine.csv"))
    assert again.exit_code == 2
    assert again.stderr == "error: models/wine/model.yaml exists already: edit it, or give another --name\n"
    other = run_cli("init", str(sales(tmp_path)), "--target", "amount")
    assert other.exit_code == 0, other.stderr
    assert "   kept   .github/workflows/mlship.yml (exists)" in other.stdout
    assert "   kept   .gitignore (exists)" in other.stdout
    assert (repo / ".gitignore").read_text() == (
        "*.log\n/dist/\n# mlship: local state (see docs/getting-started.md)\n/.mlship/*\n!/.mlship/templates/\n"
        "/reports/pr-*\n/reports/drift-*\n")


def test_the_gitignore_entries_cover_every_folder_of_local_state_and_keep_the_templates(repo):
    from mlship.ship import deploy, packaging, releases, stages

    (repo / ".gitignore").write_text("\n".join(GITIGNORE_ENTRIES) + "\n")
    local_state = [".mlship/cache/ab/model.pkl", str(packaging.STORE_DIR / "bentos/x/y.bento"),
                   str(releases.REGISTRY_DIR / "wine/v0.1.0/wine.bento"), str(stages.STATE_DIR / "prod/wine.json"),
                   str(deploy.SERVE_DIR / "wine-prod/server.log"), ".mlship/locks/release-wine.lock",
                   "dist/wine.bento", "reports/pr-comment.md", "reports/pr-handoff/pr.json", "reports/drift-wine.md"]
    kept = [".mlship/templates/comment.md.j2", "reports/wine/metrics.json", "models/wine/model.yaml"]
    for path in local_state + kept:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("x")
    untracked = git(repo, "ls-files", "--others", "--exclude-standard").split()
    assert sorted(untracked) == sorted([".gitignore", *kept])


def test_a_target_that_is_not_a_column_is_refused_with_the_columns(repo, run_cli, tmp_path):
    result = run_cli("init", str(wine(tmp_path)), "--target", "alcohl")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --target 'alcohl' is not a column of {tmp_path / 'wine.csv'} "
                                    "(did you mean 'alcohol'?). Columns: alcohol, malic_acid, ")
    assert not (repo / "models").exists()


def test_in_a_repository_with_no_commit_init_works_and_pr_says_what_to_do_first(tmp_path, monkeypatch, run_cli):
    root = tmp_path / "empty"
    root.mkdir()
    monkeypatch.chdir(root)
    git(root, "init", "-q", "-b", "main")
    assert run_cli("init", str(wine(tmp_path))).exit_code == 0
    assert run_cli("validate").exit_code == 0
    first = run_cli("pr", "--dry-run")
    assert first.exit_code == 2
    assert first.stderr == ("error: this repository has no commit yet, so there is no base to compare with: commit "
                            "on main first (`git commit --allow-empty -m start` will do), then work on a branch\n")
    git(root, "commit", "-q", "--allow-empty", "-m", "start")
    git(root, "switch", "-qc", "first-model")
    assert run_cli("pr", "--dry-run").exit_code == 0


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--mlship-ref", "v1.0.0", "--mlship-ref 'v1.0.0' is not a full commit SHA (40 hexadecimal digits): a tag or a "
                               "branch can be moved, a commit cannot"),
    ("--mlship-repo", "acme/mlship\nrun: x", "--mlship-repo 'acme/mlship\nrun: x' is not of the form OWNER/NAME"),
])
def test_the_workflows_pin_mlship_only_to_a_repository_and_a_full_commit(repo, run_cli, tmp_path, option, value,
                                                                         message):
    result = run_cli("init", str(wine(tmp_path)), option, value)
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"
    assert not (repo / ".github").exists()
