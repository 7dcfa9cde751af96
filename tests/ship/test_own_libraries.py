"""A model built on a library mlship does not depend on (LightGBM), through review, release, deploy and serve.

The model folder's requirements.txt names it (the setup action installs it in CI; here the
test environment has it): its version is in the fingerprint and the ledger, the bento's
pinned packages carry it, and the served model answers over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Iterator

import pytest
import requests
from sklearn.datasets import load_breast_cancer

from churn_repos import mlship, ok
from mlship.ship import serving, stages
from repo_helpers import commit_all, git

SPEC = """\
task: classification
data: {{sklearn: breast_cancer}}
model:
  estimator: lightgbm.LGBMClassifier
  params: {{n_estimators: {trees}, num_leaves: 7, n_jobs: 1}}
evaluation: {{metrics: [roc_auc], bootstrap: {{resamples: 100}}}}
gates:
  roc_auc: {{min: 0.9}}
"""


@pytest.fixture
def boosted(factory) -> Iterator[Path]:
    """A project whose model is an LGBMClassifier; servers its deploys start are stopped afterwards."""
    factory.model("boosted", SPEC.format(trees=20), {"requirements.txt": f"lightgbm=={metadata.version('lightgbm')}\n"})
    (factory.root / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\ndeploy/\n")
    factory.git_init()
    yield factory.root
    for path in (factory.root / ".mlship" / "deploy").glob("*/*.json"):
        remembered = stages.read_local_state(path)
        if remembered is not None:
            serving.stop(remembered.server)


def test_a_lightgbm_model_is_reviewed_released_and_served_with_lightgbm_pinned(boosted):
    root = boosted
    git(root, "checkout", "-qb", "more-trees")
    (root / "models" / "boosted" / "model.yaml").write_text(SPEC.format(trees=40))
    ok(mlship(root, "pr", "--base", "main", "--dry-run"))
    ledger = json.loads((root / "reports" / "boosted" / "metrics.json").read_text())
    assert ledger["passed"] is True
    assert ledger["versions"]["lightgbm"] == metadata.version("lightgbm")
    commit_all(root, "40 trees, reviewed")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "merge more-trees", "more-trees")

    released = json.loads(ok(mlship(root, "release", "boosted", "--backend", "local", "--json")).stdout)
    assert released["tag"] == "boosted@v0.1.0"
    (pins,) = (root / ".mlship" / "bentoml" / "bentos" / "boosted").glob("*/env/python/requirements.txt")
    assert f"lightgbm=={metadata.version('lightgbm')}" in pins.read_text().splitlines()
    deployed = json.loads(ok(mlship(root, "deploy", "boosted", "--stage", "prod", "--backend", "local",
                                    "--target", "local", "--json")).stdout)
    served = requests.post(f"{deployed['url']}/metadata", json={}, timeout=30).json()
    assert served["fingerprint"] == ledger["fingerprint"]

    cancer = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    answer = requests.post(f"{deployed['url']}/predict_proba", json={"records": cancer.head(3).to_dict("records")},
                           timeout=30)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()) == 3
