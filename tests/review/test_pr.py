"""`mlship pr`: the pull-request flow end to end, on real git repositories and real scikit-learn models.

Every test builds a project with the ``factory``, commits it on ``main``, branches off to
``feature``, commits a change there and runs ``mlship pr --base main --dry-run`` in-process.
Models are trained for real on small bundled or generated data; the cache, the git
worktree of the merge-base and the ledger are the real ones.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlship import api
from mlship.numbers import number
from mlship.review.compare import NEW_MODEL
from mlship.review.report import MAX_COMMENT, render_comment
from mlship.train.cache import Cache
from mlship.train.data import load_dataset
from repo_helpers import branch_off, commit_all, edit, git

GITHUB_LIMIT = 65_536

# --- helpers -----------------------------------------------------------------------


def pr(run_cli, *extra: str):
    return run_cli("pr", "--base", "main", "--dry-run", *extra)


def pr_json(run_cli, expected_exit: int | None = None) -> tuple[dict, object]:
    result = pr(run_cli, "--json")
    if expected_exit is not None:
        assert result.exit_code == expected_exit, result.stdout + result.stderr
    return json.loads(result.stdout), result


def model_of(document: dict, name: str) -> dict:
    (found,) = [m for m in document["models"] if m["name"] == name]
    return found


def section(comment: str, name: str) -> str:
    """The part of the comment about model ``name``: from its heading to the next one."""
    start = re.search(rf"^### .* `{re.escape(name)}`", comment, re.MULTILINE)
    assert start, f"no section for {name} in:\n{comment}"
    rest = comment[start.end():]
    end = re.search(r"^(### |---$)", rest, re.MULTILINE)
    return comment[start.start(): start.end() + (end.start() if end else len(rest))]


def metric_row(comment: str, name: str, metric: str) -> dict[str, str]:
    """The cells of ``metric``'s row in the metrics table of model ``name``."""
    for line in section(comment, name).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] in (metric, f"**{metric}**"):
            return dict(zip(["metric", "baseline", "candidate", "delta", "ci", "verdict"], cells))
    raise AssertionError(f"no row for {metric} in the table of {name}:\n{comment}")


def gate_lines(comment: str, name: str) -> list[str]:
    return [line for line in section(comment, name).splitlines() if line.startswith(("- ✅", "- ❌"))]


def worktrees(root: Path) -> list[str]:
    return [line for line in git(root, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def cache_entries(factory) -> list[str]:
    folder = factory.project.cache_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def no_traceback(result) -> None:
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr


def shown_delta(delta: float, scale: float | None = None) -> str:
    """How the comment writes a change: ▲/▼ and the decimals of the value it changes (four below 10)."""
    if delta == 0:
        return "0"
    return f"{'▲' if delta > 0 else '▼'} {number(delta, scale, sign=True)}"


def cancer_spec(params: str = "{C: 1.0, max_iter: 1000}", gates: str = "{roc_auc: {min: 0.9, max_drop: 0.01}}",
                extra: str = "") -> str:
    return f"""
description: Flags malignant tumours from cell measurements.
task: classification
data: {{sklearn: breast_cancer}}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {params}
evaluation:
  bootstrap: {{resamples: 200}}
{extra}
gates: {gates}
"""


def customers(n: int = 800, seed: int = 0) -> pd.DataFrame:
    """Customers whose churn depends on income (strongly), plan and age (a little)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.normal(50, 15, n), 2),
        "plan": rng.choice(["basic", "standard", "premium"], n),
    })
    score = (frame["income"] - 50) / 8 + 1.0 * (frame["plan"] == "premium") - 0.01 * (frame["age"] - 50)
    frame["churned"] = np.where(rng.random(n) < 1 / (1 + np.exp(-score)), "yes", "no")
    return frame


CHURN = """
description: Predicts which customers will cancel.
task: classification
data:
  path: customers.csv
  target: churned
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 1000}
evaluation:
  bootstrap: {resamples: 200}
gates:
  roc_auc: {min: 0.6}
"""


def churn_project(factory) -> Path:
    folder = factory.model("churn", CHURN)
    customers().to_csv(folder / "customers.csv", index=False)
    return branch_off(factory)


# --- a degraded model, noise, a new model --------------------------------------------


WEAK_FEATURES = "{sklearn: breast_cancer, features: [mean texture, mean smoothness, mean symmetry]}"


def test_a_degraded_model_fails_with_exit_1_and_a_significant_drop(factory, run_cli):
    factory.model("cancer", cancer_spec(gates="{roc_auc: {min: 0.85, max_drop: 0.01}}"))
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "{sklearn: breast_cancer}", WEAK_FEATURES)
    commit_all(root, "keep three weak features")

    document, result = pr_json(run_cli, expected_exit=1)
    assert document["passed"] is False
    model = model_of(document, "cancer")
    assert model["passed"] is False and model["paired"] is True
    roc = model["deltas"]["roc_auc"]
    assert roc["significant"] is True and roc["verdict"] == "worse"
    assert roc["delta"] < -0.01 and roc["ci_high"] < 0
    (change_gate,) = [g for g in model["gates"] if g["rule"] == "max_drop 0.01"]
    assert change_gate["passed"] is False
    assert [g["passed"] for g in model["gates"] if g["rule"] == "min 0.85"] == [True]

    shown = pr(run_cli)
    assert shown.exit_code == 1
    comment = shown.stdout
    assert "## ❌ mlship: 1 of 1 model failed" in comment
    assert f"Compared with `main` at `{document['merge_base'][:7]}` (the merge-base)." in comment
    row = metric_row(comment, "cancer", "roc_auc")
    assert row["metric"] == "**roc_auc**"  # the primary metric is in bold
    assert row["delta"] == shown_delta(roc["delta"]) and row["delta"].startswith("▼ −")
    assert row["verdict"] == "❌ worse"
    assert re.search(r"^### ❌ `cancer`: roc_auc 0\.99\d\d → 0\.8\d{3} \(▼ −0\.1\d{3}, significantly worse\)$",
                     comment, re.MULTILINE)
    (failing,) = [line for line in gate_lines(comment, "cancer") if line.startswith("- ❌")]
    assert failing.startswith("- ❌ `roc_auc` max_drop 0.01: roc_auc worse by ")
    assert re.search(r" \(roc_auc fell\), significantly more than the 0\.01 allowed \(adjusted p = [0-9.e-]+, CI \\\[",
                     failing)
    assert change_gate["p_value"] < 0.05
    # Failing gates are listed first.
    assert gate_lines(comment, "cancer")[0] == failing


def test_a_tiny_param_change_passes_and_its_deltas_are_within_noise(factory, run_cli):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.99")
    commit_all(root, "nudge C")

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "cancer")
    assert document["passed"] is True and model["passed"] is True
    assert set(model["deltas"]) == {"roc_auc", "accuracy", "f1"}
    for name, delta in model["deltas"].items():
        assert delta["significant"] is False, name
        assert delta["verdict"] == "unchanged"
        assert delta["ci_low"] <= delta["delta"] <= delta["ci_high"]
    assert model["params_diff"] == [{"key": "model.params.C", "baseline": 1.0, "candidate": 0.99}]

    comment = pr(run_cli).stdout
    assert "## ✅ mlship: 1 model passed" in comment
    for metric in ("roc_auc", "accuracy", "f1"):
        assert metric_row(comment, "cancer", metric)["verdict"] == "➖ within noise"
    assert re.search(r"^### ✅ `cancer`: roc_auc .* within noise\)$", comment, re.MULTILINE)
    assert "| `model.params.C` | `1.0` | `0.99` |" in comment


def test_a_drop_beyond_max_drop_that_is_not_significantly_beyond_it_passes(factory, run_cli):
    factory.model("cancer", cancer_spec(gates="{roc_auc: {max_drop: 0.0005}}"))
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.003")
    commit_all(root, "more regularisation")

    document, result = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "cancer")
    roc = model["deltas"]["roc_auc"]
    assert roc["delta"] < -0.0005, "the point drop exceeds the bound"
    assert roc["significant"] is False and roc["ci_low"] <= 0 <= roc["ci_high"]
    (gate,) = model["gates"]
    assert gate["passed"] is True and gate["p_value"] >= 0.05
    assert gate["message"].startswith(
        f"roc_auc worse by {number(-roc['delta'])} (roc_auc fell), more than the 0.0005 allowed but not significantly "
        "(adjusted p = ")

    comment = pr(run_cli).stdout
    (line,) = gate_lines(comment, "cancer")
    assert line.startswith("- ✅ `roc_auc` max_drop 0.0005: roc_auc worse by ") and "but not significantly" in line
    assert metric_row(comment, "cancer", "roc_auc")["verdict"] == "➖ within noise"


IRIS = """
description: Tells iris species apart.
task: classification
data: {sklearn: iris}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}}
evaluation:
  metrics: [accuracy, f1]
  bootstrap: {resamples: 200}
