"""The pull-request journey through the composite actions, run by the harness against the fake GitHub.

Each test is a real git repository with a model, a real pull_request event payload, the
actions executed step by step as the runner would (bash, env files, expressions), and
GitHub played by the contract-checked fake. `mlship` is already installed in this
interpreter's environment, as the setup action would have left it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import ACTIONS, run_in_job

CANCER = """
task: classification
data: {sklearn: breast_cancer, split: {test_size: 0.3, seed: 3}}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {C: 1.0, max_iter: 2000}}
evaluation: {metrics: [roc_auc, accuracy], bootstrap: {resamples: 200}}
gates:
  roc_auc: {min: 0.9, max_drop: 0.01}
  accuracy: {max_drop: 0.01}   # regularising far too hard (C 0.0001) costs accuracy, not the ranking
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(factory) -> Path:
    """The cancer model committed on main, and a branch `tune` checked out."""
    factory.model("cancer", CANCER)
    (factory.root / ".gitignore").write_text(".mlship/\nreports/pr-*\n")
    factory.git_init()
    git(factory.root, "checkout", "-q", "-b", "tune")
    return factory.root


def commit_change(repo: Path, old: str, new: str) -> str:
    spec = repo / "models" / "cancer" / "model.yaml"
    spec.write_text(spec.read_text().replace(old, new))
    git(repo, "commit", "-qam", f"{old} -> {new}")
    return git(repo, "rev-parse", "HEAD")


class Runner:
    """Runs our composite actions as steps of a pull_request workflow job."""

    def __init__(self, repo: Path, fake, tmp: Path, head_repository: str | None = None):
        self.repo, self.fake, self.tmp = repo, fake, tmp
        self.head_repository = head_repository or fake.repository

    def github_context(self, number: int = 7) -> dict:
        head = git(self.repo, "rev-parse", "HEAD")
        self.fake.add_pull_request(number, head, head_repository=self.head_repository)
        event = {
            "number": number,
            "pull_request": {
                "number": number,
                "head": {"sha": head, "ref": "tune", "repo": {"full_name": self.head_repository}},
                "base": {"sha": git(self.repo, "rev-parse", "main"), "ref": "main",
                         "repo": {"full_name": self.fake.repository}},
            },
        }
        return {"event_name": "pull_request", "event": event, "token": self.fake.token,
                "repository": self.fake.repository, "sha": head, "server_url": "https://github.example",
                "run_id": "99", "base_ref": "main", "head_ref": "tune", "api_url": self.fake.api_url}

    def run(self, action: str, inputs: dict, step: str = "step"):
        return run_in_job(self.repo, self.fake, self.tmp, self.github_context(), action, inputs, step)


def test_a_pull_request_gets_one_sticky_comment_and_a_verdict_status(repo, github, tmp_path):
    commit_change(repo, "C: 1.0", "C: 0.5")
    result = Runner(repo, github, tmp_path).run("pr", {"base": "main", "verdict": "status"})
    assert not result.failed, result.report()
    assert result.outputs["passed"] == "true" and result.outputs["fork"] == "false"
    assert json.loads(result.outputs["models"]) == ["cancer"]
    (comment,) = github.comments_on(7)
    assert comment.body.startswith("<!-- mlship:report -->\n## ✅ mlship: 1 model passed")
    assert comment.user.login == "github-actions[bot]"
    (status,) = github.statuses
    assert (status.sha, status.state, status.context) == (git(repo, "rev-parse", "HEAD"), "success", "mlship")
    assert "## ✅ mlship: 1 model passed" in result.summary


class MergeCommitRunner(Runner):
    """As GitHub runs a pull_request job: on the test-merge commit of head into base, which
    ``GITHUB_SHA`` names and ``GITHUB_REF=refs/pull/N/merge`` points at; no branch holds it."""

    def github_context(self, number: int = 7) -> dict:
        context = super().github_context(number)
        head = context["sha"]
        git(self.repo, "checkout", "-q", "--detach", "main")
        git(self.repo, "merge", "-q", "--no-ff", "-m", f"Merge {head} into main", head)
        merge = git(self.repo, "rev-parse", "HEAD")
        return {**context, "sha": merge, "ref": f"refs/pull/{number}/merge"}


