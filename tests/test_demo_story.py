"""`make demo` tells a story: one line per step, and why a worse metric without a gate still passes.

The demo itself takes minutes (it trains, packages and serves), so it is not run here; these tests
pin the lines it derives from `mlship pr`'s result (the pr-result.json format of docs/pull-requests.md).
"""

from __future__ import annotations

import importlib.util

from conftest import REPO_ROOT


def demo():
    spec = importlib.util.spec_from_file_location("demo", REPO_ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model(name, passed, gates, verdicts):
    return {"name": name, "passed": passed, "gates": gates,
            "deltas": {metric: {"delta": -0.03, "verdict": verdict} for metric, verdict in verdicts.items()}}


RESULT = {
    "models": [
        model("churn", True, [{"metric": "roc_auc", "rule": "min 0.75", "passed": True, "message": "ok"}],
              {"roc_auc": "unchanged", "f1": "worse", "log_loss": "better"}),
        model("cancer", False, [{"metric": "recall", "rule": "min 0.9", "passed": False,
                                 "message": "recall 0.7424 < min 0.9"},
                                {"metric": "accuracy", "rule": "max_drop 0.05", "passed": True, "message": "ok"}],
              {"recall": "worse", "accuracy": "worse", "f1": "worse"}),
    ],
    "errors": {"broken": ["models/broken/model.yaml:3: task: required"]},
}


def test_a_worse_metric_without_a_gate_is_named_with_why_it_does_not_decide_the_verdict():
    lines = demo().ungated_changes(RESULT)
    assert lines == [
        "churn: f1 got significantly worse (❌ worse in the comment) but has no gate in models/churn/model.yaml, "
        "so it does not decide the verdict: the verdict column describes each change, only gates decide. To make "
        "one count, add e.g. `f1: {max_drop: 0.02}` under `gates:`.",
        "cancer: f1 got significantly worse (❌ worse in the comment) but has no gate in "
        "models/cancer/model.yaml, so it does not decide the verdict: the verdict column describes each change, "
        "only gates decide. To make one count, add e.g. `f1: {max_drop: 0.02}` under `gates:`.",
    ]


def test_each_models_verdict_is_one_line_naming_the_gates_that_failed():
    assert demo().verdicts(RESULT) == [
        "churn passed",
        "cancer FAILED: recall min 0.9 (recall 0.7424 < min 0.9)",
        "broken could not be evaluated: ['models/broken/model.yaml:3: task: required']",
    ]


def test_mlship_trains_summary_is_one_line_per_model_and_the_closing_sentence():
    output = ("✅ cancer: passed (trained in 0.42 s, fingerprint 10e862fcfe41)\n   roc_auc*   0.9981\n"
              "❌ churn: failed (from cache, fingerprint 34bc8c2c5fb9)\n   roc_auc*   0.7\n"
              "2 models trained and evaluated; 1 failed its gates.\n")
    assert demo().models_line(output) == ("✅ cancer: passed; ❌ churn: failed. 2 models trained and evaluated; "
                                         "1 failed its gates.")