gates:
  accuracy: {min: MIN, max_drop: 0.01}
"""


@pytest.mark.parametrize(("minimum", "exit_code"), [(0.8, 0), (0.999, 1)])
def test_a_new_model_is_judged_by_its_absolute_gates_only(factory, run_cli, minimum, exit_code):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    factory.model("iris", IRIS.replace("MIN", str(minimum)))
    commit_all(root, "add iris")

    document, _ = pr_json(run_cli, expected_exit=exit_code)
    assert [m["name"] for m in document["models"]] == ["iris"], "the untouched model is not compared"
    model = model_of(document, "iris")
    assert model["baseline"] is None and model["deltas"] == {} and model["paired"] is False
    assert model["note"] == NEW_MODEL
    absolute, change = model["gates"]
    assert absolute["rule"] == f"min {minimum:g}" and absolute["passed"] is (exit_code == 0)
    assert change == {"metric": "accuracy", "rule": "max_drop 0.01", "passed": True,
                      "message": "not applied: no baseline to compare accuracy with", "p_value": None}

    comment = pr(run_cli).stdout
    assert re.search(r"^### (✅|❌) `iris`: new model, accuracy \d\.\d{4}$", comment, re.MULTILINE)
    assert f"> ⚠️ {NEW_MODEL}" in comment
    assert "only absolute gates apply" in comment
    row = metric_row(comment, "iris", "accuracy")
    assert row["baseline"] == "n/a" and row["verdict"] == "new" and row["delta"] == ""
    assert "- ✅ `accuracy` max_drop 0.01: not applied: no baseline to compare accuracy with" in comment
    assert "| commit | none |" in comment and "| fingerprint | none |" in comment
    assert json.loads((root / "reports" / "iris" / "metrics.json").read_text())["baseline"] is None


# --- paired and unpaired comparisons -----------------------------------------------


def test_a_renamed_feature_column_makes_the_comparison_unpaired(factory, run_cli):
    root = churn_project(factory)
    table = pd.read_csv(root / "models/churn/customers.csv").rename(columns={"income": "salary"})
    table.to_csv(root / "models/churn/customers.csv", index=False)
    commit_all(root, "rename income to salary")

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "churn")
    assert model["paired"] is False
    assert model["note"] == ("not paired: the rows the baseline trained on cannot be told apart: the data no "
                             "longer has column 'income', which identified its rows; each version is scored on "
                             "its own held-out rows")
    assert model["slices"] == []
    assert model["data_diff"]["columns_added"] == ["salary"] and model["data_diff"]["columns_removed"] == ["income"]
    # Unpaired: the baseline's metrics are its own, on its own held-out rows.
    baseline_entry = Cache(factory.project.cache_dir).get(model["baseline"]["fingerprint"])
    assert model["baseline"]["metrics"] == baseline_entry.metrics()["metrics"]
    for name, delta in model["deltas"].items():
        expected = model["candidate"]["metrics"][name] - model["baseline"]["metrics"][name]
        assert delta["delta"] == pytest.approx(expected, abs=1e-12)

    comment = pr(run_cli).stdout
    assert "> ⚠️ not paired: the rows the baseline trained on cannot be told apart" in comment
    assert "| rows compared | its own held-out rows | its held-out rows |" in comment
    assert "| columns removed |  | `income` |" in comment


def test_a_removed_column_the_baseline_used_makes_the_comparison_unpaired(factory, run_cli):
    root = churn_project(factory)
    table = pd.read_csv(root / "models/churn/customers.csv").drop(columns=["age"])
    table.to_csv(root / "models/churn/customers.csv", index=False)
    commit_all(root, "drop age from the data")

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "churn")
    assert model["paired"] is False and "no longer has column 'age'" in model["note"]
    assert "not paired" in pr(run_cli).stdout


def test_a_feature_dropped_from_the_spec_only_is_still_compared_paired(factory, run_cli):
    root = churn_project(factory)
    edit(root, "models/churn/model.yaml", "  target: churned\n", "  target: churned\n  features: [income, plan]\n")
    commit_all(root, "drop age from the features")

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "churn")
    assert model["paired"] is True and model["note"] == ""
    assert model["data_diff"]["features_removed"] == ["age"]
    # Paired: the baseline was scored on the candidate's held-out rows, not on its own.
    spec = api.load("churn", factory.project)
    dataset = load_dataset(spec)
    baseline = Cache(factory.project.cache_dir).get(model["baseline"]["fingerprint"]).load_model()
    proba = baseline.predict_proba(dataset.test_table[["age", "income", "plan"]])
    assert model["baseline"]["metrics"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(dataset.y_test == "yes", proba[:, 1]), abs=1e-12)

    comment = pr(run_cli).stdout
    assert "not paired" not in comment
    held_out = len(dataset.y_test)
    assert "| rows compared | the candidate's held-out rows | its held-out rows |" in comment
    assert f"Compared on {held_out:,} of the candidate's {held_out:,} held-out rows." in comment
    assert "| features removed |  | `age` |" in comment


# --- which rows are compared ---------------------------------------------------------

HOUSES = """
description: Prices houses from their size and age.
task: regression
data: {path: houses.csv, target: price}
model: {estimator: sklearn.linear_model.Ridge, params: {alpha: 1.0}}
evaluation:
  bootstrap: {resamples: 300}
