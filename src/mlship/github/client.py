"""A small GitHub REST client on ``requests``: retries, pagination, and errors a user can act on.

Only what mlship needs: issue comments, issues, pull requests, commit statuses, check runs
and releases.
The token lives in the session's headers and nowhere else: it is never part of a URL,
a message or a ``repr``, and any text that came back from GitHub is scrubbed of it.

Retries follow GitHub's guidance: rate-limited requests (429, or 403 for a secondary
limit) wait for ``Retry-After``, else until ``x-ratelimit-reset`` when no requests
remain, else a minute, growing; connection errors and 5xx responses are retried with
exponential backoff for idempotent methods only, since a POST that failed with a 502
may have been carried out. The total wait is bounded.
"""

from __future__ import annotations

import email.utils
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlsplit

import requests

from mlship import __version__
from mlship.errors import MlshipError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 30.0
MAX_ATTEMPTS = 6
MAX_WAIT_SECONDS = 120.0
NOT_ACCESSIBLE = "Resource not accessible by integration"
#: GitHub's answer when a workflow's GITHUB_TOKEN may not open pull requests (a repository setting).
ACTIONS_MAY_NOT_CREATE_PRS = "GitHub Actions is not permitted to create or approve pull requests"
IDEMPOTENT = {"GET", "HEAD", "PUT", "PATCH", "DELETE"}
#: Pages of 100 a listing may have: 100,000 comments or issues is more than any PR or repository needs.
MAX_PAGES = 1000


