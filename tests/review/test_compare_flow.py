"""`compare_model` on a real git repository whose models are trained once for the module.

The fixture commits eight small models on ``main``, changes each on a branch the way real pull
requests do (more held-out rows, a removed column, another target, a new model, a base that
cannot be built, new data with new params and evaluation settings, a new class, a regressor's
params), and trains every version once into the project's cache. Each test then
compares one model, from the cache in well under a second, and pins what the comparison says:
which rows, which path (paired, recorded predictions, unpaired, no baseline) and why. These are
the comparison's tests the mutation run of the verdict core relies on; the journeys through the
CLI are in test_pr.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import shutil
import tempfile
import textwrap
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest

from churn_repos import hermetic
from conftest import REPO_ROOT
from mlship import git as gitlib
from mlship.project import Project
from mlship.review.bootstrap import Predictions, Sample, paired_bootstrap, unpaired_bootstrap
from mlship.review.compare import NEW_MODEL, Checkout, Comparison, Version, compare_model
from mlship.review.gates import judge_trained
from mlship.review.rows import BASELINE_TRAINED
from mlship.train.cache import CacheEntry
from mlship.train.data import load_dataset
from mlship.train.evaluation import score
from mlship.train.trainer import train
from repo_helpers import commit_all, git

SPEC = """
description: {name}
task: classification
data: {{path: data.csv, target: {target}, split: {{test_size: {test_size}, seed: 1, key: id}}}}
model: {{estimator: sklearn.ensemble.RandomForestClassifier, params: {{n_estimators: 5, max_depth: 3}}}}
evaluation:
  metrics: [roc_auc, accuracy]
  slices: [region]
  bootstrap: {{resamples: 200}}
  seeds: {seeds}
gates:
  roc_auc: {{min: 0.5, max_drop: 0.05, slice_max_drop: 0.3}}
  accuracy: {{max_relative_drop: 0.1}}
"""


def table(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    return pd.DataFrame({
        "id": np.arange(rows), "x1": x1.round(4), "x2": x2.round(4), "region": rng.choice(["north", "south"], rows),
        "y": np.where(x1 + 0.5 * x2 + rng.normal(0, 1, rows) > 0, "yes", "no"),
        "y2": np.where(x2 - x1 + rng.normal(0, 1, rows) > 0, "yes", "no"),
    })


def write(root: Path, name: str, spec: str, data: pd.DataFrame | None = None) -> None:
    folder = root / "models" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.yaml").write_text(textwrap.dedent(spec).lstrip())
    if data is not None:
        data.to_csv(folder / "data.csv", index=False)


def spec(name: str, target: str = "y", test_size: float = 0.3, seeds: int = 2) -> str:
    return SPEC.format(name=name, target=target, test_size=test_size, seeds=seeds)


TUNED_BASE = """
description: tuned
task: classification
data: {path: data.csv, target: y, split: {test_size: 0.3, seed: 1, key: id}}
model: {estimator: sklearn.ensemble.RandomForestClassifier, params: {n_estimators: 5, max_depth: 3}}
evaluation:
  metrics: [roc_auc, accuracy, f1]
  positive_class: "no"
  bootstrap: {resamples: 200, seed: 3}
