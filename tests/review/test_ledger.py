"""The ledger read back: a torn or hand-edited ``reports/<m>/metrics.json`` is a clear error, never a pass."""

from __future__ import annotations

import json

import pytest

from repo_helpers import branch_off, commit_all

SPEC = """
task: classification
data: {sklearn: breast_cancer}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 1000}
evaluation:
  bootstrap: {resamples: 100}
"""
METRICS = "reports/cancer/metrics.json"


@pytest.fixture
def reviewed(factory, run_cli):
    """A model whose ledger `mlship pr` wrote and which is committed with it."""
    (factory.root / "README.md").write_text("models\n")
    root = branch_off(factory)
    factory.model("cancer", SPEC)
    commit_all(root, "a model")
    result = run_cli("pr", "--base", "main", "--dry-run")
    assert result.exit_code == 0, result.stdout + result.stderr
    commit_all(factory.root, "ledger")
    verified = run_cli("ledger", "verify", "cancer")
    assert verified.exit_code == 0, verified.stderr
    return factory.root


@pytest.mark.parametrize("file", ["model_card.md", "profile.json"])
def test_a_ledger_whose_card_or_profile_is_not_the_one_its_metrics_record_does_not_verify(reviewed, run_cli, file):
    """What a run killed between the ledger's files leaves: the new file beside the old metrics.json."""
    path = reviewed / "reports" / "cancer" / file
    path.write_text(path.read_text().replace("cancer", "cancer (another run)", 1))
    result = run_cli("ledger", "verify", "cancer")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr == (f"error: {METRICS} does not record the {file} beside it (the ledger was written partly, "
                             "or edited): run `mlship pr` again and commit reports/cancer/\n")


def tampered(document: dict) -> dict[str, bytes]:
    fingerprint = document["fingerprint"]
    return {
        "empty-object": b"{}",
        "list": b"[]",
        "fingerprint-number": json.dumps({**document, "fingerprint": 7}).encode(),
        "parts-list": json.dumps({**document, "fingerprint_parts": [fingerprint]}).encode(),
        "passed-string": json.dumps({**document, "passed": "false"}).encode(),
        "metrics-string": json.dumps({**document, "metrics": {"roc_auc": "0.9"}}).encode(),
        "files-list": json.dumps({**document, "files": ["model_card.md"]}).encode(),
        "not-utf-8": b"\xff\xfe{}",
        "not-json": b'{"fingerprint": ',
    }


CASES = {
    "empty-object": "'fingerprint' must be str, got None",
    "list": "it must hold a JSON object",
    "fingerprint-number": "'fingerprint' must be str, got 7",
    "parts-list": "'fingerprint_parts' must be an object, got [",
    "passed-string": "'passed' must be bool, got 'false'",
    "metrics-string": "'metrics' must map each metric to a number",
    "files-list": "'files' must map model_card.md and profile.json to their SHA-256",
    "not-utf-8": "is not valid JSON (",
    "not-json": "is not valid JSON (",
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", [["ledger", "verify", "cancer"], ["package", "cancer"]])
def test_a_tampered_metrics_json_is_a_clear_error(reviewed, run_cli, case, command):
    path = reviewed / METRICS
    path.write_bytes(tampered(json.loads(path.read_text()))[case])
    result = run_cli(*command)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and CASES[case] in result.stderr, result.stderr
    assert result.stderr.rstrip().endswith("run `mlship pr` again and commit reports/cancer/")
