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

from mlship.review.bootstrap import Delta, with_seed_variation
from mlship.review.significance import drop_beyond_p, normal_p, seed_df
from mlship.train.cache import REPLICAS_FILE, Cache
from conftest import ProjectFactory
from repo_helpers import branch_off, commit_all, edit


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


# --- the statistics -----------------------------------------------------------------


def delta(value: float, se: float, **extra) -> Delta:
    return Delta(value, value - 1.96 * se, value + 1.96 * se, False, "unchanged", se, normal_p(value, se), **extra)


def test_seed_variation_adds_its_variance_and_uses_welch_satterthwaite_degrees_of_freedom():
    seed_deltas = [-0.02, 0.01, -0.005, 0.015]
    varied = with_seed_variation("roc_auc", delta(-0.02, 0.01), seed_deltas, 0.95)

    seed_variance = np.var(seed_deltas, ddof=1)
    se = math.sqrt(0.01 ** 2 + seed_variance)
    df = (0.01 ** 2 + seed_variance) ** 2 * 3 / seed_variance ** 2
    assert varied.se == pytest.approx(se) and varied.df == pytest.approx(df) and varied.seeds == 4
    assert varied.seed_sd == pytest.approx(math.sqrt(seed_variance))
    assert varied.ci_low == pytest.approx(-0.02 - stats.t.ppf(0.975, df) * se)
    assert varied.p_value == pytest.approx(2 * stats.t.sf(0.02 / se, df))
    assert varied.delta == -0.02


def test_seeds_that_do_not_move_the_delta_keep_the_exact_accuracy_test():
    exact = delta(-0.01, 0.005, discordant=(1, 5, 500))
    kept = with_seed_variation("accuracy", exact, [-0.01, -0.01, -0.01], 0.95)
    assert kept.discordant == (1, 5, 500) and kept.se == exact.se and kept.seeds == 3 and kept.seed_sd == 0


def test_an_undefined_seed_delta_leaves_the_delta_as_the_bootstrap_gave_it():
    original = delta(-0.01, 0.005)
    assert with_seed_variation("roc_auc", original, [-0.01, math.nan, 0.0], 0.95) == original


def test_the_bound_test_uses_students_t_with_few_degrees_of_freedom():
    assert drop_beyond_p(0.03, 0.01, 0.0, 3.0) == pytest.approx(stats.t.sf(3.0, 3.0))
    assert drop_beyond_p(0.03, 0.01, 0.0, 3.0) > drop_beyond_p(0.03, 0.01, 0.0)  # heavier tails: less evidence
    assert seed_df(1.0, 0.0, 5) == math.inf and seed_df(1.0, 1.0, 1) == math.inf
    assert seed_df(0.0, 2.0, 5) == pytest.approx(4.0)  # all of the error from the seeds: n − 1
