"""The composite actions and workflows: GitHub's schemas, zizmor, shellcheck, and our own rules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT

BIN = Path(sys.executable).parent
ACTIONS = sorted((REPO_ROOT / "actions").glob("*/action.yml"))
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
SCRIPTS = sorted((REPO_ROOT / "actions").glob("*/*.sh"))
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
            if "run" in step:
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
        if run is None:
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
