"""One GitHub issue per drifting model (``mlship.monitor.drift_issues``), against the fake GitHub.

Every request goes over HTTP to ``tests/fake_github.py``, which checks it against GitHub's
OpenAPI description and keeps the issues, so the tests look at what GitHub would hold.
"""

from __future__ import annotations

import pytest

from fake_github import FakeGitHub
from mlship.errors import MlshipError
from mlship.github.client import GitHub, GitHubError
from mlship.github.publish import ACTIONS_BOT
from mlship.monitor.drift_issues import LABEL, report_drift

REPO = "acme/models"
MARK = "<!-- mlship:drift:churn -->"
ISSUES = r"/repos/acme/models/issues$"
RUN = "https://github.com/acme/models/actions/runs/{}"


def client_of(github: FakeGitHub) -> GitHub:
    return GitHub(github.token, github.api_url, sleep=lambda seconds: None)


def report(psi: float) -> str:
    return f"## Drift in churn\n\n| feature | PSI |\n|---|---|\n| tenure | {psi} |\n"


def issue_writes(github: FakeGitHub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in github.writes()]


def test_the_first_drift_opens_one_labelled_issue_with_the_marker_and_the_run(github):
    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31), RUN.format(1))

    (issue,) = github.issues_in()
    assert outcome.action == "created" and outcome.number == issue.number
    assert outcome.url == f"https://github.com/{REPO}/issues/{issue.number}"
    assert issue.title == "Data drift: churn" and issue.user.login == ACTIONS_BOT
    assert [label.name for label in issue.labels] == [LABEL]
    assert issue.body == (f"{MARK}\n{report(0.31).rstrip()}\n\n"
                          f"<sub>Reported by [this workflow run]({RUN.format(1)}).</sub>\n")


def test_drift_that_persists_updates_the_same_issue(github):
    client = client_of(github)
    first = report_drift(client, REPO, "churn", True, report(0.31), RUN.format(1))
    second = report_drift(client, REPO, "churn", True, report(0.45), RUN.format(2))

    (issue,) = github.issues_in()
    assert (first.action, second.action) == ("created", "updated")
    assert first.number == second.number == issue.number
    assert "| tenure | 0.45 |" in issue.body and RUN.format(2) in issue.body
    assert issue_writes(github) == [("POST", f"/repos/{REPO}/issues"), ("PATCH", f"/repos/{REPO}/issues/1")]


def test_the_same_report_from_a_later_run_writes_nothing(github):
    client = client_of(github)
    report_drift(client, REPO, "churn", True, report(0.31), RUN.format(1))
    again = report_drift(client, REPO, "churn", True, report(0.31) + "\n", RUN.format(2))
    assert again.action == "unchanged" and again.number == 1
    assert len(github.writes()) == 1
    assert RUN.format(1) in github.issues[(REPO, 1)].body  # the run that wrote this report


def test_no_drift_writes_nothing_and_says_which_issue_is_still_open(github):
    client = client_of(github)
    assert report_drift(client, REPO, "churn", False, "all clear").action == "no drift"
    assert report_drift(client, REPO, "churn", False, "all clear").number is None
    report_drift(client, REPO, "churn", True, report(0.31))
    writes = len(github.writes())

    calm = report_drift(client, REPO, "churn", False, "all clear")

    assert (calm.action, calm.number) == ("no drift", 1)
    assert len(github.writes()) == writes
    assert github.issues[(REPO, 1)].state == "open" and "0.31" in github.issues[(REPO, 1)].body


def test_a_closed_issue_is_not_reopened_the_next_drift_opens_a_new_one(github):
    github.add_issue("Data drift: churn", f"{MARK}\nold", labels=[LABEL], author=ACTIONS_BOT, state="closed")
    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.5))
    assert (outcome.action, outcome.number) == ("created", 2)
    assert [(i.number, i.state) for i in github.issues_in()] == [(1, "closed"), (2, "open")]


def test_each_model_has_its_own_issue(github):
    client = client_of(github)
    churn = report_drift(client, REPO, "churn", True, report(0.3))
    cancer = report_drift(client, REPO, "cancer", True, "cancer drifts")
    report_drift(client, REPO, "churn", True, report(0.4))
    assert churn.number != cancer.number
    assert github.issues[(REPO, cancer.number)].body == "<!-- mlship:drift:cancer -->\ncancer drifts\n"
    assert len(github.issues_in()) == 2


