"""`mlship changed`: which models a branch touches since its merge-base, on real git repositories."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IRIS = """
task: classification
data: {sklearn: iris}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}}
"""

SHARED_DATA = """
task: regression
data: {path: ../../shared/table.csv, target: y}
model: {estimator: sklearn.linear_model.Ridge}
"""


def git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(factory):
    """A repository with three models committed on main, checked out on a feature branch."""
    factory.model("iris", IRIS)
    factory.model("flowers", IRIS)
    factory.model("shared", SHARED_DATA)
    (factory.root / "shared").mkdir()
    (factory.root / "shared" / "table.csv").write_text("x,y\n1,2\n2,4\n3,6\n")
    (factory.root / "README.md").write_text("docs\n")
    factory.git_init()
    git(factory.root, "checkout", "-q", "-b", "feature")
    return factory.root


def changed(run_cli, *args):
    result = run_cli("changed", "--base", "main", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_change_to_an_unrelated_file_touches_no_model(repo, run_cli):
    (repo / "README.md").write_text("more docs\n")
    git(repo, "commit", "-qam", "docs")
    assert changed(run_cli) == []
    assert run_cli("changed", "--base", "main").stdout.startswith("No model is touched since ")


def test_a_change_in_a_model_folder_touches_only_that_model(repo, run_cli):
    (repo / "models" / "iris" / "model.yaml").write_text(IRIS.replace("500", "600"))
    git(repo, "commit", "-qam", "tune iris")
    assert changed(run_cli) == ["iris"]
    assert "  iris: models/iris/model.yaml changed" in run_cli("changed", "--base", "main").stdout


def test_a_data_file_outside_the_model_folder_touches_the_models_reading_it(repo, run_cli):
    (repo / "shared" / "table.csv").write_text("x,y\n1,2\n2,4\n3,7\n")
    git(repo, "commit", "-qam", "fix a label")
    assert changed(run_cli) == ["shared"]
    assert "shared: data shared/table.csv changed" in run_cli("changed", "--base", "main").stdout


def test_uncommitted_and_untracked_files_count(repo, run_cli):
    (repo / "models" / "flowers" / "notes.py").write_text("# helper\n")
    assert changed(run_cli) == ["flowers"]


def test_a_pinned_mlship_version_change_touches_every_model(repo, run_cli):
    (repo / "requirements.txt").write_text("mlship==0.2.0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pin mlship")
    assert changed(run_cli) == ["flowers", "iris", "shared"]


def test_an_unrelated_requirement_change_touches_no_model(repo, run_cli):
    (repo / "requirements.txt").write_text("requests==2.0\n")
    assert changed(run_cli) == []


def test_a_broken_spec_counts_as_touched_and_its_errors_are_warned(repo, run_cli):
    (repo / "models" / "iris" / "model.yaml").write_text(IRIS.replace("task: classification", "task: clasification"))
    result = run_cli("changed", "--base", "main", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == ["iris"]
    assert result.stderr.startswith("warning: models/iris/model.yaml:2: task: 'clasification' is not allowed")


def test_a_removed_model_is_reported_but_not_listed_for_training(repo, run_cli):
    git(repo, "rm", "-rq", "models/flowers")
    git(repo, "commit", "-qm", "drop flowers")
    assert changed(run_cli) == []
    assert run_cli("changed", "--base", "main").stdout.splitlines()[-1] == "Removed: flowers"


def test_changes_are_counted_from_the_merge_base_not_from_the_tip_of_base(repo, run_cli):
    git(repo, "checkout", "-q", "main")
    (repo / "models" / "iris" / "model.yaml").write_text(IRIS.replace("500", "700"))
    git(repo, "commit", "-qam", "main moves on")
    git(repo, "checkout", "-q", "feature")
    (repo / "models" / "flowers" / "model.yaml").write_text(IRIS.replace("500", "800"))
    git(repo, "commit", "-qam", "tune flowers")
    assert changed(run_cli) == ["flowers"]


def test_an_unknown_base_explains_how_to_fetch_history(repo, run_cli):
    result = run_cli("changed", "--base", "origin/main")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: 'origin/main' is not a commit in this repository. In GitHub Actions, check out with "
        "fetch-depth: 0 (actions/checkout) so the base branch's history is present\n")


def test_the_base_defaults_to_the_pull_requests_base_branch_in_actions(repo, run_cli, monkeypatch):
    git(repo, "branch", "-q", "release")
    git(repo, "update-ref", "refs/remotes/origin/release", "release")
    monkeypatch.setenv("GITHUB_BASE_REF", "release")
    (repo / "models" / "iris" / "extra.py").write_text("")
    result = run_cli("changed")
    assert result.exit_code == 0, result.stderr
    assert "(merge-base with origin/release)" in result.stdout


def test_a_pr_touching_no_model_imports_no_heavy_library(repo):
    """Nothing to compare means nothing to train: the flow must stay a fraction of a second."""
    (repo / "README.md").write_text("more docs\n")
    code = (
        "import sys\n"
        "from mlship.cli import main\n"
        "sys.argv = ['mlship', 'pr', '--base', 'main', '--dry-run']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "heavy = [m for m in ('sklearn', 'pandas', 'numpy', 'scipy') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="


def test_adding_mlships_workflows_touches_no_model(repo, run_cli):
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "mlship.yml").write_text(
        "# .github/workflows/mlship-rollback.yml\njobs:\n  mlship:\n"
        "    uses: acme/mlship/.github/workflows/mlship-pr.yml@0123456789abcdef0123456789abcdef01234567 # v0.2.0\n"
        "    with:\n      mlship-ref: 0123456789abcdef0123456789abcdef01234567\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add mlship's workflows")
    assert changed(run_cli) == []


def test_moving_mlships_workflow_pin_touches_every_model_and_says_so_in_words(repo, run_cli):
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    uses = "    uses: acme/mlship/.github/workflows/mlship-pr.yml@{} # v0.2.0\n"
    (workflows / "mlship.yml").write_text("# mlship\njobs:\n  mlship:\n" + uses.format("a" * 40))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add mlship's workflows")
    git(repo, "branch", "-f", "main")
    (workflows / "mlship.yml").write_text("# mlship, newer\njobs:\n  mlship:\n" + uses.format("b" * 40))
    assert changed(run_cli) == ["flowers", "iris", "shared"]
    assert (f"  iris: mlship @{'a' * 40} → @{'b' * 40} in .github/workflows/mlship.yml"
            in run_cli("changed", "--base", "main").stdout)


def test_a_requirement_pin_change_is_said_in_words(repo, run_cli):
    (repo / "requirements.txt").write_text("scikit-learn==1.5.2\nrequests==2.0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pin")
    git(repo, "branch", "-f", "main")
    (repo / "requirements.txt").write_text("scikit-learn==1.6.1\nrequests==2.1\n")
    assert "  iris: scikit-learn ==1.5.2 → ==1.6.1 in requirements.txt" in run_cli("changed", "--base", "main").stdout


def test_a_model_whose_ledger_alone_changed_is_touched(repo, run_cli):
    ledger = repo / "reports" / "iris"
    ledger.mkdir(parents=True)
    (ledger / "metrics.json").write_text("{}\n")
    assert changed(run_cli) == ["iris"]
    assert "  iris: its ledger reports/iris/ changed" in run_cli("changed", "--base", "main").stdout