"""
# The pull request: 50 more rows and a column, another forest, a narrower interval, and a bootstrap seed of its own.
TUNED = (TUNED_BASE.replace("n_estimators: 5", "n_estimators: 7")
         .replace("resamples: 200, seed: 3", "resamples: 200, seed: 4, confidence: 0.9"))
REGRESSOR = """
description: regress
task: regression
data: {path: data.csv, target: x1, split: {test_size: 0.3, seed: 1, key: id}}
model: {estimator: sklearn.ensemble.RandomForestRegressor, params: {n_estimators: 5, max_depth: 3}}
evaluation: {metrics: [rmse, r2], bootstrap: {resamples: 200}}
gates: {rmse: {max_relative_drop: 0.5}}
"""


def build(root: Path) -> str:
    """Commit the eight models on main, change them on ``feature``, check main out beside it, train every
    version once; return main's commit."""
    data = table()
    for name in ("grown", "renamed", "retarget"):
        write(root, name, spec(name), data)
    write(root, "broken", spec("broken").replace("RandomForestClassifier", "NoSuchForest"), data)
    write(root, "tuned", TUNED_BASE, data)
    write(root, "reclassed", spec("reclassed"), data)
    write(root, "regress", REGRESSOR, data)
    git(root, "init", "-q", "-b", "main")
    base = commit_all(root, "main")
    git(root, "checkout", "-qb", "feature")
    write(root, "grown", spec("grown", test_size=0.35))  # rows the baseline trained on are now held out
    write(root, "renamed", spec("renamed"), data.drop(columns=["x2"]))  # the baseline needs x2
    write(root, "retarget", spec("retarget", target="y2"))
    write(root, "broken", spec("broken"))
    write(root, "fresh", spec("fresh"), data)
    more = table(450)
    write(root, "tuned", TUNED, more.assign(x3=more["x1"] * 2))
    write(root, "reclassed", spec("reclassed"), data.assign(y=data["y"].where(data["x2"] < 1.2, "maybe")))
    write(root, "regress", REGRESSOR.replace("max_depth: 3", "max_depth: 4"))
    commit_all(root, "feature")
    git(root, "worktree", "add", "-q", "--detach", str(root.parent / "base"), base)
    for name in ("grown", "renamed", "retarget", "fresh", "broken", "tuned", "reclassed", "regress"):
        compare_model(Project(root), name, Checkout(base, root.parent / "base", root))
    return base


def shared_repository() -> Path:
    """The repository of :func:`build`, made once per version of mlship's training code and reused.

    Tests only read it (every model comes from its cache), so concurrent sessions share it:
    mutmut runs one test session per mutant, and training anew in each would take hours.
    Made in a scratch folder and renamed into place, under a lock.
    """
    sources = sorted((REPO_ROOT / "src" / "mlship" / "train").glob("*.py")) + [REPO_ROOT / "src/mlship/spec.py",
                                                                              Path(__file__)]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    final = REPO_ROOT / ".cache" / f"compare-flow-{digest}"
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / "compare-flow.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "base.txt").is_file():
            scratch = Path(tempfile.mkdtemp(prefix="compare-flow-", dir=final.parent))
            (scratch / "project").mkdir()
            base = build(scratch / "project")
            (scratch / "base.txt").write_text(base)
            shutil.rmtree(final, ignore_errors=True)  # a folder left half-made by a killed run
            os.rename(scratch, final)
            git(final / "project", "worktree", "repair", str(final / "base"))  # git records worktrees by path
    return final


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Checkout]]:
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        folder = shared_repository()
        root = folder / "project"
        yield Project(root), Checkout((folder / "base.txt").read_text(), folder / "base", root)


def compared(repo: tuple[Project, Checkout], name: str) -> Comparison:
    project, checkout = repo
    return compare_model(project, name, checkout)


def test_more_held_out_rows_are_compared_without_the_ones_the_baseline_trained_on(repo):
    c = compared(repo, "grown")
    project, checkout = repo
    assert c.paired and c.baseline is not None and not c.new_model and c.note == ""
    excluded = c.rows["excluded"][BASELINE_TRAINED]
    held_out = len(load_dataset(project.spec("grown")).y_test)
    assert excluded > 0 and c.rows["compared"] + excluded == c.rows["held_out"] == held_out
    assert set(c.deltas) == {"roc_auc", "accuracy"} and all(d.seeds == 2 for d in c.deltas.values())
    assert c.seeded and c.seeds == 2
    assert c.baseline.commit == checkout.commit and c.candidate.commit == gitlib.head_commit(project.root)
    assert c.candidate.dirty is False and c.candidate.cache_hit is True and c.baseline.cache_hit is True
    # The metrics shown are both versions' on the compared rows, and Δ is their difference.
    assert c.deltas["accuracy"].delta == pytest.approx(c.candidate.metrics["accuracy"] - c.baseline.metrics["accuracy"])
    own = train(project.spec("grown"), project.cache_dir).metrics
    assert c.candidate.metrics != own  # the full held-out set's metrics are not the compared rows'
    assert [s.name for s in c.slices] == ["region=north", "region=south"]
    assert sum(s.rows for s in c.slices) == c.rows["compared"]
    assert {(t.metric, t.rule, t.where) for t in c.change_tests} == {
        ("roc_auc", "max_drop", ""), ("accuracy", "max_relative_drop", ""),
        ("roc_auc", "slice_max_drop", "region=north"), ("roc_auc", "slice_max_drop", "region=south")}
    assert [g.rule for g in c.gates] == ["min 0.5", "max_drop 0.05", "slice_max_drop 0.3", "max_relative_drop 0.1"]
    assert c.params_diff == [("data.split.test_size", 0.3, 0.35)]
    before = load_dataset(load_baseline(repo, "grown"))
    assert c.data_diff["rows"] == {"baseline": {"train": len(before.y_train), "test": len(before.y_test)},
                                   "candidate": {"train": 400 - held_out, "test": held_out}}


