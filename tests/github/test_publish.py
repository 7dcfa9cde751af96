"""`mlship pr` and `mlship comment` posting to the fake GitHub, end to end.

Each test builds a real git repository with the ``factory`` (a model on ``main``, a change
on ``feature``), writes a ``pull_request`` event payload like the runner's, points
``GITHUB_*`` at it and at the fake GitHub, and runs the CLI in-process (or as
``python -m mlship`` where the output of a real process matters). Models are trained for
real on scikit-learn's bundled data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fake_github import FakeGitHub
from mlship.github.publish import ACTIONS_BOT, Handoff, write_handoff
from repo_helpers import branch_off, commit_all, edit, git

REPO = "acme/models"
PR = 12
RUN_URL = "https://github.com/acme/models/actions/runs/4242"
MARK = "<!-- mlship:report -->"

# --- helpers (small ones, as in test_pr.py) ------------------------------------------------


def cache_entries(factory) -> list[str]:
    folder = factory.project.cache_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def cancer_spec() -> str:
    return """
description: Flags malignant tumours from cell measurements.
task: classification
data: {sklearn: breast_cancer}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {C: 1.0, max_iter: 1000}
evaluation:
  bootstrap: {resamples: 200}
gates: {roc_auc: {min: 0.9, max_drop: 0.01}, accuracy: {max_drop: 0.01}}
"""


IRIS = """
description: Tells iris species apart.
task: classification
data: {sklearn: iris}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}}
evaluation:
  metrics: [accuracy, f1]
  bootstrap: {resamples: 200}
gates:
  accuracy: {min: 0.8, max_drop: 0.01}
"""

RUNNER_VARIABLES = ("GITHUB_OUTPUT", "GITHUB_ACTIONS", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_STEP_SUMMARY", "GITHUB_SHA",
                    "GITHUB_RUN_ID", "GITHUB_SERVER_URL", "GITHUB_BASE_REF", "GITHUB_HEAD_REF", "GITHUB_REPOSITORY",
                    "GITHUB_TOKEN", "GITHUB_API_URL")


@pytest.fixture(autouse=True)
def no_runner_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide what the runner tells mlship, even when they run inside GitHub Actions."""
    for name in RUNNER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def in_pull_request(monkeypatch: pytest.MonkeyPatch, github: FakeGitHub, root: Path, *, number: int = PR,
                    head_repo: str | None = None) -> Path:
    """Set up the runner's environment for a ``pull_request`` run at the branch's HEAD; returns
    the step summary file. ``head_repo`` other than the fake's repository makes it a fork PR."""
    head = git(root, "rev-parse", "HEAD").strip()
    base = git(root, "rev-parse", "main").strip()
    head_repo = head_repo or github.repository
    event = {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "head": {"ref": "feature", "sha": head, "repo": {"full_name": head_repo}},
            "base": {"ref": "main", "sha": base, "repo": {"full_name": github.repository}},
        },
        "repository": {"full_name": github.repository},
    }
    runner = root.parent / "runner"
    runner.mkdir(exist_ok=True)
    (runner / "event.json").write_text(json.dumps(event))
    summary = runner / "step_summary.md"
    summary.write_text("")
    for name, value in {
        "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(runner / "event.json"),
        "GITHUB_REPOSITORY": github.repository, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "4242",
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_SHA": "0" * 40, "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "feature", "GITHUB_API_URL": github.api_url,
    }.items():
        monkeypatch.setenv(name, value)
    return summary


def in_workflow_run(monkeypatch: pytest.MonkeyPatch, github: FakeGitHub, tmp_path: Path, head_sha: str) -> None:
    """The trusted poster's environment: a ``workflow_run`` event of the base repository, a write token."""
    event = {"action": "completed",
             "workflow_run": {"id": 99, "event": "pull_request", "head_sha": head_sha, "conclusion": "failure",
                              "head_repository": {"full_name": "mallory/models"},
                              "repository": {"full_name": github.repository}},
             "repository": {"full_name": github.repository}}
    path = tmp_path / "workflow_run.json"
    path.write_text(json.dumps(event))
    github.add_pull_request(PR, head_sha, head_repository="mallory/models")
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_BASE_REF", "GITHUB_HEAD_REF"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(path), "GITHUB_RUN_ID": "4243",
                        "GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": github.token,
                        "GITHUB_REPOSITORY": github.repository}.items():
        monkeypatch.setenv(name, value)


def degraded_cancer(factory) -> tuple[Path, str]:
    """A PR that regularises the cancer model far too hard: its accuracy falls by a third, failing max_drop.

    (Its roc_auc hardly moves: shrinking every coefficient keeps the ranking.)
    """
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.0001")
    return root, commit_all(root, "regularise much harder")


