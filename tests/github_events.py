"""GitHub's event payloads as the act tests send them to workflows: the fields a workflow or mlship
reads, in GitHub's shape (tests/github/test_webhook_payloads.py checks them against GitHub's own
description of its webhooks)."""

from __future__ import annotations


def repository_of(full_name: str) -> dict:
    return {"full_name": full_name, "name": full_name.split("/")[1], "owner": {"login": full_name.split("/")[0]},
            "default_branch": "main", "fork": False}


def repository_lite(full_name: str) -> dict:
    """A repository as a workflow_run's ``head_repository`` shows it: no settings such as the default branch."""
    return {"full_name": full_name, "name": full_name.split("/")[1], "owner": {"login": full_name.split("/")[0]},
            "fork": False}


def workflow_run_event(github, run_id: int, head: str, head_repository: str) -> dict:
    """A workflow_run event in GitHub's shape: the PR workflow's run ``run_id`` completed for ``head``."""
    return {"action": "completed", "repository": repository_of(github.repository),
            "workflow": {"name": "mlship PR", "path": ".github/workflows/mlship.yml"},
            "workflow_run": {"id": run_id, "name": "mlship PR", "event": "pull_request", "status": "completed",
                             "conclusion": "success", "head_sha": head, "head_branch": "tune",
                             "head_repository": repository_lite(head_repository), "pull_requests": []},
            "sender": {"login": "octocat"}}


def pull_request_event(github, number: int, head: str, base: str, head_repository: str = "") -> dict:
    """A pull_request event in GitHub's shape (from a fork when ``head_repository`` is another one)."""
    repository = repository_of(github.repository)
    return {
        "action": "synchronize", "number": number, "repository": repository,
        "pull_request": {"number": number, "state": "open",
                         "head": {"sha": head, "ref": "tune", "repo": repository_of(head_repository or github.repository)},
                         "base": {"sha": base, "ref": "main", "repo": repository}},
        "sender": {"login": "octocat"},
    }


def push_event(github, before: str, after: str) -> dict:
    """A push event to main in GitHub's shape."""
    repository = {"full_name": github.repository, "name": github.repository.split("/")[1],
                  "owner": {"login": github.repository.split("/")[0], "name": github.repository.split("/")[0]},
                  "default_branch": "main", "master_branch": "main"}
    return {"ref": "refs/heads/main", "before": before, "after": after, "created": False, "deleted": False,
            "forced": False, "base_ref": None, "compare": "", "commits": [], "head_commit": None,
            "repository": repository, "pusher": {"name": "octocat", "email": None}, "sender": {"login": "octocat"}}
