"""`mlship ledger verify` between review and merge: what may change on the runner, and what must not.

A runner image moving Python 3.11.7 to 3.11.99 under a pinned "3.11" changes nothing
scikit-learn computes: it must not block the deploy. A library's version does change
results: the mismatch names the library, both versions, and what to do.
"""

from __future__ import annotations

import platform
from importlib import metadata

from mlship.train import fingerprint
from repo_helpers import branch_off, commit_all

SPEC = """\
task: classification
data: {sklearn: breast_cancer}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {C: 0.5, max_iter: 2000}}
evaluation: {metrics: [roc_auc], bootstrap: {resamples: 100}}
"""


def reviewed(factory, run_cli) -> None:
    factory.model("cancer", "task: classification\ndata: {sklearn: breast_cancer}\n"
                            "model: {estimator: sklearn.linear_model.LogisticRegression}\n")
    branch_off(factory)
    factory.model("cancer", SPEC)
    assert run_cli("pr", "--base", "main", "--dry-run").exit_code == 0
    commit_all(factory.root, "reviewed")


def test_a_python_patch_release_after_review_does_not_block_the_deploy(factory, run_cli, monkeypatch):
    reviewed(factory, run_cli)
    major, minor, _ = platform.python_version_tuple()
    monkeypatch.setattr(platform, "python_version_tuple", lambda: (major, minor, "99"))
    monkeypatch.setattr(platform, "python_version", lambda: f"{major}.{minor}.99")

    verified = run_cli("ledger", "verify", "cancer")
    assert verified.exit_code == 0, verified.stdout

    monkeypatch.setattr(platform, "python_version_tuple", lambda: (major, str(int(minor) + 1), "0"))
    moved = run_cli("ledger", "verify", "cancer")
    assert moved.exit_code == 1
    assert f"differs in: versions (python {major}.{minor} approved, {major}.{int(minor) + 1} here)." in moved.stdout


def test_a_library_version_that_differs_is_named_with_both_versions_and_the_fix(factory, run_cli, monkeypatch):
    reviewed(factory, run_cli)
    approved = metadata.version("scikit-learn")
    real = metadata.version
    monkeypatch.setattr(fingerprint.metadata, "version",
                        lambda name: "9.9.9" if name == "scikit-learn" else real(name))

    refused = run_cli("ledger", "verify", "cancer")
    assert refused.exit_code == 1
    assert f"differs in: versions (scikit-learn {approved} approved, 9.9.9 here). " in refused.stdout
    assert "Install the approved versions" in refused.stdout
    assert "commit reports/cancer/ to have them reviewed" in refused.stdout


def test_the_libraries_a_models_requirements_txt_names_are_part_of_its_fingerprint(factory):
    folder = factory.model("boosted", SPEC, {"requirements.txt": "# the model's own libraries\n"
                                                                 "--index-url https://example.invalid/simple\n"
                                                                 "LightGBM==4.7.0 ; python_version >= '3.8'\n"
                                                                 "PyYAML>=6  # parsed, then fingerprinted\n"})
    spec = factory.project.spec("boosted")
    versions = fingerprint.library_versions(spec)
    assert versions["lightgbm"] == metadata.version("lightgbm")
    assert versions["pyyaml"] == metadata.version("pyyaml")
    before = fingerprint.fingerprint(spec).value

    (folder / "requirements.txt").write_text("lightgbm==4.7.0\nnot-a-real-distribution-here==1.0\n")
    after = fingerprint.library_versions(factory.project.spec("boosted"))
    assert after["not-a-real-distribution-here"] == "not installed"
    assert "pyyaml" not in after
    assert fingerprint.fingerprint(factory.project.spec("boosted")).value != before