def tuned_iris(factory) -> tuple[Path, str]:
    """A PR that barely changes the iris model: its gates pass."""
    factory.model("iris", IRIS)
    root = branch_off(factory)
    edit(root, "models/iris/model.yaml", "max_iter: 500", "max_iter: 600")
    return root, commit_all(root, "more iterations")


def assert_no_token(token: str, *texts: object) -> None:
    for text in texts:
        assert token not in str(text), f"the token leaked into: {text!r}"


def no_traceback(result) -> None:
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr


# --- mlship pr posts ---------------------------------------------------------------------------


def test_pr_posts_one_sticky_comment_and_a_verdict_then_updates_the_same_comment(factory, run_cli, github_env,
                                                                                  monkeypatch):
    github = github_env
    root, head = degraded_cancer(factory)
    summary = in_pull_request(monkeypatch, github, root)

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 1, result.stderr
    no_traceback(result)
    report = (root / "reports" / "pr-comment.md").read_text(encoding="utf-8")
    assert report.startswith(f"{MARK}\n## ❌ mlship: 1 of 1 model failed")
    assert f"[workflow run]({RUN_URL})" in report
    (comment,) = github.comments_on(PR)
    assert comment.body == report and comment.user.login == ACTIONS_BOT
    (run,) = github.check_runs
    assert run.request["head_sha"] == head and run.request["name"] == "mlship"
    assert run.request["conclusion"] == "failure" and run.request["status"] == "completed"
    assert run.request["output"] == {"title": "❌ 1 of 1 model failed", "summary": report}
    assert run.request["details_url"] == RUN_URL
    assert github.statuses == []
    assert report in summary.read_text(encoding="utf-8")
    assert re.search(rf"^comment created \(.*#issuecomment-{comment.id}\); verdict set as a check run$",
                     result.stderr, re.MULTILINE)
    assert result.stdout == ""  # no spec problems: no annotations

    # Another push to the PR: the same comment is updated, the new head gets its verdict.
    edit(root, "models/cancer/model.yaml", "C: 0.0001", "C: 0.99")
    new_head = commit_all(root, "nudge C instead")
    summary = in_pull_request(monkeypatch, github, root)

    again = run_cli("pr", "--base", "main")

    assert again.exit_code == 0, again.stderr
    report = (root / "reports" / "pr-comment.md").read_text(encoding="utf-8")
    assert report.startswith(f"{MARK}\n## ✅ mlship: 1 model passed")
    (updated,) = github.comments_on(PR)
    assert updated.id == comment.id and updated.body == report
    assert [(r.request["head_sha"], r.request["conclusion"]) for r in github.check_runs] == [
        (head, "failure"), (new_head, "success")]
    assert report in summary.read_text(encoding="utf-8")
    assert "comment updated (" in again.stderr
    assert [(w.method, w.operation_id) for w in github.writes()] == [
        ("POST", "issues/create-comment"), ("POST", "checks/create"),
        ("PATCH", "issues/update-comment"), ("POST", "checks/create")]

    # Once both versions come from the cache, the same result again writes no comment, only the verdict.
    third = run_cli("pr", "--base", "main")  # may still update: the report says where each version came from
    assert third.exit_code == 0, third.stderr
    writes = len(github.writes())
    fourth = run_cli("pr", "--base", "main")
    assert fourth.exit_code == 0 and "comment unchanged (" in fourth.stderr
    assert [w.operation_id for w in github.writes()[writes:]] == ["checks/create"]
    assert len(github.comments_on(PR)) == 1


def test_two_projects_of_one_repository_keep_a_comment_and_a_verdict_each(factory, run_cli, github_env, monkeypatch):
    root, head = degraded_cancer(factory)
    in_pull_request(monkeypatch, github_env, root)
    assert run_cli("pr", "--base", "main").exit_code == 1
    assert run_cli("pr", "--base", "main", "--key", "forecasting").exit_code == 1
    report, other = github_env.comments_on(PR)
    assert report.body.startswith(f"{MARK}\n## ❌ mlship: 1 of 1 model failed")
    assert other.body.startswith("<!-- mlship:forecasting -->\n## ❌ mlship: 1 of 1 model failed")
    assert MARK not in other.body
    assert [(r.request["name"], r.request["head_sha"]) for r in github_env.check_runs] == [
        ("mlship", head), ("mlship (forecasting)", head)]
    bad = run_cli("pr", "--base", "main", "--key", "Report -->")
    assert bad.exit_code == 2 and "use lowercase letters, digits, '-' or '_'" in bad.stderr


def test_pr_sets_a_commit_status_when_the_token_may_not_create_check_runs(factory, run_cli, github_env, monkeypatch):
    github = github_env
    github.check_runs_allowed = False
    root, head = tuned_iris(factory)
    in_pull_request(monkeypatch, github, root)

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 0, result.stderr
    assert github.check_runs == []
    (status,) = github.statuses
    assert (status.sha, status.state, status.context, status.target_url) == (head, "success", "mlship", RUN_URL)
    assert status.description == "✅ 1 model passed" and len(status.description) <= 140
    assert result.stderr.rstrip().endswith("verdict set as a commit status")
    assert len(github.comments_on(PR)) == 1


