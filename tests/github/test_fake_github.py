"""The fake GitHub itself, driven with plain ``requests``: state, pagination, faults, auth and contract checks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import pytest
import requests

import fake_github
from fake_github import FakeGitHub, GitHubContract

REPO = "acme/models"
PR = 7


def session(github: FakeGitHub, token: str | None = None) -> requests.Session:
    """A client session with the headers GitHub documents."""
    client = requests.Session()
    client.headers.update({
        "Authorization": f"Bearer {token or github.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    })
    return client


def api(github: FakeGitHub, path: str) -> str:
    return f"{github.api_url}/repos/{REPO}{path}"


@pytest.fixture
def client(github: FakeGitHub) -> requests.Session:
    return session(github)


def expand_upload_url(template: str, name: str, label: str | None = None) -> str:
    """RFC 6570 expansion of GitHub's ``.../assets{?name,label}``."""
    query = {"name": name, **({"label": label} if label else {})}
    return template.replace("{?name,label}", "?" + urlencode(query))


# --- the API description --------------------------------------------------------------


def test_the_description_is_cached_in_the_repository(github_contract: GitHubContract) -> None:
    path = fake_github.github_openapi_path()
    repository_root = Path(__file__).resolve().parents[2]
    assert path == repository_root / ".cache" / "octokit-openapi-23.0.2" / "api.github.com.json"
    assert (path.parent / "LICENSE").is_file()
    assert github_contract.spec["openapi"] == "3.0.3"
    assert len(github_contract.spec["paths"]) == 811


def test_fetching_without_npm_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake_github, "CACHE_ROOT", tmp_path / "missing")
    monkeypatch.setattr(fake_github.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"npm is needed once .*@octokit/openapi@23\.0\.2"):
        fake_github.github_openapi_path()


# --- comments -------------------------------------------------------------------------


def test_comment_round_trip(github: FakeGitHub, client: requests.Session) -> None:
    created = client.post(api(github, f"/issues/{PR}/comments"), json={"body": "Model report"})
    assert created.status_code == 201
    comment = created.json()
    assert comment["body"] == "Model report"
    assert comment["user"] == {**comment["user"], "login": "github-actions[bot]", "type": "Bot"}
    assert comment["id"] > 2**31  # as on github.com
    assert comment["url"] == created.headers["Location"] == api(github, f"/issues/comments/{comment['id']}")
    assert comment["html_url"].endswith(f"/{REPO}/issues/{PR}#issuecomment-{comment['id']}")
    assert comment["created_at"].endswith("Z") and comment["node_id"]

    listed = client.get(api(github, f"/issues/{PR}/comments"))
    assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [comment["id"]]
    assert "Link" not in listed.headers  # a single page

    updated = client.patch(api(github, f"/issues/comments/{comment['id']}"), json={"body": "Model report v2"})
    assert updated.status_code == 200 and updated.json()["body"] == "Model report v2"
    assert [c.body for c in github.comments_on(PR)] == ["Model report v2"]

    deleted = client.delete(api(github, f"/issues/comments/{comment['id']}"))
    assert deleted.status_code == 204 and deleted.content == b""
    assert github.comments_on(PR) == []
    assert client.delete(api(github, f"/issues/comments/{comment['id']}")).status_code == 404

    assert [(r.method, r.operation_id) for r in github.writes()] == [
        ("POST", "issues/create-comment"), ("PATCH", "issues/update-comment"),
        ("DELETE", "issues/delete-comment"), ("DELETE", "issues/delete-comment"),
    ]
    assert github.requests[0].json() == {"body": "Model report"}
    assert github.requests[0].headers["authorization"] == f"Bearer {github.token}"
    assert github.response_violations == []


def test_a_personal_access_token_is_a_user(github: FakeGitHub, client: requests.Session) -> None:
    github.token_kind, github.user_login = "pat", "mona"
    me = client.get(f"{github.api_url}/user")
    assert me.status_code == 200
    assert (me.json()["login"], me.json()["type"]) == ("mona", "User")
    comment = client.post(api(github, f"/issues/{PR}/comments"), json={"body": "hi"}).json()
    assert comment["user"]["login"] == "mona" and comment["user"]["id"] == me.json()["id"]