class GitHubError(MlshipError):
    """GitHub refused or failed a request; the message says what to do."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


class GitHub:
    """A client for one token and one API root (``$GITHUB_API_URL``, so GitHub Enterprise works)."""

    def __init__(self, token: str, api_url: str | None = None, timeout: float = TIMEOUT_SECONDS,
                 max_wait: float = MAX_WAIT_SECONDS, sleep: Callable[[float], None] = time.sleep):
        token = token.strip() if token else ""
        if not token:
            raise GitHubError("no GitHub token: set GITHUB_TOKEN (in a workflow step: "
                              "`env: GITHUB_TOKEN: ${{ github.token }}`)")
        if any(c.isspace() or not c.isprintable() or not c.isascii() for c in token):
            raise GitHubError("GITHUB_TOKEN holds spaces, control characters or characters that are not ASCII: "
                              "set it to the token alone")
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.timeout = timeout
        self.max_wait = max_wait
        self._sleep = sleep
        self._token = token
        self._session = requests.Session()
        self._session.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"mlship/{__version__}",
        })

    def __repr__(self) -> str:
        return f"GitHub(api_url={self.api_url!r})"

    # --- transport ---------------------------------------------------------------------

    def request(self, method: str, url: str, *, params: dict[str, Any] | None = None, json: Any = None,
                data: bytes | None = None, headers: dict[str, str] | None = None, permission: str | None = None,
                stream: bool = False) -> requests.Response:
        """Send a request (``url`` absolute, or a path under the API root), retrying where safe.

        ``permission`` names the workflow permission the call needs (``pull-requests: write``),
        for the message when GitHub answers "Resource not accessible by integration".
        """
        url = url if url.startswith(("http://", "https://")) else self.api_url + url
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            try:
                response = self._session.request(method, url, params=params, json=json, data=data, headers=headers,
                                                 timeout=self.timeout, stream=stream)
            except (requests.ConnectionError, requests.Timeout) as error:
                delay = self._backoff(attempt) if method in IDEMPOTENT else None
                if delay is None or attempt >= MAX_ATTEMPTS or waited + delay > self.max_wait:
                    raise GitHubError(f"cannot reach GitHub at {urlsplit(url).netloc}: "
                                      f"{self._scrub(type(error).__name__)}") from None
            else:
                delay = self._retry_delay(method, response, attempt)
                if delay is None:
                    break
                if attempt >= MAX_ATTEMPTS or waited + delay > self.max_wait:
                    raise self._error(method, url, response, permission, gave_up_after=waited)
            self._sleep(delay)
            waited += delay
        if response.status_code >= 400:
            raise self._error(method, url, response, permission)
        return response

    def paginate(self, path: str, params: dict[str, Any] | None = None,
                 permission: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following the ``Link: rel="next"`` header: on the API's
        own host only (the token goes with each request), and for at most :data:`MAX_PAGES` pages."""
        url: str | None = path
        query: dict[str, Any] | None = {**(params or {}), "per_page": 100}
        for _ in range(MAX_PAGES):
            response = self.request("GET", url, params=query, permission=permission)
            items = self._document(response)
            if not isinstance(items, list):
                raise self._not_api(response, "a list")
            yield from items
            url, query = response.links.get("next", {}).get("url"), None
            if not url:
                return
            if urlsplit(url)[:2] != urlsplit(self.api_url)[:2]:
                raise GitHubError(f"GitHub's next page of {urlsplit(path).path} is on another host "
                                  f"({urlsplit(url).netloc}): not following it with the token")
        raise GitHubError(f"{urlsplit(path).path} has more than {MAX_PAGES} pages of 100: stopped there")

    def request_json(self, method: str, url: str, **options: Any) -> Any:
        """:meth:`request`, and its answer's JSON document (a clear error when it is not JSON)."""
        return self._document(self.request(method, url, **options))

    def _document(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._not_api(response, "JSON") from None

    def _not_api(self, response: requests.Response, expected: str) -> GitHubError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return GitHubError(f"GitHub's answer to {response.request.method} {urlsplit(response.url).path} is not "
                           f"{expected} ({response.status_code}, {kind}): check GITHUB_API_URL ({self.api_url}), "
                           "which must be the API's root: https://api.github.com, or https://HOST/api/v3 for "
                           "GitHub Enterprise Server", response.status_code)

    def _retry_delay(self, method: str, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying ``response``, or None when it is final."""
        status, headers = response.status_code, response.headers
        if status == 429 or (status == 403 and self._rate_limited(response)):
            if "Retry-After" in headers:
                return _seconds_until(headers["Retry-After"])
            if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
                return max(float(headers["x-ratelimit-reset"]) - time.time(), 1.0)
            return 60.0 * 2 ** (attempt - 1)
        if status >= 500 and method in IDEMPOTENT:
            return self._backoff(attempt)
        return None

    @staticmethod
    def _rate_limited(response: requests.Response) -> bool:
        return (response.headers.get("x-ratelimit-remaining") == "0"
                or "rate limit" in _message(response).lower())

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(2 ** (attempt - 1))

    def _error(self, method: str, url: str, response: requests.Response, permission: str | None,
               gave_up_after: float | None = None) -> GitHubError:
        status, message = response.status_code, self._scrub(_message(response))
        where = f"{method} {urlsplit(url).path}"
        if status == 401:
            text = ("GitHub rejected the token (401 Bad credentials): set GITHUB_TOKEN to a valid token "
                    "(in a workflow: `env: GITHUB_TOKEN: ${{ github.token }}`)")
        elif status == 403 and NOT_ACCESSIBLE in message:
            need = f"add `{permission}` under `permissions:` in the workflow job" if permission else \
                "give the workflow job the permission this call needs"
            text = f"the token may not {where} ({NOT_ACCESSIBLE}): {need}"
        elif status == 404:
            text = (f"GitHub found nothing at {where} (404): check the repository and the pull request number, "
                    "and that the token can reach them (a workflow's GITHUB_TOKEN reaches only its own repository)")
        elif status == 422:
            details = "; ".join(self._scrub(_describe(e)) for e in _json(response).get("errors", []))
            text = f"GitHub rejected {where} (422 {message})" + (f": {details}" if details else "")
        else:
            text = f"GitHub answered {status} to {where}: {message}"
        if gave_up_after is not None:
            text += f" (gave up after retrying for {gave_up_after:.0f} s)"
        return GitHubError(text, status)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")

    # --- issue comments ------------------------------------------------------------------

    def comments(self, repo: str, number: int) -> Iterator[dict[str, Any]]:
        return self.paginate(f"/repos/{repo}/issues/{number}/comments", permission="pull-requests: read")

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        return self.request_json("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body},
                                 permission="pull-requests: write")

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        return self.request_json("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", json={"body": body},
                                 permission="pull-requests: write")

    def delete_comment(self, repo: str, comment_id: int) -> None:
        self.request("DELETE", f"/repos/{repo}/issues/comments/{comment_id}", permission="pull-requests: write")

    def pull_request(self, repo: str, number: int) -> dict[str, Any]:
        return self.request_json("GET", f"/repos/{repo}/pulls/{number}", permission="pull-requests: read")

    def permission(self, repo: str, login: str) -> str:
        """``login``'s base role on the repository: "admin", "write" (maintainers too), "read" or "none"
        (also for anyone who is not a collaborator, whom GitHub answers with 404)."""
        try:
            answer = self.request("GET", f"/repos/{repo}/collaborators/{quote(login, safe='')}/permission",
                                  permission="metadata: read").json()
        except GitHubError as error:
            if error.status == 404:
                return "none"
            raise
        return str(answer.get("permission", "none"))

    def login(self) -> str | None:
        """The token's own login, or None for an installation token (a workflow's GITHUB_TOKEN, or a
        GitHub App's), which may not ask. Any other refusal (a rate limit that outlasted the
        retries) is an error: guessing the author then would post a second comment."""
        try:
            user = self.request_json("GET", "/user")
        except GitHubError as error:
            if error.status == 403 and NOT_ACCESSIBLE in str(error):
                return None
            raise
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str):
            raise GitHubError(f"GitHub's answer to GET /user has no login: check GITHUB_API_URL ({self.api_url})")
        return login

    # --- issues and pull requests --------------------------------------------------------

    def issues(self, repo: str, state: str = "open", labels: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every issue with all of ``labels``, oldest first. GitHub lists pull requests here too
        (they carry a ``pull_request`` key): callers that want issues only must skip them."""
        params: dict[str, Any] = {"state": state, "sort": "created", "direction": "asc"}
        if labels:
            params["labels"] = ",".join(labels)
        return self.paginate(f"/repos/{repo}/issues", params, permission="issues: read")

    def create_issue(self, repo: str, title: str, body: str, labels: list[str] | None = None) -> dict[str, Any]:
        """A new issue; labels that do not exist yet are created by GitHub."""
        sent: dict[str, Any] = {"title": title, "body": body}
        if labels:
            sent["labels"] = labels
        return self.request_json("POST", f"/repos/{repo}/issues", json=sent, permission="issues: write")

    def update_issue(self, repo: str, number: int, *, body: str | None = None, state: str | None = None,
                     state_reason: str | None = None, duplicate_of: int | None = None) -> dict[str, Any]:
        """Change an issue's body or state; ``duplicate_of`` is the *id* (not the number) of the issue
        that one closed with ``state_reason="duplicate"`` duplicates."""
        sent: dict[str, Any] = {}
        if body is not None:
            sent["body"] = body
        if state is not None:
            sent["state"] = state
        if state_reason is not None:
            sent["state_reason"] = state_reason
        if duplicate_of is not None:
            sent["duplicate_issue_id"] = duplicate_of
        return self.request_json("PATCH", f"/repos/{repo}/issues/{number}", json=sent, permission="issues: write")

    def create_pull_request(self, repo: str, title: str, head: str, base: str, body: str) -> dict[str, Any]:
        """Open a pull request from branch ``head`` (already pushed to ``repo``) into ``base``."""
        sent = {"title": title, "head": head, "base": base, "body": body}
        try:
            return self.request_json("POST", f"/repos/{repo}/pulls", json=sent, permission="pull-requests: write")
        except GitHubError as error:
            if error.status == 403 and ACTIONS_MAY_NOT_CREATE_PRS in str(error):
                raise GitHubError(f"{error}: allow it in the repository's (or organization's) Settings → Actions → "
                                  "General → Workflow permissions → \"Allow GitHub Actions to create and approve pull "
                                  "requests\", or use a personal access token or a GitHub App token, with which the "
                                  "pull request's own workflows also run", error.status) from None
            raise

    # --- verdicts ------------------------------------------------------------------------

    def create_status(self, repo: str, sha: str, state: str, context: str, description: str,
                      target_url: str | None = None) -> dict[str, Any]:
        body = {"state": state, "context": context, "description": description[:140]}
        if target_url:
            body["target_url"] = target_url
        return self.request_json("POST", f"/repos/{repo}/statuses/{sha}", json=body,
                                 permission="statuses: write")

    def create_check_run(self, repo: str, sha: str, name: str, conclusion: str, title: str, summary: str,
                         details_url: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "head_sha": sha, "status": "completed", "conclusion": conclusion,
                                "output": {"title": title[:255], "summary": summary[:65535]}}
        if details_url:
            body["details_url"] = details_url
        return self.request_json("POST", f"/repos/{repo}/check-runs", json=body, permission="checks: write")

    # --- releases ------------------------------------------------------------------------

    def create_release(self, repo: str, tag: str, name: str, body: str) -> dict[str, Any]:
        return self.request_json("POST", f"/repos/{repo}/releases", json={"tag_name": tag, "name": name, "body": body},
                                 permission="contents: write")

    def release_by_tag(self, repo: str, tag: str) -> dict[str, Any] | None:
        try:
            return self.request_json("GET", f"/repos/{repo}/releases/tags/{quote(tag, safe='/')}")
        except GitHubError as error:
            if error.status == 404:
                return None
            raise

    def upload_asset(self, release: dict[str, Any], path: Path, name: str | None = None,
                     content_type: str = "application/octet-stream") -> dict[str, Any]:
        """Upload a file to a release through its ``upload_url`` template."""
        url = release["upload_url"].split("{", 1)[0]
        return self.request_json("POST", url, params={"name": name or path.name}, data=path.read_bytes(),
                                 headers={"Content-Type": content_type}, permission="contents: write")

    def delete_asset(self, repo: str, asset_id: int) -> None:
        self.request("DELETE", f"/repos/{repo}/releases/assets/{asset_id}", permission="contents: write")

    def download_asset(self, repo: str, asset_id: int, destination: Path) -> Path:
        """Download a release asset, following GitHub's redirect to its storage, atomically."""
        response = self.request("GET", f"/repos/{repo}/releases/assets/{asset_id}",
                                headers={"Accept": "application/octet-stream"}, stream=True)
        partial = destination.with_name(f".{destination.name}.partial")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(partial, "wb") as stream:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    stream.write(chunk)
            os.replace(partial, destination)
        except requests.RequestException as error:
            raise GitHubError(f"the download of release asset {asset_id} was cut off "
                              f"({type(error).__name__}); try again") from None
        finally:
            partial.unlink(missing_ok=True)
        return destination


def _seconds_until(retry_after: str) -> float:
    """``Retry-After`` is either seconds or an HTTP date (RFC 9110)."""
    try:
        return max(float(retry_after), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return 60.0
    return max(when.timestamp() - time.time(), 0.0)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _message(response: requests.Response) -> str:
    return str(_json(response).get("message") or response.reason or "")


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or f"{error.get('field')} {error.get('code')}".strip())
    return str(error)