def test_verdict_status_forces_a_commit_status(factory, run_cli, github_env, monkeypatch):
    github = github_env
    root, head = degraded_cancer(factory)
    in_pull_request(monkeypatch, github, root)

    result = run_cli("pr", "--base", "main", "--verdict", "status")

    assert result.exit_code == 1, result.stderr
    assert github.requests_to("POST", "/check-runs") == []
    assert [(s.sha, s.state, s.context, s.description) for s in github.statuses] == [
        (head, "failure", "mlship", "❌ 1 of 1 model failed")]


def test_repo_pr_and_sha_flags_override_the_event(factory, run_cli, github_env, monkeypatch):
    github = github_env
    root, _ = tuned_iris(factory)
    in_pull_request(monkeypatch, github, root)
    other_sha = "f" * 40

    result = run_cli("pr", "--base", "main", "--pr", "34", "--sha", other_sha, "--repo", "acme/other")

    assert result.exit_code == 0, result.stderr
    assert github.comments_on(PR) == [] and len(github.comments_on(34, "acme/other")) == 1
    assert [(r.repository, r.request["head_sha"]) for r in github.check_runs] == [("acme/other", other_sha)]


def test_a_spec_error_on_the_branch_is_annotated_and_exits_2(factory, run_cli, github_env, monkeypatch):
    github = github_env
    factory.model("cancer", cancer_spec())
    factory.model("iris", IRIS)
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "task: classification", "task: clasification")
    edit(root, "models/iris/model.yaml", "max_iter: 500", "max_iter: 600")
    head = commit_all(root, "break cancer, tune iris")
    in_pull_request(monkeypatch, github, root)

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 2, result.stderr
    no_traceback(result)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("::")]
    match = re.fullmatch(r"::error (?P<properties>[^:]+)::(?P<message>.+)", line)
    assert match, line
    properties = dict(p.split("=", 1) for p in match["properties"].split(","))
    spec_lines = (root / "models" / "cancer" / "model.yaml").read_text().splitlines()
    assert properties == {"file": "models/cancer/model.yaml", "title": "mlship",
                          "line": str(1 + spec_lines.index("task: clasification"))}
    assert properties["line"] == "2"
    assert "task: 'clasification' is not allowed" in match["message"]
    # The result is still posted: the comment names the broken model, the verdict fails.
    (comment,) = github.comments_on(PR)
    assert "### ❌ `cancer`: cannot be evaluated" in comment.body and "### ✅ `iris`" in comment.body
    assert [(r.request["head_sha"], r.request["conclusion"]) for r in github.check_runs] == [(head, "failure")]


def test_pr_without_a_token_exits_2_before_training_and_sends_nothing(factory, run_cli, github, monkeypatch):
    root, _ = degraded_cancer(factory)
    in_pull_request(monkeypatch, github, root)  # an event, but no GITHUB_TOKEN

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 2
    assert result.stderr == ("error: cannot post without a token: set GITHUB_TOKEN (in a workflow step: "
                             "`env: GITHUB_TOKEN: ${{ github.token }}`), or use --dry-run\n")
    assert result.stdout == ""
    assert cache_entries(factory) == [] and not (root / "reports").exists()
    assert github.requests == []


def test_pr_without_a_pull_request_context_exits_2_before_training(factory, run_cli, github_env, monkeypatch):
    root, _ = degraded_cancer(factory)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # a push run: a repository and a token, no PR
    monkeypatch.setenv("GITHUB_SHA", git(root, "rev-parse", "HEAD").strip())

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot post without --pr: run on a pull_request event")
    assert cache_entries(factory) == [] and not (root / "reports").exists()
    assert github_env.requests == []


def test_when_posting_fails_the_error_says_where_the_report_is_kept(factory, run_cli, github_env, monkeypatch):
    github = github_env
    github.read_only = True  # a same-repository run whose job lacks the write permissions
    root, _ = tuned_iris(factory)
    summary = in_pull_request(monkeypatch, github, root)

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 2
    no_traceback(result)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "the comment was not posted: " in line and "add `pull-requests: write` under `permissions:`" in line
    assert "the verdict was not set: " in line and "add `statuses: write` under `permissions:`" in line
    assert line.endswith("The report is kept in reports/pr-comment.md")
    report = (root / "reports" / "pr-comment.md").read_text(encoding="utf-8")
    assert "## ✅ mlship: 1 model passed" in report and report in summary.read_text(encoding="utf-8")
    assert github.comments == {} and github.statuses == [] and github.check_runs == []
    assert_no_token(github.token, result.stdout, result.stderr)