def test_pull_requests_in_the_issue_list_are_ignored(github):
    pull = github.add_pull_request(1, "a" * 40, author=ACTIONS_BOT, labels=[LABEL],
                                   body=f"{MARK}\na retraining PR quoting the marker")

    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31))

    assert (outcome.action, outcome.number) == ("created", 2)
    assert pull.body == f"{MARK}\na retraining PR quoting the marker"
    listed = github.requests_to("GET", ISSUES)[0].response.json()
    assert [("pull_request" in item, item["number"]) for item in listed] == [(True, 1)]


def test_a_marked_issue_by_someone_else_is_not_touched(github):
    theirs = github.add_issue("Data drift: churn", f"{MARK}\ncopied by hand", labels=[LABEL], author="mallory")
    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31))
    assert outcome.number != theirs.number and theirs.body == f"{MARK}\ncopied by hand"


def test_with_a_personal_token_the_issue_is_found_by_the_tokens_login(github):
    github.token_kind = "pat"
    bots = github.add_issue("Data drift: churn", f"{MARK}\nby the workflow", labels=[LABEL], author=ACTIONS_BOT)
    mine = github.add_issue("Data drift: churn", f"{MARK}\nby me", labels=[LABEL], author="octocat")
    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31))
    assert (outcome.action, outcome.number) == ("updated", mine.number)
    assert bots.body == f"{MARK}\nby the workflow" and bots.state == "open"


def test_the_issue_is_found_on_a_later_page(github):
    for number in range(120):
        github.add_issue(f"other drift {number}", "no marker", labels=[LABEL], author="alice")
    ours = github.add_issue("Data drift: churn", f"{MARK}\nold", labels=[LABEL], author=ACTIONS_BOT)
    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31))
    assert (outcome.action, outcome.number) == ("updated", ours.number)
    assert [r.query.get("page") for r in github.requests_to("GET", ISSUES)] == [None, "2"]


def test_duplicates_are_closed_as_duplicates_of_the_oldest_which_is_updated(github):
    oldest = github.add_issue("Data drift: churn", f"{MARK}\nrun A", labels=[LABEL], author=ACTIONS_BOT)
    github.add_issue("unrelated", "hello", labels=["bug"])
    newer = github.add_issue("Data drift: churn", f"{MARK}\nrun B", labels=[LABEL], author=ACTIONS_BOT)

    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31))

    assert (outcome.action, outcome.number, outcome.closed_duplicates) == ("updated", oldest.number, [newer.number])
    assert (newer.state, newer.state_reason, newer.duplicate_of) == ("closed", "duplicate", oldest.id)
    assert newer.body == f"{MARK}\nrun B"
    assert "0.31" in oldest.body and oldest.state == "open"
    assert issue_writes(github) == [("PATCH", f"/repos/{REPO}/issues/{newer.number}"),
                                    ("PATCH", f"/repos/{REPO}/issues/{oldest.number}")]


def test_a_502_that_hid_a_created_issue_does_not_open_a_second_one(github):
    github.fail_next("POST", ISSUES, 502, carried_out=True)

    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31))

    (issue,) = github.issues_in()
    assert (outcome.action, outcome.number) == ("created", issue.number) and "0.31" in issue.body
    assert [(r.method, r.response.status) for r in github.requests if "/issues" in r.path] == [
        ("GET", 200), ("POST", 502), ("GET", 200)]


def test_a_502_on_create_looks_again_then_creates_exactly_one_issue(github):
    github.fail_next("POST", ISSUES, 502)
    outcome = report_drift(client_of(github), REPO, "churn", True, report(0.31))
    (issue,) = github.issues_in()
    assert (outcome.action, outcome.number) == ("created", issue.number)
    assert [r.response.status for r in github.requests_to("POST", ISSUES)] == [502, 201]


def test_a_create_that_keeps_failing_is_a_clear_error_and_opens_nothing(github):
    github.fail_next("POST", ISSUES, 503, times=5)
    with pytest.raises(GitHubError, match=f"GitHub answered 503 to POST /repos/{REPO}/issues: Service Unavailable"):
        report_drift(client_of(github), REPO, "churn", True, report(0.31))
    assert github.issues_in() == [] and len(github.requests_to("POST", ISSUES)) == 3


def test_a_label_dropped_by_github_is_a_clear_error_instead_of_a_new_issue_every_run(github):
    github.push_access = False
    with pytest.raises(MlshipError, match="dropped its label 'mlship-drift'.*would open another"):
        report_drift(client_of(github), REPO, "churn", True, report(0.31))
    (issue,) = github.issues_in()
    assert issue.labels == []


def test_without_issues_write_the_error_names_the_permission(github):
    github.read_only = True
    with pytest.raises(GitHubError, match=r"add `issues: write` under `permissions:`"):
        report_drift(client_of(github), REPO, "churn", True, report(0.31))
    assert github.issues_in() == []
