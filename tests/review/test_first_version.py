"""A model committed straight to main, with no ledger, gets its first version reviewed:
`mlship pr --model NAME` writes its ledger, the pull request that commits the ledger touches
the model (so CI compares it and posts the comment), and after the merge it is what ships."""

from __future__ import annotations

import json
import subprocess

IRIS = """
task: classification
data: {sklearn: iris}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}}
gates:
  accuracy: {min: 0.5}
"""


def git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def test_a_model_committed_to_main_without_review_gets_a_reviewed_first_version(factory, run_cli):
    factory.model("iris", IRIS)
    factory.git_init()
    git(factory.root, "switch", "-qc", "iris-first-version")
    untouched = run_cli("pr", "--dry-run")
    assert untouched.exit_code == 0 and "iris" not in untouched.stdout

    first = run_cli("pr", "--dry-run", "--model", "iris")
    assert first.exit_code == 0, first.stderr
    assert "### ✅ `iris`" in first.stdout
    ledger = json.loads((factory.root / "reports/iris/metrics.json").read_text())
    git(factory.root, "add", "reports/iris")
    git(factory.root, "commit", "-qm", "iris: first reviewed version")

    listed = run_cli("changed", "--base", "main", "--json")
    assert json.loads(listed.stdout) == ["iris"]  # CI compares it and posts the comment on this pull request
    assert run_cli("ledger", "verify", "iris").exit_code == 0
    git(factory.root, "switch", "-q", "main")
    git(factory.root, "merge", "-q", "--ff-only", "iris-first-version")
    assert json.loads(run_cli("unreleased", "--json").stdout) == ["iris"]
    assert ledger["fingerprint"] == json.loads(run_cli("train", "--json").stdout)[0]["fingerprint"]


def test_model_option_refuses_an_untouched_model_that_has_a_ledger(factory, run_cli):
    factory.model("iris", IRIS)
    (factory.root / "reports/iris").mkdir(parents=True)
    (factory.root / "reports/iris/metrics.json").write_text("{}\n")
    factory.git_init()
    git(factory.root, "switch", "-qc", "feature")
    result = run_cli("pr", "--dry-run", "--model", "iris")
    assert result.exit_code == 2
    assert result.stderr == ("error: --model iris: not touched by this change (touched: none); only a model without "
                             "a ledger yet can be reviewed untouched, for its first version\n")