# --- fork pull requests: a hand-off, then the trusted poster ----------------------------------


def test_a_fork_pr_writes_the_handoff_and_sends_nothing_then_the_poster_posts_it(factory, run_cli, github_env,
                                                                                 monkeypatch, tmp_path):
    github = github_env
    github.read_only = True  # a fork's token
    root, head = degraded_cancer(factory)
    summary = in_pull_request(monkeypatch, github, root, head_repo="mallory/models")

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 1, result.stderr  # the gates decide, as in any run
    assert github.requests == []  # not a single request, let alone a write
    handoff = root / "reports" / "pr-handoff"
    assert sorted(p.name for p in handoff.iterdir()) == ["comment.md", "pr.json"]
    report = (root / "reports" / "pr-comment.md").read_text(encoding="utf-8")
    assert (handoff / "comment.md").read_text(encoding="utf-8") == report
    assert json.loads((handoff / "pr.json").read_text()) == {
        "repository": REPO, "pr": PR, "head_sha": head, "passed": False, "key": "report"}
    assert report in summary.read_text(encoding="utf-8")
    assert ("pull request #12: its token is read-only, so the comment was written to "
            "reports/pr-handoff/comment.md, reports/pr-handoff/pr.json for `mlship comment --handoff`") in result.stderr

    # The trusted workflow (on: workflow_run) posts it with its own token, which has the permissions the
    # README lists for it: pull-requests: write and statuses: write (no checks: write).
    github.read_only = False
    github.check_runs_allowed = False
    in_workflow_run(monkeypatch, github, tmp_path, head)
    posted = run_cli("comment", "--handoff", str(handoff))

    assert posted.exit_code == 0, posted.stderr
    (comment,) = github.comments_on(PR)
    assert comment.body == report and comment.user.login == ACTIONS_BOT
    (status,) = github.statuses
    assert (status.sha, status.state, status.context) == (head, "failure", "mlship")
    assert status.description == "❌ mlship: gates failed"
    assert github.check_runs == [] and [r.response.status for r in github.requests_to("POST", "/check-runs")] == [403]
    assert posted.stdout == (f"comment created on #{PR} ({comment_url(github, comment.id)}); "
                             "verdict set as a commit status\n")

    # Posting the same hand-off again (a re-run) does not add a comment.
    again = run_cli("comment", "--handoff", str(handoff))
    assert again.exit_code == 0 and again.stdout.startswith(f"comment unchanged on #{PR}")
    assert len(github.comments_on(PR)) == 1
    assert [w.operation_id for w in github.writes()] == [
        "issues/create-comment", "checks/create", "repos/create-commit-status",
        "checks/create", "repos/create-commit-status"]


def comment_url(github: FakeGitHub, comment_id: int) -> str:
    """The comment's html_url, as GitHub answered its creation."""
    (answer,) = [r.response.json() for r in github.requests
                 if r.operation_id == "issues/create-comment" and r.response.json()["id"] == comment_id]
    return answer["html_url"]


def test_a_fork_pr_from_a_deleted_fork_also_hands_off(factory, run_cli, github_env, monkeypatch):
    github = github_env
    root, head = tuned_iris(factory)
    in_pull_request(monkeypatch, github, root)
    event_path = Path(os.environ["GITHUB_EVENT_PATH"])
    event = json.loads(event_path.read_text())
    event["pull_request"]["head"]["repo"] = None
    event_path.write_text(json.dumps(event))
    monkeypatch.delenv("GITHUB_TOKEN")  # a fork run needs no token at all

    result = run_cli("pr", "--base", "main")

    assert result.exit_code == 0, result.stderr
    assert github.requests == []
    assert "its token is read-only" in result.stderr
    assert json.loads((root / "reports" / "pr-handoff" / "pr.json").read_text()) == {
        "repository": REPO, "pr": PR, "head_sha": head, "passed": True, "key": "report"}


def test_pr_handoff_in_a_same_repository_pr_needs_no_token_and_comment_posts_it_with_a_check_run(
        factory, run_cli, github_env, monkeypatch, tmp_path):
    github = github_env
    root, head = tuned_iris(factory)
    in_pull_request(monkeypatch, github, root)
    monkeypatch.delenv("GITHUB_TOKEN")  # the step that runs the models' code holds no token

    result = run_cli("pr", "--base", "main", "--handoff", "out/handoff")

    assert result.exit_code == 0, result.stderr
    assert github.requests == []
    assert "pull request #12: the comment was written to out/handoff/comment.md, out/handoff/pr.json" in result.stderr
    assert json.loads((root / "out" / "handoff" / "pr.json").read_text())["head_sha"] == head

    in_workflow_run(monkeypatch, github, tmp_path, head)
    posted = run_cli("comment", "--handoff", "out/handoff")
    assert posted.exit_code == 0, posted.stderr
    assert posted.stdout.rstrip().endswith("verdict set as a check run")
    assert [(r.request["head_sha"], r.request["conclusion"], r.request["output"]["title"]) for r in github.check_runs] \
        == [(head, "success", "✅ mlship: gates passed")]
    (comment,) = github.comments_on(PR)
    assert comment.body == (root / "reports" / "pr-comment.md").read_text(encoding="utf-8")


