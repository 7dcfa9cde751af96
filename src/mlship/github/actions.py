"""What a GitHub Actions run tells mlship, and what mlship tells the run back.

The context (repository, pull request, commits, whether the head is a fork, a link to
the run) comes from the runner's environment and event payload; explicit flags
override it. Output goes to the job's step summary and, for spec problems, to
``::error`` annotations that GitHub shows on the file and line.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from mlship.errors import MlshipError, Problem, display_path

#: GitHub keeps at most 1 MiB of step summary per step.
STEP_SUMMARY_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class RunContext:
    repository: str | None = None
    pr_number: int | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    #: True when the pull request comes from another repository: its token is read-only.
    is_fork: bool = False
    run_url: str | None = None
    in_actions: bool = False
    #: In a workflow run triggered by another (``on: workflow_run``), the commit that run was for.
    workflow_run_head_sha: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RunContext":
        env = os.environ if env is None else env
        path = env.get("GITHUB_EVENT_PATH")
        event = _event(path)
        pull = _object(event, "pull_request", path)
        head, base = _object(pull, "head", path), _object(pull, "base", path)
        repository = env.get("GITHUB_REPOSITORY") or None
        head_repo = _object(head, "repo", path).get("full_name")
        base_repo = _object(base, "repo", path).get("full_name") or repository
        server, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_RUN_ID")
        return cls(
            repository=repository,
            pr_number=pull.get("number") or event.get("number"),
            base_sha=base.get("sha"),
            head_sha=head.get("sha") or env.get("GITHUB_SHA") or None,
            # A deleted fork leaves head.repo null: treat it as a fork, the safe side.
            is_fork=bool(pull) and (head_repo is None or head_repo != base_repo),
            run_url=f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None,
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            workflow_run_head_sha=_object(event, "workflow_run", path).get("head_sha"),
        )

    def overridden(self, **values: Any) -> "RunContext":
        """A copy with the given values (those that are not None) replacing the environment's."""
        return replace(self, **{key: value for key, value in values.items() if value is not None})


def _object(parent: Mapping[str, Any], key: str, path: str | None) -> dict[str, Any]:
    """``parent[key]`` where it must be an object: {} when absent or null, an error otherwise."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MlshipError(f"the event payload {path} (GITHUB_EVENT_PATH) has a '{key}' that is not an object")
    return value


def _event(path: str | None) -> dict[str, Any]:
    if not path or not Path(path).is_file():
        return {}
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise MlshipError(f"the event payload {path} (GITHUB_EVENT_PATH) is not valid JSON: {error}") from None
    if not isinstance(event, dict):
        raise MlshipError(f"the event payload {path} (GITHUB_EVENT_PATH) is not a JSON object")
    return event


def set_outputs(values: Mapping[str, str], env: Mapping[str, str] | None = None) -> bool:
    """Write step outputs to ``$GITHUB_OUTPUT`` (the heredoc form, safe for any value); False outside Actions."""
    path = (os.environ if env is None else env).get("GITHUB_OUTPUT")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as stream:
        for name, value in values.items():
            delimiter = f"MLSHIP_{uuid.uuid4().hex}"
            stream.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return True


def write_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append ``markdown`` to the job's step summary; False outside Actions."""
    path = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    markdown = markdown if markdown.endswith("\n") else markdown + "\n"
    room = STEP_SUMMARY_LIMIT - (Path(path).stat().st_size if Path(path).exists() else 0)
    if len(markdown.encode()) > room:
        note = "\n\n> ⚠️ Cut to fit the step summary's 1 MiB limit; the full report is in the run's artifacts.\n"
        keep = room - len(note.encode())
        if keep <= 0:
            return True
        markdown = markdown.encode()[:keep].decode(errors="ignore") + note
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(markdown)
    return True


def annotation(problem: Problem, level: str = "error", title: str = "mlship") -> str:
    """A workflow command that marks ``problem`` on its file and line in the pull request."""
    properties = {"file": display_path(problem.location.file), "title": title}
    if problem.location.line is not None:
        properties["line"] = str(problem.location.line)
    fields = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    message = f"{problem.location.field}: {problem.message}" if problem.location.field else problem.message
    return f"::{level} {fields}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
