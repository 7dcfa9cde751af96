"""One GitHub issue per drifting model, opened or updated by the scheduled drift check.

The issue carries a hidden marker as its first line, ``<!-- mlship:drift:<model> -->``, and the label
``mlship-drift``. Each run reads every page of the repository's open issues with that
label (GitHub lists pull requests among issues: they are skipped) and takes those with
the marker written by the token's own login, found as for the sticky PR comment (see
:mod:`mlship.github.publish`). Then:

- **drift, and no issue open**: one is created. When the create fails with a 5xx, the
  issues are listed again before creating again, since GitHub may have created it and
  lost only the answer;
- **drift, an issue open**: its body is replaced with the new report, unless the report
  is unchanged (then nothing is written; the link to the run is not compared, or every
  run would rewrite it);
- **several open** (two runs raced): the oldest is kept, and the others are closed as
  duplicates of it (``state_reason: duplicate``), so their history stays readable;
- **no drift**: nothing is written. An open issue stays open until a person closes it,
  since drift that came and went is still worth a look; the outcome says it is open.

Closing the issue ends it: the next drift opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mlship.errors import MlshipError
from mlship.github.client import GitHub, GitHubError
from mlship.github.publish import CREATE_ATTEMPTS, by_author, marked, marker, same_text

LABEL = "mlship-drift"
RUN_LINK_PREFIX = "<sub>Reported by "


@dataclass(frozen=True)
class IssueOutcome:
    #: "created", "updated", "unchanged" (the open issue already says this), or "no drift".
    action: str
    #: The model's open issue; with "no drift", the one still open, if any.
    number: int | None = None
    url: str = ""
    #: Duplicates closed in favour of ``number``.
    closed_duplicates: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "number": self.number, "url": self.url,
                "closed_duplicates": self.closed_duplicates}


def report_drift(client: GitHub, repo: str, model: str, drifted: bool, body_markdown: str,
                 run_url: str | None = None, author: str | None = None) -> IssueOutcome:
    """Open or update the one issue that tracks ``model``'s drift, or leave it be when there is none."""
    tag = marker(f"drift:{model}")
    author = author or client.login()
    if not drifted:
        ours = _ours(client, repo, tag, author)
        return IssueOutcome("no drift", ours[0]["number"], ours[0].get("html_url", "")) if ours \
            else IssueOutcome("no drift")
    body = _body(tag, body_markdown, run_url)
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        ours = _ours(client, repo, tag, author)
        if ours:
            kept = _keep_one(client, repo, ours, body)
            # After a lost answer, an issue saying exactly this was created by this run (or a racing one).
            return replace(kept, action="created") if attempt > 1 and kept.action == "unchanged" else kept
        try:
            created = client.create_issue(repo, f"Data drift: {model}", body, [LABEL])
        except GitHubError as error:
            # A 5xx may hide an issue that was created: look again before creating again.
            if error.status is not None and error.status >= 500 and attempt < CREATE_ATTEMPTS:
                continue
            raise
        if LABEL not in {label.get("name") for label in created.get("labels", [])}:
            raise MlshipError(f"GitHub opened issue #{created['number']} but dropped its label '{LABEL}', which it does "
                              "for a token without push access; without the label the next run cannot find the issue "
                              "and would open another: use a token that may label issues (`issues: write`)")
        # Another run may have created one at the same moment: keep only the oldest.
        ours = _ours(client, repo, tag, author)
        kept = _keep_one(client, repo, ours, body) if ours else None
        return IssueOutcome("created", kept.number if kept else created["number"],
                            kept.url if kept else created.get("html_url", ""),
                            kept.closed_duplicates if kept else [])
    raise AssertionError("unreachable: the last attempt returns or raises")


def _body(tag: str, report: str, run_url: str | None) -> str:
    body = f"{tag}\n{report.rstrip()}\n"
    return body + f"\n{RUN_LINK_PREFIX}[this workflow run]({run_url}).</sub>\n" if run_url else body


def _ours(client: GitHub, repo: str, tag: str, author: str | None) -> list[dict[str, Any]]:
    found = [issue for issue in client.issues(repo, labels=[LABEL])
             if "pull_request" not in issue and marked(issue.get("body") or "", tag)]
    return by_author(found, author, "number")


def _keep_one(client: GitHub, repo: str, ours: list[dict[str, Any]], body: str) -> IssueOutcome:
    keep, extra = ours[0], ours[1:]
    for issue in extra:
        try:
            client.update_issue(repo, issue["number"], state="closed", state_reason="duplicate",
                                duplicate_of=keep["id"])
        except GitHubError as error:
            if error.status not in (404, 410):  # deleted meanwhile
                raise
    closed = [issue["number"] for issue in extra]
    if same_text(_report(keep.get("body") or ""), _report(body)):
        return IssueOutcome("unchanged", keep["number"], keep.get("html_url", ""), closed)
    updated = client.update_issue(repo, keep["number"], body=body)
    return IssueOutcome("updated", updated["number"], updated.get("html_url", ""), closed)


def _report(body: str) -> str:
    """The body without the link to the run that wrote it."""
    return "\n".join(line for line in body.replace("\r\n", "\n").split("\n") if not line.startswith(RUN_LINK_PREFIX))