VALID_META = {"repository": REPO, "pr": PR, "head_sha": "b" * 40, "passed": True, "key": "report"}


def tamper_meta(**changes: object):
    def apply(folder: Path) -> None:
        (folder / "pr.json").write_text(json.dumps({**VALID_META, **changes}))
    return apply


def write_file(name: str, content: str | bytes):
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    return apply


def remove(name: str):
    return lambda folder: (folder / name).unlink()


TAMPERED = {
    "pr-string": (tamper_meta(pr="12"), "'pr' must be a positive integer, got '12'"),
    "pr-bool": (tamper_meta(pr=True), "'pr' must be a positive integer, got True"),
    "pr-negative": (tamper_meta(pr=-12), "'pr' must be a positive integer, got -12"),
    "pr-zero": (tamper_meta(pr=0), "'pr' must be a positive integer, got 0"),
    "pr-float": (tamper_meta(pr=12.0), "'pr' must be a positive integer, got 12.0"),
    "pr-missing": (lambda f: (f / "pr.json").write_text(json.dumps({k: v for k, v in VALID_META.items() if k != "pr"})),
                   "'pr' must be a positive integer, got None"),
    "sha-not-hex": (tamper_meta(head_sha="g" * 40), "'head_sha' must be a 40-character hex commit SHA, got 'ggg"),
    "sha-short": (tamper_meta(head_sha="abc123"), "'head_sha' must be a 40-character hex commit SHA, got 'abc123'"),
    "sha-path": (tamper_meta(head_sha="../" + "a" * 37), "'head_sha' must be a 40-character hex commit SHA"),
    "passed-string": (tamper_meta(passed="true"), "'passed' must be true or false, got 'true'"),
    "key-marker-break": (tamper_meta(key="report -->"), "'key' must be lowercase letters, digits, '-' or '_'"),
    "repository-path": (tamper_meta(repository="acme/models/../../x"), "'repository' must be owner/name"),
    "other-repository": (tamper_meta(repository="mallory/models"),
                         "the hand-off is for mallory/models, but this run is in acme/models"),
    "meta-too-large": (tamper_meta(padding="x" * 20_000), "pr.json is 20,"),
    "comment-too-large": (write_file("comment.md", "x" * 300_000), "comment.md is 300,000 bytes, over the 262,144 allowed"),
    "comment-over-githubs-limit": (write_file("comment.md", "é" * 70_000),
                                   "comment.md has 70,000 characters, over GitHub's 65,536"),
    "invalid-json": (write_file("pr.json", '{"pr": 12,'), "is malformed"),
    "json-list": (write_file("pr.json", json.dumps([VALID_META])), "pr.json must hold a JSON object"),
    "comment-not-utf8": (write_file("comment.md", b"\xff\xfe report"), "is malformed"),
    "no-meta": (remove("pr.json"), "the hand-off has no pr.json in"),
    "no-comment": (remove("comment.md"), "the hand-off has no comment.md in"),
    "comment-symlink": (lambda f: linked(f, "comment.md", "a secret of the trusted runner"),
                        "comment.md is a symbolic link: a hand-off holds regular files only"),
    "meta-symlink": (lambda f: linked(f, "pr.json", json.dumps(VALID_META)),
                     "pr.json is a symbolic link: a hand-off holds regular files only"),
    "comment-fifo": (lambda f: ((f / "comment.md").unlink(), os.mkfifo(f / "comment.md")),
                     "comment.md is not a regular file"),
    "comment-folder": (lambda f: ((f / "comment.md").unlink(), (f / "comment.md").mkdir()),
                       "comment.md is not a regular file"),
}


def linked(folder: Path, name: str, content: str) -> None:
    """Replace ``name`` with a symbolic link to a file outside the hand-off."""
    target = folder.parent / f"outside-{name}"
    target.write_text(content)
    (folder / name).unlink()
    (folder / name).symlink_to(target)


TAMPERED_NEWLINE = {
    "sha-trailing-newline": (tamper_meta(head_sha="a" * 40 + "\n"), "'head_sha' must be a 40-character hex commit SHA"),
    "key-trailing-newline": (tamper_meta(key="report\n"), "'key' must be lowercase letters, digits, '-' or '_'"),
}


