"""Merge to deploy, and rollback, through the composite actions, run by the harness against the fake GitHub.

A real repository whose main holds the reviewed churn model pushes to a bare `origin`; the
steps of the reusable release workflow's job (changed, package, release, deploy) run as the
runner would run them on a `push` event, and the rollback action on a `workflow_dispatch`.
Versions go to GitHub releases on the contract-checked fake; tags and the manifests commit
go to `origin`, where the next run (and Argo CD or Flux) would read them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from churn_repos import review, reviewed_churn
from jobs import Job
from repo_helpers import commit_all, git

IMAGE_REGISTRY = "ghcr.io/acme"


@pytest.fixture
def repo(factory, tmp_path) -> Path:
    """main with the churn model reviewed (its ledger committed) and pushed to a bare origin."""
    root = factory.root
    reviewed_churn(root)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return root


def push_journey(repo: Path, github, tmp: Path, before: str, step: str) -> dict:
    """The release workflow's job for a push to main from ``before``: what each action returned."""
    event = {"before": before, "after": git(repo, "rev-parse", "HEAD").strip(), "ref": "refs/heads/main"}
    job = Job(repo, github, tmp, "push", event)
    changed = job.run("changed", {"base": before}, f"{step}-changed")
    (model,) = json.loads(changed.outputs["models"])
    package = job.run("package", {"model": model}, f"{step}-package")
    release = job.run("release", {"model": model}, f"{step}-release")
    deploy = job.run("deploy", {"model": model, "stage": "prod", "version": release.outputs["version"],
                                "image-registry": IMAGE_REGISTRY}, f"{step}-deploy")
    return {"model": model, "package": package.outputs, "release": release.outputs, "deploy": deploy.outputs}


def origin_manifest(repo: Path) -> dict:
    git(repo, "fetch", "-q", "origin")
    text = git(repo, "show", "origin/main:deploy/prod/churn.yaml")
    return next(doc for doc in yaml.safe_load_all(text) if doc["kind"] == "Deployment")


def origin_tags(repo: Path) -> list[str]:
    return sorted(line.split("refs/tags/")[1] for line in git(repo, "ls-remote", "--tags", "origin").splitlines()
                  if not line.endswith("^{}"))


def test_a_push_to_main_releases_and_deploys(repo, github, tmp_path):
    initial = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    done = push_journey(repo, github, tmp_path, initial, "merge")
    assert done["model"] == "churn" and done["release"] == {"version": "v0.1.0", "tag": "churn@v0.1.0",
                                                            "created": "true",
                                                            "fingerprint": done["release"]["fingerprint"]}
    made = github.release_by_tag("churn@v0.1.0")
    assert made is not None
    archive = Path(repo, done["package"]["archive"])
    assert [asset.name for asset in made.assets] == [archive.name, "metrics.json", "model_card.md", "SHA256SUMS"]
    assert next(a for a in made.assets if a.name == archive.name).data == archive.read_bytes()
    assert done["deploy"]["assignment"] == "churn#prod#1" and done["deploy"]["changed"] == "true"
    assert origin_tags(repo) == ["churn#prod#1", "churn@v0.1.0"]
    deployment = origin_manifest(repo)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{IMAGE_REGISTRY}/{done['package']['bento']}"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "v0.1.0"
    subject = git(repo, "log", "-1", "--format=%s %an", "origin/main").strip()
    assert subject == "deploy: churn v0.1.0 to prod (churn#prod#1) github-actions[bot]"


def test_a_push_that_changes_no_model_releases_nothing(repo, github, tmp_path):
    (repo / "README.md").write_text("docs only\n")
    commit_all(repo, "docs")
    job = Job(repo, github, tmp_path, "push", {"before": git(repo, "rev-parse", "HEAD~1").strip()})
    changed = job.run("changed", {"base": "HEAD~1"}, "docs-changed")
    assert json.loads(changed.outputs["models"]) == []


def test_a_rollback_dispatch_restores_the_previous_version(repo, github, tmp_path):
    initial = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    first = push_journey(repo, github, tmp_path, initial, "first")
    before = git(repo, "rev-parse", "HEAD").strip()
    review(repo, "{max_iter: 1000, C: 0.05}")
    git(repo, "push", "-q", "origin", "main")
    second = push_journey(repo, github, tmp_path, before, "second")
    assert second["release"]["version"] == "v0.1.1" and second["deploy"]["assignment"] == "churn#prod#2"
    assert origin_manifest(repo)["metadata"]["labels"]["app.kubernetes.io/version"] == "v0.1.1"

    # The runner checks out a fresh clone: nothing local from the runs above, only origin and GitHub.
    clone = tmp_path / "runner-checkout"
    git(tmp_path, "clone", "-q", "-b", "main", git(repo, "remote", "get-url", "origin").strip(), str(clone))
    dispatch = {"inputs": {"model": "churn", "stage": "prod", "version": ""}, "ref": "refs/heads/main"}
    job = Job(clone, github, tmp_path, "workflow_dispatch", dispatch)
    rolled = job.run("rollback", {"model": "churn", "stage": "prod", "image-registry": IMAGE_REGISTRY}, "rollback")
    assert rolled.outputs["version"] == "v0.1.0" and rolled.outputs["assignment"] == "churn#prod#3"
    assert "churn#prod#3" in origin_tags(repo)
    deployment = origin_manifest(repo)
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "v0.1.0"
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{IMAGE_REGISTRY}/{first['package']['bento']}"
    note = git(clone, "for-each-ref", "--format=%(contents)", "refs/tags/churn#prod#3")
    assert "rollback from v0.1.1 to v0.1.0" in note