def test_on_githubs_test_merge_commit_the_ledger_and_model_card_name_the_pull_requests_head(repo, github, tmp_path):
    head = commit_change(repo, "C: 1.0", "C: 0.5")
    result = MergeCommitRunner(repo, github, tmp_path).run("pr", {"base": "main", "verdict": "status"})
    assert not result.failed, result.report()
    merge = git(repo, "rev-parse", "HEAD")
    assert merge != head and git(repo, "rev-parse", "HEAD^2") == head

    card = (repo / "reports" / "cancer" / "model_card.md").read_text()
    assert f"Trained at commit `{head}`" in card and merge not in card
    (comment,) = github.comments_on(7)
    assert f"`{head[:7]}`" in comment.body and merge[:7] not in comment.body
    assert [(s.sha, s.state) for s in github.statuses] == [(head, "success")]


def test_the_compare_step_holds_no_token_and_the_posting_step_runs_no_model_code(repo, github, tmp_path):
    commit_change(repo, "C: 1.0", "C: 0.5")
    result = Runner(repo, github, tmp_path).run("pr", {"base": "main"})
    assert not result.failed, result.report()
    compare, post = result.steps["compare"], result.steps["post"]
    assert "GITHUB_TOKEN" not in compare.env and github.token not in compare.script
    assert post.env["GITHUB_TOKEN"] == github.token
    assert post.script.strip().startswith("mlship comment --handoff")


def test_a_second_push_updates_the_same_comment(repo, github, tmp_path):
    runner = Runner(repo, github, tmp_path)
    commit_change(repo, "C: 1.0", "C: 0.5")
    first = runner.run("pr", {"base": "main"}, step="first")
    assert not first.failed, first.report()
    (comment,) = github.comments_on(7)
    first_id, first_body = comment.id, comment.body

    commit_change(repo, "C: 0.5", "C: 0.2")
    second = runner.run("pr", {"base": "main"}, step="second")
    assert not second.failed, second.report()
    (comment,) = github.comments_on(7)
    assert comment.id == first_id and comment.body != first_body
    assert [run.request["head_sha"] for run in github.check_runs] == [
        git(repo, "rev-parse", "HEAD~1"), git(repo, "rev-parse", "HEAD")]


def test_a_failing_gate_fails_the_action_but_still_posts_the_comment_and_a_failure_verdict(repo, github, tmp_path):
    commit_change(repo, "C: 1.0", "C: 0.0001")
    result = Runner(repo, github, tmp_path).run("pr", {"base": "main"})
    assert result.failed
    assert result.steps["post"].outcome == "success"
    assert result.steps["verdict"].exit_code == 1
    assert result.outputs["passed"] == "false"
    (comment,) = github.comments_on(7)
    assert "❌ mlship: 1 of 1 model failed" in comment.body
    (check,) = github.check_runs
    assert (check.request["name"], check.request["conclusion"]) == ("mlship", "failure")


def test_a_fork_pull_request_leaves_a_handoff_that_the_poster_posts(repo, github, tmp_path):
    commit_change(repo, "C: 1.0", "C: 0.5")
    fork = Runner(repo, github, tmp_path, head_repository="someone/models")
    github.read_only = True  # a fork's token
    result = fork.run("pr", {"base": "main"}, step="fork")
    assert not result.failed, result.report()
    assert result.outputs["fork"] == "true" and result.steps["post"].outcome == "skipped"
    assert github.writes() == [] and github.comments_on(7) == []
    handoff = Path(result.outputs["handoff-path"])
    meta = json.loads((handoff / "pr.json").read_text())
    assert meta == {"repository": github.repository, "pr": 7, "head_sha": git(repo, "rev-parse", "HEAD"),
                    "passed": True, "key": "report"}

    github.read_only = False  # the trusted poster's token (mlship-post.yml, after download-artifact)
    posted = Runner(repo, github, tmp_path).run("comment", {"handoff": str(handoff)}, step="poster")
    assert not posted.failed, posted.report()
    (comment,) = github.comments_on(7)
    assert comment.body == (handoff / "comment.md").read_text()
    assert [run.request["head_sha"] for run in github.check_runs] == [meta["head_sha"]]


def test_a_tampered_handoff_is_refused_by_the_poster_and_nothing_is_posted(repo, github, tmp_path):
    commit_change(repo, "C: 1.0", "C: 0.5")
    result = Runner(repo, github, tmp_path, head_repository="someone/models").run("pr", {"base": "main"}, "fork")
    handoff = Path(result.outputs["handoff-path"])
    meta = json.loads((handoff / "pr.json").read_text())
    (handoff / "pr.json").write_text(json.dumps({**meta, "pr": "7; rm -rf /"}))
    posted = Runner(repo, github, tmp_path).run("comment", {"handoff": str(handoff)}, step="poster")
    assert posted.failed
    assert "'pr' must be a positive integer" in posted.step_results[-1].stderr
    assert github.writes() == []


