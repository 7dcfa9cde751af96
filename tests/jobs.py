"""Our composite actions run as the steps of one workflow job, by the harness, against the fake GitHub."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from action_harness import default_environment, run_action
from conftest import REPO_ROOT
from repo_helpers import git

ACTIONS = REPO_ROOT / "actions"


def run_in_job(repo: Path, fake, tmp: Path, github: dict, action: str, inputs: dict, step: str):
    """Run one of our actions as a step of a job on ``repo`` for the event in ``github``, with
    mlship from this interpreter, a cache in ``tmp`` and the fake as GitHub's API."""
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLSHIP_", "RUNNER_"))},
        **default_environment(github, repo, tmp / f"event-{step}"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_API_URL": fake.api_url,
        "MLSHIP_CACHE_DIR": str(tmp / "cache"),
    }
    runner = {"temp": str(tmp / f"runner-{step}"), "os": "Linux"}
    Path(runner["temp"]).mkdir(parents=True, exist_ok=True)
    return run_action(ACTIONS / action, inputs, workspace=repo, github=github, base_env=base_env, runner=runner,
                      temp_dir=tmp / f"harness-{step}")


class Job:
    """Runs our composite actions as the steps of one workflow job, for one event."""

    def __init__(self, repo: Path, fake, tmp: Path, event_name: str, event: dict):
        self.repo, self.fake, self.tmp = repo, fake, tmp
        self.github = {"event_name": event_name, "event": event, "token": fake.token, "repository": fake.repository,
                       "repository_owner": fake.repository.split("/")[0], "sha": git(repo, "rev-parse", "HEAD").strip(),
                       "ref": "refs/heads/main", "ref_name": "main", "server_url": "https://github.example",
                       "run_id": "42", "api_url": fake.api_url}

    def run(self, action: str, inputs: dict, step: str):
        result = run_in_job(self.repo, self.fake, self.tmp, self.github, action, inputs, step)
        assert not result.failed, result.report()
        return result