def test_an_actions_token_has_no_user(github: FakeGitHub, client: requests.Session) -> None:
    me = client.get(f"{github.api_url}/user")
    assert me.status_code == 403
    assert me.json()["message"] == "Resource not accessible by integration"
    assert me.json()["documentation_url"].startswith("https://docs.github.com/rest/users/")


@pytest.mark.parametrize("length, status", [(65_536, 201), (65_537, 422)])
def test_comment_length_limit(github: FakeGitHub, client: requests.Session, length: int, status: int) -> None:
    created = client.post(api(github, f"/issues/{PR}/comments"), json={"body": "x" * length})
    assert created.status_code == status
    if status == 422:
        assert created.json()["message"] == "Validation Failed"
        assert created.json()["errors"] == [{
            "resource": "IssueComment", "code": "custom", "field": "body",
            "message": "body is too long (maximum is 65536 characters)",
        }]
        assert github.comments_on(PR) == []


def test_comment_length_limit_on_update(github: FakeGitHub, client: requests.Session) -> None:
    comment = github.add_comment(PR, "short")
    updated = client.patch(api(github, f"/issues/comments/{comment.id}"), json={"body": "é" * 65_537})
    assert updated.status_code == 422
    assert updated.json()["errors"][0]["message"] == "body is too long (maximum is 65536 characters)"
    assert github.comments[comment.id].body == "short"


# --- pagination -----------------------------------------------------------------------


def links(response: requests.Response) -> dict[str, str]:
    return {rel: link["url"] for rel, link in response.links.items()}


def test_pagination_over_150_comments(github: FakeGitHub, client: requests.Session) -> None:
    seeded = github.seed_comments(PR, 150)
    assert {c.user.login for c in seeded} == {"alice", "bob", "carol"}

    first = client.get(api(github, f"/issues/{PR}/comments"))  # 30 a page by default
    assert len(first.json()) == 30
    assert set(links(first)) == {"next", "last"}
    base = f"{github.api_url}/repositories/"  # GitHub's Link URLs use the repository's id
    assert links(first)["next"].startswith(base) and links(first)["next"].endswith("/issues/7/comments?page=2")
    assert links(first)["last"].endswith("?page=5")

    middle = client.get(links(first)["next"])
    assert set(links(middle)) == {"prev", "next", "last", "first"}
    assert [links(middle)[rel].rsplit("=", 1)[1] for rel in ("prev", "next", "last", "first")] == ["1", "3", "5", "1"]
    assert middle.headers["Link"].index('rel="prev"') < middle.headers["Link"].index('rel="next"')

    ids, url = [], api(github, f"/issues/{PR}/comments?per_page=100")
    pages = []
    while url:
        page = client.get(url)
        pages.append(page)
        ids += [c["id"] for c in page.json()]
        url = page.links.get("next", {}).get("url")
    assert [len(p.json()) for p in pages] == [100, 50]
    assert ids == [c.id for c in seeded]  # oldest first, none twice
    assert links(pages[0])["next"].endswith("?per_page=100&page=2")  # other parameters are kept
    assert set(links(pages[-1])) == {"prev", "first"}
    assert all(r.path == f"/repos/{REPO}/issues/{PR}/comments" for r in github.requests)  # the alias resolved


def test_per_page_is_at_most_100(github: FakeGitHub, client: requests.Session) -> None:
    github.seed_comments(PR, 150)
    page = client.get(api(github, f"/issues/{PR}/comments"), params={"per_page": 500})
    assert len(page.json()) == 100 and links(page)["last"].endswith("page=2")
    beyond = client.get(api(github, f"/issues/{PR}/comments"), params={"per_page": 100, "page": 3})
    assert beyond.status_code == 200 and beyond.json() == []


