"""The GitHub client against answers GitHub (or something in its place) really gives: App
installation tokens, a rate limit that outlasts the wait, HTML where JSON should be, a
``Link`` to another host, a token that is not ASCII. Each runs the CLI against the fake GitHub."""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO_ROOT
from fake_github import FakeGitHub
from mlship.monitor.drift_issues import report_drift
from mlship.github.client import GitHub

REPO = "acme/models"
PR = 12


@pytest.fixture
def body(factory):
    path = factory.root / "body.md"
    path.write_text("## report")
    return path


def test_a_github_app_installation_token_keeps_one_sticky_comment(run_cli, github_env: FakeGitHub, body):
    """GET /user is 403 for an App's installation token; its comments are by ``<app>[bot]``."""
    github_env.token_kind = "app"
    github_env.add_comment(PR, "<!-- mlship:report -->\nforged by a person", author="mallory")
    for text in ("## first", "## second"):
        body.write_text(text)
        result = run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body))
        assert result.exit_code == 0, result.stderr
    comments = github_env.comments_on(PR)
    assert [(c.user.login, c.body) for c in comments] == [
        ("mallory", "<!-- mlship:report -->\nforged by a person"),
        ("mlship-bot[bot]", "<!-- mlship:report -->\n## second")]


def test_an_explicit_author_picks_that_bots_comment(run_cli, github_env: FakeGitHub, body):
    github_env.token_kind = "app"
    github_env.add_comment(PR, "<!-- mlship:report -->\nan older bot's", author="other-app[bot]")
    result = run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body), "--author",
                     "mlship-bot[bot]")
    assert result.exit_code == 0 and result.stdout.startswith(f"comment created on #{PR}"), result.stderr
    assert len(github_env.comments_on(PR)) == 2


def test_the_actions_author_input_reaches_the_cli_as_mlship_author(run_cli, github_env: FakeGitHub, body,
                                                                   monkeypatch):
    """The comment, pr and drift actions pass their ``author`` input as $MLSHIP_AUTHOR."""
    github_env.token_kind = "app"
    older = github_env.add_comment(PR, "<!-- mlship:report -->\nan older bot's", author="other-app[bot]")
    monkeypatch.setenv("MLSHIP_AUTHOR", "mlship-bot[bot]")
    for text in ("## first", "## second"):
        body.write_text(text)
        assert run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body)).exit_code == 0
    assert [(c.user.login, c.body) for c in github_env.comments_on(PR)] == [
        ("other-app[bot]", older.body), ("mlship-bot[bot]", "<!-- mlship:report -->\n## second")]
    for action in ("comment", "pr", "drift"):
        steps = yaml.safe_load((REPO_ROOT / "actions" / action / "action.yml").read_text())["runs"]["steps"]
        tokened = [step["env"] for step in steps if step.get("env", {}).get("GITHUB_TOKEN") == "${{ inputs.token }}"]
        assert tokened and all(env["MLSHIP_AUTHOR"] == "${{ inputs.author }}" for env in tokened), action


def test_a_github_app_installation_token_keeps_one_drift_issue(github: FakeGitHub):
    github.token_kind = "app"
    client = GitHub(github.token, github.api_url)
    first = report_drift(client, REPO, "churn", True, "## drift 1")
    second = report_drift(client, REPO, "churn", True, "## drift 2")
    assert (first.action, second.action, second.number) == ("created", "updated", first.number)
    assert len(github.issues_in(REPO)) == 1


def test_a_rate_limited_get_user_is_an_error_not_an_actions_token(run_cli, github_env: FakeGitHub, body):
    github_env.token_kind = "pat"
    github_env.fail_next_secondary_rate_limit("GET", r"^/user$", retry_after=3600)
    result = run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: GitHub answered 403 to GET /user: You have exceeded a secondary rate limit")
    assert github_env.comments_on(PR) == []


@pytest.mark.parametrize("status", [200, 403])
def test_html_for_get_user_is_a_clear_error(run_cli, github_env: FakeGitHub, body, status):
    github_env.fail_next("GET", r"^/user$", status, body="<!DOCTYPE html><html><body>Sign in</body></html>",
                         headers={"Content-Type": "text/html; charset=utf-8"})
    result = run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body), *(
        [] if status == 200 else ["--author", "x"]))
    if status == 403:  # an explicit author needs no GET /user: the comment is posted
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: GitHub's answer to GET /user is not JSON (200, text/html): check "
                                    "GITHUB_API_URL"), result.stderr


def test_a_2xx_answer_that_is_not_json_is_a_clear_error(run_cli, github_env: FakeGitHub, body):
    github_env.fail_next("GET", r"/comments$", 200, body="<html>GitHub Enterprise</html>",
                         headers={"Content-Type": "text/html"})
    result = run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: GitHub's answer to GET /repos/{REPO}/issues/{PR}/comments is not JSON "
                                    "(200, text/html)"), result.stderr


def test_a_next_page_on_another_host_is_not_followed_with_the_token(run_cli, github_env: FakeGitHub, body):
    github_env.fail_next("GET", r"/comments$", 200, body=[],
                         headers={"Link": '<https://evil.invalid/steal?page=2>; rel="next"'})
    result = run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body))
    assert result.exit_code == 2
    assert result.stderr == (f"error: GitHub's next page of /repos/{REPO}/issues/{PR}/comments is on another host "
                             "(evil.invalid): not following it with the token\n")


def test_a_token_with_a_character_that_is_not_ascii_is_a_clear_error(run_cli, github_env: FakeGitHub, body,
                                                                     monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_abc€def")
    result = run_cli("comment", "--pr", str(PR), "--repo", REPO, "--body-file", str(body))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: GITHUB_TOKEN holds spaces, control characters or characters that are "
                                    "not ASCII")
