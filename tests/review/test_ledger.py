"""The ledger read back: a torn or hand-edited ``reports/<m>/metrics.json`` is a clear error, never a pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from churn_repos import hermetic, mlship, ok
from repo_helpers import commit_all, git

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


@pytest.fixture(scope="module")
def reviewed_once(tmp_path_factory) -> Path:
    """A model whose ledger `mlship pr` wrote and which is committed with it (built once, copied per test)."""
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        root = tmp_path_factory.mktemp("ledger") / "project"
        (root / "models" / "cancer").mkdir(parents=True)
        (root / "README.md").write_text("models\n")
        git(root.parent, "init", "-q", "-b", "main", str(root))
        commit_all(root, "initial")
        git(root, "checkout", "-q", "-b", "feature")
        (root / "models" / "cancer" / "model.yaml").write_text(SPEC.lstrip())
        commit_all(root, "a model")
        ok(mlship(root, "pr", "--base", "main", "--dry-run"))
        commit_all(root, "ledger")
        ok(mlship(root, "ledger", "verify", "cancer"))
    return root


@pytest.fixture
def reviewed(reviewed_once, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(reviewed_once, root)
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize("file", ["model_card.md", "profile.json"])
def test_a_ledger_whose_card_or_profile_is_not_the_one_its_metrics_record_does_not_verify(reviewed, file):
    """What a run killed between the ledger's files leaves: the new file beside the old metrics.json."""
    path = reviewed / "reports" / "cancer" / file
    path.write_text(path.read_text().replace("cancer", "cancer (another run)", 1))
    result = mlship(reviewed, "ledger", "verify", "cancer")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr == (f"error: {METRICS} does not record the {file} beside it (the ledger was written partly, "
                             "or edited): run `mlship pr` again and commit reports/cancer/\n")


def test_a_checkout_with_crlf_line_endings_still_verifies(reviewed):
    """``core.autocrlf`` (Git for Windows' default) or ``* text eol=crlf`` check text files out with CRLF."""
    (reviewed / ".gitattributes").write_text("* text eol=crlf\n")
    commit_all(reviewed, "crlf")
    for file in ("model_card.md", "profile.json"):
        (reviewed / "reports" / "cancer" / file).unlink()
    git(reviewed, "checkout", "--", "reports")
    assert b"\r\n" in (reviewed / "reports" / "cancer" / "model_card.md").read_bytes()
    ok(mlship(reviewed, "ledger", "verify", "cancer"))


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
def test_a_tampered_metrics_json_is_a_clear_error(reviewed, case, command):
    path = reviewed / METRICS
    path.write_bytes(tampered(json.loads(path.read_text()))[case])
    result = mlship(reviewed, *command)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and CASES[case] in result.stderr, result.stderr
    assert result.stderr.rstrip().endswith("run `mlship pr` again and commit reports/cancer/")
