"""A repository other than this one adopts mlship by the docs (docs/github.md), and act runs its workflows.

The adopting repository is made in a temporary folder; its workflow files are the docs'
snippets, word for word (OWNER and the commit filled in). act runs them offline against the
fake GitHub, with third-party actions replaced by local stand-ins and mlship installed from
the wheel built in this session (see tests/act_runner.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from act_runner import make_act, readme_workflows
from github_events import pull_request_event, push_event, repository_of, workflow_run_event
from repo_helpers import commit_all, git

CANCER = """\
task: classification
data: {{sklearn: breast_cancer}}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {{C: {c}, max_iter: 2000}}
evaluation: {{metrics: [roc_auc, accuracy], bootstrap: {{resamples: 100}}}}
gates:
  roc_auc: {{min: 0.9, max_drop: 0.01}}
"""


@pytest.fixture
def act(installed, github, tmp_path):
    return make_act(installed, github, tmp_path)


@pytest.fixture
def adopter(act, github, tmp_path) -> Path:
    """A repository that followed the docs: its workflows, a model, .gitignore; main committed."""
    repo = tmp_path / "adopter"
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for name, text in readme_workflows("acme", act.mlship_sha).items():
        (workflows / name).write_text(text)
    (repo / "models" / "cancer").mkdir(parents=True)
    (repo / "models" / "cancer" / "model.yaml").write_text(CANCER.format(c=1.0))
    (repo / ".gitignore").write_text(".mlship/\nreports/pr-*\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", f"https://github.com/{github.repository}.git")  # act's GITHUB_REPOSITORY
    commit_all(repo, "adopt mlship")
    return repo


def prepare_pull_request(repo: Path, github, head_repository: str | None = None) -> tuple[str, str]:
    """Branch `tune` changes C; GitHub's test-merge commit of it into main is checked out. Returns (head, base)."""
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-qb", "tune")
    (repo / "models" / "cancer" / "model.yaml").write_text(CANCER.format(c=0.5))
    head = commit_all(repo, "C 0.5")
    github.add_pull_request(7, head, head_ref="tune", base_sha=base, head_repository=head_repository)
    git(repo, "checkout", "-q", "--detach", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", f"Merge {head} into {base}", head)
    return head, base


def test_a_pull_request_in_an_adopting_repository_gets_its_comment_and_verdict_under_act(
        act, adopter, github, tmp_path):
    repo = adopter
    head, base = prepare_pull_request(repo, github)
    run = act.run(repo, "pull_request", pull_request_event(github, 7, head, base), "mlship.yml",
                  tmp_path / "home")
    assert run.returncode == 0, run.output[-6000:]
    for job in ("pin", "changed", "compare", "report"):
        assert run.job_succeeded(job), f"{job} did not succeed:\n{run.output[-6000:]}"
    (comment,) = github.comments_on(7)
    assert "## ✅ mlship: 1 model passed" in comment.body and f"`{head[:7]}`" in comment.body
    verdicts = [(r.request["head_sha"], r.request.get("conclusion")) for r in github.check_runs]
    assert verdicts and verdicts[-1] == (head, "success")
    artifacts = {p.name for p in (act.state / "artifacts").glob("*/*")}
    assert any(name.startswith("mlship-report-") for name in artifacts), artifacts
    assert json.loads((act.state / "artifacts").glob("*/mlship-report-*/cancer/metrics.json").__next__()
                      .read_text())["passed"] is True


def test_three_quick_merges_are_all_released_though_only_the_last_run_happens_and_a_rollback_follows(
        act, adopter, github, tmp_path, run_cli, monkeypatch):
    """GitHub cancels a pending run when a newer one queues: here the first two runs never happen. Then `first`
    changes, is released as v0.1.1, and the documented rollback workflow puts prod back on v0.1.0."""
    repo = adopter
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "rename", "origin", "github")  # act reads the repository's name from this one
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    github.git_remote = origin
    monkeypatch.chdir(repo)
    merges = []

    def merge(name: str, c: float, branch: str) -> None:
        git(repo, "checkout", "-qb", branch, "main")
        (repo / "models" / name).mkdir(exist_ok=True)
        (repo / "models" / name / "model.yaml").write_text(CANCER.format(c=c))
        assert run_cli("pr", "--base", "main", "--dry-run").exit_code == 0, "reviewed as its author would"
        commit_all(repo, f"{name} with C {c}, reviewed")
        git(repo, "checkout", "-q", "main")
        git(repo, "merge", "-q", "--no-ff", "-m", f"merge {branch}", branch)
        git(repo, "push", "-q", "origin", "main")
        merges.append(git(repo, "rev-parse", "HEAD"))

    for name in ("first", "second", "third"):
        merge(name, 0.5, name)

    run = act.run(repo, "push", push_event(github, merges[1], merges[2]), "mlship-release.yml", tmp_path / "home",
                  remote_name="github")
    assert run.returncode == 0, run.output[-6000:]
    released = {r.tag_name for r in github.releases.values()}
    assert released >= {"first@v0.1.0", "second@v0.1.0", "third@v0.1.0"}, run.output[-6000:]
    tags = git(origin, "tag", "--list").split()
    assert {"first@v0.1.0", "second@v0.1.0", "third@v0.1.0", "first#prod#1", "second#prod#1",
            "third#prod#1"} <= set(tags)
    manifests = git(origin, "ls-tree", "-r", "--name-only", "main", "deploy/prod").split()
    assert manifests == ["deploy/prod/first.yaml", "deploy/prod/second.yaml", "deploy/prod/third.yaml"]

    git(repo, "pull", "-q", "--ff-only", "origin", "main")  # the manifests commits
    merge("first", 0.25, "first-again")
    again = act.run(repo, "push", push_event(github, merges[-2], merges[-1]), "mlship-release.yml",
                    tmp_path / "home", remote_name="github")
    assert again.returncode == 0, again.output[-6000:]
    assert "first@v0.1.1" in {r.tag_name for r in github.releases.values()}

    git(repo, "pull", "-q", "--ff-only", "origin", "main")
    dispatch = {"inputs": {"model": "first", "stage": "prod", "version": ""}, "ref": "refs/heads/main",
                "repository": repository_of(github.repository), "sender": {"login": "octocat"},
                "workflow": ".github/workflows/mlship-rollback.yml"}
    rolled = act.run(repo, "workflow_dispatch", dispatch, "mlship-rollback.yml", tmp_path / "home",
                     remote_name="github")
    assert rolled.returncode == 0 and rolled.job_succeeded("rollback"), rolled.output[-6000:]
    message = git(origin, "for-each-ref", "--format=%(contents)", "refs/tags/first#prod#3")
    assert "rollback from v0.1.1 to v0.1.0" in message
    assert git(origin, "rev-parse", "first#prod#3^{commit}") == git(origin, "rev-parse", "first@v0.1.0^{commit}")
    manifest = git(origin, "show", "main:deploy/prod/first.yaml")
    assert "v0.1.0" in manifest and "v0.1.1" not in manifest


