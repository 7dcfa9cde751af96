"""The scheduled drift check through the drift action, run by the harness against the fake GitHub.

The churn model is committed on main and pushed to a bare `origin`; a month of exported
customers, who stay for shorter and earn more, is compared with its training data. The
first run opens the model's drift issue and proposes retraining as a pull request; the
next run finds the same drift and neither duplicates the issue nor opens a second PR.
"""

from __future__ import annotations

import json

from churn_repos import write_spec
from jobs import Job
from repo_helpers import commit_all, git
from sample_churn import customers


def test_a_scheduled_check_opens_one_issue_and_one_retraining_pull_request(factory, github, tmp_path):
    root = factory.root
    (root / ".gitignore").write_text(".mlship/\nreports/\nexports/\n")
    git(root, "init", "-q", "-b", "main")
    (root / "models" / "churn").mkdir(parents=True)
    write_spec(root)
    customers().to_csv(root / "models" / "churn" / "customers.csv", index=False)
    commit_all(root, "add churn")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    github.git_remote = origin
    recent = customers(1000, seed=4)
    recent["income"] += 10
    (root / "exports").mkdir()
    recent.to_csv(root / "exports" / "churn-recent.csv", index=False)
    inputs = {"model": "churn", "current": "exports/{model}-recent.csv", "retrain": "true",
              "retrain-token": github.token}

    first = Job(root, github, tmp_path, "schedule", {"schedule": "17 6 * * 1"}).run("drift", inputs, "first")
    assert first.outputs["drifted"] == "true" and "income" in json.loads(first.outputs["drifted-features"])
    (issue,) = github.issues_in()
    assert first.outputs["issue"] == str(issue.number) and "<!-- mlship:drift:churn -->" in issue.body
    (pull,) = github.pull_requests_in()
    assert pull.pull.head_ref.startswith("mlship/retrain-churn-") and pull.pull.base_ref == "main"
    assert git(origin, "rev-parse", f"refs/heads/{pull.pull.head_ref}").strip() == pull.pull.head_sha
    assert "Drift in" in pull.body and "income" in pull.body
    assert "GITHUB_TOKEN" in first.steps["retrain"].env and github.token not in first.steps["retrain"].script

    second = Job(root, github, tmp_path, "schedule", {"schedule": "17 6 * * 1"}).run("drift", inputs, "second")
    assert second.outputs["drifted"] == "true" and second.outputs["issue"] == str(issue.number)
    assert len(github.issues_in()) == 1 and len(github.pull_requests_in()) == 1
    assert second.steps["retrain"].outcome == "skipped"