@pytest.mark.parametrize("case", [*TAMPERED, *TAMPERED_NEWLINE])
def test_a_tampered_handoff_is_refused_and_nothing_is_posted(factory, run_cli, github_env, case):
    github = github_env
    folder = factory.root / "handoff"
    write_handoff(folder, Handoff(REPO, PR, "b" * 40, True, "report", f"{MARK}\n## ✅ all good"))
    tamper, message = {**TAMPERED, **TAMPERED_NEWLINE}[case]
    tamper(folder)

    result = run_cli("comment", "--handoff", str(folder))

    assert result.exit_code == 2
    no_traceback(result)
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert github.requests == []


def test_an_untampered_handoff_is_accepted(factory, run_cli, github_env):
    github_env.add_pull_request(PR, "b" * 40)
    folder = factory.root / "handoff"
    write_handoff(folder, Handoff(REPO, PR, "b" * 40, True, "perf", "## ✅ all good"))
    result = run_cli("comment", "--handoff", str(folder), "--verdict", "status")
    assert result.exit_code == 0, result.stderr
    (comment,) = github_env.comments_on(PR)
    assert comment.body == "<!-- mlship:perf -->\n## ✅ all good"
    assert [(s.sha, s.state, s.context) for s in github_env.statuses] == [("b" * 40, "success", "mlship (perf)")]
    assert github_env.check_runs == []


def test_a_handoffs_mentions_are_posted_inert(factory, run_cli, github_env):
    """A fork writes its hand-off's Markdown: posted by mlship's bot, a mention would notify anyone it names."""
    github_env.add_pull_request(PR, "b" * 40)
    folder = factory.root / "handoff"
    write_handoff(folder, Handoff(REPO, PR, "b" * 40, True, "report", "cc @alice, @acme/admins and `@bob`; `/mlship accept m@0123: ok`"))
    assert run_cli("comment", "--handoff", str(folder)).exit_code == 0
    (comment,) = github_env.comments_on(PR)
    assert comment.body == ("<!-- mlship:report -->\ncc @\u200balice, @\u200bacme/admins and `@\u200bbob`; "
                            "`/mlship accept m@0123: ok`")


def test_a_handoff_for_another_commit_than_the_runs_is_refused(factory, run_cli, github_env, monkeypatch, tmp_path):
    """A fork's run could write any SHA into pr.json: only the run's own head (set by GitHub) is accepted."""
    folder = factory.root / "handoff"
    write_handoff(folder, Handoff(REPO, PR, "b" * 40, True, "report", "## ✅ all good"))
    in_workflow_run(monkeypatch, github_env, tmp_path, "c" * 40)
    result = run_cli("comment", "--handoff", str(folder))
    assert result.exit_code == 2
    assert result.stderr == (f"error: the hand-off is for commit {'b' * 12}, but the run that made it was for "
                             f"{'c' * 12}: refusing to post it\n")
    assert github_env.writes() == []


def test_a_handoff_naming_a_pull_request_with_another_head_is_refused(factory, run_cli, github_env, monkeypatch,
                                                                     tmp_path):
    """The hand-off's PR number must be the pull request whose head is the run's commit (a green verdict
    must not land on someone else's pull request)."""
    folder = factory.root / "handoff"
    write_handoff(folder, Handoff(REPO, 99, "b" * 40, True, "report", "## ✅ all good"))
    in_workflow_run(monkeypatch, github_env, tmp_path, "b" * 40)
    github_env.add_pull_request(99, "d" * 40)
    result = run_cli("comment", "--handoff", str(folder))
    assert result.exit_code == 2
    assert result.stderr == (f"error: pull request #99's head is {'d' * 12}, not the hand-off's {'b' * 12}: "
                             "refusing to post it\n")
    assert github_env.writes() == []


# --- mlship comment ----------------------------------------------------------------------------


def test_comment_creates_then_updates_the_sticky_comment(factory, run_cli, github_env):
    github = github_env
    body = factory.root / "body.md"
    body.write_text("## first")
    first = run_cli("comment", "--pr", str(PR), "--body-file", str(body))
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(f"comment created on #{PR} (")
    body.write_text("## second")
    second = run_cli("comment", "--pr", str(PR), "--body-file", str(body))
    assert second.stdout.startswith(f"comment updated on #{PR} (")
    third = run_cli("comment", "--pr", str(PR), "--body-file", str(body))
    assert third.stdout.startswith(f"comment unchanged on #{PR} (")
    assert [(c.body, c.user.login) for c in github.comments_on(PR)] == [(f"{MARK}\n## second", ACTIONS_BOT)]
    assert len(github.writes()) == 2


def test_a_marker_quoted_inside_the_report_does_not_make_it_another_keys_comment(factory, run_cli, github_env):
    """A fork's hand-off posts the fork's own Markdown: a slice value ``<!-- mlship:drift -->`` in it
    must not make `mlship comment --key drift` take the report comment for its own (and delete it)."""
    report = factory.root / "report.md"
    report.write_text(f"{MARK}\n| slice | rows |\n|:--|--:|\n| region = <!-- mlship:drift --> | 40 |\n")
    assert run_cli("comment", "--pr", str(PR), "--body-file", str(report)).exit_code == 0
    drift = factory.root / "drift.md"
    drift.write_text("## drift: none")
    result = run_cli("comment", "--pr", str(PR), "--key", "drift", "--body-file", str(drift))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"comment created on #{PR} (")
    assert [c.body for c in github_env.comments_on(PR)] == [report.read_text(),
                                                             "<!-- mlship:drift -->\n## drift: none"]


