"""`mlship unreleased`: what a release run releases, whatever earlier runs were skipped or cancelled.

GitHub keeps one pending run per concurrency group, so of three quick merges the middle
one's run can be cancelled. A run that lists models by diffing its own push would never
release that merge's models; listing every model whose committed ledger has no version
makes the next run release them.
"""

from __future__ import annotations

import json

from repo_helpers import commit_all, git

SPEC = """\
task: classification
data: {{sklearn: breast_cancer}}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {{C: {c}, max_iter: 2000}}
evaluation: {{metrics: [roc_auc], bootstrap: {{resamples: 100}}}}
gates:
  roc_auc: {{min: {floor}}}
"""


def test_every_model_merged_since_the_last_release_is_listed_and_a_released_one_drops_out(factory, run_cli):
    for name, floor in (("first", 0.9), ("second", 0.9), ("failing", 0.9999)):
        factory.model(name, SPEC.format(c=1.0, floor=floor))
    (factory.root / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\n")
    factory.git_init()
    assert json.loads(run_cli("unreleased", "--json").stdout) == [], "no ledger yet: nothing was approved"

    git(factory.root, "checkout", "-qb", "review")
    for name in ("first", "second", "failing"):
        factory.model(name, SPEC.format(c=0.5, floor=0.9999 if name == "failing" else 0.9))
    assert run_cli("pr", "--base", "main", "--dry-run").exit_code == 1, "the failing model fails its gate"
    commit_all(factory.root, "reviewed")
    git(factory.root, "checkout", "-q", "main")
    for name in ("first", "second", "failing"):  # three merges; imagine the first two runs cancelled
        git(factory.root, "checkout", "review", "--", f"models/{name}", f"reports/{name}")
        commit_all(factory.root, f"merge {name}")

    listed = run_cli("unreleased", "--json")
    assert json.loads(listed.stdout) == ["first", "second"]
    assert "warning: failing: its ledger records failed gates, so it is not released" in listed.stderr

    released = run_cli("release", "first", "--backend", "local", "--json")
    assert released.exit_code == 0, released.stdout + released.stderr
    assert json.loads(run_cli("unreleased", "--json").stdout) == ["second"]
    assert run_cli("unreleased").stdout == "second\n"
