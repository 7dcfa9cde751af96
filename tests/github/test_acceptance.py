"""The audited override: a maintainer's `/mlship accept MODEL@FINGERPRINT: why` comment passes a model
that failed its gates, and only when GitHub's API says its author may write to the repository."""

from __future__ import annotations

import json

from fake_github import FakeGitHub
from mlship.github.client import GitHub
from mlship.review.acceptance import acceptance_for, read_acceptances
from repo_helpers import commit_all, edit
from test_publish import PR, degraded_cancer, in_pull_request


def accept_line(fingerprint: str, why: str = "the drop is the price of the new regularisation policy") -> str:
    return f"/mlship accept cancer@{fingerprint[:12]}: {why}"


def failing_fingerprint(root) -> str:
    return json.loads((root / "reports" / "cancer" / "metrics.json").read_text())["fingerprint"]


def test_a_maintainers_acceptance_passes_the_failed_model_and_is_recorded(factory, run_cli, github_env, monkeypatch):
    github = github_env
    github.collaborators = {"alice": "write"}
    root, head = degraded_cancer(factory)
    in_pull_request(monkeypatch, github, root)
    failed = run_cli("pr", "--base", "main")
    assert failed.exit_code == 1, failed.stderr
    fingerprint = failing_fingerprint(root)
    report = (root / "reports" / "pr-comment.md").read_text(encoding="utf-8")
    assert f"comments on a line of its own `/mlship accept cancer@{fingerprint[:12]}: REASON`" in report

    github.add_comment(PR, f"Agreed in the review meeting.\n{accept_line(fingerprint)}", author="alice")
    accepted = run_cli("pr", "--base", "main")

    assert accepted.exit_code == 0, accepted.stderr
    report = (root / "reports" / "pr-comment.md").read_text(encoding="utf-8")
    assert "## ✅ mlship: 1 model passed (1 by a maintainer's acceptance of failed gates)" in report
    assert "### ☑️ `cancer`:" in report
    assert "failed gates accepted by @&#8203;alice" in report  # named, not notified at every update
    assert "> ☑️ **Accepted by @alice** ([comment](" in report
    assert "the drop is the price of the new regularisation policy" in report
    assert "- ❌ `accuracy` max_drop" in report  # the failed gate stays visible
    assert [(r.request["head_sha"], r.request["conclusion"]) for r in github.check_runs] == [
        (head, "failure"), (head, "success")]
    ledger = json.loads((root / "reports" / "cancer" / "metrics.json").read_text())
    assert ledger["passed"] is True and ledger["gates_passed"] is False
    assert ledger["accepted"]["by"] == "alice" and ledger["accepted"]["fingerprint"] == fingerprint[:12]
    assert ledger["accepted"]["why"] == "the drop is the price of the new regularisation policy"
    card = (root / "reports" / "cancer" / "model_card.md").read_text()
    assert "☑️ failed its gates; accepted by @alice" in card


def test_an_acceptance_without_write_access_or_for_another_fingerprint_changes_nothing(factory, run_cli, github_env,
                                                                                        monkeypatch):
    github = github_env
    github.collaborators = {"alice": "write", "reader": "read"}
    root, _ = degraded_cancer(factory)
    in_pull_request(monkeypatch, github, root)
    assert run_cli("pr", "--base", "main").exit_code == 1
    fingerprint = failing_fingerprint(root)
    github.add_comment(PR, accept_line(fingerprint), author="reader")  # may only read
    github.add_comment(PR, accept_line(fingerprint), author="outsider")  # not a collaborator: 404
    github.add_comment(PR, f"> {accept_line(fingerprint)}", author="alice")  # quoted, not a command
    github.add_comment(PR, accept_line("0" * 12), author="alice")  # another version of the model

    assert run_cli("pr", "--base", "main").exit_code == 1
    assert json.loads((root / "reports" / "cancer" / "metrics.json").read_text())["accepted"] is None

    # The author pushes again: an acceptance of the earlier fingerprint does not carry over.
    github.add_comment(PR, accept_line(fingerprint), author="alice")
    edit(root, "models/cancer/model.yaml", "C: 0.0001", "C: 0.0002")
    commit_all(root, "a little less regularisation")
    in_pull_request(monkeypatch, github, root)
    assert run_cli("pr", "--base", "main").exit_code == 1


def test_each_authors_permission_is_asked_once_and_admins_may_accept(github: FakeGitHub):
    github.collaborators = {"root": "admin"}
    for text in ("/mlship accept churn@0123456789ab: first", "/mlship accept churn@0123456789ab: second",
                 "/mlship accept Not_A_Model@0123456789ab: ignored"):
        github.add_comment(PR, text, author="root")
    client = GitHub(github.token, api_url=github.api_url)

    found = read_acceptances(client, github.repository, PR)

    assert [(a.model, a.by, a.why) for a in found] == [("churn", "root", "first"), ("churn", "root", "second")]
    assert len(github.requests_to("GET", r"/collaborators/root/permission$")) == 1
    assert acceptance_for(found, "churn", "0123456789abcdef" + "0" * 48).why == "second"  # the latest counts
    assert acceptance_for(found, "churn", "f" * 64) is None
