"""Putting a PR result on GitHub: one sticky comment, a verdict, or a hand-off for fork PRs.

**The sticky comment** carries a hidden marker, ``<!-- mlship:<key> -->``, as its first
line: only the first line counts, so a marker quoted anywhere else (by a slice value, or
in a fork's hand-off) never makes a comment look like another key's; and text that went
through :mod:`mlship.markdown` cannot produce one at all. mlship reads
every page of the PR's comments and takes the marked comments written by its own
login: updates the oldest in place (no write when the body is unchanged), deletes any
others (left by two runs racing), or creates one. The login comes from ``GET /user``
where the token may read it (a personal or app user token). An installation token (a
workflow's ``GITHUB_TOKEN``, which writes as ``github-actions[bot]``, or a GitHub App's,
which writes as ``<app-slug>[bot]``) may not; then the author is the bot account
(``type: Bot``, which no person's account has) of the oldest marked comment, and only that
bot's comments are kept or deleted. Where several bots write mlship's markers, pass the
author explicitly.

**Fork PRs** get a read-only token, so nothing is posted from their run: the comment and
a small ``pr.json`` go to a hand-off folder, which a trusted workflow (``on:
workflow_run``) downloads, validates with :func:`read_handoff` and posts.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlship.errors import MlshipError, display_path
from mlship.files import atomic_write_json, atomic_write_text
from mlship.github.client import GitHub, GitHubError
from mlship.markdown import inert_mentions
from mlship.spec import MODEL_NAME_RE

ACTIONS_BOT = "github-actions[bot]"
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ANY_MARKER_RE = re.compile(r"<!-- mlship:[a-z0-9][a-z0-9_-]{0,63} -->")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
HANDOFF_COMMENT = "comment.md"
HANDOFF_META = "pr.json"
#: GitHub's limit on a comment body.
MAX_BODY = 65_536
MAX_META_BYTES = 16_384
MAX_MODELS = 200
CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class Posted:
    #: "created", "updated" or "unchanged".
    action: str
    comment_id: int
    url: str


@dataclass(frozen=True)
class Handoff:
    """A fork PR's result, waiting for a trusted workflow to post it."""

    repository: str
    pr_number: int
    head_sha: str
    passed: bool
    key: str
    body: str
    #: Each model's verdict, when commit statuses per model were asked for.
    models: dict[str, bool] | None = None


def marker(key: str) -> str:
    return f"<!-- mlship:{key} -->"


def marked(body: str, tag: str) -> bool:
    """Whether ``body`` (as GitHub returns it) starts with the line ``tag``."""
    return body.lstrip("\ufeff").replace("\r\n", "\n").split("\n", 1)[0].strip() == tag


def with_marker(body: str, tag: str) -> str:
    """``body`` with ``tag`` as its first line, in place of another key's marker there (a report
    rendered with the default key, posted under another)."""
    if marked(body, tag):
        return body
    first, _, rest = body.partition("\n")
    return f"{tag}\n{rest}" if ANY_MARKER_RE.fullmatch(first.strip()) else f"{tag}\n{body}"


def post_sticky(client: GitHub, repo: str, number: int, body: str, key: str = "report",
                author: str | None = None) -> Posted:
    """Create or update the one comment marked with ``key`` on PR ``number``."""
    tag = marker(key)
    body = with_marker(body, tag)
    author = author or client.login()
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        ours = _ours(client, repo, number, tag, author)
        if ours:
            return _keep_one(client, repo, ours, body)
        try:
            created = client.create_comment(repo, number, body)
        except GitHubError as error:
            # A 5xx may hide a comment that was created: look again before creating again.
            if error.status is not None and error.status >= 500 and attempt < CREATE_ATTEMPTS:
                continue
            raise
        # Another run may have created one at the same moment: keep only the oldest. (A listing
        # that lags behind the create may not show ours yet; then there is nothing to tidy.)
        ours = _ours(client, repo, number, tag, author)
        posted = _keep_one(client, repo, ours, body) if ours else None
        return Posted("created", posted.comment_id if posted else created["id"],
                      posted.url if posted else created.get("html_url", ""))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _ours(client: GitHub, repo: str, number: int, tag: str, author: str | None) -> list[dict[str, Any]]:
    return by_author([c for c in client.comments(repo, number) if marked(c.get("body") or "", tag)], author, "id")


def by_author(items: list[dict[str, Any]], author: str | None, order: str) -> list[dict[str, Any]]:
    """``items`` written by ``author``, oldest first; with no author known (an installation
    token), by the bot that wrote the oldest of them."""
    items = sorted(items, key=lambda item: item[order])
    if author is None:
        bots = [item["user"]["login"] for item in items if (item.get("user") or {}).get("type") == "Bot"]
        author = bots[0] if bots else None
    return [item for item in items if author is not None and (item.get("user") or {}).get("login") == author]


def _keep_one(client: GitHub, repo: str, ours: list[dict[str, Any]], body: str) -> Posted:
    keep, extra = ours[0], ours[1:]
    for comment in extra:
        try:
            client.delete_comment(repo, comment["id"])
        except GitHubError as error:
            if error.status != 404:  # already deleted by a racing run
                raise
    if same_text(keep.get("body") or "", body):
        return Posted("unchanged", keep["id"], keep.get("html_url", ""))
    updated = client.update_comment(repo, keep["id"], body)
    return Posted("updated", updated["id"], updated.get("html_url", ""))


def same_text(old: str, new: str) -> bool:
    """Equal as GitHub stores them: it may turn line endings into CRLF and drop trailing space."""
    return old.replace("\r\n", "\n").rstrip() == new.replace("\r\n", "\n").rstrip()


