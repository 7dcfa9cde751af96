"""mlship's GitHub client (``mlship.github.client``), the sticky comment and the verdict (``mlship.github.publish``),
and the run context, annotations and step summary (``mlship.github.actions``), against the fake GitHub.

Every request the client makes goes over HTTP to ``tests/fake_github.py``, which checks it
against GitHub's OpenAPI description: a test that passes here also sent requests GitHub
would accept. Waits are recorded with ``sleep=`` instead of slept, except in the one test
that really waits for a ``Retry-After: 1``.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
import requests

from fake_github import FakeGitHub
from mlship.errors import Location, MlshipError, Problem
from mlship.github.actions import STEP_SUMMARY_LIMIT, RunContext, annotation, write_step_summary
from mlship.github.client import API_VERSION, DEFAULT_API_URL, GitHub, GitHubError
from mlship.github.publish import ACTIONS_BOT, post_sticky, publish_verdict

REPO = "acme/models"
PR = 7
MARK = "<!-- mlship:report -->"
COMMENTS = r"/issues/7/comments$"
SHA = "a" * 40


@pytest.fixture(autouse=True)
def no_runner_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide what the runner tells mlship, even when they run inside GitHub Actions."""
    for name in ("GITHUB_OUTPUT", "GITHUB_ACTIONS", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_STEP_SUMMARY", "GITHUB_SHA",
                 "GITHUB_RUN_ID", "GITHUB_SERVER_URL", "GITHUB_BASE_REF", "GITHUB_REPOSITORY", "GITHUB_TOKEN",
                 "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)


class Sleeps(list):
    """A ``sleep=`` for the client that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_of(github: FakeGitHub, *, max_wait: float = 120.0, sleeps: Sleeps | None = None,
              token: str | None = None) -> GitHub:
    return GitHub(token or github.token, github.api_url, max_wait=max_wait,
                  sleep=sleeps if sleeps is not None else Sleeps())


def comment_writes(github: FakeGitHub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in github.writes() if "/comments" in r.path]


def assert_no_token(token: str, *texts: object) -> None:
    for text in texts:
        assert token not in str(text), f"the token leaked into: {text!r}"


def error_texts(error: BaseException) -> list[str]:
    """The message and repr of an error and of every error chained to it."""
    texts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts += [str(error), repr(error), repr(error.args)]
        error = error.__cause__ or error.__context__
    return texts


# --- what every request carries ----------------------------------------------------------


def test_every_request_sends_the_bearer_token_accept_api_version_and_a_user_agent(github_env, tmp_path):
    github = github_env
    client = GitHub(github.token, max_wait=5, sleep=Sleeps())  # the API root from $GITHUB_API_URL
    post_sticky(client, REPO, PR, "first")
    post_sticky(client, REPO, PR, "second")
    publish_verdict(client, REPO, SHA, True, "ok", "summary")
    client.create_status(REPO, SHA, "success", "mlship", "ok")
    release = client.create_release(REPO, "churn-v1", "churn v1", "notes")
    (tmp_path / "model.pkl").write_bytes(b"model")
    asset = client.upload_asset(release, tmp_path / "model.pkl")
    assert client.release_by_tag(REPO, "missing") is None
    client.download_asset(REPO, asset["id"], tmp_path / "out" / "model.pkl")

    api_requests = [r for r in github.requests if not r.path.startswith("/storage/")]
    assert {r.operation_id for r in api_requests} >= {
        "users/get-authenticated", "issues/list-comments", "issues/create-comment", "issues/update-comment",
        "checks/create", "repos/create-commit-status", "repos/create-release", "repos/upload-release-asset",
        "repos/get-release-by-tag", "repos/get-release-asset"}
    for request in api_requests:
        where = f"{request.method} {request.url}"
        assert request.headers["Authorization"] == f"Bearer {github.token}", where
        assert request.headers["X-GitHub-Api-Version"] == API_VERSION == "2022-11-28", where
        assert re.fullmatch(r"mlship/\S+", request.headers["User-Agent"]), where
        expected = ("application/octet-stream" if request.operation_id == "repos/get-release-asset"
                    else "application/vnd.github+json")
        assert request.headers["Accept"] == expected, where
    assert all(r.response.status < 400 or r.operation_id in ("users/get-authenticated", "repos/get-release-by-tag")
               for r in api_requests)


def test_the_api_root_comes_from_github_api_url(github, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", github.api_url + "/")
    client = GitHub(github.token, sleep=Sleeps())
    assert client.api_url == github.api_url
    client.create_status(REPO, SHA, "success", "mlship", "ok")
    assert [(r.method, r.path) for r in github.requests] == [("POST", f"/repos/{REPO}/statuses/{SHA}")]
    # An explicit root wins; without either, it is api.github.com.
    assert GitHub("t", "https://ghe.example.com/api/v3").api_url == "https://ghe.example.com/api/v3"
    monkeypatch.delenv("GITHUB_API_URL")
    assert GitHub("t").api_url == DEFAULT_API_URL == "https://api.github.com"


def test_no_token_is_a_clear_error_before_any_request(github):
    with pytest.raises(GitHubError, match="no GitHub token: set GITHUB_TOKEN"):
        GitHub("", github.api_url)
    assert github.requests == []


# --- the sticky comment ------------------------------------------------------------------


def test_the_sticky_comment_is_created_once_then_updated_in_place(github):
    client = client_of(github)
    first = post_sticky(client, REPO, PR, "## report 1")
    assert first.action == "created"
    (comment,) = github.comments_on(PR)
    assert comment.id == first.comment_id and comment.user.login == ACTIONS_BOT
    assert comment.body == f"{MARK}\n## report 1"
    assert first.url.endswith(f"#issuecomment-{comment.id}")

    second = post_sticky(client, REPO, PR, "## report 2")
    assert second.action == "updated" and second.comment_id == first.comment_id
    (comment,) = github.comments_on(PR)
    assert comment.id == first.comment_id and comment.body == f"{MARK}\n## report 2"
    assert comment_writes(github) == [("POST", f"/repos/{REPO}/issues/{PR}/comments"),
                                      ("PATCH", f"/repos/{REPO}/issues/comments/{comment.id}")]


def test_an_unchanged_body_makes_no_write(github):
    client = client_of(github)
    post_sticky(client, REPO, PR, f"{MARK}\n## report\n")
    writes = len(github.writes())
    assert writes == 1

    again = post_sticky(client, REPO, PR, f"{MARK}\n## report\n")
    assert again.action == "unchanged"
    # Line endings and trailing whitespace do not count as a change either.
    assert post_sticky(client, REPO, PR, f"{MARK}\r\n## report\r\n\n").action == "unchanged"
    assert len(github.writes()) == writes
    assert len(github.requests_to("GET", COMMENTS)) == 4  # before and after the create, then once per run


def test_the_marker_is_found_on_page_2_by_following_the_link_header(github):
    github.seed_comments(PR, 150)
    ours = github.add_comment(PR, f"{MARK}\nold report", author=ACTIONS_BOT)
    client = client_of(github)

    posted = post_sticky(client, REPO, PR, "new report")

    assert posted.action == "updated" and posted.comment_id == ours.id
    assert github.comments[ours.id].body == f"{MARK}\nnew report"
    assert len(github.comments_on(PR)) == 151
    assert comment_writes(github) == [("PATCH", f"/repos/{REPO}/issues/comments/{ours.id}")]
    pages = github.requests_to("GET", COMMENTS)
    assert [r.query.get("page") for r in pages] == [None, "2"]
    assert pages[0].query["per_page"] == "100"
    # The second page was asked for at the URL of the first page's Link: rel="next".
    next_url = re.search(r'<([^>]+)>; rel="next"', pages[0].response.headers["Link"])[1]
    assert github.api_url + pages[1].url == next_url
    assert pages[1].url.startswith("/repositories/")


def test_every_page_is_read_when_the_marked_comment_is_the_very_last(github):
    github.seed_comments(PR, 300)
    ours = github.add_comment(PR, f"{MARK}\nold", author=ACTIONS_BOT)
    assert post_sticky(client_of(github), REPO, PR, "new").comment_id == ours.id
    assert [r.query.get("page") for r in github.requests_to("GET", COMMENTS)] == [None, "2", "3", "4"]
    assert len(github.comments_on(PR)) == 301


def test_a_marked_comment_by_someone_else_is_not_touched(github):
    pasted = github.add_comment(PR, f"Look what I found: {MARK}", author="mallory")
    client = client_of(github)

    posted = post_sticky(client, REPO, PR, "the report")

    assert posted.action == "created" and posted.comment_id != pasted.id
    assert github.comments[pasted.id].body == f"Look what I found: {MARK}"
    assert comment_writes(github) == [("POST", f"/repos/{REPO}/issues/{PR}/comments")]
    assert [c.user.login for c in github.comments_on(PR)] == ["mallory", ACTIONS_BOT]
    # The next run updates its own comment, still not mallory's.
    assert post_sticky(client, REPO, PR, "report 2").comment_id == posted.comment_id
    assert github.comments[pasted.id].body == f"Look what I found: {MARK}"


def test_with_a_personal_token_the_login_comes_from_get_user(github):
    github.token_kind = "pat"
    bots = github.add_comment(PR, f"{MARK}\nby the workflow", author=ACTIONS_BOT)
    mine = github.add_comment(PR, f"{MARK}\nby me", author="octocat")
    client = client_of(github)

    posted = post_sticky(client, REPO, PR, "report")

    assert github.requests[0].operation_id == "users/get-authenticated"
    assert github.requests[0].response.status == 200
    assert posted.action == "updated" and posted.comment_id == mine.id
    assert github.comments[mine.id].body == f"{MARK}\nreport"
    assert github.comments[bots.id].body == f"{MARK}\nby the workflow"


def test_with_the_workflow_token_get_user_is_refused_and_github_actions_bot_is_assumed(github):
    theirs = github.add_comment(PR, f"{MARK}\nby a person", author="octocat")
    posted = post_sticky(client_of(github), REPO, PR, "report")
    assert github.requests[0].operation_id == "users/get-authenticated"
    assert github.requests[0].response.status == 403
    assert posted.action == "created" and github.comments[posted.comment_id].user.login == ACTIONS_BOT
    assert github.comments[theirs.id].body == f"{MARK}\nby a person"


def test_an_explicit_author_skips_get_user(github):
    github.add_comment(PR, f"{MARK}\nold", author="mlship-app[bot]")
    post_sticky(client_of(github), REPO, PR, "new", author="mlship-app[bot]")
    assert github.requests_to("GET", "^/user$") == []
    assert [c.body for c in github.comments_on(PR)] == [f"{MARK}\nnew"]


def test_duplicates_are_healed_to_one_the_oldest_kept_and_updated(github):
    github.seed_comments(PR, 3)
    oldest = github.add_comment(PR, f"{MARK}\nrun A", author=ACTIONS_BOT)
    github.seed_comments(PR, 2)
    newer = github.add_comment(PR, f"{MARK}\nrun B", author=ACTIONS_BOT)

    posted = post_sticky(client_of(github), REPO, PR, "run C")

    assert posted.action == "updated" and posted.comment_id == oldest.id
    assert newer.id not in github.comments
    ours = [c for c in github.comments_on(PR) if MARK in c.body]
    assert [(c.id, c.body) for c in ours] == [(oldest.id, f"{MARK}\nrun C")]
    assert len(github.comments_on(PR)) == 6
    assert comment_writes(github) == [("DELETE", f"/repos/{REPO}/issues/comments/{newer.id}"),
                                      ("PATCH", f"/repos/{REPO}/issues/comments/{oldest.id}")]


def test_a_duplicate_already_deleted_by_a_racing_run_is_not_an_error(github):
    oldest = github.add_comment(PR, f"{MARK}\nrun A", author=ACTIONS_BOT)
    newer = github.add_comment(PR, f"{MARK}\nrun B", author=ACTIONS_BOT)
    github.fail_next("DELETE", rf"/comments/{newer.id}$", 404)
    posted = post_sticky(client_of(github), REPO, PR, "run C")
    assert posted.comment_id == oldest.id and github.comments[oldest.id].body == f"{MARK}\nrun C"


def test_each_key_keeps_its_own_comment(github):
    client = client_of(github)
    report = post_sticky(client, REPO, PR, "report")
    other = post_sticky(client, REPO, PR, "perf", key="perf")
    assert report.comment_id != other.comment_id
    post_sticky(client, REPO, PR, "perf 2", key="perf")
    assert {c.body for c in github.comments_on(PR)} == {f"{MARK}\nreport", "<!-- mlship:perf -->\nperf 2"}


# --- faults: a retry or a clear error, never a duplicate, never a lost report -----------------


def test_a_502_on_listing_comments_is_retried(github):
    github.fail_next("GET", COMMENTS, 502, body="<html><h1>502 Bad Gateway</h1></html>")
    sleeps = Sleeps()
    posted = post_sticky(client_of(github, sleeps=sleeps), REPO, PR, "report")
    assert posted.action == "created"
    assert [r.response.status for r in github.requests_to("GET", COMMENTS)][:2] == [502, 200]
    assert sleeps == [1.0]
    assert len(github.comments_on(PR)) == 1


def test_repeated_5xx_on_a_get_back_off_exponentially_then_fail_clearly(github):
    github.fail_next("GET", COMMENTS, 503, times=10)
    sleeps = Sleeps()
    with pytest.raises(GitHubError) as caught:
        list(client_of(github, sleeps=sleeps).comments(REPO, PR))
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert str(caught.value) == (f"GitHub answered 503 to GET /repos/{REPO}/issues/{PR}/comments: Service Unavailable "
                                 "(gave up after retrying for 31 s)")
    assert caught.value.status == 503


def test_a_502_on_create_looks_again_and_creates_exactly_one_comment(github):
    github.fail_next("POST", COMMENTS, 502)
    sleeps = Sleeps()
    posted = post_sticky(client_of(github, sleeps=sleeps), REPO, PR, "report")

    assert posted.action == "created"
    (comment,) = github.comments_on(PR)
    assert comment.id == posted.comment_id and comment.body == f"{MARK}\nreport"
    assert [(r.method, r.response.status) for r in github.requests if "/comments" in r.path] == [
        ("GET", 200), ("POST", 502), ("GET", 200), ("POST", 201), ("GET", 200)]


def test_a_502_that_hid_a_created_comment_does_not_create_a_second_one(github):
    class CreatedThen502(GitHub):
        """GitHub created the comment, but the answer was lost in a proxy's 502."""

        def create_comment(self, repo, number, body):
            super().create_comment(repo, number, body)
            if not getattr(self, "failed", False):
                self.failed = True
                raise GitHubError("GitHub answered 502 to POST ...: Bad Gateway", 502)

    posted = post_sticky(CreatedThen502(github.token, github.api_url, sleep=Sleeps()), REPO, PR, "report")
    (comment,) = github.comments_on(PR)
    assert posted.comment_id == comment.id and comment.body == f"{MARK}\nreport"
    assert len(github.requests_to("POST", COMMENTS)) == 1


def test_a_create_that_keeps_failing_with_5xx_is_a_clear_error_and_creates_nothing(github):
    github.fail_next("POST", COMMENTS, 502, times=5)
    with pytest.raises(GitHubError) as caught:
        post_sticky(client_of(github), REPO, PR, "report")
    assert str(caught.value) == f"GitHub answered 502 to POST /repos/{REPO}/issues/{PR}/comments: Bad Gateway"
    assert github.comments_on(PR) == []
    assert len(github.requests_to("POST", COMMENTS)) == 3


def test_a_listing_that_lags_behind_the_create_does_not_crash(github):
    github.fail_next("GET", COMMENTS, 200, body=[], times=2)  # the first listing and the one after the create
    posted = post_sticky(client_of(github), REPO, PR, "report")
    (comment,) = github.comments_on(PR)
    assert posted.action == "created" and posted.comment_id == comment.id


def test_a_post_is_never_repeated_by_the_transport_after_a_5xx(github):
    github.fail_next("POST", r"/statuses/", 502)
    sleeps = Sleeps()
    with pytest.raises(GitHubError, match="GitHub answered 502 to POST"):
        client_of(github, sleeps=sleeps).create_status(REPO, SHA, "success", "mlship", "ok")
    assert len(github.requests_to("POST", r"/statuses/")) == 1 and sleeps == [] and github.statuses == []


def test_a_429_with_retry_after_waits_then_succeeds(github):
    """The one test that really waits: Retry-After: 1 is slept, not just recorded."""
    github.fail_next("POST", COMMENTS, 429, headers={"Retry-After": "1"})
    client = GitHub(github.token, github.api_url, max_wait=10)
    started = time.monotonic()
    posted = post_sticky(client, REPO, PR, "report")
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 5.0
    assert posted.action == "created" and len(github.comments_on(PR)) == 1
    assert [r.response.status for r in github.requests_to("POST", COMMENTS)] == [429, 201]


def test_a_secondary_rate_limit_403_with_retry_after_waits_then_succeeds(github):
    github.fail_next_secondary_rate_limit("POST", COMMENTS, retry_after=7)
    sleeps = Sleeps()
    posted = post_sticky(client_of(github, sleeps=sleeps), REPO, PR, "report")
    assert sleeps == [7.0]
    assert posted.action == "created" and len(github.comments_on(PR)) == 1
    assert [r.response.status for r in github.requests_to("POST", COMMENTS)] == [403, 201]


def test_a_secondary_rate_limit_429_with_retry_after_waits_then_succeeds(github):
    github.fail_next_secondary_rate_limit("GET", COMMENTS, retry_after=3, status=429)
    sleeps = Sleeps()
    post_sticky(client_of(github, sleeps=sleeps), REPO, PR, "report")
    assert sleeps == [3.0] and len(github.comments_on(PR)) == 1


def test_a_secondary_rate_limit_with_no_requests_remaining_waits_until_the_reset(github):
    github.fail_next_secondary_rate_limit("POST", COMMENTS, retry_after=None)
    sleeps = Sleeps()
    post_sticky(client_of(github, sleeps=sleeps), REPO, PR, "report")
    (limited, created) = github.requests_to("POST", COMMENTS)
    assert limited.response.status == 403 and limited.response.headers["x-ratelimit-remaining"] == "0"
    assert "Retry-After" not in limited.response.headers
    assert sleeps == [1.0]  # the reset is at most a second away: at least a second
    assert created.response.status == 201 and len(github.comments_on(PR)) == 1


def test_a_primary_rate_limit_waits_until_x_ratelimit_reset(github):
    github.fail_next_primary_rate_limit("GET", COMMENTS, reset_in=30)
    sleeps = Sleeps()
    posted = post_sticky(client_of(github, sleeps=sleeps), REPO, PR, "report")
    (limited, *_) = github.requests_to("GET", COMMENTS)
    reset = int(limited.response.headers["x-ratelimit-reset"])
    assert len(sleeps) == 1 and 28.0 <= sleeps[0] <= 30.0  # until the reset, not a fixed delay
    assert 28.0 <= reset - time.time() <= 30.5
    assert posted.action == "created"


def test_a_rate_limit_that_outlasts_max_wait_is_a_clear_error_at_once(github):
    github.fail_next_secondary_rate_limit("POST", COMMENTS, retry_after=3600)
    client = GitHub(github.token, github.api_url, max_wait=5)  # sleeps for real, if it sleeps
    started = time.monotonic()
    with pytest.raises(GitHubError) as caught:
        post_sticky(client, REPO, PR, "report")
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert message.startswith(f"GitHub answered 403 to POST /repos/{REPO}/issues/{PR}/comments: "
                              "You have exceeded a secondary rate limit.")
    assert message.endswith("(gave up after retrying for 0 s)")
    assert github.comments_on(PR) == []


def test_the_total_wait_is_bounded_across_retries(github):
    github.fail_next_secondary_rate_limit("GET", COMMENTS, retry_after=2, times=20)
    sleeps = Sleeps()
    with pytest.raises(GitHubError, match=r"secondary rate limit.*\(gave up after retrying for 6 s\)$"):
        list(client_of(github, max_wait=7, sleeps=sleeps).comments(REPO, PR))
    assert sleeps == [2.0, 2.0, 2.0] and sum(sleeps) <= 7


def test_a_rate_limit_without_any_hint_waits_a_minute_within_the_bound(github):
    github.fail_next("GET", COMMENTS, 429, body={"message": "Too Many Requests"}, times=5)
    sleeps = Sleeps()
    with pytest.raises(GitHubError, match=r"GitHub answered 429 .*gave up after retrying for 60 s"):
        list(client_of(github, sleeps=sleeps).comments(REPO, PR))
    assert sleeps == [60.0]


def test_a_retry_after_given_as_an_http_date_is_a_wait_or_a_clear_error(github):
    github.fail_next("GET", COMMENTS, 429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    try:
        list(client_of(github).comments(REPO, PR))
    except GitHubError:
        pass


def test_a_too_long_body_is_a_clear_error_with_githubs_message(github):
    with pytest.raises(GitHubError) as caught:
        post_sticky(client_of(github), REPO, PR, "x" * 70_000)
    assert str(caught.value) == (f"GitHub rejected POST /repos/{REPO}/issues/{PR}/comments (422 Validation Failed): "
                                 "body is too long (maximum is 65536 characters)")
    assert caught.value.status == 422
    assert github.comments_on(PR) == []


def test_a_bad_token_is_a_clear_error_about_the_token(github):
    for kind in ("actions", "pat"):
        github.token_kind = kind
        with pytest.raises(GitHubError) as caught:
            post_sticky(client_of(github, token="ghp_not_the_right_one"), REPO, PR, "report")
        assert str(caught.value).startswith("GitHub rejected the token (401 Bad credentials): "
                                            "set GITHUB_TOKEN to a valid token")
        assert caught.value.status == 401
    assert github.writes() == [] and github.comments == {}


@pytest.mark.parametrize(("call", "permission"), [
    (lambda c: post_sticky(c, REPO, PR, "report"), "pull-requests: write"),
    (lambda c: c.create_status(REPO, SHA, "success", "mlship", "ok"), "statuses: write"),
    (lambda c: publish_verdict(c, REPO, SHA, True, "ok", "summary", kind="check"), "checks: write"),
    (lambda c: publish_verdict(c, REPO, SHA, True, "ok", "summary"), "statuses: write"),
    (lambda c: c.create_release(REPO, "v1", "v1", "notes"), "contents: write"),
], ids=["comment", "status", "check-run", "auto-verdict", "release"])
def test_a_read_only_token_names_the_permission_line_to_add(github, call, permission):
    github.read_only = True
    with pytest.raises(GitHubError) as caught:
        call(client_of(github))
    message = str(caught.value)
    assert "Resource not accessible by integration" in message
    assert message.endswith(f"add `{permission}` under `permissions:` in the workflow job")
    assert caught.value.status == 403
    assert github.comments == {} and github.statuses == [] and github.check_runs == [] and github.releases == {}


def test_a_404_says_what_to_check(github):
    github.fail_next("GET", COMMENTS, 404)
    with pytest.raises(GitHubError) as caught:
        post_sticky(client_of(github), REPO, PR, "report")
    assert str(caught.value) == (
        f"GitHub found nothing at GET /repos/{REPO}/issues/{PR}/comments (404): check the repository and the pull "
        "request number, and that the token can reach them (a workflow's GITHUB_TOKEN reaches only its own "
        "repository)")
    assert github.writes() == []


def test_an_unreachable_github_is_a_clear_error_after_bounded_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = GitHub("ghs_secret_token", f"http://127.0.0.1:{port}", max_wait=10, sleep=sleeps)
    with pytest.raises(GitHubError) as caught:
        list(client.comments(REPO, PR))
    assert str(caught.value) == f"cannot reach GitHub at 127.0.0.1:{port}: ConnectionError"
    assert sleeps == [1.0, 2.0, 4.0] and sum(sleeps) <= 10
    # A POST is not repeated: it may have been carried out.
    sleeps.clear()
    with pytest.raises(GitHubError, match="cannot reach GitHub"):
        client.create_status(REPO, SHA, "success", "mlship", "ok")
    assert sleeps == []


# --- the token never shows ---------------------------------------------------------------


def test_the_token_is_not_in_the_clients_repr(github):
    client = client_of(github)
    assert repr(client) == f"GitHub(api_url={github.api_url!r})"
    assert_no_token(github.token, repr(client), str(client), repr(vars(client).get("api_url")))


FAULTS = {
    "502-then-ok": lambda g: g.fail_next("GET", COMMENTS, 502),
    "502-always": lambda g: g.fail_next("*", COMMENTS, 502, times=50),
    "429": lambda g: g.fail_next("POST", COMMENTS, 429, headers={"Retry-After": "1"}),
    "secondary-403": lambda g: g.fail_next_secondary_rate_limit("POST", COMMENTS, retry_after=3600),
    "primary-403": lambda g: g.fail_next_primary_rate_limit("GET", COMMENTS, reset_in=3600),
    "422": lambda g: g.fail_next("POST", COMMENTS, 422, body={
        "message": "Validation Failed", "errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                                                    "message": "body is too long"}]}),
    "401": lambda g: setattr(g, "token", "ghs_rotated"),
    "read-only": lambda g: setattr(g, "read_only", True),
    "404": lambda g: g.fail_next("GET", COMMENTS, 404),
    "500-html": lambda g: g.fail_next("POST", COMMENTS, 500, body="<html>Internal Server Error</html>", times=5),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_token_is_in_no_error_message_or_repr(github, fault):
    token = github.token
    FAULTS[fault](github)
    client = GitHub(token, github.api_url, max_wait=5, sleep=Sleeps())
    try:
        post_sticky(client, REPO, PR, "report")
        publish_verdict(client, REPO, SHA, True, "ok", "summary")
    except GitHubError as error:
        assert_no_token(token, *error_texts(error))
        assert str(error)  # a message, not an empty error
    assert_no_token(token, repr(client))


def test_a_response_body_that_echoes_the_token_is_scrubbed(github):
    token = github.token
    github.fail_next("POST", COMMENTS, 400, body={"message": f"Problems parsing token {token}"})
    with pytest.raises(GitHubError) as caught:
        post_sticky(client_of(github), REPO, PR, "report")
    assert str(caught.value) == f"GitHub answered 400 to POST /repos/{REPO}/issues/{PR}/comments: Problems parsing token ***"

    github.fail_next("POST", COMMENTS, 422, body={
        "message": f"Validation Failed for {token}",
        "errors": [{"resource": "IssueComment", "code": "custom", "field": "body", "message": f"{token} is bad"},
                   f"raw {token}"]})
    with pytest.raises(GitHubError) as caught:
        post_sticky(client_of(github), REPO, PR, "report")
    assert str(caught.value) == (f"GitHub rejected POST /repos/{REPO}/issues/{PR}/comments "
                                 "(422 Validation Failed for ***): *** is bad; raw ***")
    for text in error_texts(caught.value):
        assert token not in text


def test_a_token_with_a_stray_newline_is_a_clear_error_without_the_token(github):
    token = github.token + "\n"
    try:
        post_sticky(GitHub(token, github.api_url, sleep=Sleeps()), REPO, PR, "report")
    except GitHubError as error:
        texts = error_texts(error)
    except Exception as error:  # noqa: BLE001 - what escapes is the point
        texts = error_texts(error) + ["not a GitHubError"]
    else:
        texts = []
    assert all(github.token not in text for text in texts)
    assert "not a GitHubError" not in texts


# --- the verdict ---------------------------------------------------------------------------


def test_the_verdict_is_a_check_run_when_the_token_may_create_one(github):
    client = client_of(github)
    made = publish_verdict(client, REPO, SHA, False, "❌ 1 of 1 model failed", "## the report",
                           "https://github.com/acme/models/actions/runs/1")
    assert made == "check run"
    (run,) = github.check_runs
    assert run.request == {"name": "mlship", "head_sha": SHA, "status": "completed", "conclusion": "failure",
                           "output": {"title": "❌ 1 of 1 model failed", "summary": "## the report"},
                           "details_url": "https://github.com/acme/models/actions/runs/1"}
    assert github.statuses == []
    assert publish_verdict(client, REPO, SHA, True, "✅ passed", "ok") == "check run"
    assert github.check_runs[1].request["conclusion"] == "success"
    assert "details_url" not in github.check_runs[1].request


def test_a_long_report_is_cut_to_the_check_runs_limits(github):
    publish_verdict(client_of(github), REPO, SHA, True, "t" * 300, "s" * 70_000)
    output = github.check_runs[0].request["output"]
    assert len(output["title"]) == 255 and len(output["summary"]) == 65_535


@pytest.mark.parametrize("token_kind", ["actions", "pat"])
def test_without_checks_write_auto_falls_back_to_a_commit_status(github, token_kind):
    github.token_kind = token_kind
    github.check_runs_allowed = False
    title = "❌ mlship: " + "a very long headline " * 10
    made = publish_verdict(client_of(github), REPO, SHA, False, title, "report",
                           "https://github.com/acme/models/actions/runs/1")
    assert made == "commit status"
    assert github.check_runs == []
    (status,) = github.statuses
    assert (status.sha, status.state, status.context) == (SHA, "failure", "mlship")
    assert status.description == title[:140] and len(status.description) == 140
    assert status.target_url == "https://github.com/acme/models/actions/runs/1"
    assert [r.response.status for r in github.requests_to("POST", "/check-runs")] == [403]


def test_verdict_status_forces_a_commit_status(github):
    made = publish_verdict(client_of(github), REPO, SHA, True, "✅ passed", "report", kind="status")
    assert made == "commit status"
    assert github.requests_to("POST", "/check-runs") == [] and github.check_runs == []
    assert [(s.state, s.context, s.description) for s in github.statuses] == [("success", "mlship", "✅ passed")]


def test_verdict_check_does_not_fall_back(github):
    github.check_runs_allowed = False
    with pytest.raises(GitHubError, match="add `checks: write`"):
        publish_verdict(client_of(github), REPO, SHA, True, "ok", "report", kind="check")
    assert github.statuses == []


def test_a_verdict_failing_for_another_reason_than_permission_is_not_hidden_by_a_status(github):
    github.fail_next("POST", "/check-runs", 422, body={"message": "Validation Failed"})
    with pytest.raises(GitHubError, match="422 Validation Failed"):
        publish_verdict(client_of(github), REPO, SHA, True, "ok", "report")
    assert github.statuses == []


# --- releases --------------------------------------------------------------------------------


def test_a_release_is_created_and_found_by_its_tag(github):
    client = client_of(github)
    created = client.create_release(REPO, "churn-v1", "churn v1", "approved at abc1234")
    stored = github.release_by_tag("churn-v1")
    assert stored is not None and created["id"] == stored.id
    assert (stored.name, stored.body) == ("churn v1", "approved at abc1234")

    found = client.release_by_tag(REPO, "churn-v1")
    assert found["id"] == created["id"] and found["tag_name"] == "churn-v1"
    assert client.release_by_tag(REPO, "churn-v2") is None
    # A tag with slashes (GitHub's multi-segment parameter).
    nested = client.create_release(REPO, "models/churn/v1", "nested", "")
    assert client.release_by_tag(REPO, "models/churn/v1")["id"] == nested["id"]


def test_creating_a_release_for_an_existing_tag_is_a_clear_error(github):
    client = client_of(github)
    client.create_release(REPO, "v1", "v1", "")
    with pytest.raises(GitHubError) as caught:
        client.create_release(REPO, "v1", "v1", "")
    assert str(caught.value) == f"GitHub rejected POST /repos/{REPO}/releases (422 Validation Failed): tag_name already_exists"


def test_a_tag_with_a_hash_is_looked_up_as_itself(github):
    github.add_release("churn")
    found = client_of(github).release_by_tag(REPO, "churn#2")
    assert found is None or found["tag_name"] == "churn#2"


def test_an_asset_is_uploaded_through_upload_url_and_downloaded_through_the_redirect(github, tmp_path):
    client = client_of(github)
    release = client.create_release(REPO, "churn-v1", "churn v1", "")
    payload = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: more than one chunk
    source = tmp_path / "model.pkl"
    source.write_bytes(payload)

    asset = client.upload_asset(release, source, content_type="application/x-python-pickle")

    (upload,) = github.requests_to("POST", "/uploads/")
    assert upload.operation_id == "repos/upload-release-asset"
    assert upload.query == {"name": "model.pkl"}
    assert upload.url.split("?")[0] == release["upload_url"].split("{")[0].removeprefix(github.api_url)
    stored = github.release_by_tag("churn-v1").assets
    assert [(a.name, a.content_type, a.data) for a in stored] == [("model.pkl", "application/x-python-pickle", payload)]
    assert asset["id"] == stored[0].id and asset["size"] == len(payload)

    destination = tmp_path / "downloads" / "nested" / "model.pkl"
    assert client.download_asset(REPO, asset["id"], destination) == destination
    assert destination.read_bytes() == payload
    assert sorted(p.name for p in destination.parent.iterdir()) == ["model.pkl"]
    api_get, storage_get = github.requests[-2:]
    assert api_get.operation_id == "repos/get-release-asset" and api_get.response.status == 302
    assert api_get.headers["Accept"] == "application/octet-stream"
    assert storage_get.path == f"/storage/assets/{asset['id']}" and storage_get.response.status == 200

    renamed = client.upload_asset(release, source, name="churn.pkl")
    assert renamed["name"] == "churn.pkl"
    with pytest.raises(GitHubError, match=r"\(422 Validation Failed\): name already_exists"):
        client.upload_asset(release, source)


def test_a_failed_download_leaves_no_file_and_keeps_the_old_one(github, tmp_path):
    client = client_of(github)
    release = github.add_release("v1", assets={"model.pkl": b"new model"})
    asset_id = release.assets[0].id
    folder = tmp_path / "downloads"

    github.fail_next("GET", r"^/storage/", 403, body="<Error><Code>AccessDenied</Code></Error>")
    with pytest.raises(GitHubError, match=rf"GitHub answered 403 to GET /repos/{REPO}/releases/assets/{asset_id}"):
        client.download_asset(REPO, asset_id, folder / "model.pkl")
    assert not folder.exists() or list(folder.iterdir()) == []

    folder.mkdir(exist_ok=True)
    (folder / "model.pkl").write_bytes(b"old model")
    with pytest.raises(GitHubError, match="404"):
        client.download_asset(REPO, asset_id + 1000, folder / "model.pkl")
    github.fail_next("GET", r"^/storage/", 403)
    with pytest.raises(GitHubError):
        client.download_asset(REPO, asset_id, folder / "model.pkl")
    assert [p.name for p in folder.iterdir()] == ["model.pkl"]
    assert (folder / "model.pkl").read_bytes() == b"old model"

    client.download_asset(REPO, asset_id, folder / "model.pkl")
    assert (folder / "model.pkl").read_bytes() == b"new model"


class CutOffDownloads(GitHub):
    """The connection drops after the first bytes of a streamed download, as a truncated body does."""

    def request(self, method, url, **kwargs):
        response = super().request(method, url, **kwargs)
        if kwargs.get("stream"):
            response.content  # read off the wire, so the connection is closed cleanly  # noqa: B018
            def cut_off(chunk_size=1, decode_unicode=False):
                yield b"the first bytes"
                raise requests.exceptions.ChunkedEncodingError(
                    "('Connection broken: IncompleteRead(15 bytes read, 985 more expected)')")
            response.iter_content = cut_off
        return response


def test_a_download_cut_off_midway_leaves_no_partial_file(github, tmp_path):
    release = github.add_release("v1", assets={"model.pkl": b"x" * 1000})
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"old model")
    client = CutOffDownloads(github.token, github.api_url, sleep=Sleeps())
    with pytest.raises(Exception):  # noqa: B017 - which exception is the next test's concern
        client.download_asset(REPO, release.assets[0].id, folder / "model.pkl")
    assert [p.name for p in folder.iterdir()] == ["model.pkl"]
    assert (folder / "model.pkl").read_bytes() == b"old model"


def test_a_download_cut_off_midway_is_a_clear_error(github, tmp_path):
    release = github.add_release("v1", assets={"model.pkl": b"x" * 1000})
    client = CutOffDownloads(github.token, github.api_url, sleep=Sleeps())
    with pytest.raises(GitHubError):
        client.download_asset(REPO, release.assets[0].id, tmp_path / "model.pkl")


# --- the run context -------------------------------------------------------------------------


def pull_request_event(tmp_path: Path, *, head_repo: object = REPO, base_repo: str = REPO, number: int = 12) -> Path:
    event = {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": "feature", "sha": "b" * 40, "repo": {"full_name": head_repo} if head_repo else None},
            "base": {"ref": "main", "sha": "c" * 40, "repo": {"full_name": base_repo}},
        },
        "repository": {"full_name": base_repo},
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def actions_env(event: Path | None, **extra: str) -> dict[str, str]:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": REPO, "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_RUN_ID": "4242", "GITHUB_SHA": "d" * 40, **extra}
    if event is not None:
        env["GITHUB_EVENT_PATH"] = str(event)
    return env


def test_the_run_context_comes_from_the_environment_and_the_event_payload(tmp_path):
    context = RunContext.from_env(actions_env(pull_request_event(tmp_path)))
    assert context == RunContext(repository=REPO, pr_number=12, base_sha="c" * 40, head_sha="b" * 40,
                                 is_fork=False, run_url="https://github.com/acme/models/actions/runs/4242",
                                 in_actions=True)


def test_the_run_context_reads_os_environ_by_default(tmp_path, monkeypatch):
    for name, value in actions_env(pull_request_event(tmp_path)).items():
        monkeypatch.setenv(name, value)
    assert RunContext.from_env().pr_number == 12 and RunContext.from_env().in_actions


def test_a_pull_request_from_another_repository_is_a_fork(tmp_path):
    context = RunContext.from_env(actions_env(pull_request_event(tmp_path, head_repo="mallory/models")))
    assert context.is_fork and context.pr_number == 12 and context.repository == REPO


def test_a_pull_request_from_a_deleted_fork_is_a_fork(tmp_path):
    context = RunContext.from_env(actions_env(pull_request_event(tmp_path, head_repo=None)))
    assert context.is_fork and context.head_sha == "b" * 40


def test_outside_a_pull_request_there_is_no_pr_and_no_fork(tmp_path):
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "after": "e" * 40}))
    context = RunContext.from_env(actions_env(push))
    assert (context.pr_number, context.is_fork, context.head_sha, context.base_sha) == (None, False, "d" * 40, None)
    assert RunContext.from_env({}) == RunContext()
    # No run link without all three parts.
    assert RunContext.from_env({"GITHUB_REPOSITORY": REPO, "GITHUB_RUN_ID": "1"}).run_url is None


def test_explicit_values_override_the_environment(tmp_path):
    context = RunContext.from_env(actions_env(pull_request_event(tmp_path)))
    overridden = context.overridden(repository="other/repo", pr_number=99, head_sha="f" * 40)
    assert (overridden.repository, overridden.pr_number, overridden.head_sha) == ("other/repo", 99, "f" * 40)
    assert overridden.base_sha == "c" * 40 and overridden.run_url == context.run_url
    # None means "not given": the environment's value stays.
    assert context.overridden(repository=None, pr_number=None, head_sha=None) == context


def test_an_event_payload_that_is_not_json_is_a_clear_error(tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"pull_request": {"number": 12,')
    with pytest.raises(MlshipError, match=rf"the event payload {re.escape(str(event))} \(GITHUB_EVENT_PATH\) is not "
                                          "valid JSON"):
        RunContext.from_env(actions_env(event))
    event.write_bytes(b"\xff\xfe{}")
    with pytest.raises(MlshipError, match="is not valid JSON"):
        RunContext.from_env(actions_env(event))


@pytest.mark.parametrize("event", [
    {"pull_request": "12"},
    {"pull_request": {"number": 12, "head": ["sha"]}},
    {"pull_request": {"number": 12, "head": {"sha": "b" * 40, "repo": "mallory/models"}}},
], ids=["pull_request-string", "head-list", "repo-string"])
def test_an_event_payload_of_the_wrong_shape_is_a_clear_error(tmp_path, event):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    with pytest.raises(MlshipError, match="GITHUB_EVENT_PATH"):
        RunContext.from_env(actions_env(path))


# --- annotations and the step summary ----------------------------------------------------------


def test_annotation_escapes_the_message_and_the_properties(factory):
    spec = factory.root / "models" / "a:b,c%d" / "model.yaml"
    problem = Problem(Location(spec, 7, "gates.roc_auc"), "100% wrong:\r\nsee a, b\nand c")
    assert annotation(problem) == ("::error file=models/a%3Ab%2Cc%25d/model.yaml,title=mlship,line=7::"
                                   "gates.roc_auc: 100%25 wrong:%0D%0Asee a, b%0Aand c")
    assert annotation(problem, level="warning", title="mlship: spec, data") == (
        "::warning file=models/a%3Ab%2Cc%25d/model.yaml,title=mlship%3A spec%2C data,line=7::"
        "gates.roc_auc: 100%25 wrong:%0D%0Asee a, b%0Aand c")


def test_annotation_without_a_line_or_field(factory):
    problem = Problem(Location(factory.root / "models" / "churn" / "model.yaml"), "no such file")
    assert annotation(problem) == "::error file=models/churn/model.yaml,title=mlship::no such file"


def test_the_step_summary_is_appended_to(tmp_path):
    summary = tmp_path / "summary.md"
    assert write_step_summary("# first", {}) is False
    assert write_step_summary("# first", {"GITHUB_STEP_SUMMARY": str(summary)}) is True
    assert write_step_summary("# second\n", {"GITHUB_STEP_SUMMARY": str(summary)}) is True
    assert summary.read_text(encoding="utf-8") == "# first\n# second\n"


def test_the_step_summary_respects_the_1_mib_limit(tmp_path):
    summary = tmp_path / "summary.md"
    report = "| métrique | ✅ |\n" * 120_000  # multi-byte characters, well over 1 MiB
    assert len(report.encode()) > 2 * STEP_SUMMARY_LIMIT
    write_step_summary(report, {"GITHUB_STEP_SUMMARY": str(summary)})
    written = summary.read_bytes()
    assert STEP_SUMMARY_LIMIT - 64 <= len(written) <= STEP_SUMMARY_LIMIT == 1024 * 1024
    text = written.decode("utf-8")  # not cut in the middle of a character
    assert text.startswith("| métrique | ✅ |\n")
    assert text.endswith("> ⚠️ Cut to fit the step summary's 1 MiB limit; the full report is in the run's "
                         "artifacts.\n")
    # A summary of exactly the limit is kept whole.
    exact = tmp_path / "exact.md"
    body = "x" * (STEP_SUMMARY_LIMIT - 1) + "\n"
    write_step_summary(body, {"GITHUB_STEP_SUMMARY": str(exact)})
    assert exact.read_text() == body


def test_appending_to_a_summary_never_grows_it_past_the_limit(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("y" * (STEP_SUMMARY_LIMIT // 2))
    write_step_summary("z" * (STEP_SUMMARY_LIMIT - 1000), {"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.stat().st_size <= STEP_SUMMARY_LIMIT


# --- issues and pull requests ----------------------------------------------------------------


def test_issues_are_listed_oldest_first_across_pages_filtered_by_label_and_open(github):
    for number in range(130):
        github.add_issue(f"tracked {number}", labels=["mlship-drift"], author="alice")
    github.add_issue("untracked", labels=["bug"])
    github.add_issue("closed", labels=["mlship-drift"], state="closed")

    found = list(client_of(github).issues(REPO, labels=["mlship-drift"]))

    assert [issue["title"] for issue in found] == [f"tracked {n}" for n in range(130)]
    pages = github.requests_to("GET", r"/issues$")
    assert [r.query.get("page") for r in pages] == [None, "2"]
    assert pages[0].query == {"state": "open", "sort": "created", "direction": "asc", "labels": "mlship-drift",
                              "per_page": "100"}
    assert all(r.operation_id == "issues/list-for-repo" for r in pages)


def test_the_issue_list_holds_pull_requests_too_marked_by_their_pull_request_key(github):
    github.add_issue("an issue")
    github.add_pull_request(2, SHA)
    issues = list(client_of(github).issues(REPO))
    assert [("pull_request" in issue, issue["number"]) for issue in issues] == [(False, 1), (True, 2)]


def test_an_issue_is_created_with_its_labels_then_updated_and_closed_as_a_duplicate(github):
    client = client_of(github)
    first = client.create_issue(REPO, "Data drift: churn", "report 1", ["mlship-drift"])
    second = client.create_issue(REPO, "Data drift: churn", "report 2", ["mlship-drift"])
    assert (first["number"], second["number"]) == (1, 2)
    assert [label["name"] for label in first["labels"]] == ["mlship-drift"]
    assert first["user"]["login"] == ACTIONS_BOT
    assert list(github.labels) == [(REPO, "mlship-drift")]  # created by GitHub on first use

    updated = client.update_issue(REPO, 1, body="report 3")
    closed = client.update_issue(REPO, 2, state="closed", state_reason="duplicate", duplicate_of=first["id"])

    assert updated["body"] == "report 3" and updated["state"] == "open"
    assert (closed["state"], closed["state_reason"]) == ("closed", "duplicate")
    (kept,) = github.issues_in(state="open")
    assert kept.number == 1 and github.issues[(REPO, 2)].duplicate_of == first["id"]
    assert [r.operation_id for r in github.writes()] == ["issues/create", "issues/create", "issues/update",
                                                         "issues/update"]
    assert github.requests_to("PATCH", r"/issues/2$")[0].json() == {
        "state": "closed", "state_reason": "duplicate", "duplicate_issue_id": first["id"]}


def test_an_issue_closed_as_a_duplicate_of_an_unknown_issue_is_refused(github):
    github.add_issue("one")
    with pytest.raises(GitHubError, match=r"422 Validation Failed\): duplicate_issue_id invalid"):
        client_of(github).update_issue(REPO, 1, state="closed", state_reason="duplicate", duplicate_of=12345)
    assert github.issues[(REPO, 1)].state == "open"


def test_creating_an_issue_without_issues_write_names_the_permission(github):
    github.read_only = True
    with pytest.raises(GitHubError, match=r"add `issues: write` under `permissions:`"):
        client_of(github).create_issue(REPO, "Data drift: churn", "report")
    assert github.issues_in() == []


def pushed_branches(tmp_path: Path, github: FakeGitHub) -> dict[str, str]:
    """A bare repository (GitHub's copy of the code) with `main` and a branch `retrain` one commit ahead."""
    from repo_helpers import commit_all, git

    work, remote = tmp_path / "work", tmp_path / "remote.git"
    work.mkdir()
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(work, "init", "-q", "-b", "main")
    (work / "data.csv").write_text("a,b\n1,2\n")
    main = commit_all(work, "initial")
    git(work, "checkout", "-q", "-b", "retrain")
    (work / "data.csv").write_text("a,b\n1,2\n3,4\n")
    retrain = commit_all(work, "new data")
    git(work, "push", "-q", str(remote), "main", "retrain")
    github.git_remote = remote
    return {"main": main, "retrain": retrain}


def test_a_pull_request_is_opened_from_a_pushed_branch(github, tmp_path):
    commits = pushed_branches(tmp_path, github)
    github.add_issue("an earlier issue")

    pull = client_of(github).create_pull_request(REPO, "Retrain churn", "retrain", "main", "why")

    assert pull["number"] == 2  # issues and pull requests share the numbers
    assert pull["html_url"] == f"https://github.com/{REPO}/pull/2"
    assert (pull["head"]["ref"], pull["head"]["sha"]) == ("retrain", commits["retrain"])
    assert (pull["base"]["ref"], pull["base"]["sha"]) == ("main", commits["main"])
    assert (pull["title"], pull["body"], pull["user"]["login"]) == ("Retrain churn", "why", ACTIONS_BOT)
    (request,) = github.requests_to("POST", r"/pulls$")
    assert request.operation_id == "pulls/create"
    assert request.json() == {"title": "Retrain churn", "head": "retrain", "base": "main", "body": "why"}
    assert client_of(github).pull_request(REPO, 2)["head"]["sha"] == commits["retrain"]


@pytest.mark.parametrize("head, base, message", [
    ("missing", "main", r"\(422 Validation Failed\): head invalid"),
    ("retrain", "missing", r"\(422 Validation Failed\): base invalid"),
    ("main", "retrain", r"\(422 Validation Failed\): No commits between retrain and main"),
])
def test_a_pull_request_github_cannot_open_is_a_clear_error(github, tmp_path, head, base, message):
    pushed_branches(tmp_path, github)
    with pytest.raises(GitHubError, match=message):
        client_of(github).create_pull_request(REPO, "t", head, base, "b")
    assert github.pull_requests_in() == []


def test_a_second_pull_request_for_the_same_branches_is_refused(github, tmp_path):
    pushed_branches(tmp_path, github)
    client = client_of(github)
    client.create_pull_request(REPO, "t", "retrain", "main", "b")
    with pytest.raises(GitHubError, match=r"A pull request already exists for acme:retrain\."):
        client.create_pull_request(REPO, "t", "acme:retrain", "main", "b")
    assert len(github.pull_requests_in()) == 1


def test_a_workflow_token_refused_by_the_repository_setting_says_which_setting_or_token_to_use(github, tmp_path):
    pushed_branches(tmp_path, github)
    github.actions_may_create_pull_requests = False
    with pytest.raises(GitHubError) as caught:
        client_of(github).create_pull_request(REPO, "t", "retrain", "main", "b")
    message = str(caught.value)
    assert message.startswith(f"GitHub answered 403 to POST /repos/{REPO}/pulls: GitHub Actions is not permitted to "
                              "create or approve pull requests.")
    assert "Allow GitHub Actions to create and approve pull requests" in message
    assert "personal access token or a GitHub App token" in message
    assert caught.value.status == 403 and github.pull_requests_in() == []