def test_the_comparison_as_json_has_every_documented_field(repo):
    document = compared(repo, "grown").to_dict()
    assert list(document) == ["name", "passed", "gates_passed", "accepted", "new_model", "paired", "note", "rows",
                              "baseline", "candidate", "deltas", "gates", "slices", "change_tests", "params_diff",
                              "data_diff"]
    assert document["name"] == "grown" and document["accepted"] is None
    assert document["passed"] == document["gates_passed"] == all(g["passed"] for g in document["gates"])
    assert document["baseline"]["fingerprint"] != document["candidate"]["fingerprint"]
    assert set(document["deltas"]["roc_auc"]) >= {"delta", "ci_low", "ci_high", "se", "p_value", "seeds", "seed_sd"}
    (north, south) = document["slices"]
    assert north["value"] == "north" and north["column"] == "region" and set(north["deltas"]) <= {"roc_auc",
                                                                                                  "accuracy"}
    tests = document["change_tests"]
    assert {t["slice"] for t in tests} == {None, "region=north", "region=south"}
    assert all(0 <= t["p_value"] <= t["adjusted_p"] <= 1 for t in tests)
    assert document["params_diff"] == [{"key": "data.split.test_size", "baseline": 0.3, "candidate": 0.35}]


def test_a_baseline_that_needs_a_removed_column_is_scored_by_its_recorded_predictions(repo):
    c = compared(repo, "renamed")
    project, _ = repo
    assert c.paired and c.seeds == 1  # the baseline's replicas cannot predict the new data either
    assert c.note == "the intervals leave out seed variation: the baseline needs columns the new data lacks (x2)"
    recorded = CacheEntry(train(load_baseline(repo, "renamed"), project.cache_dir).entry).predictions()
    # Every compared row is one the baseline held out, and its metrics are its recorded ones on those rows.
    assert c.rows["compared"] == c.rows["held_out"] == len(recorded)
    y = recorded["y_true"].to_numpy()
    proba = recorded[["proba:no", "proba:yes"]].to_numpy()
    expected, _ = score(["roc_auc"], y, recorded["y_pred"].to_numpy(), proba, ["no", "yes"], "yes")
    assert c.baseline.metrics["roc_auc"] == pytest.approx(expected["roc_auc"])
    assert c.data_diff["columns_removed"] == ["x2"] and c.data_diff["features_removed"] == ["x2"]


def load_baseline(repo: tuple[Project, Checkout], name: str):
    from mlship.spec import load_spec

    project, checkout = repo
    return load_spec(checkout.mirror(project.model_dir(name)))


def test_another_target_is_compared_unpaired_each_on_its_own_rows(repo):
    c = compared(repo, "retarget")
    held_out = len(load_dataset(repo[0].spec("retarget")).y_test)
    assert not c.paired and c.slices == [] and c.rows == {"compared": None, "held_out": held_out, "excluded": {}}
    assert c.note == "not paired: the target changed; each version is scored on its own held-out rows"
    assert c.baseline.metrics == train(load_baseline(repo, "retarget"), repo[0].cache_dir).metrics
    assert set(c.deltas) == {"roc_auc", "accuracy"} and all(d.seeds == 1 for d in c.deltas.values())
    assert not any(t.where for t in c.change_tests)
    assert {g.rule: g.message for g in c.gates}["slice_max_drop 0.3"] == (
        "not applied: no slice was compared with a baseline on the same rows")