gates:
  rmse: {max_relative_drop: 0.05}
"""


def houses(n: int, seed: int) -> pd.DataFrame:
    """Houses from one generator: the price grows with size and falls with age, plus noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"size": rng.uniform(40, 250, n).round(1), "age": rng.integers(0, 90, n)})
    frame["price"] = (2_000 * frame["size"] - 800 * frame["age"] + rng.normal(0, 30_000, n)).round(0)
    return frame


def compared_digests(factory, model: dict, spec_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The digests of the rows the comparison used (the candidate's held-out rows minus the ones left
    out, recomputed here from the data) and of the rows the baseline recorded training on."""
    from mlship.train.split import row_digests

    dataset = load_dataset(api.load(spec_name, factory.project))
    baseline = Cache(factory.project.cache_dir).get(model["baseline"]["fingerprint"])
    split = baseline.lineage()["split"]
    digests = row_digests(dataset.test_table[split["columns"]], split["key"])
    return digests, baseline.train_digests()


def test_data_grown_from_the_same_generator_is_compared_on_held_out_rows_only_and_passes(factory, run_cli):
    """The issue's case: 2,000 rows grow to 2,400. Old rows keep their side, so every old held-out
    row stays held out, the new held-out rows join them, and no compared row was trained on."""
    folder = factory.model("houses", HOUSES)
    houses(2_000, seed=1).to_csv(folder / "houses.csv", index=False)
    root = branch_off(factory)
    pd.concat([houses(2_000, seed=1), houses(400, seed=2)]).to_csv(root / "models/houses/houses.csv", index=False)
    commit_all(root, "400 more houses")

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "houses")
    assert model["paired"] is True and model["passed"] is True
    digests, trained = compared_digests(factory, model, "houses")
    assert model["rows"] == {"compared": len(digests), "held_out": len(digests), "excluded": {}}
    assert not np.isin(digests, trained).any(), "no compared row was in the baseline's training data"
    baseline_entry = Cache(factory.project.cache_dir).get(model["baseline"]["fingerprint"])
    assert np.isin(baseline_entry.predictions()["digest"].to_numpy(), digests).all(), \
        "every row the baseline held out is still held out"
    comment = pr(run_cli).stdout
    assert f"Compared on {len(digests):,} of the candidate's {len(digests):,} held-out rows." in comment


def test_rows_the_baseline_trained_on_are_left_out_and_counted(factory, run_cli):
    """A new split seed moves rows across: those the baseline trained on never score it."""
    folder = factory.model("houses", HOUSES)
    houses(1_000, seed=1).to_csv(folder / "houses.csv", index=False)
    root = branch_off(factory)
    edit(root, "models/houses/model.yaml", "{path: houses.csv, target: price}",
         "{path: houses.csv, target: price, split: {seed: 5}}")
    commit_all(root, "another split")

    document, _ = pr_json(run_cli)
    model = model_of(document, "houses")
    digests, trained = compared_digests(factory, model, "houses")
    leaked = int(np.isin(digests, trained).sum())
    assert leaked > 100, "about three quarters of the new held-out rows were the baseline's training rows"
    assert model["paired"] is True
    assert model["rows"] == {"compared": len(digests) - leaked, "held_out": len(digests),
                             "excluded": {"the baseline trained on them": leaked}}
    comment = pr(run_cli).stdout
    assert (f"Compared on {len(digests) - leaked:,} of the candidate's {len(digests):,} held-out rows; left out: "
            f"{leaked:,} because the baseline trained on them.") in comment


def test_a_renamed_feature_with_a_split_key_is_still_compared_on_the_rows_both_held_out(factory, run_cli):
    """The key identifies the rows, so the baseline's recorded predictions of them pair with the candidate's."""
    folder = factory.model("churn", CHURN.replace("  target: churned\n", "  target: churned\n  split: {key: id}\n"))
    table = customers().assign(id=lambda f: [f"c{i:05d}" for i in range(len(f))])
    table.to_csv(folder / "customers.csv", index=False)
    root = branch_off(factory)
    table.rename(columns={"income": "salary"}).to_csv(root / "models/churn/customers.csv", index=False)
    commit_all(root, "rename income to salary")

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "churn")
    assert model["paired"] is True and model["note"] == ""
    held_out = model["rows"]["held_out"]
    assert model["rows"]["compared"] == held_out and model["rows"]["excluded"] == {}
    recorded = Cache(factory.project.cache_dir).get(model["baseline"]["fingerprint"]).metrics()["metrics"]
    assert model["baseline"]["metrics"]["roc_auc"] == pytest.approx(recorded["roc_auc"], abs=1e-12), \
        "the same rows: the baseline's own held-out score"


# --- what the PR touches -------------------------------------------------------------


def test_a_pr_touching_only_an_unrelated_file_trains_nothing(factory, run_cli):
    factory.model("cancer", cancer_spec())
    (factory.root / "README.md").write_text("docs\n")
    root = branch_off(factory)
    (root / "README.md").write_text("better docs\n")
    commit_all(root, "docs")

    result = pr(run_cli)
    assert result.exit_code == 0, result.stderr
    assert "## ✅ mlship: no model is touched by this change" in result.stdout
    assert "###" not in result.stdout
    assert cache_entries(factory) == []
    assert not (root / "reports" / "cancer").exists()
    assert worktrees(root) == [f"worktree {root.resolve()}"]
    document, _ = pr_json(run_cli, expected_exit=0)
    assert document["models"] == [] and document["errors"] == {}
    assert cache_entries(factory) == []


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ("task: classification", "task: clasification", 2, "task: 'clasification' is not allowed"),
    ("C: 1.0, max_iter", "c: 1.0, max_iter", 6,
     "model.params.c: LogisticRegression has no parameter 'c'"),
], ids=["schema", "estimator-param"])
def test_a_broken_spec_on_the_branch_is_reported_with_its_file_and_line(factory, run_cli, old, new, line, message):
    factory.model("cancer", cancer_spec())
    factory.model("iris", IRIS.replace("MIN", "0.8"))
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", old, new)
    edit(root, "models/iris/model.yaml", "max_iter: 500", "max_iter: 600")
    commit_all(root, "break cancer, tune iris")

    result = pr(run_cli)
    assert result.exit_code == 2
    no_traceback(result)
    comment = result.stdout
    assert "## ❌ mlship: 1 of 2 models failed" in comment
    assert "### ❌ `cancer`: cannot be evaluated" in comment
    assert f"models/cancer/model.yaml:{line}: {message}" in comment
    # The other touched model is still compared and reported, after the one that failed.
    assert comment.index("### ❌ `cancer`: cannot be evaluated") < comment.index("### ✅ `iris`: accuracy")

    document, result = pr_json(run_cli, expected_exit=2)
    no_traceback(result)
    assert document["passed"] is False
    assert [m["name"] for m in document["models"]] == ["iris"]
    assert any(f"models/cancer/model.yaml:{line}: {message}" in p for p in document["errors"]["cancer"])
    assert worktrees(root) == [f"worktree {root.resolve()}"]


# --- the numbers are scikit-learn's ---------------------------------------------------

NUMBERS = {
    "binary": ("""
task: classification
data: {sklearn: breast_cancer}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {C: 1.0, max_iter: 2000}}
evaluation:
  metrics: [roc_auc, accuracy, balanced_accuracy, precision, recall, f1, log_loss]
  bootstrap: {resamples: 200}