# --- contract violations --------------------------------------------------------------


@pytest.mark.parametrize("method, path, kwargs, expected", [
    ("POST", f"/issues/{PR}/comments", {"json": {"bodyx": "hi"}}, "'body' is a required property"),
    ("POST", "/statuses/" + "a" * 40, {"json": {"state": "succes"}},
     "'succes' is not one of ['error', 'failure', 'pending', 'success']"),
    ("POST", "/statuses/" + "a" * 40, {"json": {"state": "success", "descripton": "typo"}},
     "'descripton' was unexpected"),
    ("GET", "/issues/seven/comments", {}, "issue_number"),
    ("GET", f"/issues/{PR}/comments", {"params": {"perpage": 100}}, "query parameter 'perpage'"),
    ("GET", f"/issues/{PR}/comments", {"params": {"per_page": "many"}}, "per_page"),
    ("GET", "/pulls/7/comment", {}, "no operation of GitHub's REST API matches"),
    ("PUT", f"/issues/{PR}/comments", {"json": {"body": "hi"}}, "no operation of GitHub's REST API matches"),
    ("POST", "/releases", {"json": {"tag_name": "v1", "make_latest": True}}, "True is not of type 'string'"),
    ("POST", "/check-runs", {"json": {"name": "mlship", "head_sha": "a" * 40, "output": {"title": "t"}}},
     "'summary' is a required property"),
    ("POST", f"/issues/{PR}/comments", {"data": "body=hi", "headers": {"Content-Type": "text/plain"}},
     "text/plain"),
], ids=["missing-body", "bad-enum", "undeclared-field", "non-integer-id", "undeclared-query", "non-integer-query",
        "unknown-path", "unknown-method", "wrong-type", "missing-nested-field", "wrong-media-type"])
def test_a_request_github_does_not_describe_is_a_violation(
    github: FakeGitHub, client: requests.Session, method: str, path: str, kwargs: dict[str, Any], expected: str
) -> None:
    response = client.request(method, api(github, path), **kwargs)
    assert response.status_code == 400
    assert expected in response.json()["message"]
    (violation,) = github.take_violations()  # so that this test's teardown passes
    assert violation.method == method and expected in str(violation)
    assert github.comments == {} and github.statuses == [] and github.releases == {} and github.check_runs == []


def test_uploads_are_checked_against_the_uploads_server(github: FakeGitHub, client: requests.Session) -> None:
    release = github.add_release("churn@v1.0.0")
    on_the_api_host = client.post(api(github, f"/releases/{release.id}/assets"), params={"name": "m.bin"},
                                  data=b"x", headers={"Content-Type": "application/octet-stream"})
    no_name = client.post(f"{github.api_url}/uploads/repos/{REPO}/releases/{release.id}/assets", data=b"x",
                          headers={"Content-Type": "application/octet-stream"})
    assert on_the_api_host.status_code == no_name.status_code == 400
    first, second = github.take_violations()
    assert "Server not found" in str(first)
    assert "Missing required query parameter: name" in str(second)
    assert release.assets == []