def test_comment_with_a_body_over_githubs_limit_is_a_clear_error(factory, run_cli, github_env):
    body = factory.root / "body.md"
    body.write_text("x" * 70_000)
    result = run_cli("comment", "--pr", str(PR), "--body-file", str(body))
    assert result.exit_code == 2
    assert result.stderr == (f"error: GitHub rejected POST /repos/{REPO}/issues/{PR}/comments (422 Validation Failed): "
                             "body is too long (maximum is 65536 characters)\n")
    assert github_env.comments == {}


def test_comment_without_a_token_or_a_pr_is_a_clear_error(factory, run_cli, github_env, monkeypatch):
    body = factory.root / "body.md"
    body.write_text("hello")
    missing_pr = run_cli("comment", "--body-file", str(body))
    assert missing_pr.exit_code == 2 and "give --body-file, and --pr and --repo" in missing_pr.stderr
    monkeypatch.delenv("GITHUB_TOKEN")
    no_token = run_cli("comment", "--pr", str(PR), "--body-file", str(body))
    assert no_token.exit_code == 2 and no_token.stderr.startswith("error: no GitHub token: set GITHUB_TOKEN")
    assert github_env.requests == []


# --- the token never shows up in the output ----------------------------------------------------

CLI_FAULTS = {
    "none": (lambda g: None, 0, "comment created on"),
    "502-then-ok": (lambda g: g.fail_next("GET", r"/comments$", 502), 0, "comment created on"),
    "429-retry-after": (lambda g: g.fail_next("POST", r"/comments$", 429, headers={"Retry-After": "1"}), 0,
                        "comment created on"),
    "secondary-rate-limit-retry-after": (lambda g: g.fail_next_secondary_rate_limit("POST", r"/comments$"), 0,
                                         "comment created on"),
    "secondary-rate-limit-reset": (lambda g: g.fail_next_secondary_rate_limit("GET", r"/comments$", retry_after=None),
                                   0, "comment created on"),
    "secondary-rate-limit-too-long": (lambda g: g.fail_next_secondary_rate_limit("POST", r"/comments$",
                                                                                 retry_after=3600),
                                      2, "secondary rate limit"),
    "primary-rate-limit-too-long": (lambda g: g.fail_next_primary_rate_limit("GET", r"/comments$", reset_in=3600),
                                    2, "API rate limit exceeded"),
    "502-always": (lambda g: g.fail_next("POST", r"/comments$", 502, times=5), 2, "GitHub answered 502"),
    "422-too-long": (lambda g: g.fail_next("POST", r"/comments$", 422, body={
        "message": "Validation Failed", "errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                                                    "message": "body is too long (maximum is 65536 characters)"}]}),
                     2, "(422 Validation Failed): body is too long (maximum is 65536 characters)"),
    "401": (lambda g: setattr(g, "token", "ghs_rotated_away"), 2, "GitHub rejected the token (401 Bad credentials)"),
    "read-only": (lambda g: setattr(g, "read_only", True), 2, "add `pull-requests: write` under `permissions:`"),
    "404": (lambda g: g.fail_next("GET", r"/comments$", 404), 2, "GitHub found nothing at GET"),
    "echoed-token": (lambda g: g.fail_next("POST", r"/comments$", 400, body={"message": f"bad token {g.token}"}),
                     2, "bad token ***"),
}


@pytest.mark.parametrize("fault", list(CLI_FAULTS))
def test_the_token_never_shows_in_the_cli_output(factory, run_cli, github_env, fault):
    github = github_env
    token = github.token
    setup, exit_code, expected = CLI_FAULTS[fault]
    setup(github)
    body = factory.root / "body.md"
    body.write_text("## report")

    result = run_cli("comment", "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == exit_code, result.stderr
    assert expected in result.stdout + result.stderr
    no_traceback(result)
    assert_no_token(token, result.stdout, result.stderr, repr(result.exception))
    assert len(github.comments_on(PR)) == (1 if exit_code == 0 else 0)


def run_mlship(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlship", *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


@pytest.mark.parametrize("fault", list(CLI_FAULTS))
def test_the_token_never_shows_in_a_real_processs_output(factory, github_env, fault):
    github = github_env
    token = github.token
    setup, exit_code, expected = CLI_FAULTS[fault]
    setup(github)
    body = factory.root / "body.md"
    body.write_text("## report")

    process = run_mlship("comment", "--pr", str(PR), "--body-file", str(body), cwd=factory.root)

    assert process.returncode == exit_code, process.stderr
    assert expected in process.stdout + process.stderr
    assert "Traceback" not in process.stderr
    assert_no_token(token, process.stdout, process.stderr)


def test_the_token_never_shows_even_with_traceback(factory, github_env):
    github = github_env
    token = github.token
    github.read_only = True
    body = factory.root / "body.md"
    body.write_text("## report")
    process = run_mlship("--traceback", "comment", "--pr", str(PR), "--body-file", str(body), cwd=factory.root)
    assert process.returncode == 1 and "Traceback" in process.stderr
    assert "mlship.github.client.GitHubError: the token may not POST" in process.stderr
    assert_no_token(token, process.stdout, process.stderr)


def test_the_token_never_shows_in_a_real_pr_run(factory, github_env, monkeypatch):
    github = github_env
    token = github.token
    root, head = degraded_cancer(factory)
    in_pull_request(monkeypatch, github, root)

    process = run_mlship("pr", "--base", "main", cwd=root)

    assert process.returncode == 1, process.stderr
    assert "verdict set as a check run" in process.stderr
    assert [(r.request["head_sha"], r.request["conclusion"]) for r in github.check_runs] == [(head, "failure")]
    assert_no_token(token, process.stdout, process.stderr)

    # And when the token is refused.
    github.token = "ghs_rotated_away"
    refused = run_mlship("pr", "--base", "main", cwd=root)
    assert refused.returncode == 2
    assert "GitHub rejected the token (401 Bad credentials)" in refused.stderr
    assert "The report is kept in reports/pr-comment.md" in refused.stderr
    assert_no_token(token, refused.stdout, refused.stderr)
    assert len(github.comments_on(PR)) == 1


def test_a_token_with_a_stray_newline_is_stripped_and_never_shows_in_a_real_processs_output(factory, github_env,
                                                                                         monkeypatch):
    token = github_env.token
    monkeypatch.setenv("GITHUB_TOKEN", token + "\n")
    body = factory.root / "body.md"
    body.write_text("## report")
    process = run_mlship("comment", "--pr", str(PR), "--body-file", str(body), cwd=factory.root)
    assert_no_token(token, process.stdout, process.stderr)
    assert process.returncode == 0 and "Traceback" not in process.stderr
    assert len(github_env.comments_on(PR)) == 1


# --- commit statuses per model -----------------------------------------------------------------


def test_status_per_model_sets_one_status_per_model_beside_the_overall_verdict(factory, run_cli, github_env,
                                                                               monkeypatch):
    github = github_env
    root, head = degraded_cancer(factory)
    in_pull_request(monkeypatch, github, root)
    result = run_cli("pr", "--base", "main", "--verdict", "status", "--status-per-model")
    assert result.exit_code == 1, result.stderr
    assert [(s.context, s.state, s.description) for s in github.statuses] == [
        ("mlship", "failure", "❌ 1 of 1 model failed"), ("mlship/cancer", "failure", "failed its gates")]
    assert {s.sha for s in github.statuses} == {head}


def test_a_handoff_carries_the_models_verdicts_and_the_poster_sets_their_statuses(factory, run_cli, github_env,
                                                                                  monkeypatch, tmp_path):
    github = github_env
    root, head = degraded_cancer(factory)
    in_pull_request(monkeypatch, github, root)
    monkeypatch.delenv("GITHUB_TOKEN")
    result = run_cli("pr", "--base", "main", "--handoff", "out/handoff", "--status-per-model")
    assert result.exit_code == 1, result.stderr
    assert json.loads((root / "out" / "handoff" / "pr.json").read_text())["models"] == {"cancer": False}

    in_workflow_run(monkeypatch, github, tmp_path, head)
    posted = run_cli("comment", "--handoff", "out/handoff", "--verdict", "status")
    assert posted.exit_code == 0, posted.stderr
    assert [(s.context, s.state) for s in github.statuses] == [("mlship", "failure"), ("mlship/cancer", "failure")]


@pytest.mark.parametrize("models", [{"Cancer": True}, {"cancer": "yes"}, ["cancer"], {f"m{i}": True for i in range(201)}],
                         ids=["bad-name", "not-a-bool", "not-a-map", "too-many"])
def test_a_handoff_with_malformed_model_verdicts_is_refused(factory, run_cli, github_env, models):
    folder = factory.root / "handoff"
    write_handoff(folder, Handoff(REPO, PR, "b" * 40, True, "report", "## ✅ all good"))
    meta = json.loads((folder / "pr.json").read_text())
    (folder / "pr.json").write_text(json.dumps({**meta, "models": models}))
    result = run_cli("comment", "--handoff", str(folder))
    assert result.exit_code == 2
    assert "'models' must map at most 200 model names to true or false" in result.stderr
    assert github_env.requests == []