""", "C: 1.0", "C: 0.02"),
    "multiclass": ("""
task: classification
data: {sklearn: wine}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {C: 1.0, max_iter: 2000}}
evaluation:
  metrics: [roc_auc, accuracy, balanced_accuracy, precision, recall, f1, log_loss]
  bootstrap: {resamples: 200}
""", "C: 1.0", "C: 0.005"),
    "regression": ("""
task: regression
data: {sklearn: diabetes}
model: {estimator: sklearn.linear_model.Ridge, params: {alpha: 1.0}}
evaluation:
  metrics: [rmse, mae, r2, mape]
  bootstrap: {resamples: 200}
""", "alpha: 1.0", "alpha: 20.0"),
}


def sklearn_metrics(kind: str, y: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None,
                    classes: list) -> dict[str, float]:
    """Each metric straight from scikit-learn, written out independently of mlship."""
    if kind == "regression":
        return {"rmse": math.sqrt(skm.mean_squared_error(y, y_pred)), "mae": skm.mean_absolute_error(y, y_pred),
                "r2": skm.r2_score(y, y_pred), "mape": skm.mean_absolute_percentage_error(y, y_pred)}
    if kind == "binary":
        positive = classes[1]
        averaged = {"average": "binary", "pos_label": positive}
        auc = skm.roc_auc_score(y == positive, proba[:, 1])
    else:
        averaged = {"average": "macro"}
        auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    return {
        "roc_auc": auc,
        "accuracy": skm.accuracy_score(y, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, y_pred),
        "precision": skm.precision_score(y, y_pred, zero_division=0, **averaged),
        "recall": skm.recall_score(y, y_pred, zero_division=0, **averaged),
        "f1": skm.f1_score(y, y_pred, zero_division=0, **averaged),
        "log_loss": skm.log_loss(y, proba, labels=classes),
    }


@pytest.mark.parametrize("kind", list(NUMBERS))
def test_the_reported_numbers_are_scikit_learns_on_the_same_predictions(factory, run_cli, kind):
    spec_text, old, new = NUMBERS[kind]
    factory.model("model", spec_text)
    root = branch_off(factory)
    edit(root, "models/model/model.yaml", old, new)
    commit_all(root, "change the model")

    document, _ = pr_json(run_cli)
    model = model_of(document, "model")
    assert model["paired"] is True
    cache = Cache(factory.project.cache_dir)
    spec = api.load("model", factory.project)
    dataset = load_dataset(spec)
    y = dataset.y_test.to_numpy()

    candidate = cache.get(model["candidate"]["fingerprint"]).predictions()
    assert candidate["row"].tolist() == dataset.test_rows.tolist()
    assert candidate["y_true"].tolist() == y.tolist()
    classes = dataset.classes
    proba_columns = [f"proba:{c}" for c in classes] if classes else []
    candidate_proba = candidate[proba_columns].to_numpy() if classes else None
    expected_candidate = sklearn_metrics(kind, y, candidate["y_pred"].to_numpy(), candidate_proba, classes)

    baseline_model = cache.get(model["baseline"]["fingerprint"]).load_model()
    assert model["baseline"]["fingerprint"] != model["candidate"]["fingerprint"]
    rows = dataset.X_test
    baseline_proba = baseline_model.predict_proba(rows) if classes else None
    expected_baseline = sklearn_metrics(kind, y, baseline_model.predict(rows), baseline_proba, classes)

    assert set(model["candidate"]["metrics"]) == set(expected_candidate) == set(model["deltas"])
    for name, value in expected_candidate.items():
        assert model["candidate"]["metrics"][name] == pytest.approx(value, abs=1e-12), name
        assert model["baseline"]["metrics"][name] == pytest.approx(expected_baseline[name], abs=1e-12), name
        assert model["deltas"][name]["delta"] == pytest.approx(value - expected_baseline[name], abs=1e-12), name
    assert any(abs(d["delta"]) > 1e-6 for d in model["deltas"].values()), "the change changed something"

    comment = pr(run_cli).stdout
    for name, value in expected_candidate.items():
        row, scale = metric_row(comment, "model", name), expected_baseline[name]
        assert row["candidate"] == number(value, scale), name
        assert row["baseline"] == number(scale, scale), name
        assert row["delta"] == shown_delta(value - scale, scale), name


# --- slices ---------------------------------------------------------------------------


def regional(counts: dict[str, int], seed: int, flip: str | None = None) -> pd.DataFrame:
    """Shoppers in regions; whether they buy depends on x1 and x2 alike everywhere.

    ``flip`` inverts the label in one region: a data bug confined to that slice.
    """
    rng = np.random.default_rng(seed)
    region = np.concatenate([[name] * n for name, n in counts.items()])
    x1, x2 = rng.normal(size=len(region)), rng.normal(size=len(region))
    bought = (rng.random(len(region)) < 1 / (1 + np.exp(-(2 * x1 - 1.5 * x2)))).astype(int)
    frame = pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "region": region, "bought": bought})
    if flip:
        frame.loc[frame["region"] == flip, "bought"] = 1 - frame.loc[frame["region"] == flip, "bought"]
    return frame


TRAIN_COUNTS = {"north": 400, "south": 400, "east": 400, "west": 40}
TEST_COUNTS = {"north": 150, "south": 150, "east": 150, "west": 12}

SHOP = """
description: Predicts who buys, by region.
task: classification
data: {path: train.csv, test_path: test.csv, target: bought}
model:
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 50}
evaluation:
  metrics: [roc_auc, accuracy]
  slices: [region]
  bootstrap: {resamples: 200}
gates:
  roc_auc: {slice_max_drop: 0.1}
