"""The composite actions and workflows: GitHub's schemas, zizmor, shellcheck, and our own rules."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from act_runner import TokenService
from conftest import REPO_ROOT

BIN = Path(sys.executable).parent
ACTIONS = sorted((REPO_ROOT / "actions").glob("*/action.yml"))
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
REUSABLE = sorted((REPO_ROOT / ".github" / "workflows").glob("mlship-*.yml"))
SCRIPTS = sorted((REPO_ROOT / "actions").glob("*/*.sh"))
CALLERS = sorted(set(WORKFLOWS) - set(REUSABLE) - {REPO_ROOT / ".github/workflows/ci.yml"})
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # BaseLoader: `on:` stays a string key


def steps_of(path: Path) -> list[tuple[str, dict]]:
    """Every step in a workflow or action, with where it is."""
    document = load(path)
    if "runs" in document:
        return [(f"{path.name} step {i}", s) for i, s in enumerate(document["runs"].get("steps", []))]
    return [(f"{path.name} job {job} step {i}", s)
            for job, body in document["jobs"].items() for i, s in enumerate(body.get("steps", []))]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=REPO_ROOT, capture_output=True, text=True)


def test_there_are_actions_and_workflows_to_check():
    assert {p.parent.name for p in ACTIONS} >= {"setup", "changed", "pr", "comment"}
    assert {p.name for p in WORKFLOWS} >= {"mlship-pr.yml", "mlship-post.yml", "ci.yml", "pr.yml", "post.yml"}


@pytest.mark.parametrize("schema, files", [("vendor.github-actions", ACTIONS), ("vendor.github-workflows", WORKFLOWS)])
def test_files_match_githubs_schemas(schema, files):
    done = run_tool("check-jsonschema", "--builtin-schema", schema, *map(str, files))
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing():
    done = run_tool("zizmor", "--offline", "--config", ".github/zizmor.yml", ".github/workflows", "actions")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_shellcheck_passes_on_every_run_block_and_script(tmp_path):
    blocks = []
    for path in [*ACTIONS, *WORKFLOWS]:
        for where, step in steps_of(path):
            if "run" in step and step.get("shell", "bash") == "bash":
                block = tmp_path / f"{len(blocks):03d}.sh"
                block.write_text(f"#!/usr/bin/env bash\n# {where}\n{step['run']}\n")
                blocks.append(block)
    assert blocks
    done = run_tool("shellcheck", "--shell=bash", *map(str, blocks), *map(str, SCRIPTS))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", [*ACTIONS, *WORKFLOWS], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_third_party_actions_are_pinned_to_a_full_sha_with_a_version_comment(path):
    text = path.read_text()
    for where, step in steps_of(path):
        uses = step.get("uses", "")
        if not uses or uses.startswith("./"):
            continue
        assert PINNED.match(uses), f"{where}: {uses} is not pinned to a commit SHA"
        assert re.search(re.escape(uses) + r" # v\d+\.\d+\.\d+", text), f"{where}: {uses} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", [*ACTIONS, *WORKFLOWS], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_expression_is_interpolated_into_run_text(path):
    for where, step in steps_of(path):
        assert "${{" not in step.get("run", ""), f"{where}: pass values through env:, not ${{{{ }}}} in run:"


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_every_action_input_is_kebab_case_with_a_description_and_a_default(path):
    document = load(path)
    assert document.get("description"), "the action needs a description"
    for name, spec in document.get("inputs", {}).items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name), f"input {name} is not kebab-case"
        assert spec.get("description"), f"input {name} has no description"
        assert "default" in spec, f"input {name} has no default"
    for name, spec in document.get("outputs", {}).items():
        assert spec.get("description") and spec.get("value"), f"output {name} needs a description and a value"


@pytest.mark.parametrize("path", [*ACTIONS, *WORKFLOWS], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_run_step_calls_mlship_or_a_script_of_the_action(path):
    for where, step in steps_of(path):
        run = step.get("run")
        if run is None or (step.get("id") == "pin" and path in REUSABLE):  # nothing is checked out yet there
            continue
        assert re.fullmatch(r'(mlship .+|"\$GITHUB_ACTION_PATH/(\.\./[\w-]+/)?[\w-]+\.sh"|exit "\$\{MLSHIP_EXIT_CODE:-2\}"|make (test|mutation))',
                            run.strip()), f"{where}: logic belongs in mlship or a script, not in YAML: {run!r}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_reads_contents_only_at_the_top(path):
    assert load(path)["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_only_a_job_that_pushes_keeps_credentials_and_it_uploads_nothing(path):
    for name, job in load(path)["jobs"].items():
        pushes = job.get("permissions", {}).get("contents") == "write"
        for index, step in enumerate(job.get("steps", [])):
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@") and "repository" not in step["with"]:
                assert step["with"]["persist-credentials"] == str(pushes).lower(), f"{name} step {index}"
            elif uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] == "false", f"{name} step {index}"
            assert not (pushes and uses.startswith("actions/upload-artifact@")), f"{name} step {index}"


@pytest.mark.parametrize("name", ["mlship-pr.yml", "mlship-release.yml", "mlship-rollback.yml"])
def test_jobs_that_compare_or_tag_check_out_the_history(name):
    for job_name, job in load(REPO_ROOT / ".github/workflows" / name)["jobs"].items():
        if job_name == "pin":
            continue
        first = job["steps"][0]
        assert first["uses"].startswith("actions/checkout@") and first["with"]["fetch-depth"] == "0", job_name


def test_a_new_push_to_a_pull_request_cancels_its_superseded_run():
    workflow = load(REPO_ROOT / ".github/workflows/pr.yml")
    assert workflow["concurrency"] == {"group": "mlship-pr-${{ github.event.pull_request.number }}",
                                       "cancel-in-progress": "true"}


@pytest.mark.parametrize("name", ["mlship-release.yml", "mlship-rollback.yml"])
def test_releases_and_deploys_of_a_model_run_one_at_a_time_and_are_never_cancelled(name):
    groups = {job_name: job.get("concurrency") for job_name, job in load(REPO_ROOT / ".github/workflows" / name)[
        "jobs"].items() if job.get("permissions", {}).get("contents") == "write"}
    assert groups
    for job_name, group in groups.items():
        assert group["cancel-in-progress"] == "false", job_name
        assert re.fullmatch(r"mlship-deploy-\$\{\{ github\.repository \}\}-\$\{\{ (matrix|inputs)\.model \}\}",
                            group["group"]), job_name


def test_pr_runs_are_superseded_by_newer_pushes():
    concurrency = load(REPO_ROOT / ".github/workflows/pr.yml")["concurrency"]
    assert concurrency["cancel-in-progress"] == "true"
    assert "pull_request.number" in concurrency["group"]


# --- pinning: a workflow called at a commit runs that commit's mlship ---------------------------


def pin_step(path: Path) -> dict:
    (step,) = load(path)["jobs"]["pin"]["steps"]
    return step


def test_every_reusable_workflow_pins_mlship_with_the_same_step_holding_only_id_token_write():
    steps = {path.name: pin_step(path) for path in REUSABLE}
    assert len({json.dumps(step, sort_keys=True) for step in steps.values()}) == 1, "the pin steps differ"
    for path in REUSABLE:
        pin = load(path)["jobs"]["pin"]
        assert pin["permissions"] == {"id-token": "write"}, path.name
        assert all("uses" not in step for step in pin["steps"]), "the pin job checks out and runs nothing else"


@pytest.mark.parametrize("path", REUSABLE, ids=lambda p: p.name)
def test_every_other_job_runs_mlship_from_the_pinned_commit_and_nothing_names_a_default(path):
    workflow = load(path)
    for name in ("mlship-repository", "mlship-ref"):
        assert workflow["on"]["workflow_call"]["inputs"][name]["default"] == "", f"{name} must not default to a ref"
    for job_name, job in workflow["jobs"].items():
        if job_name == "pin":
            continue
        assert "pin" in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"]), job_name
        checkouts = [s["with"] for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
                     and "repository" in s.get("with", {})]
        assert checkouts == [{"repository": "${{ needs.pin.outputs.repository }}", "ref": "${{ needs.pin.outputs.ref }}",
                              "path": ".mlship-action", "persist-credentials": "false"}], job_name


def test_no_file_names_an_owner_the_project_does_not_control():
    """The GitHub account the old snippets named is someone else's: README snippets say OWNER, a marked placeholder."""
    foreign = "/".join(["mlship"] * 2)  # spelled so that this file does not hold it either
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    for relative in tracked.split():
        path = REPO_ROOT / relative
        if path.suffix in (".yml", ".yaml", ".md", ".py", ".toml", ".sh", ".j2", ".txt") and path.is_file():
            assert foreign not in path.read_text(encoding="utf-8", errors="replace"), relative
    readme = (REPO_ROOT / "README.md").read_text()
    assert "**`OWNER`** here and in the workflow snippets of the docs is a placeholder" in readme
    assert "**`OWNER`** in the workflow snippets below is a placeholder" in (REPO_ROOT / "docs/github.md").read_text()
    snippets = "".join(page.read_text() for page in sorted((REPO_ROOT / "docs").glob("*.md")))
    used = set(re.findall(r"uses: (\S+)/mlship/\.github/workflows/(mlship-[a-z]+\.yml)@", snippets))
    assert used == {("OWNER", path.name) for path in REPO_ROOT.glob(".github/workflows/mlship-*.yml")}


