"""Retraining through a pull request (``mlship.monitor.retrain``): real git repositories in temporary
folders, a bare repository as the remote, and the fake GitHub for the pull request."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from mlship import api
from mlship.errors import DataError, MlshipError, SpecError
from mlship.git import GitError
from mlship.github.client import GitHub
from mlship.monitor.retrain import Retrained, retrain
from repo_helpers import git
from sample_churn import customers

REPO = "acme/models"
SPEC = """\
# The churn model: retrained monthly on fresh exports.
description: Predicts which customers will cancel.
task: classification
data:
  path: data/customers.csv   # the monthly export
  target: churned
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 1000}
evaluation:
  slices: [region]
  bootstrap: {resamples: 100}
gates:
  roc_auc: {min: 0.6}
"""


def churn_project(factory, spec: str = SPEC) -> Path:
    """A repository on main holding the churn model with 300 rows of data."""
    factory.model("churn", spec)
    data = factory.root / "models" / "churn" / "data"
    data.mkdir()
    customers(300, seed=0).to_csv(data / "customers.csv", index=False)
    factory.git_init()
    return factory.root


def new_data(tmp_path: Path, rows: int = 400, seed: int = 1, name: str = "export.csv", **changes) -> Path:
    frame = customers(rows, seed=seed)
    for column, value in changes.items():
        if value is None:
            frame = frame.drop(columns=column)
        else:
            frame[column] = value
    path = tmp_path / name
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def state_of(root: Path) -> tuple[str, str, str]:
    """What the user sees: the branch, HEAD and the working tree's status."""
    return (git(root, "branch", "--show-current").strip(), git(root, "rev-parse", "HEAD").strip(),
            git(root, "status", "--porcelain"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def show(root: Path, ref: str, path: str) -> bytes:
    return subprocess.run(["git", "show", f"{ref}:{path}"], cwd=root, check=True, capture_output=True).stdout


def bare_remote(root: Path, tmp_path: Path) -> Path:
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    return remote


# --- the branch ----------------------------------------------------------------------------------


def test_the_new_data_is_committed_on_a_new_branch_and_the_users_checkout_is_untouched(factory, tmp_path):
    root = churn_project(factory)
    export = new_data(tmp_path)
    old = root / "models" / "churn" / "data" / "customers.csv"
    old_bytes, before = old.read_bytes(), state_of(root)

    done = retrain(factory.project, "churn", export, "March export: 100 more customers")

    assert state_of(root) == before and old.read_bytes() == old_bytes
    assert done.branch == f"mlship/retrain-churn-{sha256(export)[:12]}"
    assert git(root, "rev-parse", done.branch).strip() == done.commit
    assert git(root, "rev-parse", f"{done.branch}~1").strip() == done.start == before[1]
    assert show(root, done.branch, "models/churn/data/customers.csv") == export.read_bytes()
    assert git(root, "diff", "--name-only", "main", done.branch).split() == ["models/churn/data/customers.csv"]
    assert (done.data.old_rows, done.data.new_rows) == (300, 400)
    assert (done.data.old_sha256, done.data.new_sha256) == (sha256(old), sha256(export))
    assert done.new_version is None and done.remote is None and done.pull_request_number is None
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1  # the temporary one is gone


def test_the_commit_message_carries_the_note_the_digests_and_the_row_counts(factory, tmp_path):
    root = churn_project(factory)
    export = new_data(tmp_path)
    done = retrain(factory.project, "churn", export, "March export\n\nFrom the billing system.")
    message = git(root, "log", "-1", "--format=%B", done.branch)
    old = sha256(root / "models" / "churn" / "data" / "customers.csv")
    assert message == ("Retrain churn on new data (300 → 400 rows)\n\n"
                       "March export\n\nFrom the billing system.\n\n"
                       "data: models/churn/data/customers.csv\n"
                       "rows: 300 -> 400\n"
                       f"sha256: {old} -> {sha256(export)}\n\n")


def test_the_branch_is_what_the_pr_flow_compares_with_the_base(factory, tmp_path):
    root = churn_project(factory)
    export = new_data(tmp_path)
    done = retrain(factory.project, "churn", export, "March export")
    git(root, "checkout", "-q", done.branch)

    result = api.pr(factory.project, base="main")

    (comparison,) = result.comparisons
    assert comparison.name == "churn" and comparison.paired and not comparison.new_model
    assert comparison.data_diff["rows"] == {"baseline": {"train": 233, "test": 67},
                                            "candidate": {"train": 313, "test": 87}}
    assert sha256(export) in str(comparison.data_diff["digests"]["candidate"])
    assert comparison.baseline.commit == done.start and result.merge_base == done.start


def test_a_pinned_version_is_bumped_on_the_branch_keeping_comments_and_layout(factory, tmp_path):
    root = churn_project(factory, SPEC + 'version: "1.2.0"   # next release\n')
    done = retrain(factory.project, "churn", new_data(tmp_path))

    assert (done.old_version, done.new_version) == ("1.2.0", "1.2.1")
    branch_spec = show(root, done.branch, "models/churn/model.yaml").decode()
    assert branch_spec == SPEC + 'version: "1.2.1"   # next release\n'
    assert "version: 1.2.0 -> 1.2.1" in git(root, "log", "-1", "--format=%B", done.branch)
    assert (root / "models" / "churn" / "model.yaml").read_text().endswith('version: "1.2.0"   # next release\n')


def test_the_bump_goes_above_the_highest_registered_version(factory, tmp_path):
    root = churn_project(factory, SPEC + "version: 1.2.0\n")
    git(root, "tag", "-a", "-m", "Registering artifact churn version v1.4.0", "churn@v1.4.0")
    done = retrain(factory.project, "churn", new_data(tmp_path))
    assert done.new_version == "1.4.1"
    assert show(root, done.branch, "models/churn/model.yaml").decode().endswith("\nversion: 1.4.1\n")


def test_a_version_written_across_lines_is_a_clear_error_and_no_branch_is_left(factory, tmp_path):
    root = churn_project(factory, SPEC + "version:\n  '1.2.0'\n")
    with pytest.raises(SpecError, match=r"model.yaml:\d+: version: cannot bump the version written this way"):
        retrain(factory.project, "churn", new_data(tmp_path))
    assert git(root, "branch", "--list", "mlship/*") == ""


def test_data_replaced_in_place_is_taken_from_the_working_tree_and_the_old_from_head(factory, tmp_path):
    root = churn_project(factory)
    data = root / "models" / "churn" / "data" / "customers.csv"
    old = sha256(data)
    customers(350, seed=5).to_csv(data, index=False)
    done = retrain(factory.project, "churn", data)
    assert (done.data.old_sha256, done.data.new_sha256) == (old, sha256(data))
    assert (done.data.old_rows, done.data.new_rows) == (300, 350)


def test_new_columns_are_reported_and_a_parquet_model_takes_parquet(factory, tmp_path):
    factory.model("churn", SPEC.replace("customers.csv", "customers.parquet"))
    (factory.root / "models" / "churn" / "data").mkdir()
    customers(300).to_parquet(factory.root / "models" / "churn" / "data" / "customers.parquet", index=False)
    factory.git_init()
    done = retrain(factory.project, "churn", new_data(tmp_path, name="export.parquet", tenure=7))
    assert done.data.columns_added == ["tenure"] and done.data.implicit_features
    assert done.data.path == "models/churn/data/customers.parquet"


# --- what is refused, before anything is made --------------------------------------------------


def test_a_model_on_a_bundled_dataset_says_what_to_change(factory, tmp_path):
    factory.model("cancer", """
        task: classification
        data:
          sklearn: breast_cancer
        model:
          estimator: sklearn.linear_model.LogisticRegression
    """)
    factory.git_init()
    with pytest.raises(SpecError) as caught:
        retrain(factory.project, "cancer", new_data(tmp_path))
    assert str(caught.value).startswith("models/cancer/model.yaml:3: data.sklearn: retraining replaces the model's "
                                        "data file, but this model reads scikit-learn's bundled dataset "
                                        "'breast_cancer': save the data as a CSV or Parquet file")
    assert caught.value.exit_code == 2


def test_a_model_on_a_pinned_url_says_what_to_change(factory, tmp_path):
    factory.model("churn", f"""
        task: classification
        data:
          url: http://127.0.0.1:1/churn.csv
          sha256: {"a" * 64}
          target: churned
        model:
          estimator: sklearn.linear_model.LogisticRegression
    """)
    factory.git_init()
    with pytest.raises(SpecError) as caught:
        retrain(factory.project, "churn", new_data(tmp_path))
    assert str(caught.value).startswith("models/churn/model.yaml:3: data.url: retraining replaces the model's data "
                                        "file, but this model reads a file pinned by URL: publish the new data")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("changes, field, message", [
    ({"churned": None}, "data.target", "target column 'churned' is not in {new}"),
    ({"region": None}, "evaluation.slices[0]", "slice column 'region' is not in {new}"),
    ({"income": None}, "data.features", "{new} lacks column 'income', which the model uses: the spec lists no "
                                        "features"),
    ({"churned": "yes"}, "data.target", "target 'churned' in {new} has a single class ('yes')"),
])
def test_new_data_that_does_not_fit_the_spec_names_the_file_and_the_column(factory, tmp_path, changes, field,
                                                                          message):
    root = churn_project(factory)
    export = new_data(tmp_path, **changes)
    with pytest.raises(DataError) as caught:
        retrain(factory.project, "churn", export)
    text = str(caught.value)
    assert text.startswith("models/churn/model.yaml:") and f": {field}: " in text
    assert message.format(new=export) in text
    assert caught.value.exit_code == 2
    assert git(root, "branch", "--list", "mlship/*") == ""


@pytest.mark.parametrize("content, name, message", [
    (None, "missing.csv", "missing.csv does not exist or is not a file"),
    (b"a,b\n1,2\n", "export.txt", "export.txt is not a .csv or .parquet file"),
    (b"PAR1 not really parquet", "export.parquet", "is a Parquet file, but the spec reads a CSV file"),
    (b"\xff\xfe\x00broken", "export.csv", "data.path: cannot read"),
])
def test_a_new_file_that_cannot_be_read_is_a_clear_error(factory, tmp_path, content, name, message):
    churn_project(factory)
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        retrain(factory.project, "churn", path)


def test_identical_data_is_refused(factory, tmp_path):
    root = churn_project(factory)
    copy = tmp_path / "same.csv"
    copy.write_bytes((root / "models" / "churn" / "data" / "customers.csv").read_bytes())
    with pytest.raises(DataError, match="same.csv is identical to models/churn/data/customers.csv"):
        retrain(factory.project, "churn", copy)


def test_uncommitted_changes_to_the_model_are_refused_but_elsewhere_they_do_not_matter(factory, tmp_path):
    root = churn_project(factory)
    (root / "models" / "churn" / "model.yaml").write_text(SPEC.replace("max_iter: 1000", "max_iter: 2000"))
    with pytest.raises(MlshipError, match=r"churn's files have uncommitted changes \(models/churn/model.yaml\): "
                                          "the retraining branch starts from HEAD"):
        retrain(factory.project, "churn", new_data(tmp_path))
    git(root, "checkout", "--", "models/churn/model.yaml")
    (root / "NOTES.md").write_text("unrelated work in progress\n")
    (root / "models" / "churn" / "data" / "april.csv").write_bytes(new_data(tmp_path).read_bytes())

    done = retrain(factory.project, "churn", root / "models" / "churn" / "data" / "april.csv")

    assert git(root, "status", "--porcelain").split("\n")[:2] == ["?? NOTES.md", "?? models/churn/data/april.csv"]
    assert git(root, "diff", "--name-only", "main", done.branch).split() == ["models/churn/data/customers.csv"]


def test_an_existing_branch_is_refused(factory, tmp_path):
    churn_project(factory)
    export = new_data(tmp_path)
    done = retrain(factory.project, "churn", export)
    with pytest.raises(MlshipError, match=f"the branch {done.branch} exists already"):
        retrain(factory.project, "churn", export)


def test_a_data_file_that_is_not_committed_is_refused(factory, tmp_path):
    factory.model("churn", SPEC)
    (factory.root / "models" / "churn" / "data").mkdir()
    customers(300).to_csv(factory.root / "models" / "churn" / "data" / "customers.csv", index=False)
    (factory.root / ".gitignore").write_text("*.csv\n")
    factory.git_init()
    with pytest.raises(DataError, match=r"models/churn/data/customers.csv is not committed at HEAD \(is it in "
                                        r"\.gitignore\?\)"):
        retrain(factory.project, "churn", new_data(tmp_path))


# --- pushing and the pull request --------------------------------------------------------------


def test_push_sends_the_branch_to_the_remote(factory, tmp_path):
    root = churn_project(factory)
    remote = bare_remote(root, tmp_path)
    done = retrain(factory.project, "churn", new_data(tmp_path), push=True)
    assert done.remote == "origin"
    assert git(remote, "rev-parse", done.branch).strip() == done.commit


def test_a_pull_request_is_opened_that_explains_the_retraining(factory, tmp_path, github):
    root = churn_project(factory)
    github.git_remote = bare_remote(root, tmp_path)
    client = GitHub(github.token, github.api_url)

    done = retrain(factory.project, "churn", new_data(tmp_path, tenure=3), "March export", push=True,
                   client=client, repo=REPO)

    (pull,) = github.pull_requests_in()
    assert (done.pull_request_number, done.pull_request_url) == (pull.number, f"https://github.com/{REPO}/pull/1")
    assert (pull.pull.head_ref, pull.pull.head_sha, pull.pull.base_ref) == (done.branch, done.commit, "main")
    assert pull.title == "Retrain churn on new data (300 → 400 rows)"
    body = pull.body
    assert body.startswith("<!-- mlship:retrain:churn -->\n## Retraining `churn` on new data\n\n> March export\n")
    assert f"| before | 300 | `{done.data.old_sha256[:12]}` |" in body
    assert f"| after | 400 | `{done.data.new_sha256[:12]}` |" in body
    assert "New columns: `tenure`. The spec lists no features, so the model uses them." in body
    assert "compares it with the base branch's model on the same held-out rows" in body


def test_a_pull_request_needs_the_branch_pushed_and_a_repository_checked_before_anything_is_made(factory, tmp_path,
                                                                                                  github):
    root = churn_project(factory)
    client = GitHub(github.token, github.api_url)
    with pytest.raises(MlshipError, match=r"needs the branch on GitHub: push it too \(--push\)"):
        retrain(factory.project, "churn", new_data(tmp_path), client=client, repo=REPO)
    with pytest.raises(MlshipError, match=r"needs the repository as owner/name .* got 'acme'"):
        retrain(factory.project, "churn", new_data(tmp_path), push=True, client=client, repo="acme")
    git(root, "checkout", "-q", "--detach")
    with pytest.raises(MlshipError, match=r"HEAD is detached.*\(--base main\)"):
        retrain(factory.project, "churn", new_data(tmp_path), push=True, client=client, repo=REPO)
    assert git(root, "branch", "--list", "mlship/*") == "" and github.requests == []


def test_a_refused_pull_request_says_the_branch_was_pushed_and_what_to_change(factory, tmp_path, github):
    root = churn_project(factory)
    remote = bare_remote(root, tmp_path)
    github.git_remote, github.actions_may_create_pull_requests = remote, False
    with pytest.raises(MlshipError) as caught:
        retrain(factory.project, "churn", new_data(tmp_path), push=True, client=GitHub(github.token, github.api_url),
                repo=REPO, base="main")
    message = str(caught.value)
    assert message.startswith("the branch mlship/retrain-churn-")
    assert "was pushed to origin, but the pull request was not opened: GitHub answered 403" in message
    assert "Allow GitHub Actions to create and approve pull requests" in message
    assert git(remote, "branch", "--list", "mlship/*").strip().startswith("mlship/retrain-churn-")


def test_a_branch_the_remote_has_already_is_refused_before_anything_is_made(factory, tmp_path):
    root = churn_project(factory)
    bare_remote(root, tmp_path)
    export = new_data(tmp_path)
    done = retrain(factory.project, "churn", export, push=True)
    git(root, "branch", "-D", done.branch)
    with pytest.raises(MlshipError, match=f"origin has the branch {done.branch} already"):
        retrain(factory.project, "churn", export, push=True)
    assert git(root, "branch", "--list", "mlship/*") == ""


def test_a_push_to_a_missing_remote_fails_clearly_and_leaves_no_branch(factory, tmp_path):
    root = churn_project(factory)
    with pytest.raises(GitError, match="there is no git remote 'upstream' here"):
        retrain(factory.project, "churn", new_data(tmp_path), push=True, remote="upstream")
    assert git(root, "branch", "--list", "mlship/*") == ""


def test_the_result_reads_as_json(factory, tmp_path):
    churn_project(factory)
    done = retrain(factory.project, "churn", new_data(tmp_path), "note")
    document = done.to_dict()
    assert isinstance(done, Retrained)
    assert document["branch"] == done.branch and document["note"] == "note"
    assert document["data"]["new_rows"] == 400 and document["version"] is None and document["pull_request"] is None


def test_without_a_git_identity_the_error_says_how_to_set_one_and_no_branch_is_left(factory, tmp_path, monkeypatch):
    root = churn_project(factory)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME")
        monkeypatch.delenv(f"GIT_{role}_EMAIL")
    git(root, "config", "user.useConfigOnly", "true")  # as on a runner: no guessing from the host name
    with pytest.raises(GitError, match=r"git has no name and email for the commit: set them, e\.g\. `git config "
                                       r"user\.name"):
        retrain(factory.project, "churn", new_data(tmp_path))
    assert git(root, "branch", "--list", "mlship/*") == ""


def test_a_push_that_would_overwrite_a_branch_of_the_remote_is_refused(factory, tmp_path):
    """The race the check before committing cannot exclude: another run pushed the same branch meanwhile."""
    from mlship.git import push_branch

    root = churn_project(factory)
    remote = bare_remote(root, tmp_path)
    git(root, "push", "-q", "origin", "main:refs/heads/mlship/retrain-churn-x")
    git(root, "checkout", "-q", "--orphan", "mlship/retrain-churn-x")
    git(root, "commit", "-q", "-m", "unrelated history")
    with pytest.raises(GitError, match="origin already has a different branch mlship/retrain-churn-x"):
        push_branch(root, "origin", "mlship/retrain-churn-x")
    assert git(remote, "rev-parse", "mlship/retrain-churn-x") == git(root, "rev-parse", "main")


def test_the_cli_pushes_the_branch_and_opens_the_pull_request_with_the_environments_token(factory, tmp_path,
                                                                                           github_env, run_cli):
    root = churn_project(factory)
    github_env.git_remote = bare_remote(root, tmp_path)
    before = state_of(root)
    shown = run_cli("retrain", "churn", "--data", str(new_data(tmp_path)), "--note", "drift in tenure", "--push")
    assert shown.exit_code == 0, shown.output
    (pull,) = github_env.pull_requests_in()
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"🔁 churn: new data on branch {pull.pull.head_ref} (commit {pull.pull.head_sha[:12]})")
    assert lines[1].startswith("   data     models/churn/data/customers.csv: 300 → 400 rows")
    assert lines[-1] == f"   pull request #{pull.number}: https://github.com/{github_env.repository}/pull/{pull.number}"
    assert state_of(root) == before


def test_hostile_column_names_and_a_hostile_note_stay_text_in_the_pull_request_body():
    from markdown_structure import assert_untrusted_text_stayed_text, headings, inline_texts
    from mlship.monitor.retrain import DataChange, Retrained, pull_request_body

    column = "x ``` <img src=x> @octocat </details>\n## heading"
    note = "drift: @octocat <img src=y>\n# not a heading"
    change = DataChange("models/churn/data.csv", "a" * 64, "b" * 64, 300, 400, [column], ["old|col"], True)
    body = pull_request_body(Retrained("churn", "retrain/churn", "c" * 40, "d" * 40, change, note))
    assert_untrusted_text_stayed_text(body, {"<sub>", "</sub>", "<code>", "</code>", "<!-- mlship:retrain:churn -->"})
    assert [level for level, _ in headings(body)] == ["h2"]
    assert any(" ".join(column.split()) in text for text in inline_texts(body))
    assert any("old|col" in text for text in inline_texts(body))
