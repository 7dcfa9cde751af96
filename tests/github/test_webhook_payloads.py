"""What mlship reads from an event payload is there, with the type it expects, in GitHub's own
description of its webhooks (the npm package ``@octokit/openapi-webhooks``, fetched once like the
REST description); and the payloads the act tests give the workflows have GitHub's shape."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import REPO_ROOT
from fake_github import load_github_webhooks
from github_events import pull_request_event, push_event, workflow_run_event

#: The events mlship's workflows run on, as GitHub's description names their payloads.
PULL_REQUEST = ("pull-request-opened", "pull-request-synchronize", "pull-request-reopened")
#: Every field mlship reads from a payload (``RunContext.from_env`` and the workflows' expressions), with
#: the JSON types it handles ("null" where it takes a missing object for "none").
READS: dict[str, dict[str, set[str]]] = {
    **{event: {"number": {"integer"}, "pull_request.number": {"integer"}, "pull_request.head.sha": {"string"},
               "pull_request.base.sha": {"string"}, "pull_request.head.repo": {"object", "null"},
               "pull_request.head.repo.full_name": {"string"}, "pull_request.base.repo.full_name": {"string"}}
       for event in PULL_REQUEST},
    "workflow-run-completed": {"workflow_run.id": {"integer"}, "workflow_run.event": {"string"},
                               "workflow_run.head_sha": {"string"}},
}


@pytest.fixture(scope="module")
def webhooks() -> dict[str, Any]:
    return load_github_webhooks()


def types_at(description: dict[str, Any], event: str, path: str) -> set[str]:
    """The JSON types GitHub's description allows at ``path`` (dotted) of ``event``'s payload; empty when
    the description has no such field."""
    content = description["webhooks"][event]["post"]["requestBody"]["content"]["application/json"]
    schemas = [content["schema"]]
    for key in path.split("."):
        schemas = [child for schema in schemas for child in _properties(description, schema, key)]
    return {kind for schema in schemas for kind in _types(description, schema)}


def _resolved(description: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """``schema`` with its ``$ref`` followed and its ``allOf``/``anyOf``/``oneOf`` spread into alternatives."""
    if "$ref" in schema:
        target = description
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _resolved(description, target)
    alternatives = [schema]
    for combinator in ("allOf", "anyOf", "oneOf"):
        alternatives += [r for part in schema.get(combinator, []) for r in _resolved(description, part)]
    return alternatives


def _properties(description: dict[str, Any], schema: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [part["properties"][key] for part in _resolved(description, schema) if key in part.get("properties", {})]


def _types(description: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for part in _resolved(description, schema):
        declared = part.get("type")
        found |= set(declared) if isinstance(declared, list) else {declared} if declared else set()
        if part.get("nullable"):
            found.add("null")
    return found


@pytest.mark.parametrize(("event", "path"), [(e, p) for e, paths in READS.items() for p in paths])
def test_every_field_mlship_reads_is_in_githubs_payload_with_a_type_it_handles(webhooks, event, path):
    allowed = types_at(webhooks, event, path)
    assert allowed, f"GitHub's {event} payload has no {path}"
    assert allowed <= READS[event][path], f"{event} {path} may be {sorted(allowed)}"


def test_the_workflows_read_only_fields_checked_here():
    """A new ``github.event.X`` in a workflow or the README's snippets must join READS."""
    texts = [p.read_text() for p in [*REPO_ROOT.glob(".github/workflows/*.yml"), REPO_ROOT / "README.md",
                                     *REPO_ROOT.glob("actions/*/action.yml")]]
    used = {m for text in texts for m in re.findall(r"github\.event\.([a-z_]+(?:\.[a-z_]+)*)", text)}
    checked = {path for paths in READS.values() for path in paths}
    assert used and used <= checked, sorted(used - checked)


def leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in leaves(item, f"{prefix}.{key}" if prefix else key)]
    return [(prefix, value)]


JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
             type(None): "null"}


def stand_in_payloads() -> dict[str, dict[str, Any]]:
    github = SimpleNamespace(repository="acme/models")
    head, base = "a" * 40, "b" * 40
    return {
        "pull-request-synchronize": pull_request_event(github, 7, head, base, "someone/models"),
        "push": push_event(github, base, head),
        "workflow-run-completed": workflow_run_event(github, 1, head, "someone/models"),
    }


@pytest.mark.parametrize("event", list(stand_in_payloads()))
def test_the_payloads_the_act_tests_send_have_githubs_shape(webhooks, event):
    for path, value in leaves(stand_in_payloads()[event]):
        allowed = types_at(webhooks, event, path)
        kind = JSON_TYPE[type(value)]
        assert kind in allowed or (kind == "integer" and "number" in allowed), f"{event} {path}: {kind} not in {allowed}"