"""


def shop_project(factory) -> Path:
    folder = factory.model("shop", SHOP)
    regional(TRAIN_COUNTS, seed=1).to_csv(folder / "train.csv", index=False)
    regional(TEST_COUNTS, seed=2).to_csv(folder / "test.csv", index=False)
    return branch_off(factory)


def test_each_slice_value_gets_results_and_a_small_slice_is_marked_not_judged_not_hidden(factory, run_cli):
    root = shop_project(factory)
    edit(root, "models/shop/model.yaml", "max_iter: 50", "max_iter: 40")
    commit_all(root, "fewer iterations")

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "shop")
    slices = {s["value"]: s for s in model["slices"]}
    assert sorted(slices) == ["east", "north", "south", "west"]
    assert {v: s["rows"] for v, s in slices.items()} == TEST_COUNTS
    assert all(s["column"] == "region" for s in slices.values())
    assert slices["west"]["deltas"] == {}
    assert slices["west"]["unjudged"] == {m: "12 rows, fewer than min_slice_size 30" for m in ("roc_auc", "accuracy")}
    for value in ("east", "north", "south"):
        assert slices[value]["unjudged"] == {} and set(slices[value]["deltas"]) == {"roc_auc", "accuracy"}
    # Each slice's candidate metrics are scikit-learn's on that slice's rows.
    predictions = Cache(factory.project.cache_dir).get(model["candidate"]["fingerprint"]).predictions()
    test = pd.read_csv(root / "models/shop/test.csv")
    for value, part in slices.items():
        mask = (test["region"] == value).to_numpy()
        assert part["candidate"]["accuracy"] == pytest.approx(
            skm.accuracy_score(predictions["y_true"][mask], predictions["y_pred"][mask]), abs=1e-12)
    (gate,) = model["gates"]
    assert gate["passed"] is True
    assert gate["message"] == "no slice's roc_auc was significantly worse by more than 0.1 (3 slices judged)"

    comment = pr(run_cli).stdout
    assert "<details><summary>All slices (4)</summary>" in comment
    (west,) = [line for line in comment.splitlines() if line.startswith("| region = west |")]
    assert west.startswith("| region = west | 12 | ") and west.count("(not judged)") == 2
    assert "A slice judges a metric only with 30 rows or more" in comment
    assert "Slice regressions" not in comment


def test_a_change_that_hurts_only_one_slice_shows_it_and_fails_the_slice_gate(factory, run_cli):
    root = shop_project(factory)
    regional(TRAIN_COUNTS, seed=1, flip="south").to_csv(root / "models/shop/train.csv", index=False)
    commit_all(root, "new training labels (inverted for the south by mistake)")

    document, _ = pr_json(run_cli, expected_exit=1)
    model = model_of(document, "shop")
    assert model["paired"] is True
    slices = {s["value"]: s for s in model["slices"]}
    assert slices["south"]["deltas"]["roc_auc"]["verdict"] == "worse"
    assert slices["south"]["deltas"]["roc_auc"]["delta"] < -0.3
    for value in ("north", "east"):
        assert slices[value]["deltas"]["roc_auc"]["verdict"] != "worse", value
    (gate,) = model["gates"]
    assert gate["passed"] is False
    assert re.fullmatch(r"roc_auc significantly worse by more than 0\.1 in region=south "
                        r"\(worse by 0\.\d+, adjusted p = [0-9.e-]+\)", gate["message"])
    (failed,) = [t for t in model["change_tests"] if t["failed"]]
    assert (failed["metric"], failed["slice"], failed["rule"]) == ("roc_auc", "region=south", "slice_max_drop")
    assert failed["adjusted_p"] >= failed["p_value"] and failed["adjusted_p"] < 0.05

    comment = pr(run_cli).stdout
    regressions = comment.split("**Slice regressions**")[1].split("<details>")[0]
    rows = [line for line in regressions.splitlines() if line.startswith("| region")]
    assert len(rows) == 1 and rows[0].startswith("| region = south | 150 | roc_auc |")
    assert any("| roc_auc |" in line and "▼ −" in line for line in rows)
    assert ("- ❌ `roc_auc` slice_max_drop 0.1: roc_auc significantly worse by more than 0.1 in region=south"
            in comment)
    (south,) = [line for line in comment.split("All slices")[1].splitlines() if line.startswith("| region = south |")]
    assert "❌" in south


def test_a_numeric_slice_column_is_cut_into_quantile_bins_in_order_of_value(factory, run_cli):
    root = shop_project(factory)
    edit(root, "models/shop/model.yaml", "slices: [region]", "slices: [region, {column: x1, bins: 3}, x2]")
    commit_all(root, "slice by x1 and x2 too")

    model = model_of(pr_json(run_cli, expected_exit=0)[0], "shop")
    by_column: dict[str, list[dict]] = {}
    for s in model["slices"]:
        by_column.setdefault(s["column"], []).append(s)
    assert [s["value"] for s in by_column["region"]] == ["east", "north", "south", "west"]
    test = pd.read_csv(root / "models/shop/test.csv")
    for column, bins in (("x1", 3), ("x2", 4)):
        parts = by_column[column]
        assert len(parts) == bins and sum(s["rows"] for s in parts) == len(test)
        edges = [[float(v) for v in s["value"].split(" to ")] for s in parts]
        assert all(low < high for low, high in edges) and edges == sorted(edges), "bins in order of value"
        assert min(s["rows"] for s in parts) >= len(test) // bins - 2, "quantile bins hold about equal rows"


def test_a_slice_with_too_few_of_a_class_judges_accuracy_but_not_roc_auc(factory, run_cli):
    root = shop_project(factory)
    edit(root, "models/shop/model.yaml", "  slices: [region]\n", "  slices: [region]\n  min_slice_class_size: 70\n")
    commit_all(root, "ask for 70 rows of each class in a slice")

    model = model_of(pr_json(run_cli, expected_exit=0)[0], "shop")
    test = pd.read_csv(root / "models/shop/test.csv")
    for s in model["slices"]:
        if s["value"] == "west":
            continue
        fewest = test.loc[test["region"] == s["value"], "bought"].value_counts().reindex([0, 1], fill_value=0).min()
        assert "accuracy" in s["deltas"], s["value"]
        if fewest < 70:
            assert "roc_auc" not in s["deltas"]
            assert s["unjudged"]["roc_auc"].endswith("roc_auc needs 70 of each class (min_slice_class_size)")
        else:
            assert "roc_auc" in s["deltas"]
    assert any("roc_auc" in s["unjudged"] for s in model["slices"] if s["value"] != "west")


# --- relative drops -------------------------------------------------------------------

DIABETES = """
task: regression
data: {sklearn: diabetes}
model: {estimator: sklearn.linear_model.Ridge, params: {alpha: 0.1}}
evaluation:
  bootstrap: {resamples: 200}
gates:
  rmse: {max_relative_drop: 0.05}
  mae: {max_relative_drop: 5}