@pytest.fixture
def oidc() -> Iterator[TokenService]:
    service = TokenService()
    yield service
    service.server.shutdown()


def run_pin(tmp_path: Path, claims: dict | None, oidc: TokenService, repository: str = "", ref: str = "",
            inputs: str = '{"working-directory": "."}'):
    oidc.claims = claims or {}
    output = tmp_path / "output"
    output.write_text("")
    env = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), "MLSHIP_REPOSITORY": repository,
           "MLSHIP_REF": ref, "MLSHIP_CALL": inputs}
    if claims is not None:
        env |= {"ACTIONS_ID_TOKEN_REQUEST_URL": oidc.url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token"}
    script = tmp_path / "pin.py"
    script.write_text(pin_step(REUSABLE[0])["run"])
    done = subprocess.run(["python3", str(script)], env=env, capture_output=True, text=True)
    return done, dict(line.split("=", 1) for line in output.read_text().splitlines())


SHA = "0123456789abcdef0123456789abcdef01234567"
CLAIMS = {"job_workflow_ref": "acme/mlship/.github/workflows/mlship-pr.yml@refs/tags/v2.1.0",
          "job_workflow_sha": SHA, "workflow_ref": "someone/models/.github/workflows/pr.yml@refs/pull/3/merge"}


def test_the_pinned_commit_is_the_one_the_token_says_this_workflow_was_called_at(tmp_path, oidc):
    done, outputs = run_pin(tmp_path, CLAIMS, oidc)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (outputs["repository"], outputs["ref"]) == ("acme/mlship", SHA)
    assert oidc.seen == [("/token?api-version=2.0&audience=mlship", "bearer request-token")]
    for agreeing in (SHA, "v2.1.0", "refs/tags/v2.1.0"):
        assert run_pin(tmp_path, CLAIMS, oidc, "Acme/mlship", agreeing)[0].returncode == 0, agreeing


def test_a_second_ref_that_disagrees_with_the_called_one_fails_at_once_with_the_fix(tmp_path, oidc):
    done, outputs = run_pin(tmp_path, CLAIMS, oidc, "acme/mlship", "v1")
    assert done.returncode == 1 and outputs == {}
    assert done.stdout.startswith("::error title=mlship version::this workflow was called as "
                                  f"acme/mlship@refs/tags/v2.1.0 (commit {SHA}), but mlship-repository and "
                                  "mlship-ref say acme/mlship@v1: set both to what the `uses:` line says")
    other = run_pin(tmp_path, CLAIMS, oidc, "mallory/mlship", SHA)[0]
    assert other.returncode == 1 and "say mallory/mlship@" in other.stdout


def test_without_a_token_the_inputs_name_the_commit_and_without_either_the_run_stops(tmp_path, oidc):
    done, outputs = run_pin(tmp_path, None, oidc, "acme/mlship", SHA)
    assert done.returncode == 0 and (outputs["repository"], outputs["ref"]) == ("acme/mlship", SHA)
    stopped, _ = run_pin(tmp_path, None, oidc)
    assert stopped.returncode == 1
    assert "grant `id-token: write` to the job that calls it" in stopped.stdout
    assert oidc.seen == []


def test_two_calls_of_a_workflow_in_one_run_name_their_artifacts_apart(tmp_path, oidc):
    first = run_pin(tmp_path, CLAIMS, oidc, inputs='{"working-directory": "team-a"}')[1]["id"]
    second = run_pin(tmp_path, CLAIMS, oidc, inputs='{"working-directory": "team-b"}')[1]["id"]
    assert first != second and re.fullmatch(r"[0-9a-f]{8}", first)
    for path in REUSABLE:
        for where, step in steps_of(path):
            if step.get("uses", "").startswith("actions/upload-artifact@"):
                assert "${{ needs.pin.outputs.id }}" in step["with"]["name"], where


# --- workflow details ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*ACTIONS, *WORKFLOWS], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_nothing_runs_on_after_a_cancel_and_no_failure_is_hidden(path):
    text = path.read_text()
    assert "always()" not in text, "a superseded run must stop: use !cancelled()"
    for where, step in steps_of(path):
        assert "continue-on-error" not in step, f"{where}: continue-on-error hides failures (e.g. missing permissions)"


@pytest.mark.parametrize("path", REUSABLE, ids=lambda p: p.name)
def test_jobs_run_on_the_runners_given_and_matrices_take_max_parallel(path):
    workflow = load(path)
    inputs = workflow["on"]["workflow_call"]["inputs"]
    for job_name, job in workflow["jobs"].items():
        label = re.fullmatch(r"\$\{\{ fromJSON\(inputs\.(runs-on-\w+)\) \}\}", job["runs-on"])
        assert label and inputs[label[1]]["default"] == '["ubuntu-latest"]', job_name
        if "matrix" in job.get("strategy", {}):
            assert job["strategy"]["max-parallel"] == "${{ inputs.max-parallel }}", job_name


def test_the_model_cache_is_saved_even_when_a_gate_fails_under_keys_no_other_model_matches():
    action = load(REPO_ROOT / "actions/model-cache/action.yml")
    restore = next(s for s in action["runs"]["steps"] if s.get("id") == "restore")
    assert restore["with"]["restore-keys"] == "mlship-models-${{ runner.os }}-${{ inputs.model }}@"
    assert restore["with"]["key"].startswith(restore["with"]["restore-keys"])
    for name in ("mlship-pr.yml", "mlship-release.yml"):
        for where, step in steps_of(REPO_ROOT / ".github/workflows" / name):
            if step.get("uses", "").endswith("/model-cache") and step["with"]["mode"] == "save":
                assert step["if"] == "${{ !cancelled() }}", where


def test_each_third_party_action_is_pinned_to_one_commit_everywhere():
    """The current major's release commit (docs/decisions.md, "Installing and pinning"): one SHA per action."""
    pins: dict[str, set[str]] = {}
    for path in [*ACTIONS, *WORKFLOWS]:
        for _, step in steps_of(path):
            uses = step.get("uses", "")
            if PINNED.match(uses):
                repository, _, sha = uses.partition("@")
                pins.setdefault("/".join(repository.split("/")[:2]), set()).add(sha)
    assert {name: shas for name, shas in pins.items() if len(shas) > 1} == {}
    assert pins["actions/checkout"] == {"3d3c42e5aac5ba805825da76410c181273ba90b1"}  # v7.0.1, node24


#: The jobs of each reusable workflow that read a model's data (train, compare, package, drift).
DATA_READERS = {"mlship-pr.yml": {"compare", "report"}, "mlship-release.yml": {"pending", "release"},
                "mlship-drift.yml": {"drift"}}


@pytest.mark.parametrize("name", sorted(DATA_READERS))
def test_jobs_that_read_data_fetch_git_lfs_objects_when_the_caller_sets_lfs(name):
    document = load(REPO_ROOT / ".github/workflows" / name)
    declared = document["on"]["workflow_call"]["inputs"]["lfs"]
    assert (declared["type"], declared["default"]) == ("boolean", "false")
    for job, body in document["jobs"].items():
        project = [step for step in body.get("steps", [])
                   if step.get("uses", "").startswith("actions/checkout@") and "repository" not in step.get("with", {})]
        wanted = "${{ inputs.lfs }}" if job in DATA_READERS[name] else None
        assert [step["with"].get("lfs") for step in project] == [wanted] * len(project), job
        assert job not in DATA_READERS[name] or project, f"{job} checks out no project"
