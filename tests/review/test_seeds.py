"""`evaluation.seeds`: each version trained with several seeds, and the variation between them
in the intervals and the gates' tests.

The end-to-end tests use a small RandomForest (3 trees) on the bundled breast-cancer data,
whose metrics move a lot between seeds, and a pull request that changes only its
``random_state``: with one training the change gate reads that noise as a real drop.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from mlship.train.cache import REPLICAS_FILE, Cache
from conftest import ProjectFactory
from repo_helpers import branch_off, commit_all


def forest(random_state: int, seeds: int | None) -> str:
    setting = f"\n  seeds: {seeds}" if seeds is not None else ""
    return f"""
description: A deliberately noisy forest.
task: classification
data: {{sklearn: breast_cancer}}
model:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {{n_estimators: 3, max_depth: 3, random_state: {random_state}}}
evaluation:
  metrics: [accuracy, roc_auc]
  slices: [{{column: mean radius, bins: 2}}]
  bootstrap: {{resamples: 300}}{setting}
gates: {{roc_auc: {{max_drop: 0.0}}}}
"""


def reseed_pr(factory, run_cli, base_seeds: int | None, pr_seeds: int | None) -> tuple[dict, str]:
    """Commit the forest on main, change its random_state 0 → 6 on a branch; the PR's JSON and comment."""
    factory.model("forest", forest(0, base_seeds))
    root = branch_off(factory)
    (root / "models/forest/model.yaml").write_text(forest(6, pr_seeds).lstrip())
    commit_all(root, "another random_state")
    document = json.loads(run_cli("pr", "--base", "main", "--dry-run", "--json").stdout)
    (model,) = document["models"]
    return model, run_cli("pr", "--base", "main", "--dry-run").stdout


def test_a_seed_only_change_fails_on_one_training_per_version(factory, run_cli):
    model, comment = reseed_pr(factory, run_cli, None, None)
    assert not model["passed"]
    assert model["deltas"]["roc_auc"]["seeds"] == 1 and model["deltas"]["roc_auc"]["seed_sd"] is None
    assert "do not include variation between training seeds (`forest` has a random_state" in comment


def test_the_same_change_passes_once_both_versions_are_trained_with_four_seeds(factory, run_cli, tmp_path,
                                                                                 monkeypatch):
    model, comment = reseed_pr(factory, run_cli, 4, 4)
    (tmp_path / "single").mkdir()
    monkeypatch.chdir(tmp_path / "single")
    single, _ = reseed_pr(ProjectFactory(tmp_path / "single"), run_cli, None, None)

    auc, one_seed = model["deltas"]["roc_auc"], single["deltas"]["roc_auc"]
    assert model["passed"]
    assert auc["delta"] == pytest.approx(one_seed["delta"])  # the models that ship are the same
    assert auc["seeds"] == 4 and auc["seed_sd"] > 0 and auc["df"] > 0
    bootstrap_half = (one_seed["ci_high"] - one_seed["ci_low"]) / 2
    half = (auc["ci_high"] - auc["ci_low"]) / 2
    expected_se = math.hypot(one_seed["se"], auc["seed_sd"])
    assert auc["se"] == pytest.approx(expected_se, rel=1e-9)
    assert half == pytest.approx(stats.t.ppf(0.975, auc["df"]) * expected_se, rel=1e-9) and half > bootstrap_half
    assert all(d["seeds"] == 4 for s in model["slices"] for d in s["deltas"].values()) and model["slices"]
    assert "(seeds ±" in comment
    assert "the intervals of `forest` include the variation between 4 training seeds" in comment
    assert "do not include variation between training seeds" not in comment


def test_seeds_asked_for_only_by_the_pull_request_are_left_out_and_the_comment_says_why(factory, run_cli):
    model, comment = reseed_pr(factory, run_cli, None, 4)
    assert model["deltas"]["roc_auc"]["seeds"] == 1
    assert "the intervals leave out seed variation: the baseline was trained with one seed" in comment


def test_training_with_seeds_keeps_replicas_and_each_metric_per_seed(factory, run_cli):
    factory.model("forest", forest(0, 3))
    (trained,) = json.loads(run_cli("train", "forest", "--json").stdout)
    (entry_path,) = [p for p in factory.project.cache_dir.iterdir() if not p.name.startswith(".")]
    entry = Cache(factory.project.cache_dir).get(entry_path.name)
    replicas = entry.replicas()

    assert [r.named_steps["model"].random_state for r in replicas] == [1, 2]
    per_seed = entry.metrics()["seed_metrics"]["roc_auc"]
    assert len(per_seed) == 3 and per_seed[0] == trained["metrics"]["roc_auc"] and len(set(per_seed)) == 3
    assert trained["seed_metrics"]["roc_auc"] == per_seed
    assert f"± {np.std(per_seed, ddof=1):.4f} sd over 3 seeds" in run_cli("train", "forest").stdout


def test_an_estimator_without_a_seed_trains_once_and_says_the_setting_has_no_effect(factory, run_cli):
    factory.model("neighbours", """
        description: No randomness at all.
        task: classification
        data: {sklearn: breast_cancer}
        model: {estimator: sklearn.neighbors.KNeighborsClassifier}
        evaluation: {seeds: 3}
        """)
    result = run_cli("train", "neighbours")
    assert result.exit_code == 0, result.output
    assert "evaluation.seeds: 3 has no effect: KNeighborsClassifier takes no integer random_state" in result.output
    (entry,) = [p for p in factory.project.cache_dir.iterdir() if not p.name.startswith(".")]
    assert not (entry / REPLICAS_FILE).exists()


def test_one_seed_spelled_out_keeps_the_fingerprint_of_a_spec_without_the_setting(factory, run_cli):
    factory.model("plain", forest(0, None))
    factory.model("spelled", forest(0, 1))
    factory.model("seeded", forest(0, 2))
    prints = {name: json.loads(run_cli("train", name, "--json").stdout)[0]["fingerprint"]
              for name in ("plain", "spelled", "seeded")}
    assert prints["plain"] == prints["spelled"] != prints["seeded"]