"""


def test_max_relative_drop_fails_on_a_significant_relative_drop_and_shows_percentages(factory, run_cli):
    factory.model("diabetes", DIABETES)
    root = branch_off(factory)
    edit(root, "models/diabetes/model.yaml", "{sklearn: diabetes}", "{sklearn: diabetes, features: [age, sex]}")
    commit_all(root, "keep only age and sex")

    document, _ = pr_json(run_cli, expected_exit=1)
    model = model_of(document, "diabetes")
    rmse, base = model["deltas"]["rmse"], model["baseline"]["metrics"]["rmse"]
    assert rmse["delta"] > 0 and rmse["significant"] is True and rmse["verdict"] == "worse"
    relative = rmse["delta"] / base
    assert relative > 0.05
    gates = {g["metric"]: g for g in model["gates"]}
    assert gates["rmse"]["passed"] is False
    assert gates["rmse"]["message"].startswith(
        f"rmse worse by {relative:.2%} (rmse rose), significantly more than the 5.00% allowed (adjusted p = ")
    mae_relative = model["deltas"]["mae"]["delta"] / model["baseline"]["metrics"]["mae"]
    assert 0 < mae_relative < 5
    assert gates["mae"]["passed"] is True
    assert gates["mae"]["message"] == (
        f"mae worse by {mae_relative:.2%} (mae rose), within max_relative_drop 500.00%")

    comment = pr(run_cli).stdout
    assert (f"- ❌ `rmse` max_relative_drop 0.05: rmse worse by {relative:.2%} (rmse rose), significantly more than "
            "the 5.00% allowed"
            in comment)
    # rmse went up, which is worse: ▲ with a ❌.
    row = metric_row(comment, "diabetes", "rmse")
    assert row["delta"].startswith("▲ +") and row["verdict"] == "❌ worse"


def test_models_that_failed_their_gates_come_first_in_the_comment(factory, run_cli):
    factory.model("a-iris", IRIS.replace("MIN", "0.5"))
    factory.model("b-iris", IRIS.replace("MIN", "0.999"))
    root = branch_off(factory)
    for name in ("a-iris", "b-iris"):
        edit(root, f"models/{name}/model.yaml", "max_iter: 500", "max_iter: 600")
    commit_all(root, "tune both")
    comment = pr(run_cli).stdout
    assert comment.index("### ❌ `b-iris`") < comment.index("### ✅ `a-iris`")


# --- the ledger -----------------------------------------------------------------------


def test_pr_writes_the_ledger_with_the_candidate_its_gates_and_its_baseline(factory, run_cli):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    merge_base = git(root, "rev-parse", "main").strip()
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    commit_all(root, "tune C")

    document, result = pr_json(run_cli, expected_exit=0)
    assert "wrote reports/cancer/metrics.json" in result.stderr
    assert "wrote reports/cancer/model_card.md" in result.stderr
    model = model_of(document, "cancer")
    ledger = json.loads((root / "reports/cancer/metrics.json").read_text())
    assert ledger["model"] == "cancer"
    assert ledger["fingerprint"] == model["candidate"]["fingerprint"]
    assert set(ledger["fingerprint_parts"]) == {"spec", "data", "code", "versions", "format"}
    assert ledger["metrics"] == model["candidate"]["metrics"]
    assert ledger["gates"] == model["gates"] and ledger["passed"] is True
    assert ledger["deltas"] == model["deltas"] and set(ledger["deltas"]) == {"roc_auc", "accuracy", "f1"}
    assert ledger["baseline"] == {"commit": merge_base, "fingerprint": model["baseline"]["fingerprint"],
                                  "metrics": model["baseline"]["metrics"]}
    assert document["merge_base"] == merge_base
    assert json.loads((root / "reports/pr-result.json").read_text()) == document

    card = (root / "reports/cancer/model_card.md").read_text()
    assert card.startswith("# Model card: `cancer`\n\nFlags malignant tumours from cell measurements.\n")
    assert f"against the baseline at `{merge_base[:7]}`" in card
    roc = model["candidate"]["metrics"]["roc_auc"]
    assert re.search(rf"^\| \*\*roc_auc\*\* \| \d\.\d{{4}} \| {roc:.4f} \| ", card, re.MULTILINE)
    assert "- ✅ `roc_auc` min 0.9: roc_auc" in card and "- ✅ `roc_auc` max_drop 0.01: " in card
    assert "- `C`: `0.5`" in card


def test_ledger_verify_matches_after_pr_and_names_the_spec_after_an_unreviewed_change(factory, run_cli):
    factory.model("cancer", cancer_spec())
    factory.model("iris", IRIS.replace("MIN", "0.8"))
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    commit_all(root, "tune C")

    missing = run_cli("ledger", "verify", "cancer")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: no ledger for 'cancer' at reports/cancer/metrics.json")
    no_traceback(missing)

    assert pr(run_cli).exit_code == 0
    verified = run_cli("ledger", "verify", "cancer")
    assert verified.exit_code == 0, verified.stdout
    assert verified.stdout.startswith("✅ cancer: the working tree matches the ledger")
    assert run_cli("ledger", "verify", "iris").exit_code == 2, "iris was not touched, so it has no ledger"

    # Gates and the description are not part of the fingerprint: changing them keeps the match.
    edit(root, "models/cancer/model.yaml", "min: 0.9", "min: 0.95")
    assert run_cli("ledger", "verify", "cancer").exit_code == 0

    edit(root, "models/cancer/model.yaml", "C: 0.5", "C: 0.25")
    changed = run_cli("ledger", "verify", "cancer")
    assert changed.exit_code == 1
    assert "❌ cancer: the working tree does not match the ledger" in changed.stdout
    assert "differs in: spec." in changed.stdout


# --- the cache and the worktree -----------------------------------------------------


def test_a_second_run_takes_both_versions_from_the_cache_and_leaves_no_worktree(factory, run_cli):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    commit_all(root, "tune C")

    first, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(first, "cancer")
    assert model["candidate"]["cache_hit"] is False and model["baseline"]["cache_hit"] is False
    assert cache_entries(factory) == sorted([model["candidate"]["fingerprint"], model["baseline"]["fingerprint"]])
    assert worktrees(root) == [f"worktree {root.resolve()}"]
    lineage = Cache(factory.project.cache_dir).get(model["baseline"]["fingerprint"]).lineage()
    assert lineage["git"]["commit"] == first["merge_base"], "the baseline was trained at the merge-base"

    second, _ = pr_json(run_cli, expected_exit=0)
    again = model_of(second, "cancer")
    assert again["candidate"]["cache_hit"] is True and again["baseline"]["cache_hit"] is True
    assert again["deltas"] == model["deltas"] and again["baseline"]["metrics"] == model["baseline"]["metrics"]
    assert len(cache_entries(factory)) == 2
    assert worktrees(root) == [f"worktree {root.resolve()}"]
    comment = pr(run_cli).stdout
    assert "| trained | from cache | from cache |" in comment
    assert worktrees(root) == [f"worktree {root.resolve()}"]


def test_a_first_run_says_both_versions_were_trained_in_this_run(factory, run_cli):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    commit_all(root, "tune C")
    comment = pr(run_cli).stdout
    assert "| trained | in this run | in this run |" in comment
    commit = git(root, "rev-parse", "HEAD").strip()
    assert f"| commit | `{git(root, 'rev-parse', 'main').strip()[:7]}` (merge-base) | `{commit[:7]}` |" in comment


def test_the_worktree_is_removed_when_a_model_cannot_be_evaluated(factory, run_cli):
    root = churn_project(factory)
    table = pd.read_csv(root / "models/churn/customers.csv")
    table.loc[[3, 7], "churned"] = np.nan
    table.to_csv(root / "models/churn/customers.csv", index=False)
    commit_all(root, "lose two labels")

    result = pr(run_cli)
    assert result.exit_code == 2
    no_traceback(result)
    assert "### ❌ `churn`: cannot be evaluated" in result.stdout
    assert "models/churn/model.yaml:5: data.target: 2 of 800 rows of customers.csv have no value in target" \
        in result.stdout
    assert worktrees(root) == [f"worktree {root.resolve()}"]


BROKEN_FIT = """
from sklearn.linear_model import LogisticRegression