def test_a_new_model_gets_only_its_absolute_gates(repo):
    project, _ = repo
    c = compared(repo, "fresh")
    assert c.new_model and c.baseline is None and c.note == NEW_MODEL and c.deltas == {} and c.paired is False
    assert c.name == "fresh" and c.spec == project.spec("fresh") and c.slices == []
    trained = train(project.spec("fresh"), project.cache_dir)
    assert c.candidate == Version(trained.fingerprint, trained.metrics, gitlib.head_commit(project.root), True, False)
    assert c.candidate_lineage == CacheEntry(trained.entry).lineage()
    assert c.candidate_performance == trained.performance and c.candidate_performance
    assert [(g.rule, g.message) for g in c.gates][1:] == [
        ("max_drop 0.05", "not applied: no baseline to compare roc_auc with"),
        ("slice_max_drop 0.3", "not applied: no slice was compared with a baseline on the same rows"),
        ("max_relative_drop 0.1", "not applied: no baseline to compare accuracy with")]
    assert [(g.rule, g.passed) for g in c.gates if not g.message.startswith("not applied")] == [("min 0.5", True)]
    assert all(g.passed for g in c.gates) and c.passed
    assert c.data_diff["rows"]["baseline"] is None and c.data_diff["columns_added"] == []
    assert c.params_diff == [] and c.change_tests == []


def test_a_baseline_that_cannot_be_built_says_why_with_paths_in_the_repository(repo):
    c = compared(repo, "broken")
    _, checkout = repo
    assert c.baseline is None and c.new_model is False and c.name == "broken" and c.deltas == {}
    assert c.note.startswith("the baseline at the merge-base cannot be evaluated (models/broken/model.yaml:")
    assert "NoSuchForest" in c.note and str(checkout.path) not in c.note
    assert c.note.endswith("), so only absolute gates apply")


def test_a_checkout_maps_paths_both_ways(repo):
    project, checkout = repo
    inside = checkout.mirror(project.root / "models" / "grown")
    assert inside == checkout.path / "models" / "grown" and inside.is_dir()
    assert checkout.unmirror(f"error in {inside / 'model.yaml'} and {checkout.path.resolve()}/x") == \
        "error in models/grown/model.yaml and x"


def test_paths_through_the_working_directory_are_mapped_before_their_tails(repo, monkeypatch):
    project, checkout = repo
    monkeypatch.chdir(checkout.path.parent)  # the checkout's relative path, "base", ends its absolute one
    assert checkout.unmirror(f"see {checkout.path}/models/grown/model.yaml and base/x") == \
        "see models/grown/model.yaml and x"
    link = checkout.path.parent / "base-link"
    if not link.exists():
        link.symlink_to(checkout.path)
    through_link = Checkout(checkout.commit, link, checkout.repo)
    assert through_link.unmirror(f"{link}/a and {checkout.path.resolve()}/b") == "a and b"


def test_a_new_class_is_compared_unpaired(repo):
    c = compared(repo, "reclassed")
    assert not c.paired and c.note == "not paired: the classes changed; each version is scored on its own held-out rows"
    assert set(c.deltas) == {"roc_auc", "accuracy"}


def test_a_regressor_is_compared_on_shared_rows_by_its_own_metrics(repo):
    project, _ = repo
    c = compared(repo, "regress")
    assert c.paired and c.note == "" and set(c.deltas) == {"rmse", "r2"}
    baseline = CacheEntry(train(load_baseline(repo, "regress"), project.cache_dir).entry)
    dataset = load_dataset(project.spec("regress"))
    y = dataset.y_test.to_numpy()
    theirs = Predictions(baseline.load_model().predict(dataset.test_table[["x2", "region", "y", "y2"]]))
    ours = Predictions(CacheEntry(train(project.spec("regress"), project.cache_dir).entry).predictions()[
        "y_pred"].to_numpy())
    assert c.deltas == paired_bootstrap(["rmse", "r2"], y, ours, theirs, None, None, 200, 0.95, 0)
    assert c.baseline.metrics == score(["rmse", "r2"], y, theirs.y_pred, None, None, None)[0]
    assert [(g.rule, g.passed) for g in c.gates] == [("max_relative_drop 0.5", True)]