def verdict_context(key: str) -> str:
    """The check run's name (or status context) of the verdict posted with sticky comment ``key``:
    ``mlship`` for the default key, so that two calls of the PR flow in one repository (each with
    its own key) each keep a verdict that branch protection can require."""
    return "mlship" if key == "report" else f"mlship ({key})"


def publish_verdict(client: GitHub, repo: str, sha: str, passed: bool, title: str, summary: str,
                    details_url: str | None = None, context: str = "mlship", kind: str = "auto") -> str:
    """Set the gate verdict on ``sha``: a check run with the report (``kind`` "check", or "auto"
    when the token may create one), else a commit status. Returns which was made."""
    if kind in ("auto", "check"):
        try:
            client.create_check_run(repo, sha, context, "success" if passed else "failure", title, summary,
                                    details_url)
            return "check run"
        except GitHubError as error:
            if kind == "check" or error.status != 403:
                raise
    client.create_status(repo, sha, "success" if passed else "failure", context, title, details_url)
    return "commit status"


def write_handoff(folder: Path, handoff: Handoff) -> list[Path]:
    atomic_write_text(folder / HANDOFF_COMMENT, handoff.body)
    meta = {"repository": handoff.repository, "pr": handoff.pr_number, "head_sha": handoff.head_sha,
            "passed": handoff.passed, "key": handoff.key}
    if handoff.models is not None:
        meta["models"] = handoff.models
    atomic_write_json(folder / HANDOFF_META, meta)
    return [folder / HANDOFF_COMMENT, folder / HANDOFF_META]


def check_handoff_is_for(client: GitHub, handoff: Handoff, run_head_sha: str | None) -> None:
    """Refuse a hand-off that would put its verdict on another commit or pull request.

    The hand-off comes from a fork's run, which ran the fork's code: only what GitHub says
    can be trusted. The commit must be the one the PR run was for (``workflow_run.head_sha``,
    set by GitHub), and the pull request must have that commit as its head.
    """
    if run_head_sha is not None and handoff.head_sha != run_head_sha:
        raise MlshipError(f"the hand-off is for commit {handoff.head_sha[:12]}, but the run that made it was "
                          f"for {run_head_sha[:12]}: refusing to post it")
    head = (client.pull_request(handoff.repository, handoff.pr_number).get("head") or {}).get("sha")
    if head != handoff.head_sha:
        raise MlshipError(f"pull request #{handoff.pr_number}'s head is {str(head)[:12]}, not the hand-off's "
                          f"{handoff.head_sha[:12]}: refusing to post it")


def read_handoff(folder: Path) -> Handoff:
    """Read and validate a hand-off written by an untrusted run: every field is checked."""
    meta_path, body_path = folder / HANDOFF_META, folder / HANDOFF_COMMENT
    meta_bytes, body_bytes = _read_regular(meta_path, MAX_META_BYTES), _read_regular(body_path, MAX_BODY * 4)
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
        body = body_bytes.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        raise MlshipError(f"the hand-off in {display_path(folder)} is malformed: {error}") from None
    if not isinstance(meta, dict):
        raise MlshipError(f"{display_path(meta_path)} must hold a JSON object")
    checks = [
        ("repository", lambda v: isinstance(v, str) and REPOSITORY_RE.fullmatch(v), "owner/name"),
        ("pr", lambda v: type(v) is int and v > 0, "a positive integer"),
        ("head_sha", lambda v: isinstance(v, str) and SHA_RE.fullmatch(v), "a 40-character hex commit SHA"),
        ("passed", lambda v: type(v) is bool, "true or false"),
        ("key", lambda v: isinstance(v, str) and KEY_RE.fullmatch(v), "lowercase letters, digits, '-' or '_'"),
    ]
    for field, valid, expected in checks:
        if not valid(meta.get(field)):
            raise MlshipError(f"{display_path(meta_path)}: '{field}' must be {expected}, got {meta.get(field)!r}")
    if len(body) > MAX_BODY:
        raise MlshipError(f"{display_path(body_path)} has {len(body):,} characters, over GitHub's {MAX_BODY:,}")
    models = meta.get("models")
    if models is not None and not (isinstance(models, dict) and len(models) <= MAX_MODELS and all(
            isinstance(name, str) and MODEL_NAME_RE.fullmatch(name) and type(passed) is bool
            for name, passed in models.items())):
        raise MlshipError(f"{display_path(meta_path)}: 'models' must map at most {MAX_MODELS} model names to "
                          "true or false")
    return Handoff(meta["repository"], meta["pr"], meta["head_sha"], meta["passed"], meta["key"],
                   inert_mentions(body), models)


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, which must be a regular file (not a link, which could point at a
    file of the trusted runner, nor a FIFO or device) of at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise MlshipError(f"the hand-off has no {path.name} in {display_path(path.parent)}") from None
    except OSError as error:
        if path.is_symlink():
            raise MlshipError(f"{display_path(path)} is a symbolic link: a hand-off holds regular files only") from None
        raise MlshipError(f"cannot read {display_path(path)}: {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MlshipError(f"{display_path(path)} is not a regular file: a hand-off holds regular files only")
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise MlshipError(f"{display_path(path)} is {path.stat().st_size:,} bytes, over the {limit:,} allowed")
    return data


def publish_model_statuses(client: GitHub, repo: str, sha: str, models: dict[str, bool],
                           details_url: str | None = None) -> None:
    """A commit status per model, context ``mlship/<model>``, beside the overall ``mlship`` verdict."""
    for name, passed in sorted(models.items()):
        client.create_status(repo, sha, "success" if passed else "failure", f"mlship/{name}",
                             "passed its gates" if passed else "failed its gates", details_url)