class Broken(LogisticRegression):
    def fit(self, X, y):
        raise RuntimeError("out of GPU memory")


def build():
    return Broken()
"""


def test_the_worktree_is_removed_even_when_training_raises_an_unexpected_exception(factory, run_cli):
    """The model's own code raising anything is reported as the model's error (not a traceback)."""
    root = churn_project(factory)
    edit(root, "models/churn/model.yaml",
         "estimator: sklearn.linear_model.LogisticRegression\n  params: {max_iter: 1000}", "entrypoint: build.py:build")
    (root / "models/churn/build.py").write_text(BROKEN_FIT)
    commit_all(root, "a custom estimator")

    result = pr(run_cli)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "fitting failed: RuntimeError: out of GPU memory" in result.stdout
    assert worktrees(root) == [f"worktree {root.resolve()}"]
    assert not git(root, "worktree", "list").count("mlship-worktree")


# --- the comment's size, the template, posting ----------------------------------------


def stores(n: int = 1400, seed: int = 0) -> pd.DataFrame:
    """Sales per store: a slice column with a value per row makes a very long slices table."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n).round(4), "store": [f"store-{i:04d}" for i in range(n)]})
    frame["sales"] = (3 * frame["x"] + rng.normal(size=n)).round(4)
    return frame


STORES = """
task: regression
data:
  path: stores.csv
  target: sales
  features: [x]
  split: {test_size: 0.5}
model: {estimator: sklearn.linear_model.Ridge, params: {alpha: 1.0}}
evaluation:
  metrics: [rmse, mae, mape]
  slices: [store]
  bootstrap: {resamples: 200}
gates:
  rmse: {max: 5}
"""


def test_a_comment_over_githubs_limit_drops_the_details_and_says_where_the_full_report_is(factory, run_cli):
    folder = factory.model("stores", STORES)
    stores().to_csv(folder / "stores.csv", index=False)
    root = branch_off(factory)
    edit(root, "models/stores/model.yaml", "resamples: 200", "resamples: 300")
    commit_all(root, "more resamples")

    result = pr(run_cli)
    assert result.exit_code == 0, result.stderr
    comment = result.stdout
    assert len(comment) < GITHUB_LIMIT
    assert "<details>" not in comment
    assert "> ⚠️ Details were left out to keep this comment under GitHub's size limit. " \
           "The full report is in `pr-comment.full.md`" in comment
    # What a reviewer needs stays: the verdict, the metrics and the gates.
    assert "## ✅ mlship: 1 model passed" in comment
    assert metric_row(comment, "stores", "rmse")["verdict"] == "➖ within noise"
    assert "- ✅ `rmse` max 5: rmse " in comment
    assert (root / "reports/pr-comment.md").read_text() + "\n" == comment  # click adds the last newline
    full = (root / "reports/pr-comment.full.md").read_text()
    assert len(full) > MAX_COMMENT
    held_out = len(re.findall(r"^\| store = store-\d{4} \| 1 \| ", full, re.MULTILINE))
    assert held_out > 600 and f"<details><summary>All slices ({held_out})</summary>" in full
    assert "wrote reports/pr-comment.full.md" in result.stderr


def test_a_comment_within_the_limit_keeps_its_details_and_writes_no_full_report(factory, run_cli):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    commit_all(root, "tune C")
    result = pr(run_cli)
    assert "<details><summary>Provenance</summary>" in result.stdout
    assert "Details were left out" not in result.stdout
    assert not (root / "reports/pr-comment.full.md").exists()


def test_render_comment_drops_the_details_first_and_cuts_the_text_only_as_a_last_resort(factory):
    factory.model("cancer", cancer_spec())
    factory.model("iris", IRIS.replace("MIN", "0.8"))
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    edit(root, "models/iris/model.yaml", "max_iter: 500", "max_iter: 600")
    commit_all(root, "tune both")
    result = api.pr(factory.project, "main")
    hint = "See pr-comment.full.md."

    full = render_comment(result, root, None, hint)
    assert full == result.comment and "<details>" in full
    short = render_comment(result, root, None, hint, limit=len(full) - 1)
    assert "<details>" not in short and len(short) < len(full)
    assert f"> ⚠️ Details were left out to keep this comment under GitHub's size limit. {hint}" in short
    for name in ("cancer", "iris"):
        assert f"`{name}`" in short and gate_lines(short, name) == gate_lines(full, name)

    cut = render_comment(result, root, None, hint, limit=600)
    assert len(cut) <= 600
    assert cut.endswith(f"\n\n> ⚠️ The report was cut here to fit GitHub's size limit. {hint}\n")
    assert cut.startswith("<!-- mlship:report -->\n## ✅ mlship: 2 models passed")


def test_pr_without_dry_run_outside_actions_exits_2_before_training(factory, run_cli):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    commit_all(root, "tune C")

    result = run_cli("pr", "--base", "main")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ("error: cannot post without --repo, --pr, --sha: run on a pull_request event in "
                             "GitHub Actions, pass them, or use --dry-run\n")
    assert cache_entries(factory) == [] and not (root / "reports").exists()