def test_a_trained_model_is_judged_by_its_absolute_gates_only(repo):
    project, _ = repo
    trained = train(project.spec("grown"), project.cache_dir)
    judged = judge_trained(project.spec("grown"), trained)
    assert [g.rule for g in judged.gates] == ["min 0.5"] and judged.passed
    document = judged.to_dict()
    assert document["fingerprint"] == trained.fingerprint and document["cache_hit"] is True
    assert document["seed_metrics"]["roc_auc"][0] == trained.metrics["roc_auc"]
    assert document["gates"] == [g.to_dict() for g in judged.gates]
    assert document["cache_entry"] == str(trained.entry) and math.isfinite(document["metrics"]["accuracy"])
    assert load_dataset(project.spec("grown")).test_table.shape[0] == document["rows"]["test"]


def test_the_json_of_a_comparison_and_of_a_training_is_the_documented_contract(repo):
    from dataclasses import asdict, replace

    from mlship.review.acceptance import Acceptance

    c = compared(repo, "grown")
    accepted = Acceptance("grown", c.candidate.fingerprint[:12], "alice", "known", "https://x/1", "2026-12-07")
    document = replace(c, accepted=accepted).to_dict()
    assert document["accepted"] == accepted.to_dict() and document["passed"] is True
    assert document["rows"] == c.rows and document["note"] == c.note and document["paired"] is True
    assert document["new_model"] is False and document["baseline"] == asdict(c.baseline)
    assert document["candidate"] == asdict(c.candidate)
    assert document["deltas"] == {name: d.to_dict() for name, d in c.deltas.items()}
    assert document["gates"] == [g.to_dict() for g in c.gates]
    assert document["slices"] == [{**asdict(s), "deltas": {n: d.to_dict() for n, d in s.deltas.items()}}
                                  for s in c.slices]
    assert document["change_tests"] == [
        {"metric": t.metric, "rule": t.rule, "bound": t.bound, "slice": t.where or None, "drop": t.drop,
         "p_value": t.p_value, "adjusted_p": t.adjusted_p, "failed": t.failed} for t in c.change_tests]
    assert document["data_diff"] == c.data_diff

    project, _ = repo
    trained = train(project.spec("grown"), project.cache_dir)
    judged = judge_trained(project.spec("grown"), trained)
    assert judged.to_dict() == {
        "name": "grown", "task": "classification", "passed": judged.passed, "fingerprint": trained.fingerprint,
        "cache_hit": True, "primary_metric": "roc_auc", "metrics": trained.metrics, "unavailable": trained.unavailable,
        "rows": trained.rows, "seed_metrics": trained.seed_metrics, "performance": trained.performance,
        "gates": [g.to_dict() for g in judged.gates], "warnings": trained.warnings, "features": trained.features,
        "cache_entry": str(trained.entry)}
    assert trained.features and all(isinstance(words, str) for words in trained.features.values())


def test_a_gated_metric_the_training_could_not_compute_fails_its_absolute_gate_with_the_reason(repo):
    from dataclasses import replace

    project, _ = repo
    trained = train(project.spec("grown"), project.cache_dir)
    missing = replace(trained, metrics={"accuracy": trained.metrics["accuracy"]},
                      unavailable={"roc_auc": "only one class in the held-out rows"})
    (gate,) = judge_trained(project.spec("grown"), missing).gates
    assert gate.message == "roc_auc could not be computed (only one class in the held-out rows), so its gate fails"