def test_a_violation_fails_the_test_at_teardown(tmp_path: Path) -> None:
    """The guarantee the fixture exists for: a client that swallows the 400 still fails."""
    (tmp_path / "test_swallowed.py").write_text(textwrap.dedent("""
        import requests

        def test_swallows_the_400(github):
            requests.post(github.api_url + "/repos/acme/models/statuses/abc",
                          headers={"Authorization": "Bearer " + github.token}, json={"state": "succes"})
    """))
    tests_dir = str(Path(fake_github.__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "fake_github", "-p", "no:cacheprovider", "-q", "test_swallowed.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert "1 passed, 1 error" in result.stdout, result.stdout + result.stderr
    assert "request not allowed by GitHub's REST API description: POST /repos/acme/models/statuses/abc" in result.stdout
    assert "'succes' is not one of" in result.stdout


def test_an_endpoint_the_fake_lacks_is_reported(github: FakeGitHub, client: requests.Session) -> None:
    response = client.get(api(github, "/releases/latest"))  # in GitHub's API, not in the fake
    assert response.status_code == 501
    assert github.violations == []
    assert github.unimplemented == [f"GET /repos/{REPO}/releases/latest"]
    github.unimplemented.clear()


def test_slashes_in_a_tag_are_allowed(github: FakeGitHub, client: requests.Session) -> None:
    github.add_release("models/churn/v1")  # GitHub's x-multi-segment parameters
    assert client.get(api(github, "/releases/tags/models/churn/v1")).status_code == 200
    assert client.get(api(github, "/releases/tags/models%2Fchurn%2Fv1")).status_code == 200
    assert client.post(api(github, "/statuses/main/with/slash"), json={"state": "pending"}).status_code == 201


# --- faults ---------------------------------------------------------------------------


@pytest.mark.parametrize("queue, status, header, text", [
    (lambda gh: gh.fail_next("GET", r"/comments$", 502), 502, None, "Bad Gateway"),
    (lambda gh: gh.fail_next("GET", r"/comments$", 429, headers={"Retry-After": "1"}), 429, ("Retry-After", "1"), ""),
    (lambda gh: gh.fail_next_secondary_rate_limit("GET", r"/comments$"), 403, ("Retry-After", "1"),
     "You have exceeded a secondary rate limit"),
    (lambda gh: gh.fail_next_secondary_rate_limit("GET", r"/comments$", retry_after=None), 403,
     ("x-ratelimit-remaining", "0"), "You have exceeded a secondary rate limit"),
    (lambda gh: gh.fail_next_primary_rate_limit("GET", r"/comments$"), 403, ("x-ratelimit-remaining", "0"),
     "API rate limit exceeded"),
    (lambda gh: gh.fail_next("GET", r"/comments$", 401, body={"message": "Bad credentials"}), 401, None,
     "Bad credentials"),
], ids=["502", "429-retry-after", "secondary-retry-after", "secondary-reset", "primary", "401"])
def test_a_fault_is_served_once_then_normal_service_resumes(
    github: FakeGitHub, client: requests.Session, queue: Callable[[FakeGitHub], None], status: int,
    header: tuple[str, str] | None, text: str,
) -> None:
    github.add_comment(PR, "existing")
    queue(github)
    failed = client.get(api(github, f"/issues/{PR}/comments"))
    assert failed.status_code == status
    assert text in failed.text
    if header:
        assert failed.headers[header[0]] == header[1]
    if "x-ratelimit-remaining" in (header or ()):
        assert time.time() < int(failed.headers["x-ratelimit-reset"]) <= time.time() + 2
    recovered = client.get(api(github, f"/issues/{PR}/comments"))
    assert recovered.status_code == 200 and [c["body"] for c in recovered.json()] == ["existing"]
    assert github.pending_faults == []


def test_faults_are_used_in_order_and_only_where_they_match(github: FakeGitHub, client: requests.Session) -> None:
    github.fail_next("POST", r"/issues/\d+/comments$", 502, times=2)
    github.fail_next("*", r"/comments", 500, body="<html>Unicorn!</html>")
    assert client.get(api(github, f"/issues/{PR}/comments")).status_code == 500  # only the second matches a GET
    assert client.post(api(github, f"/issues/{PR}/comments"), json={"body": "a"}).status_code == 502
    assert client.post(api(github, f"/issues/{PR}/comments"), json={"body": "b"}).status_code == 502
    created = client.post(api(github, f"/issues/{PR}/comments"), json={"body": "c"})
    assert created.status_code == 201
    assert [c.body for c in github.comments_on(PR)] == ["c"]  # a failed POST did nothing


def test_a_fault_does_not_excuse_a_violation(github: FakeGitHub, client: requests.Session) -> None:
    github.fail_next("POST", r"/comments$", 502)
    assert client.post(api(github, f"/issues/{PR}/comments"), json={"bodyx": "a"}).status_code == 400
    assert len(github.take_violations()) == 1
    assert len(github.pending_faults) == 1
    assert client.post(api(github, f"/issues/{PR}/comments"), json={"body": "a"}).status_code == 502


# --- authentication and permissions ---------------------------------------------------


def test_a_wrong_token_is_bad_credentials(github: FakeGitHub) -> None:
    response = session(github, token="ghs_wrong").post(api(github, f"/issues/{PR}/comments"), json={"body": "hi"})
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"
    assert github.comments == {}


def test_no_token_requires_authentication(github: FakeGitHub) -> None:
    response = requests.get(api(github, f"/issues/{PR}/comments"))
    assert response.status_code == 401 and response.json()["message"] == "Requires authentication"


def test_the_token_scheme_works_too(github: FakeGitHub) -> None:
    response = requests.get(api(github, f"/issues/{PR}/comments"), headers={"Authorization": f"token {github.token}"})
    assert response.status_code == 200


def test_read_only_token_cannot_write(github: FakeGitHub, client: requests.Session) -> None:
    existing = github.add_comment(PR, "from an earlier run")
    github.read_only = True
    writes = [
        client.post(api(github, f"/issues/{PR}/comments"), json={"body": "hi"}),
        client.patch(api(github, f"/issues/comments/{existing.id}"), json={"body": "hi"}),
        client.delete(api(github, f"/issues/comments/{existing.id}")),
        client.post(api(github, "/statuses/" + "a" * 40), json={"state": "success"}),
        client.post(api(github, "/check-runs"), json={"name": "mlship", "head_sha": "a" * 40}),
        client.post(api(github, "/releases"), json={"tag_name": "churn@v1.0.0"}),
    ]
    assert [w.status_code for w in writes] == [403] * 6
    assert {w.json()["message"] for w in writes} == {"Resource not accessible by integration"}
    assert client.get(api(github, f"/issues/{PR}/comments")).status_code == 200
    assert [c.body for c in github.comments_on(PR)] == ["from an earlier run"]
    assert github.statuses == [] and github.check_runs == [] and github.releases == {}


# --- statuses and check runs ----------------------------------------------------------


def test_statuses_are_stored(github: FakeGitHub, client: requests.Session) -> None:
    sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    created = client.post(api(github, f"/statuses/{sha}"), json={
        "state": "success", "context": "mlship/churn", "description": "AUC +0.012", "target_url": None,
    })
    assert created.status_code == 201
    assert created.json()["creator"]["login"] == "github-actions[bot]"
    (status,) = github.statuses
    assert (status.sha, status.state, status.context, status.description) == (sha, "success", "mlship/churn",
                                                                              "AUC +0.012")
    too_long = client.post(api(github, f"/statuses/{sha}"), json={"state": "failure", "description": "x" * 141})
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["message"] == "description is too long (maximum is 140 characters)"


def test_check_runs(github: FakeGitHub, client: requests.Session) -> None:
    body = {"name": "mlship", "head_sha": "a" * 40, "status": "completed", "conclusion": "success",
            "output": {"title": "All gates pass", "summary": "2 models compared"}}
    created = client.post(api(github, "/check-runs"), json=body)
    assert created.status_code == 201
    assert (created.json()["status"], created.json()["conclusion"]) == ("completed", "success")
    assert github.check_runs[0].request == body

    github.check_runs_allowed = False
    refused = client.post(api(github, "/check-runs"), json=body)
    assert refused.status_code == 403 and refused.json()["message"] == "Resource not accessible by integration"

    github.check_runs_allowed, github.token_kind = True, "pat"
    refused = client.post(api(github, "/check-runs"), json=body)
    assert refused.status_code == 403 and refused.json()["message"] == "You must authenticate via a GitHub App."
    assert len(github.check_runs) == 1


# --- releases -------------------------------------------------------------------------


def test_release_upload_and_download(github: FakeGitHub, client: requests.Session) -> None:
    tag = "churn@v1.2.0"
    assert client.get(api(github, f"/releases/tags/{tag}")).status_code == 404

    created = client.post(api(github, "/releases"), json={"tag_name": tag, "name": "churn 1.2.0", "body": "notes"})
    assert created.status_code == 201
    release = created.json()
    assert release["upload_url"] == (f"{github.api_url}/uploads/repos/{REPO}/releases/{release['id']}"
                                     "/assets{?name,label}")
    again = client.post(api(github, "/releases"), json={"tag_name": tag})
    assert again.status_code == 422
    assert again.json()["errors"] == [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]

    data = bytes(range(256)) * 1000
    uploaded = client.post(expand_upload_url(release["upload_url"], "model.tar.gz", "Model"), data=data,
                           headers={"Content-Type": "application/gzip"})
    assert uploaded.status_code == 201
    asset = uploaded.json()
    assert {k: asset[k] for k in ("name", "label", "size", "content_type", "state")} == {
        "name": "model.tar.gz", "label": "Model", "size": len(data), "content_type": "application/gzip",
        "state": "uploaded",
    }
    assert asset["browser_download_url"].endswith(f"/{REPO}/releases/download/churn%40v1.2.0/model.tar.gz")
    duplicate = client.post(expand_upload_url(release["upload_url"], "model.tar.gz"), data=b"x",
                            headers={"Content-Type": "application/gzip"})
    assert duplicate.status_code == 422

    by_tag = client.get(api(github, f"/releases/tags/{tag}"))
    assert by_tag.status_code == 200 and [a["id"] for a in by_tag.json()["assets"]] == [asset["id"]]
    listed = client.get(api(github, f"/releases/{release['id']}/assets"))
    assert [a["name"] for a in listed.json()] == ["model.tar.gz"]

    as_json = client.get(asset["url"])
    assert as_json.status_code == 200 and as_json.json()["id"] == asset["id"]
    downloaded = client.get(asset["url"], headers={"Accept": "application/octet-stream"})
    assert downloaded.status_code == 200 and downloaded.content == data
    (redirect,) = downloaded.history
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == f"{github.api_url}/storage/assets/{asset['id']}"
    assert github.release_by_tag(tag).assets[0].download_count == 1
    assert github.requests[-1].operation_id is None  # storage is not GitHub's API: not checked


def test_a_draft_release_has_no_tag_yet(github: FakeGitHub, client: requests.Session) -> None:
    github.add_release("churn@v2.0.0", draft=True)
    assert client.get(api(github, "/releases/tags/churn@v2.0.0")).status_code == 404


def test_seeded_release_assets_can_be_downloaded(github: FakeGitHub, client: requests.Session) -> None:
    release = github.add_release("churn@v1.0.0", assets={"model.bin": b"weights"})
    asset_id = release.assets[0].id
    response = client.get(api(github, f"/releases/assets/{asset_id}"), headers={"Accept": "application/octet-stream"})
    assert response.content == b"weights"


# --- the fake checks itself -----------------------------------------------------------


def test_the_fakes_responses_match_the_description(github: FakeGitHub, client: requests.Session) -> None:
    """Every answer above is checked the same way; here the check itself is shown to bite."""
    github.seed_comments(PR, 3)
    client.get(api(github, f"/issues/{PR}/comments"))
    assert github.response_violations == []
    github._comment_json = lambda comment: {"id": str(comment.id)}  # type: ignore[method-assign]
    client.get(api(github, f"/issues/{PR}/comments"))
    (problem,) = github.response_violations
    assert "'node_id' is a required property" in problem and "is not of type 'integer'" in problem
    github.response_violations.clear()


def test_concurrent_requests(github: FakeGitHub) -> None:
    def post(i: int) -> int:
        return session(github).post(api(github, f"/issues/{PR}/comments"), json={"body": str(i)}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(post, range(40))) == [201] * 40
    assert sorted(int(c.body) for c in github.comments_on(PR)) == list(range(40))