def test_a_project_template_overrides_the_comment(factory, run_cli):
    factory.model("cancer", cancer_spec())
    templates = factory.root / ".mlship" / "templates"
    templates.mkdir(parents=True)
    (templates / "comment.md.j2").write_text(
        "{{ marker }}\nOur bot says: {{ headline }}\n"
        "{% for m in models %}* {{ m.name }} {{ m.icon }} {{ m.headline }}\n{% endfor %}")
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")
    commit_all(root, "tune C")

    result = pr(run_cli)
    assert result.exit_code == 0, result.stderr
    assert (root / "reports/pr-comment.md").read_text() + "\n" == result.stdout
    lines = (root / "reports/pr-comment.md").read_text().splitlines()
    assert lines[:2] == ["<!-- mlship:report -->", "Our bot says: 1 model passed"]
    assert re.fullmatch(r"\* cancer ✅ roc_auc \d\.\d{4} → \d\.\d{4} \((0|[▲▼] [+−]\d\.\d{4}), within noise\)",
                        lines[2])
    assert len(lines) == 3
    # The model card still comes from the packaged template.
    assert (root / "reports/cancer/model_card.md").read_text().startswith("# Model card: `cancer`")


# --- more of the flow ------------------------------------------------------------------


def test_a_removed_model_is_named_in_the_comment_and_does_not_fail_the_pr(factory, run_cli):
    factory.model("cancer", cancer_spec())
    factory.model("iris", IRIS.replace("MIN", "0.8"))
    root = branch_off(factory)
    git(root, "rm", "-rq", "models/iris")
    git(root, "commit", "-qm", "retire iris")

    document, _ = pr_json(run_cli, expected_exit=0)
    assert document["removed"] == ["iris"] and document["models"] == []
    comment = pr(run_cli).stdout
    assert "Removed in this change: `iris`." in comment
    assert cache_entries(factory) == []


def test_uncommitted_changes_are_compared_and_flagged_in_the_provenance(factory, run_cli):
    factory.model("cancer", cancer_spec())
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.5")  # not committed

    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "cancer")
    assert model["candidate"]["dirty"] is True
    assert model["params_diff"] == [{"key": "model.params.C", "baseline": 1.0, "candidate": 0.5}]
    head = git(root, "rev-parse", "HEAD").strip()
    assert f"| commit | `{head[:7]}` (merge-base) | `{head[:7]}` + uncommitted changes |" in pr(run_cli).stdout


# --- baselines that cannot be used, unpaired gates, stale files ---------------------------


def test_a_pr_that_fixes_a_baseline_that_cannot_be_trained_is_judged_by_its_absolute_gates(factory, run_cli):
    factory.model("cancer", cancer_spec(params="{c: 1.0, max_iter: 1000}"))
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "c: 1.0", "C: 1.0")
    commit_all(root, "fix the param name")

    result = pr(run_cli)
    assert "mlship-worktree" not in result.stdout
    assert result.exit_code == 0, result.stdout
    document, _ = pr_json(run_cli, expected_exit=0)
    model = model_of(document, "cancer")
    assert model["baseline"] is None and model["note"]


def test_the_note_on_an_invalid_baseline_spec_names_the_spec_by_its_path_in_the_repository(factory, run_cli):
    factory.model("iris", IRIS.replace("MIN", "0.8").replace("task: classification", "task: clasification"))
    root = branch_off(factory)
    edit(root, "models/iris/model.yaml", "task: clasification", "task: classification")
    commit_all(root, "fix the task")

    document, _ = pr_json(run_cli, expected_exit=0)
    note = model_of(document, "iris")["note"]
    assert note.startswith("the baseline at the merge-base cannot be evaluated (")
    assert "(models/iris/model.yaml:2: task: 'clasification' is not allowed" in note
    assert "mlship-worktree" not in note


def test_a_model_whose_baseline_spec_is_invalid_is_not_headlined_as_a_new_model(factory, run_cli):
    factory.model("iris", IRIS.replace("MIN", "0.8").replace("task: classification", "task: clasification"))
    root = branch_off(factory)
    edit(root, "models/iris/model.yaml", "task: clasification", "task: classification")
    commit_all(root, "fix the task")

    comment = pr(run_cli).stdout
    assert "the baseline at the merge-base cannot be evaluated" in comment
    assert "`iris`: new model" not in comment


def unpaired_shop(factory) -> Path:
    """The shop model, with x1 renamed on the branch: the baseline cannot score the new rows."""
    root = shop_project(factory)
    for name in ("train.csv", "test.csv"):
        path = root / "models/shop" / name
        pd.read_csv(path).rename(columns={"x1": "visits"}).to_csv(path, index=False)
    commit_all(root, "rename x1")
    return root


def test_the_slice_gate_of_an_unpaired_comparison_says_it_was_not_applied(factory, run_cli):
    unpaired_shop(factory)
    document, _ = pr_json(run_cli)
    model = model_of(document, "shop")
    assert model["paired"] is False and model["slices"] == []
    (gate,) = model["gates"]
    assert not gate["message"].startswith("no slice's")
    assert "not applied" in gate["message"]


def test_the_footer_of_an_unpaired_comparison_does_not_claim_a_paired_bootstrap(factory, run_cli):
    unpaired_shop(factory)
    comment = pr(run_cli).stdout
    assert "> ⚠️ not paired:" in comment
    assert "paired bootstrap" not in comment.replace("unpaired bootstrap", "")


def test_the_footer_says_once_that_seed_variation_is_not_in_the_intervals_of_a_seeded_estimator(factory, run_cli):
    factory.model("cancer", cancer_spec())  # LogisticRegression takes a random_state
    neighbours = "{estimator: sklearn.neighbors.KNeighborsRegressor, params: {n_neighbors: 5}}"
    factory.model("diabetes", DIABETES.replace("{estimator: sklearn.linear_model.Ridge, params: {alpha: 0.1}}",
                                               neighbours))  # takes no seed
    root = branch_off(factory)
    edit(root, "models/cancer/model.yaml", "C: 1.0", "C: 0.99")
    edit(root, "models/diabetes/model.yaml", "n_neighbors: 5", "n_neighbors: 7")
    commit_all(root, "nudge both")

    comment = pr(run_cli).stdout
    footer = comment.strip().splitlines()[-1]
    assert footer.count("random_state") == 1
    assert ("the intervals do not include variation between training seeds (`cancer` has a random_state; "
            "`evaluation.seeds` adds it)") in footer
    assert "diabetes" not in footer


def test_a_run_whose_comment_fits_leaves_no_stale_full_report(factory, run_cli):
    folder = factory.model("stores", STORES)
    stores().to_csv(folder / "stores.csv", index=False)
    root = branch_off(factory)
    edit(root, "models/stores/model.yaml", "alpha: 1.0", "alpha: 2.0")
    commit_all(root, "tune alpha")
    assert pr(run_cli).exit_code == 0
    assert (root / "reports/pr-comment.full.md").exists()

    edit(root, "models/stores/model.yaml", "  slices: [store]\n", "")
    commit_all(root, "no per-store slices")
    result = pr(run_cli)
    assert "<details>" in result.stdout, "the comment fits now"
    assert not (root / "reports/pr-comment.full.md").exists()