def test_the_reusable_workflows_jobs_give_one_combined_comment(repo, github, tmp_path):
    """mlship-pr.yml: `changed`, then `pr` with `model:` per matrix entry, then `pr` for the report."""
    git(repo, "checkout", "-q", "main")
    (repo / "models" / "iris").mkdir()
    (repo / "models" / "iris" / "model.yaml").write_text(CANCER.replace("breast_cancer", "iris")
                                                       .replace("roc_auc, accuracy", "accuracy, f1"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "iris")
    git(repo, "checkout", "-q", "tune")
    git(repo, "merge", "-q", "main")
    commit_change(repo, "C: 1.0", "C: 0.5")
    runner = Runner(repo, github, tmp_path)
    changed = runner.run("changed", {"base": "main"}, step="changed")
    assert not changed.failed, changed.report()
    models = json.loads(changed.outputs["models"])
    assert models == ["cancer"]
    for model in models:
        job = runner.run("pr", {"base": "main", "model": model}, step=f"matrix-{model}")
        assert not job.failed, job.report()
        assert job.steps["post"].outcome == "skipped"
    assert github.writes() == []
    report = runner.run("pr", {"base": "main"}, step="report")
    assert not report.failed, report.report()
    (comment,) = github.comments_on(7)
    assert "from cache" in comment.body and "in this run" not in comment.body


def test_the_setup_actions_pip_cache_key_follows_the_pinned_dependencies(tmp_path):
    """The key step alone: running the whole setup action would reinstall mlship into this environment."""
    output = tmp_path / "output"
    output.write_text("")
    env = {**os.environ, "GITHUB_ACTION_PATH": str(ACTIONS / "setup"), "GITHUB_OUTPUT": str(output),
           "RUNNER_OS": "Linux", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = ACTIONS / "setup" / "cache-key.sh"
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env, check=True)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    python = ".".join(map(str, sys.version_info[:3]))
    pins, project = outputs["key"].removeprefix(f"mlship-pip-Linux-py{python}-").split("-")
    assert len(pins) == len(project) == 16 and outputs["restore-key"] == f"mlship-pip-Linux-py{python}-{pins}-"


class BranchHead:
    """A pull request whose head follows its branch on ``origin``, as GitHub's does when the branch is pushed."""

    def __init__(self, pull, origin: Path, branch: str):
        self._pull, self._origin, self._branch = pull, origin, branch

    def __getattr__(self, name: str):
        return getattr(self._pull, name)

    @property
    def head_sha(self) -> str:
        return git(self._origin, "rev-parse", f"refs/heads/{self._branch}")


def test_commit_ledger_puts_the_ledger_on_the_branch_and_the_verdict_on_that_commit(repo, github, tmp_path,
                                                                                      monkeypatch):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    head = commit_change(repo, "C: 1.0", "C: 0.5")
    git(repo, "push", "-q", "origin", "main", "tune")
    add_pull_request = github.add_pull_request

    def following_the_branch(*args, **kwargs):
        issue = add_pull_request(*args, **kwargs)
        issue.pull = BranchHead(issue.pull, origin, "tune")
        return issue

    monkeypatch.setattr(github, "add_pull_request", following_the_branch)
    result = Runner(repo, github, tmp_path).run("pr", {"base": "main", "verdict": "status", "commit-ledger": "true"})
    assert not result.failed, result.report()
    ledger_sha = result.outputs["ledger-sha"]
    assert ledger_sha == git(origin, "rev-parse", "refs/heads/tune")
    assert git(origin, "rev-parse", f"{ledger_sha}^") == head
    changed = git(origin, "diff-tree", "--no-commit-id", "--name-only", "-r", ledger_sha).split()
    assert changed == ["reports/cancer/metrics.json", "reports/cancer/model_card.md", "reports/cancer/profile.json"]
    assert json.loads(git(origin, "show", f"{ledger_sha}:reports/cancer/metrics.json"))["passed"] is True
    assert [(s.sha, s.state, s.context) for s in github.statuses] == [(head, "success", "mlship"),
                                                                      (ledger_sha, "success", "mlship")]
    (comment,) = github.comments_on(7)
    assert "GITHUB_TOKEN" in result.steps["ledger"].env and github.token not in result.steps["ledger"].script
