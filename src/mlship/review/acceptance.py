"""An audited override: a maintainer accepts a model that failed its gates.

Sometimes a regression is known and wanted (a fairer model that scores lower, a metric
that stopped meaning what it did). A user with write access to the repository comments
on the pull request, on a line of its own::

    /mlship accept churn@3f9a0c2b71de: the drop on region=islands is the price of the new consent rule

The fingerprint prefix (12 or more hex digits, shown in the failing model's section of
the comment) binds the acceptance to the model as reviewed: a later push that changes
the model changes its fingerprint, and the acceptance no longer applies. Who may accept
is asked of GitHub's API for each author (their base role on the repository), never
read from the comment or the event; the comment's author and its link are recorded in
the ledger, the model card and the release. Without such a comment nothing changes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Sequence

from mlship.spec import MODEL_NAME_RE

if TYPE_CHECKING:
    from mlship.github.client import GitHub

COMMAND_RE = re.compile(r"^/mlship accept (?P<model>\S+)@(?P<fingerprint>[0-9a-f]{12,64}):[ \t]*(?P<why>\S[^\r\n]*)$",
                        re.MULTILINE)
#: Base roles that may accept: "write" covers the maintain role, as GitHub's API maps it.
MAY_ACCEPT = frozenset({"admin", "write"})
MAX_REASON = 500


@dataclass(frozen=True)
class Acceptance:
    """One maintainer's acceptance of one model at one fingerprint."""

    model: str
    #: The fingerprint prefix the maintainer wrote.
    fingerprint: str
    by: str
    why: str
    url: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def covers(self, model: str, fingerprint: str) -> bool:
        return self.model == model and fingerprint.startswith(self.fingerprint)


def read_acceptances(client: "GitHub", repo: str, number: int) -> list[Acceptance]:
    """Every ``/mlship accept`` line in pull request ``number``'s comments whose author may write to
    ``repo``, oldest first. Each author's role is asked of the API once."""
    allowed: dict[str, bool] = {}
    found = []
    for comment in client.comments(repo, number):
        login = (comment.get("user") or {}).get("login")
        for match in COMMAND_RE.finditer(comment.get("body") or ""):
            if not (login and MODEL_NAME_RE.fullmatch(match["model"])):
                continue
            if login not in allowed:
                allowed[login] = client.permission(repo, login) in MAY_ACCEPT
            if allowed[login]:
                found.append(Acceptance(match["model"], match["fingerprint"], login, match["why"].strip()[:MAX_REASON],
                                        comment.get("html_url", ""), comment.get("updated_at", "")))
    return found


def acceptance_for(acceptances: Sequence[Acceptance], model: str, fingerprint: str) -> Acceptance | None:
    """The latest acceptance of ``model`` at ``fingerprint``, if any."""
    matching = [a for a in acceptances if a.covers(model, fingerprint)]
    return matching[-1] if matching else None


def command(model: str, fingerprint: str) -> str:
    """The line a maintainer comments to accept ``model`` at ``fingerprint``, with REASON to replace."""
    return f"/mlship accept {model}@{fingerprint[:12]}: REASON"
