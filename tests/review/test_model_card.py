"""The model card and metrics.json say who owns the model, what it is for, and exactly what it was trained from."""

from __future__ import annotations

import json

from churn_repos import mlship, ok
from repo_helpers import commit_all, git

SPEC = """
task: classification
owners: [ml-team, "@alice"]
intended_use: Ranking biopsies for a second reading.
limitations: Trained on one hospital's 569 cases.
data: {sklearn: breast_cancer, split: {test_size: 0.3, seed: 42}}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 1000}
evaluation:
  bootstrap: {resamples: 100}
"""


def test_the_card_and_metrics_record_owners_use_split_data_and_a_dirty_tree(factory):
    root = factory.root
    (root / "models" / "cancer").mkdir(parents=True)
    git(root.parent, "init", "-q", "-b", "main", str(root))
    (root / "README.md").write_text("models\n")
    commit_all(root, "initial")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "models" / "cancer" / "model.yaml").write_text(SPEC.lstrip())
    head = commit_all(root, "a model")

    ok(mlship(root, "pr", "--base", "main", "--dry-run"))
    card = (root / "reports/cancer/model_card.md").read_text()
    document = json.loads((root / "reports/cancer/metrics.json").read_text())
    assert "| owners | ml-team, @&#8203;alice |" in card  # a mention is defused, as everywhere in Markdown
    assert "- Intended use: Ranking biopsies for a second reading.\n" in card
    assert "- Limitations: Trained on one hospital's 569 cases.\n" in card
    assert "- Input: one record per row holding the 30 features listed under Data (30 numbers, 0 categories);" in card
    assert "; split: method hash, columns" not in card and "split: method hash, test_size 0.3, seed 42." in card
    assert "- SHA-256 of the data: `sklearn:breast_cancer` `bundled with scikit-learn`." in card
    assert f"- Trained at commit `{head}`, fingerprint" in card and "uncommitted" not in card
    assert document["git"] == {"commit": head, "dirty": False} and document["owners"] == ["ml-team", "@alice"]
    assert document["split"]["method"] == "hash" and document["split"]["test_size"] == 0.3

    # Trained from a tree the commit does not hold: the card says so rather than name the commit as the source.
    spec = root / "models" / "cancer" / "model.yaml"
    spec.write_text(spec.read_text().replace("max_iter: 1000", "max_iter: 1000, C: 0.05"))
    ok(mlship(root, "pr", "--base", "main", "--dry-run"))
    card = (root / "reports/cancer/model_card.md").read_text()
    assert f"- Trained at commit `{head}` **with uncommitted changes to the model's files**: that commit does not " \
           "hold what was trained; the fingerprint does, fingerprint" in card
    assert json.loads((root / "reports/cancer/metrics.json").read_text())["git"] == {"commit": head, "dirty": True}
