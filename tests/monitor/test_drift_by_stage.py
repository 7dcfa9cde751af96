"""Drift judged against the version a stage serves, not the model at the working tree.

churn v0.1.0 (C = 1) and v0.1.1 (C = 0.05, much flatter probabilities) are released; prod is
deployed (Kubernetes manifests, no server) with v0.1.0, then v0.1.1, and rolled back to v0.1.0, while main
holds v0.1.1. The prediction log of the served v0.1.0 is then judged by stage.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterator

import pytest

from churn_repos import hermetic, mlship, ok, review, reviewed_churn
from mlship.project import Project
from mlship.ship import registry
from mlship.train.cache import Cache
from repo_helpers import commit_all
from sample_churn import customers


@pytest.fixture(scope="module")
def rolled_back(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        root = tmp_path_factory.mktemp("drift-stage") / "project"
        root.mkdir()
        reviewed_churn(root, ignore="deploy/\n")
        ok(mlship(root, "release", "churn"))
        review(root, "{max_iter: 1000, C: 0.05}")
        ok(mlship(root, "release", "churn"))
        k8s = ("--target", "kubernetes", "--image-registry", "ghcr.io/acme")
        ok(mlship(root, "deploy", "churn", "--stage", "prod", "--version", "v0.1.0", *k8s))
        ok(mlship(root, "deploy", "churn", "--stage", "prod", *k8s))
        ok(mlship(root, "rollback", "churn", "--stage", "prod", *k8s))
        yield root


def served_log(root: Path, version: str, folder: Path) -> Path:
    """The prediction log the service of ``version`` writes, for a month of new customers."""
    history = json.loads(ok(mlship(root, "history", "churn", "--json")).stdout)
    fingerprint = next(e["fingerprint"] for e in history["events"] if e["version"] == version)
    entry = Cache(root / ".mlship" / "cache").get(fingerprint)
    model = entry.load_model()
    frame = customers(1000, seed=11).drop(columns="churned")
    proba = model.predict_proba(frame)
    begin = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    lines = []
    for index, (record, label, row) in enumerate(zip(frame.to_dict(orient="records"), model.predict(frame), proba)):
        lines.append(json.dumps({
            "time": (begin + dt.timedelta(minutes=index)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model": f"churn:{fingerprint[:16]}", "fingerprint": fingerprint, "endpoint": "predict_proba",
            "features": record, "prediction": label,
            "probabilities": {str(c): float(p) for c, p in zip(model.classes_, row)}}))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_drift_by_stage_judges_the_served_version_after_a_rollback(rolled_back, tmp_path):
    logs = served_log(rolled_back, "v0.1.0", tmp_path / "logs")
    by_stage = mlship(rolled_back, "drift", "churn", "--stage", "prod", "--current", str(logs), "--json",
                      "--out", str(tmp_path / "out"))
    assert by_stage.exit_code == 0, by_stage.stdout + by_stage.stderr
    result = json.loads(by_stage.stdout)
    assert result["reference"] == "v0.1.0 (prod)"
    assert {c["name"] for c in result["predictions"]} == {"prediction", "proba:yes"}
    assert not result["drifted"] and result["notes"] == []
    report = (tmp_path / "out" / "drift-churn.md").read_text()
    assert "(v0.1.0 (prod))" in report

    # The working tree holds v0.1.1: its profile is another model's, so the log's predictions are not judged.
    by_checkout = json.loads(mlship(rolled_back, "drift", "churn", "--current", str(logs), "--json",
                                    "--out", str(tmp_path / "out")).stdout)
    assert by_checkout["predictions"] == [] and "no record was predicted by this model version" in \
        by_checkout["notes"][0]
    by_version = json.loads(mlship(rolled_back, "drift", "churn", "--version", "v0.1.0", "--current", str(logs),
                                   "--json", "--out", str(tmp_path / "out")).stdout)
    assert by_version["reference"] == "v0.1.0" and len(by_version["predictions"]) == 2


def test_a_table_is_predicted_by_the_stages_version(rolled_back, tmp_path):
    table = tmp_path / "recent.csv"
    customers(800, seed=12).to_csv(table, index=False)
    result = mlship(rolled_back, "drift", "churn", "--stage", "prod", "--current", str(table), "--json",
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stdout + result.stderr
    judged = json.loads(result.stdout)
    assert judged["reference"] == "v0.1.0 (prod)" and not judged["prediction_drift"]
    proba = next(c for c in judged["predictions"] if c["name"] == "proba:yes")
    assert proba["current_rows"] == 800 and not proba["drifted"]


def test_a_stage_without_a_version_or_a_tampered_profile_is_refused(rolled_back, tmp_path, factory):
    import shutil

    root = factory.root
    shutil.copytree(rolled_back, root, symlinks=True, dirs_exist_ok=True)
    logs = served_log(root, "v0.1.0", tmp_path / "logs")
    empty = mlship(root, "drift", "churn", "--stage", "staging", "--current", str(logs))
    assert empty.exit_code == 2
    assert "error: churn has no version in staging: deploy one" in empty.stderr
    both = mlship(root, "drift", "churn", "--stage", "prod", "--version", "v0.1.0", "--current", str(logs))
    assert both.exit_code == 2 and "give --stage or --version, not both" in both.stderr

    # A profile edited by hand and committed, then a version registered at that commit: metrics.json there
    # still records the approved profile's SHA-256, so the edited one is refused.
    profile = root / "reports" / "churn" / "profile.json"
    document = json.loads(profile.read_text())
    document["rows"] += 1
    profile.write_text(json.dumps(document))
    head = commit_all(root, "edit the profile by hand")
    fingerprint = json.loads((root / "reports" / "churn" / "metrics.json").read_text())["fingerprint"]
    registry.register(Project(root), "churn", "v0.1.2", head, {"fingerprint": fingerprint})
    tampered = mlship(root, "drift", "churn", "--version", "v0.1.2", "--current", str(logs))
    assert tampered.exit_code == 2
    assert "profile.json is not the one metrics.json records" in tampered.stderr


def test_the_ledger_names_monitoring_reads_are_the_ones_the_review_writes():
    from mlship.monitor import reference
    from mlship.review import ledger

    assert (reference.REPORTS_DIR, reference.METRICS, reference.PROFILE) == \
        (ledger.REPORTS_DIR, ledger.METRICS, ledger.PROFILE)


def test_the_drift_action_judges_the_stage_it_is_given(rolled_back, factory, github, tmp_path):
    import shutil

    from jobs import Job

    root = factory.root
    shutil.copytree(rolled_back, root, symlinks=True, dirs_exist_ok=True)
    served_log(root, "v0.1.0", root / "exports" / "churn-logs")
    job = Job(root, github, tmp_path, "schedule", {"schedule": "17 6 * * 1"})
    inputs = {"model": "churn", "current": "exports/{model}-logs", "stage": "prod", "issue": "false"}
    done = job.run("drift", inputs, "by-stage")
    assert done.outputs["drifted"] == "false"
    report = (root / done.outputs["report-path"]).read_text()
    assert "model version" in report and "(v0.1.0 (prod))" in report
    assert "no record was predicted by this model version" not in report