def test_a_pull_request_cannot_choose_the_bootstrap_seed_and_its_own_settings_apply(repo):
    project, _ = repo
    c = compared(repo, "tuned")
    assert c.paired and c.seeds == 1 and c.note == (
        "the bootstrap seed changed (3 → 4); the comparison keeps the base's seed, so that a seed cannot be chosen "
        "to pass")
    # Every held-out row is compared: the new rows were never the baseline's, the old ones it held out too.
    candidate = CacheEntry(train(project.spec("tuned"), project.cache_dir).entry)
    baseline = CacheEntry(train(load_baseline(repo, "tuned"), project.cache_dir).entry)
    dataset = load_dataset(project.spec("tuned"))
    assert c.rows == {"compared": len(dataset.y_test), "held_out": len(dataset.y_test), "excluded": {}}
    y, classes = dataset.y_test.to_numpy(), ["no", "yes"]
    model = baseline.load_model()
    features = baseline.lineage()["data"]["features"]
    ours = Predictions(candidate.predictions()["y_pred"].to_numpy(),
                       candidate.predictions()[["proba:no", "proba:yes"]].to_numpy())
    theirs = Predictions(model.predict(dataset.test_table[features]), model.predict_proba(dataset.test_table[features]))
    # The base's seed, the candidate's confidence and positive class.
    assert c.deltas == paired_bootstrap(["roc_auc", "accuracy", "f1"], y, ours, theirs, classes, "no", 200, 0.9, 3)
    expected, _ = score(["roc_auc", "accuracy", "f1"], y, theirs.y_pred, theirs.proba, classes, "no")
    assert c.baseline.metrics == expected and c.baseline.fingerprint == baseline.fingerprint
    assert c.candidate.metrics == score(["roc_auc", "accuracy", "f1"], y, ours.y_pred, ours.proba, classes, "no")[0]


def test_params_and_data_changes_are_listed_key_by_key(repo):
    project, _ = repo
    c = compared(repo, "tuned")
    assert c.params_diff == [("evaluation.bootstrap.confidence", 0.95, 0.9), ("evaluation.bootstrap.seed", 3, 4),
                             ("model.params.n_estimators", 5, 7)]
    before = CacheEntry(train(load_baseline(repo, "tuned"), project.cache_dir).entry).lineage()["data"]
    after = CacheEntry(train(project.spec("tuned"), project.cache_dir).entry).lineage()["data"]
    assert c.data_diff == {
        "rows": {"baseline": {"train": before["train_rows"], "test": before["test_rows"]},
                 "candidate": {"train": after["train_rows"], "test": after["test_rows"]}},
        "columns_added": ["x3"], "columns_removed": [], "features_added": ["x3"], "features_removed": [],
        "target": {"baseline": before["target"], "candidate": after["target"]},
        "digests": {"baseline": before["digests"], "candidate": after["digests"]}}
    assert before["target"]["rows"] == 400 and after["target"]["rows"] == 450  # the label's distribution
    assert before["train_rows"] + before["test_rows"] == 400 and after["train_rows"] + after["test_rows"] == 450
    assert before["digests"] != after["digests"]


def test_a_new_models_data_is_listed_without_a_baseline(repo):
    project, _ = repo
    c = compared(repo, "fresh")
    data = CacheEntry(train(project.spec("fresh"), project.cache_dir).entry).lineage()["data"]
    assert c.data_diff == {
        "rows": {"baseline": None, "candidate": {"train": data["train_rows"], "test": data["test_rows"]}},
        "columns_added": [], "columns_removed": [], "features_added": [], "features_removed": [],
        "target": {"baseline": None, "candidate": data["target"]}, "digests": {"baseline": None, "candidate": data["digests"]}}


def test_an_unpaired_comparison_resamples_each_version_on_its_own_rows_with_the_settings(repo):
    project, _ = repo
    c = compared(repo, "retarget")
    candidate = CacheEntry(train(project.spec("retarget"), project.cache_dir).entry)
    baseline = CacheEntry(train(load_baseline(repo, "retarget"), project.cache_dir).entry)
    classes = ["no", "yes"]

    def sample(entry: CacheEntry) -> Sample:
        frame = entry.predictions()
        return Sample(frame["y_true"].to_numpy(), Predictions(frame["y_pred"].to_numpy(),
                                                              frame[["proba:no", "proba:yes"]].to_numpy()),
                      classes, entry.metrics()["positive_class"])

    assert c.deltas == unpaired_bootstrap(["roc_auc", "accuracy"], sample(candidate), sample(baseline), 200, 0.95, 0)
    assert c.deltas != unpaired_bootstrap(["roc_auc", "accuracy"], sample(baseline), sample(candidate), 200, 0.95, 0)