def test_a_fork_pull_request_is_posted_by_the_post_workflow_under_act(act, adopter, github, tmp_path):
    """A fork gets a read-only token and no OIDC token: mlship-ref names the commit, the hand-off waits for post."""
    repo = adopter
    head, base = prepare_pull_request(repo, github, head_repository="someone/models")
    pr_run = act.run(repo, "pull_request", pull_request_event(github, 7, head, base, "someone/models"),
                     "mlship.yml", tmp_path / "home", oidc=False)
    assert pr_run.returncode == 0, pr_run.output[-6000:]
    assert github.comments_on(7) == [] and github.writes() == [], "a fork's run posts nothing"
    (handoff,) = (act.state / "artifacts").glob("*/mlship-handoff-*")

    git(repo, "checkout", "-q", "main")  # workflow_run runs on the default branch
    event = workflow_run_event(github, int(handoff.parent.name), head, "someone/models")
    post_run = act.run(repo, "workflow_run", event, "mlship-post.yml", tmp_path / "home")
    assert post_run.returncode == 0 and post_run.job_succeeded("post"), post_run.output[-6000:]
    (comment,) = github.comments_on(7)
    assert "## ✅ mlship: 1 model passed" in comment.body
    assert [r.request["head_sha"] for r in github.check_runs] == [head]

