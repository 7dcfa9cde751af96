"""`mlship release` and `mlship history`: the version registry on git tags in GTO's format.

One reviewed, merged and packaged project is built for the module; each test that
releases works on its own copy of it (cache, BentoML store and archive included), so a
release costs a package check, not a build. Tests of tags alone (assignments, versions,
history) register versions directly on throwaway commits. The real `gto` CLI reads the
tags mlship writes and must report the same versions and stages.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import Result

from mlship.files import sha256_file
from mlship.github.client import GitHub
from mlship.project import Project
from mlship.ship import registry, releases
from mlship.ship.registry import Registry, RegistryError
from churn_repos import gto, hermetic, mlship, ok, review, write_spec
from repo_helpers import commit_all, git
from sample_churn import customers


# --- helpers -----------------------------------------------------------------------


def tags(root: Path) -> dict[str, str]:
    """Every tag and the object it names (the tag object for an annotated tag)."""
    listing = git(root, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/tags")
    return dict(line.split(" ") for line in listing.splitlines())


def unmoved(before: dict[str, str], root: Path) -> dict[str, str]:
    """The tags now, after checking that every tag in ``before`` still names the same object."""
    now = tags(root)
    assert {tag: now.get(tag) for tag in before} == before, "a tag was moved or deleted"
    return now


def message(root: Path, tag: str) -> str:
    return git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def new_version(project: Project, version: str, fingerprint: str) -> registry.Event:
    """A version registered on a new empty commit, with a made-up fingerprint (no model is needed)."""
    git(project.root, "commit", "-q", "--allow-empty", "-m", f"for {version}")
    return registry.register(project, "churn", version, head(project.root),
                             {"fingerprint": fingerprint, "metrics": "roc_auc=0.75 accuracy=0.7"})


# --- the released project, shared by the module ---------------------------------------------


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A repository whose main merged the churn model with its ledger, and the model packaged."""
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        root = tmp_path_factory.mktemp("registry") / "project"
        root.mkdir()
        (root / "README.md").write_text("models\n")
        (root / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\n")
        git(root, "init", "-q", "-b", "main")
        commit_all(root, "initial")
        git(root, "checkout", "-qb", "feature")
        (root / "models" / "churn").mkdir(parents=True)
        write_spec(root)
        customers().to_csv(root / "models" / "churn" / "customers.csv", index=False)
        commit_all(root, "add churn")
        ok(mlship(root, "pr", "--base", "main", "--dry-run"))
        commit_all(root, "ledger")
        git(root, "checkout", "-q", "main")
        git(root, "merge", "-q", "--no-ff", "feature", "-m", "merge churn")
        ok(mlship(root, "package", "churn"))
        yield root


@pytest.fixture
def project(packaged: Path, factory) -> Project:
    """This test's copy of the packaged project (the working directory)."""
    shutil.copytree(packaged, factory.root, symlinks=True, dirs_exist_ok=True)
    return factory.project


@pytest.fixture
def tagged(factory) -> Project:
    """A repository with one commit and no model: for tests of tags alone."""
    (factory.root / "README.md").write_text("models come later\n")
    factory.git_init()
    return factory.project


def released(result: Result) -> dict:
    return json.loads(ok(result).stdout)


# --- release ---------------------------------------------------------------------------------


def test_the_first_release_is_v0_1_0_an_annotated_tag_recording_fingerprint_metrics_and_digest(project):
    root = project.root
    shown = ok(mlship(root, "release", "churn")).stdout.splitlines()
    assert shown[0].startswith(f"🏷️  churn v0.1.0: registered as churn@v0.1.0 at {head(root)[:12]} (fingerprint ")
    assert shown[-1] == "   push it  git push origin 'churn@v0.1.0'"
    result = released(mlship(root, "release", "churn", "--json"))
    ledger = json.loads((root / "reports/churn/metrics.json").read_text())
    (archive,) = (root / "dist").glob("churn-*.bento")
    assert result["version"] == "v0.1.0" and result["tag"] == "churn@v0.1.0" and result["created"] is False
    assert result["commit"] == head(root) and result["fingerprint"] == ledger["fingerprint"]
    assert git(root, "cat-file", "-t", "churn@v0.1.0").strip() == "tag"
    assert git(root, "rev-parse", "churn@v0.1.0^{commit}").strip() == head(root)
    lines = message(root, "churn@v0.1.0").splitlines()
    metrics = " ".join(f"{name}={ledger['metrics'][name]:.6g}" for name in ledger["metrics"])
    assert lines == [
        "Registering artifact churn version v0.1.0",
        "",
        f"fingerprint: {ledger['fingerprint']}",
        f"metrics: {metrics}",
        f"bento: churn:{archive.stem.removeprefix('churn-')}",
        f"bento-sha256: {sha256_file(archive)}",
    ]
    assert list(ledger["metrics"])[0] == ledger["primary_metric"] == "roc_auc"
    assert result["metrics"] == pytest.approx(ledger["metrics"], rel=1e-5)
    tagger = git(root, "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/churn@v0.1.0").strip()
    assert tagger == "mlship tests <tests@mlship.invalid>"
    assert result["pushed"] is False and result["backend"] == "local"


def test_the_local_registry_holds_the_artifacts_and_their_digests(project):
    root = project.root
    result = released(mlship(root, "release", "churn", "--json"))
    folder = root / ".mlship/registry/churn/v0.1.0"
    (archive,) = (root / "dist").glob("churn-*.bento")
    assert result["location"] == ".mlship/registry/churn/v0.1.0"
    assert sorted(p.name for p in folder.iterdir()) == sorted([archive.name, "metrics.json", "model_card.md",
                                                               "SHA256SUMS"])
    assert result["written"] == [archive.name, "metrics.json", "model_card.md", "SHA256SUMS"]
    for name in ("metrics.json", "model_card.md"):
        assert (folder / name).read_bytes() == (root / "reports/churn" / name).read_bytes()
    assert (folder / archive.name).read_bytes() == archive.read_bytes()
    check = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=folder, capture_output=True,
                           text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 3, check.stdout + check.stderr
    assert [p.name for p in folder.parent.iterdir()] == ["v0.1.0"], "no staging folder is left"

    fetched = releases.fetch(project, "churn", "0.1.0", releases.backend(project), root / "unused")
    assert fetched.archive == folder / archive.name and fetched.version.tag == "churn@v0.1.0"
    assert fetched.metrics == folder / "metrics.json" and fetched.card == folder / "model_card.md"


def test_releasing_the_same_fingerprint_again_is_a_no_op_that_makes_no_tag(project):
    root = project.root
    released(mlship(root, "release", "churn", "--json"))
    before = tags(root)
    stored = {p.name: p.stat().st_mtime_ns for p in (root / ".mlship/registry/churn/v0.1.0").iterdir()}
    git(root, "commit", "-q", "--allow-empty", "-m", "an unrelated change")

    again = mlship(root, "release", "churn")
    ok(again)
    assert "fingerprint" in again.stdout and "already released as v0.1.0" in again.stdout
    assert "no new version" in again.stdout and "already there, checked" in again.stdout
    result = released(mlship(root, "release", "churn", "--json"))
    assert result["created"] is False and result["version"] == "v0.1.0" and result["written"] == []
    assert unmoved(before, root) == before, "no tag was added"
    assert {p.name: p.stat().st_mtime_ns for p in (root / ".mlship/registry/churn/v0.1.0").iterdir()} == stored


def test_a_new_fingerprint_bumps_the_patch_and_leaves_earlier_tags_alone(project):
    root = project.root
    first = released(mlship(root, "release", "churn", "--json"))
    before = tags(root)
    review(root, "{max_iter: 1000, C: 0.5}")
    second = released(mlship(root, "release", "churn", "--json"))
    assert second["version"] == "v0.1.1" and second["created"] is True
    assert second["commit"] == head(root) != first["commit"]
    assert second["fingerprint"] != first["fingerprint"]
    assert set(unmoved(before, root)) == {"churn@v0.1.0", "churn@v0.1.1"}
    assert sorted(p.name for p in (root / ".mlship/registry/churn").iterdir()) == ["v0.1.0", "v0.1.1"]


def test_the_specs_version_is_used_and_a_taken_or_lower_one_is_refused(project):
    root = project.root
    released(mlship(root, "release", "churn", "--json"))
    review(root, "{max_iter: 1000, C: 0.5}", 'version: "2.0.0"\n')
    assert released(mlship(root, "release", "churn", "--json"))["version"] == "v2.0.0"
    before = tags(root)

    review(root, "{max_iter: 1000, C: 0.25}", 'version: "2.0.0"\n')
    taken = mlship(root, "release", "churn")
    assert taken.exit_code == 2
    assert "models/churn/model.yaml:13: version: churn v2.0.0 already exists (fingerprint" in taken.stderr
    assert "versions are never reused" in taken.stderr
    write_spec(root, 'version: "1.5.0"\n', "{max_iter: 1000, C: 0.25}")
    commit_all(root, "a lower version")
    lower = mlship(root, "release", "churn")
    assert lower.exit_code == 2 and "v1.5.0 is lower than churn's highest version v2.0.0" in lower.stderr
    assert unmoved(before, root) == before, "a refused release makes no tag"

    write_spec(root, 'version: "2.1.0"\n', "{max_iter: 1000, C: 0.25}")
    commit_all(root, "a higher version")
    assert released(mlship(root, "release", "churn", "--json"))["version"] == "v2.1.0"

    # The version is not part of the fingerprint: changing only it makes no new version, and says why.
    write_spec(root, 'version: "3.0.0"\n', "{max_iter: 1000, C: 0.25}")
    commit_all(root, "only the version")
    same = released(mlship(root, "release", "churn", "--json"))
    assert same["version"] == "v2.1.0" and same["created"] is False
    assert same["note"].startswith("version: 3.0.0 in the spec is not used")


def test_a_model_that_is_not_committed_is_not_released(project):
    root = project.root
    (root / "models/churn/NOTES.md").write_text("not committed yet\n")
    refused = mlship(root, "release", "churn")
    assert refused.exit_code == 2
    assert "differ from HEAD: commit them first" in refused.stderr
    assert tags(root) == {}


def test_a_damaged_or_different_local_release_is_never_overwritten(project):
    root = project.root
    released(mlship(root, "release", "churn", "--json"))
    folder = root / ".mlship/registry/churn/v0.1.0"
    card = folder / "model_card.md"
    card.write_text(card.read_text() + "tampered\n")
    damaged = mlship(root, "release", "churn")
    assert damaged.exit_code == 2 and "does not match its SHA-256 in SHA256SUMS" in damaged.stderr
    assert card.read_text().endswith("tampered\n")
    with pytest.raises(RegistryError, match="the release is damaged"):
        releases.fetch(project, "churn", "v0.1.0", releases.backend(project), root / "unused")

    sums = folder / "SHA256SUMS"
    sums.write_text(sums.read_text().replace("model_card.md", "model-card.md"))
    different = mlship(root, "release", "churn")
    assert different.exit_code == 2 and "holds other artifacts than this release's" in different.stderr
    assert "model-card.md" in sums.read_text()


def test_the_registry_folder_can_be_chosen(project, tmp_path, monkeypatch):
    root = project.root
    chosen = released(mlship(root, "release", "churn", "--registry", str(tmp_path / "flag"), "--json"))
    assert (tmp_path / "flag/churn/v0.1.0/SHA256SUMS").is_file() and chosen["written"]
    monkeypatch.setenv("MLSHIP_REGISTRY_DIR", str(tmp_path / "env"))
    again = released(mlship(root, "release", "churn", "--json"))
    assert again["created"] is False and len(again["written"]) == 4, "the missing artifacts are stored"
    assert (tmp_path / "env/churn/v0.1.0/SHA256SUMS").read_text() == (tmp_path / "flag/churn/v0.1.0/SHA256SUMS").read_text()


def test_an_artifact_can_be_stored_later_only_from_the_archive_the_tag_records(project, tmp_path):
    root = project.root
    released(mlship(root, "release", "churn", "--json"))
    (archive,) = (root / "dist").glob("churn-*.bento")
    archive.write_bytes(archive.read_bytes() + b"\0")  # another export of the same bento: other bytes
    archive.with_name(archive.name + ".sha256").write_text(f"{sha256_file(archive)}  {archive.name}\n")
    refused = mlship(root, "release", "churn", "--registry", str(tmp_path / "elsewhere"))
    assert refused.exit_code == 2
    assert "the archive in dist/ is not the one the tag records" in refused.stderr
    assert not (tmp_path / "elsewhere/churn/v0.1.0").exists()


# --- the GitHub backend ------------------------------------------------------------------------


@pytest.fixture
def origin(project: Project, tmp_path: Path) -> Path:
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(project.root, "remote", "add", "origin", str(remote))
    git(project.root, "push", "-q", "origin", "main")
    return remote


def test_the_github_backend_pushes_the_tag_and_makes_one_release_with_the_assets(project, origin, github_env):
    github, root = github_env, project.root
    result = released(mlship(root, "release", "churn", "--backend", "github", "--json"))
    assert result["pushed"] is True and result["backend"] == "github"
    assert git(origin, "for-each-ref", "--format=%(objectname)", "refs/tags/churn@v0.1.0").strip() == \
        tags(root)["churn@v0.1.0"], "the annotated tag itself was pushed before the release was made"
    (made,) = github.releases.values()
    assert made.tag_name == "churn@v0.1.0" and made.name == "churn v0.1.0"
    assert result["location"] == f"https://github.com/{github.repository}/releases/tag/churn%40v0.1.0"
    assert result["fingerprint"] in made.body and "sha256sum -c SHA256SUMS" in made.body
    (archive,) = (root / "dist").glob("churn-*.bento")
    assets = {asset.name: asset for asset in made.assets}
    assert list(assets) == [archive.name, "metrics.json", "model_card.md", "SHA256SUMS"]
    assert assets[archive.name].data == archive.read_bytes()
    assert assets["metrics.json"].data == (root / "reports/churn/metrics.json").read_bytes()
    assert assets["metrics.json"].content_type == "application/json"
    assert assets["SHA256SUMS"].data.decode().splitlines()[0] == f"{sha256_file(archive)}  {archive.name}"

    uploads = len(github.requests_to("POST", "/uploads/"))
    again = released(mlship(root, "release", "churn", "--backend", "github", "--json"))
    assert again["created"] is False and again["written"] == [] and len(again["kept"]) == 4
    assert len(github.releases) == 1 and len(github.requests_to("POST", "/uploads/")) == uploads == 4
    assert len(github.requests_to("POST", r"/releases$")) == 1

    client = GitHub(github.token)
    fetched = releases.fetch(project, "churn", "v0.1.0", releases.GitHubReleases(client, github.repository),
                             root.parent / "downloaded")
    assert fetched.archive.read_bytes() == archive.read_bytes()
    assert fetched.card.read_bytes() == (root / "reports/churn/model_card.md").read_bytes()


def test_an_interrupted_upload_is_completed_by_running_again_without_duplicates(project, origin, github_env):
    github, root = github_env, project.root
    github.fail_next("POST", r"^/uploads/", 502)
    cut = mlship(root, "release", "churn", "--backend", "github")
    assert cut.exit_code == 2 and "502" in cut.stderr
    (made,) = github.releases.values()
    assert made.assets == [] and "churn@v0.1.0" in tags(origin)
    before = tags(root)

    completed = released(mlship(root, "release", "churn", "--backend", "github", "--json"))
    assert completed["created"] is False and len(completed["written"]) == 4
    assert unmoved(before, root) == before
    assert len(github.releases) == 1 and [a.name for a in made.assets][-1] == "SHA256SUMS"


def test_an_unfinished_asset_left_by_a_cut_upload_is_deleted_and_the_upload_completed(project, origin, github_env):
    """GitHub: a 502 during an upload "may leave an empty asset with a state of starter", which "can be safely deleted"."""
    github, root = github_env, project.root
    github.fail_next("POST", r"^/uploads/", 502)
    assert mlship(root, "release", "churn", "--backend", "github").exit_code == 2
    (made,) = github.releases.values()
    (archive,) = (root / "dist").glob("churn-*.bento")
    starter = github.add_asset(made, archive.name, b"", state="open")

    completed = released(mlship(root, "release", "churn", "--backend", "github", "--json"))
    assert len(completed["written"]) == 4 and completed["kept"] == []
    assert [r.path for r in github.requests_to("DELETE", "/releases/assets/")] == [
        f"/repos/{github.repository}/releases/assets/{starter.id}"]
    assets = {asset.name: asset for asset in made.assets}
    assert assets[archive.name].data == archive.read_bytes() and assets[archive.name].state == "uploaded"


def test_the_github_backend_needs_a_repository_and_a_token(project, monkeypatch):
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    no_repo = mlship(project.root, "release", "churn", "--backend", "github")
    assert no_repo.exit_code == 2 and "pass --repo OWNER/NAME or set GITHUB_REPOSITORY" in no_repo.stderr
    no_token = mlship(project.root, "release", "churn", "--backend", "github", "--repo", "acme/models")
    assert no_token.exit_code == 2 and "no GitHub token: set GITHUB_TOKEN" in no_token.stderr
    assert tags(project.root) == {}


def test_push_fetches_the_shared_tags_first_and_pushes_the_new_one(project, origin, tmp_path):
    root = project.root
    # Someone else released v0.4.0 of another model version from their clone.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    new_version(Project(other), "v0.4.0", "f" * 64)
    git(other, "push", "-q", "origin", "churn@v0.4.0")

    result = released(mlship(root, "release", "churn", "--push", "--json"))
    assert result["version"] == "v0.4.1" and result["pushed"] is True
    assert set(tags(origin)) == {"churn@v0.4.0", "churn@v0.4.1"}
    assert tags(origin) == tags(root)


def test_a_tag_that_differs_from_the_remotes_is_never_overwritten(tagged, tmp_path):
    root = tagged.root
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    new_version(Project(other), "v0.1.0", "a" * 64)
    git(other, "push", "-q", "origin", "churn@v0.1.0")
    new_version(tagged, "v0.1.0", "b" * 64)
    mine = tags(root)

    with pytest.raises(RegistryError, match=r"churn@v0.1.0: the local tag differs from origin.s"):
        registry.fetch(tagged, "churn", "origin")
    with pytest.raises(RegistryError, match="origin already has a different churn@v0.1.0"):
        registry.push(tagged, ["churn@v0.1.0"], "origin")
    assert tags(root) == mine and tags(remote) != mine
    with pytest.raises(RegistryError, match="there is no git remote 'upstream' here"):
        registry.fetch(tagged, "churn", "upstream")


# --- versions, assignments and history --------------------------------------------------------


def test_assignments_make_numbered_annotated_tags_at_the_versions_commit_in_order(tagged):
    root = tagged.root
    v1 = new_version(tagged, "v0.1.0", "1" * 64)
    v2 = new_version(tagged, "v0.1.1", "2" * 64)
    made = []
    for version, stage, note in [("v0.1.0", "prod", ""), ("v0.1.1", "staging", ""), ("0.1.1", "prod", ""),
                                 ("v0.1.0", "prod", "rollback from v0.1.1")]:
        before = tags(root)
        assigned = registry.assign(tagged, "churn", version, stage, note)
        assert assigned.created
        made.append(assigned.event)
        unmoved(before, root)
    assert [e.tag for e in made] == ["churn#prod#1", "churn#staging#2", "churn#prod#3", "churn#prod#4"]
    assert [e.version for e in made] == ["v0.1.0", "v0.1.1", "v0.1.1", "v0.1.0"]
    for event in made:
        assert git(root, "cat-file", "-t", event.tag).strip() == "tag"
        version_commit = v1.commit if event.version == "v0.1.0" else v2.commit
        assert git(root, "rev-parse", f"{event.tag}^{{commit}}").strip() == event.commit == version_commit
    assert message(root, "churn#prod#1").strip() == "Assigning stage prod to artifact churn version v0.1.0"
    assert message(root, "churn#prod#4").strip() == ("Assigning stage prod to artifact churn version v0.1.0\n\n"
                                                     "note: rollback from v0.1.1")
    dates = [e.date for e in [v1, v2, *made]]
    assert dates == sorted(dates) and len(set(dates)) == len(dates), "a model's tags are a second apart at least"

    found = registry.read(tagged, "churn")
    assert found.current("prod") == found.find("v0.1.0") and found.current("staging").version == "v0.1.1"
    assert found.current("canary") is None
    assert [e.tag for e in found.stage_history("prod")] == ["churn#prod#1", "churn#prod#3", "churn#prod#4"]
    assert {stage: e.version for stage, e in found.stages().items()} == {"prod": "v0.1.0", "staging": "v0.1.1"}
    assert [e.version for e in found.versions()] == ["v0.1.0", "v0.1.1"] and found.latest().version == "v0.1.1"
    assert found.with_fingerprint("2" * 64) == found.find("v0.1.1") and found.with_fingerprint("3" * 64) is None

    # The current version again: nothing is tagged, and the assignment that made it current is returned.
    before = tags(root)
    again = registry.assign(tagged, "churn", "v0.1.0", "prod")
    assert not again.created and again.event.tag == "churn#prod#4" and tags(root) == before


def test_assigning_an_unknown_version_or_a_bad_stage_is_an_error(tagged):
    new_version(tagged, "v0.1.0", "1" * 64)
    with pytest.raises(RegistryError, match=r"churn has no version v0.2.0 \(versions: v0.1.0\)"):
        registry.assign(tagged, "churn", "v0.2.0", "prod")
    with pytest.raises(RegistryError, match="'Prod' is not a stage name"):
        registry.assign(tagged, "churn", "v0.1.0", "Prod")
    with pytest.raises(RegistryError, match="the tag churn@v0.1.0 exists already"):
        registry.register(tagged, "churn", "v0.1.0", head(tagged.root), {})
    assert set(tags(tagged.root)) == {"churn@v0.1.0"}


def test_the_next_number_counts_every_stage_and_gtos_own_tags(tagged):
    root = tagged.root
    v1 = new_version(tagged, "v0.1.0", "1" * 64)
    git(root, "tag", "-a", "churn#dev#7", "-m", "made by hand", v1.commit)
    git(root, "tag", "churn#qa#9", v1.commit)  # lightweight: gto ignores it, but its number is taken
    assert registry.assign(tagged, "churn", "v0.1.0", "prod").event.tag == "churn#prod#10"


@pytest.mark.parametrize("taken, requested, expected", [
    ([], None, "v0.1.0"),
    (["churn@v0.1.0"], None, "v0.1.1"),
    (["churn@v0.1.9", "churn@v0.1.10", "churn@v0.1.2"], None, "v0.1.11"),
    (["churn@v1.0.0-rc.1"], None, "v1.0.1"),
    (["churn@v0.1.0", "churn#prod#1"], "1.0.0", "v1.0.0"),
    (["churn@v1.0.0-rc.1"], "1.0.0", "v1.0.0"),
    ([], "0.0.1", "v0.0.1"),
])
def test_the_next_version(taken, requested, expected):
    assert Registry("churn", [], frozenset(taken)).next_version(requested) == expected


@pytest.mark.parametrize("taken, requested, error", [
    (["churn@v1.0.0"], "1.0.0", "churn v1.0.0 already exists"),
    (["churn@v1.0.0!"], "1.0.0", "churn v1.0.0 already exists"),  # deregistered: still never reused
    (["churn@v1.0.0"], "1.0.0+build.5", "churn v1.0.0+build.5 already exists"),
    (["churn@v1.2.0"], "1.1.9", "v1.1.9 is lower than churn's highest version v1.2.0"),
    (["churn@v1.0.0"], "1.0.0-rc.1", "v1.0.0-rc.1 is lower"),
    ([], "1.0", "'1.0' is not a semantic version"),
    ([], "1.0.0-01", "is not a semantic version"),
])
def test_a_requested_version_must_be_new_valid_and_higher(taken, requested, error):
    with pytest.raises(RegistryError, match=error.replace("+", r"\+")):
        Registry("churn", [], frozenset(taken)).next_version(requested, "models/churn/model.yaml:3: version")


def test_semantic_version_precedence():
    ordered = ["v0.9.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta", "v1.0.0-beta.2",
               "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.1", "v1.2.0", "v1.10.0", "v2.0.0"]
    assert sorted(reversed(ordered), key=registry.version_key) == ordered


def test_lightweight_tags_are_not_versions_but_their_names_are_taken(tagged):
    root = tagged.root
    git(root, "tag", "churn@v0.1.0")
    found = registry.read(tagged, "churn")
    assert found.versions() == [] and found.latest() is None and "churn@v0.1.0" in found.taken
    assert found.next_version(None) == "v0.1.1"


def test_history_lists_versions_and_assignments_in_time_order_with_tagger_and_date(tagged, monkeypatch):
    root = tagged.root
    new_version(tagged, "v0.1.0", "1" * 64)
    registry.assign(tagged, "churn", "v0.1.0", "staging")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Release Bot")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "bot@example.com")
    new_version(tagged, "v0.2.0", "2" * 64)
    registry.assign(tagged, "churn", "v0.2.0", "prod", "first production deploy")
    git(root, "tag", "-a", "other@v9.0.0", "-m", "another model", "HEAD")

    document = json.loads(ok(mlship(root, "history", "churn", "--json")).stdout)
    assert document["model"] == "churn" and document["latest"] == "v0.2.0"
    assert document["versions"] == ["v0.1.0", "v0.2.0"]
    assert document["stages"] == {"staging": "v0.1.0", "prod": "v0.2.0"}
    events = document["events"]
    assert [(e["event"], e["tag"], e["version"], e["stage"], e["number"]) for e in events] == [
        ("registration", "churn@v0.1.0", "v0.1.0", None, None),
        ("assignment", "churn#staging#1", "v0.1.0", "staging", 1),
        ("registration", "churn@v0.2.0", "v0.2.0", None, None),
        ("assignment", "churn#prod#2", "v0.2.0", "prod", 2),
    ]
    assert [e["tagger"] for e in events] == ["mlship tests"] * 2 + ["Release Bot"] * 2
    assert events[2]["tagger_email"] == "bot@example.com"
    dates = [e["date"] for e in events]
    assert dates == sorted(dates)
    for event in events:
        assert event["date"] == git(root, "for-each-ref", "--format=%(taggerdate:iso-strict)",
                                    f"refs/tags/{event['tag']}").strip()
        assert event["commit"] == git(root, "rev-parse", f"{event['tag']}^{{commit}}").strip()
    assert events[0]["fingerprint"] == "1" * 64 and events[0]["metrics"] == {"roc_auc": 0.75, "accuracy": 0.7}
    assert events[0]["message"] == "Registering artifact churn version v0.1.0"
    assert events[3]["fields"] == {"note": "first production deploy"} and events[3]["fingerprint"] is None

    text = ok(mlship(root, "history", "churn")).stdout.splitlines()
    assert text[0] == "churn: latest v0.2.0 · staging v0.1.0 · prod v0.2.0"
    assert [line.split()[2:5] for line in text[1:]] == [
        ["registered", "v0.1.0", "churn@v0.1.0"],
        ["assigned", "staging", "←"],
        ["registered", "v0.2.0", "churn@v0.2.0"],
        ["assigned", "prod", "←"],
    ]
    assert "Release Bot <bot@example.com>" in text[4] and "first production deploy" in text[4]
    assert "fingerprint 111111111111 · roc_auc 0.7500 · accuracy 0.7000" in text[1]


def test_history_of_a_model_without_tags_or_folder(tagged):
    shown = ok(mlship(tagged.root, "history", "churn"))
    assert shown.stdout.strip() == "churn: no versions yet; `mlship release churn` registers the first"
    assert json.loads(ok(mlship(tagged.root, "history", "churn", "--json")).stdout) == {
        "model": "churn", "latest": None, "versions": [], "stages": {}, "events": []}
    bad = mlship(tagged.root, "history", "Churn!")
    assert bad.exit_code == 2 and "'Churn!' is not a model name" in bad.stderr


# --- gto reads the same registry ----------------------------------------------------------------


def gto_writes(project: Project, *args: str) -> None:
    """Run a gto command that makes a tag, once the clock is a second past the model's latest tag:
    gto dates its tags by the clock (ignoring GIT_COMMITTER_DATE), and ours may be dated ahead of it."""
    latest = max(e.date for e in registry.read(project, "churn").events)
    time.sleep(max(0.0, latest.timestamp() + 1 - time.time()))
    gto(project.root, *args)


def test_gto_reads_the_same_versions_and_stages_as_mlship(project):
    root = project.root
    first = released(mlship(root, "release", "churn", "--json"))
    gto_writes(project, "assign", "churn", "--version", "v0.1.0", "--stage", "canary")  # gto writes, mlship reads
    new_version(project, "v0.2.0", "2" * 64)
    for version, stage in [("v0.1.0", "staging"), ("v0.2.0", "staging"), ("v0.2.0", "prod"), ("v0.1.0", "prod")]:
        registry.assign(project, "churn", version, stage)  # the last one is a rollback

    ours = json.loads(ok(mlship(root, "history", "churn", "--json")).stdout)
    assert [e["tag"] for e in ours["events"]] == ["churn@v0.1.0", "churn#canary#1", "churn@v0.2.0",
                                                  "churn#staging#2", "churn#staging#3", "churn#prod#4", "churn#prod#5"]
    state = json.loads(gto(root, "show", "--json"))["churn"]
    assert state["version"] == ours["latest"] == "v0.2.0"
    assert state["stage"] == ours["stages"] == {"canary": "v0.1.0", "staging": "v0.2.0", "prod": "v0.1.0"}
    versions = json.loads(gto(root, "show", "churn", "--json"))
    assert {v["version"]: v["commit_hexsha"] for v in versions} == {
        e["version"]: e["commit"] for e in ours["events"] if e["event"] == "registration"}

    theirs = sorted(json.loads(gto(root, "history", "churn", "--json")), key=lambda e: e["timestamp"])

    def comparable(event: dict, tag: str, date: str, tagger: str, email: str) -> tuple:
        return (event["event"], event["version"], event["stage"], event[tag], event["commit"], event[tagger],
                event[email], datetime.fromisoformat(event[date]))

    assert [comparable(e, "ref", "timestamp", "author", "author_email") for e in theirs] == \
        [comparable(e, "tag", "date", "tagger", "tagger_email") for e in ours["events"]]
    assert theirs[0]["message"] == message(root, "churn@v0.1.0").strip()
    assert f"fingerprint: {first['fingerprint']}" in theirs[0]["message"]


def test_gtos_unassignments_and_deregistrations_are_read_as_gto_reads_them(tagged):
    new_version(tagged, "v0.1.0", "1" * 64)
    new_version(tagged, "v0.1.1", "2" * 64)
    registry.assign(tagged, "churn", "v0.1.0", "prod")
    registry.assign(tagged, "churn", "v0.1.1", "prod")
    gto_writes(tagged, "deprecate", "churn", "v0.1.1", "prod")  # unassigns: the previous version is back
    found = registry.read(tagged, "churn")
    assert found.events[-1].kind == "unassignment" and found.events[-1].tag == "churn#prod!#3"
    assert found.current("prod").version == "v0.1.0"
    assert json.loads(gto(tagged.root, "show", "--json"))["churn"]["stage"] == {"prod": "v0.1.0"}

    gto_writes(tagged, "deprecate", "churn", "v0.1.0")  # deregisters v0.1.0
    found = registry.read(tagged, "churn")
    assert [e.version for e in found.versions()] == ["v0.1.1"] and found.current("prod") is None
    assert json.loads(gto(tagged.root, "show", "--json"))["churn"]["stage"] == {}
    with pytest.raises(RegistryError, match="churn has no version v0.1.0"):
        registry.assign(tagged, "churn", "v0.1.0", "prod")
    assert found.next_version(None) == "v0.1.2"
    history = ok(mlship(tagged.root, "history", "churn")).stdout
    assert re.search(r"unassigned +prod ✕ v0\.1\.1 +churn#prod!#3", history)
    assert re.search(r"deregistered +v0\.1\.0 +churn@v0\.1\.0!", history)


def test_a_version_whose_failed_gates_a_maintainer_accepted_says_who_in_its_tag_and_release(project, origin,
                                                                                            github_env):
    root = project.root
    ledger_file = root / "reports/churn/metrics.json"
    ledger = json.loads(ledger_file.read_text())
    url = f"https://github.com/{github_env.repository}/pull/7#issuecomment-2200000001"
    ledger.update(passed=True, gates_passed=False, accepted={
        "model": "churn", "fingerprint": ledger["fingerprint"][:12], "by": "alice", "why": "known trade-off",
        "url": url, "at": "2026-12-07T10:00:00Z"})
    ledger_file.write_text(json.dumps(ledger))
    commit_all(root, "the ledger as the accepted pull request left it")

    released(mlship(root, "release", "churn", "--backend", "github", "--json"))

    assert message(root, "churn@v0.1.0").splitlines()[-2:] == ["accepted-by: alice", f"accepted-in: {url}"]
    (made,) = github_env.releases.values()
    assert f"@alice accepted it in {url}" in made.body
