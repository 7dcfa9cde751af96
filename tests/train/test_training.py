"""Training and evaluation: real scikit-learn fits on small real tables.

Covers how the estimator is built (dotted class path or entrypoint function) and how
that goes wrong, the automatic preprocessing, reproducibility, the metrics (checked
against scikit-learn's own functions on the cached held-out predictions), gates,
performance figures and lineage.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import subprocess
import textwrap
from importlib import metadata

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import mlship
from mlship import api
from mlship.train.cache import MODEL_FILE, Cache

SPEC = "models/churn/model.yaml"


# --- helpers -----------------------------------------------------------------------


def customers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numeric and categorical features; a yes/no target, a three-class one and a numeric one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.normal(50, 15, n), 2),
        "plan": rng.choice(["basic", "standard", "premium"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    signal = (frame["income"] - 50) / 10 + 1.5 * (frame["plan"] == "premium") - 0.5
    frame["churned"] = np.where(rng.random(n) < 1 / (1 + np.exp(-signal)), "yes", "no")
    noisy = frame["income"] + rng.normal(0, 8, n)
    frame["tier"] = np.select([noisy < 42, noisy < 58], ["low", "mid"], "high")
    frame["spend"] = np.round(20 + 0.8 * frame["income"] + 5 * (frame["plan"] == "premium") + rng.normal(0, 5, n), 2)
    return frame


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line of ``text`` (as the factory writes it) containing ``needle``."""
    lines = textwrap.dedent(text).lstrip().splitlines()
    found = [number for number, line in enumerate(lines, 1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def assert_user_error(result, spec: str, needle: str, field: str, message: str) -> None:
    """Exit 2 and ``error: <file>:<line>: <field>: <message...>`` on stderr, without a traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    expected = f"error: {SPEC}:{line_of(spec, needle)}: {field}: {message}"
    assert expected in result.stderr, f"expected {expected!r} in stderr:\n{result.stderr}"


def entry_of(factory, result):
    entry = Cache(factory.project.cache_dir).get(result.fingerprint)
    assert entry is not None
    return entry


def churn_spec(model: str, *, target: str = "churned", task: str = "classification", extra: str = "") -> str:
    """A spec on data/train.csv; ``model`` and ``extra`` are YAML lines (at column 0)."""
    return (f"task: {task}\ndata:\n  path: data/train.csv\n  target: {target}\n"
            f"  features: [age, income, plan, region]\n  split: {{test_size: 0.25, seed: 7}}\n"
            f"model:\n{textwrap.indent(textwrap.dedent(model).strip(), '  ')}\n{textwrap.dedent(extra).lstrip()}")


LOGISTIC = "estimator: sklearn.linear_model.LogisticRegression"


# --- building the estimator ------------------------------------------------------------


def test_dotted_estimator_path_is_built_with_its_params_and_trained(factory):
    factory.model("churn", churn_spec(f"{LOGISTIC}\nparams: {{C: 0.5, max_iter: 500}}"),
                  {"data/train.csv": csv(customers())})

    result = api.train("churn")

    assert not result.cache_hit and result.passed
    model = entry_of(factory, result).load_model()
    estimator = model.named_steps["model"]
    assert type(estimator).__name__ == "LogisticRegression"
    assert (estimator.C, estimator.max_iter) == (0.5, 500)
    assert result.metrics["roc_auc"] > 0.75  # it learnt the signal in income and plan


ENTRYPOINT = """
    from sklearn.neighbors import KNeighborsClassifier


    def build(n_neighbors: int = 5, weights: str = "uniform"):
        return KNeighborsClassifier(n_neighbors=n_neighbors, weights=weights)
"""


def test_entrypoint_function_gets_the_params_as_keyword_arguments(factory):
    factory.model("churn", churn_spec("entrypoint: train.py:build\nparams: {n_neighbors: 9, weights: distance}"),
                  {"data/train.csv": csv(customers()), "train.py": ENTRYPOINT})

    result = api.train("churn")

    estimator = entry_of(factory, result).load_model().named_steps["model"]
    assert type(estimator).__name__ == "KNeighborsClassifier"
    assert (estimator.n_neighbors, estimator.weights) == (9, "distance")
    assert set(result.metrics) == {"roc_auc", "accuracy", "f1"}


@pytest.mark.parametrize(
    ("model", "code", "needle", "field", "message"),
    [
        pytest.param(
            "entrypoint: train.py:biuld", ENTRYPOINT, "entrypoint:", "model.entrypoint",
            "train.py has no function 'biuld' (did you mean 'build'?)", id="missing-function"),
        pytest.param(
            "entrypoint: train.py:build\nparams: {n_neigbors: 3}", ENTRYPOINT, "params:", "model.params.n_neigbors",
            "build(n_neighbors: int = 5, weights: str = 'uniform'): got an unexpected keyword argument 'n_neigbors' "
            "(did you mean 'n_neighbors'?)", id="unknown-param"),
        pytest.param(
            "entrypoint: train.py:build",
            '"""A model that needs a package nobody installed."""\nimport math\nimport mlship_no_such_package\n\n\n'
            "def build():\n    return None\n",
            "entrypoint:", "model.entrypoint",
            "importing train.py failed: ModuleNotFoundError: No module named 'mlship_no_such_package' at train.py:3",
            id="import-error"),
        pytest.param(
            "entrypoint: train.py:build",
            "def build():\n    scale = 0\n    return 1 / scale\n",
            "entrypoint:", "model.entrypoint",
            "build() raised ZeroDivisionError: division by zero at train.py:3", id="function-raises"),
        pytest.param(
            "entrypoint: train.py:build", "def build():\n    return 'LogisticRegression'\n",
            "entrypoint:", "model.entrypoint",
            "build() returned str, not an estimator with fit, predict and get_params", id="returns-a-string"),
    ],
)
def test_entrypoint_mistake_is_a_user_error_at_the_spec_field(factory, run_cli, model, code, needle, field, message):
    spec = churn_spec(model)
    factory.model("churn", spec, {"data/train.csv": csv(customers()), "train.py": code})

    for command in ("validate", "train"):
        assert_user_error(run_cli(command, "churn"), spec, needle, field, message)


@pytest.mark.parametrize(
    ("model", "needle", "field", "message"),
    [
        pytest.param(f"{LOGISTIC}\nparams: {{max_iters: 50}}", "params:", "model.params.max_iters",
                     "LogisticRegression has no parameter 'max_iters' (did you mean 'max_iter'?). Parameters: ",
                     id="unknown-param"),
        pytest.param(f"{LOGISTIC}\nparams: {{C: -1.0}}", "params:", "model.params.C",
                     "The 'C' parameter of LogisticRegression must be a float in the range (0.0, inf]",
                     id="invalid-param-value"),
        pytest.param("estimator: sklearn.linear_model.LogisticRegresion", "estimator:", "model.estimator",
                     "'sklearn.linear_model' has no 'LogisticRegresion' (did you mean 'LogisticRegression'?)",
                     id="misspelt-class"),
        pytest.param("estimator: sklearn.no_such_module.Model", "estimator:", "model.estimator",
                     "cannot import 'sklearn.no_such_module' (No module named 'sklearn.no_such_module'); "
                     "is its package installed?", id="missing-module"),
    ],
)
def test_estimator_mistake_is_a_user_error_at_the_spec_field(factory, run_cli, model, needle, field, message):
    spec = churn_spec(model)
    factory.model("churn", spec, {"data/train.csv": csv(customers())})

    assert_user_error(run_cli("train", "churn"), spec, needle, field, message)


UNUSUAL_ESTIMATORS = {
    "pipeline": ("sklearn.pipeline.Pipeline", "Pipeline cannot be built from model.params ("),
    "grid-search": ("sklearn.model_selection.GridSearchCV", "GridSearchCV cannot be built from model.params ("),
    "abstract": ("sklearn.linear_model._base.LinearModel",
                 "'sklearn.linear_model._base.LinearModel' is an abstract class: name one of its concrete subclasses"),
    "clusterer": ("sklearn.cluster.KMeans", "KMeans is a clusterer but task is classification"),
    "transformer": ("sklearn.preprocessing.StandardScaler", "'sklearn.preprocessing.StandardScaler' is not an "
                                                             "estimator class (one with fit, predict and get_params)"),
}


@pytest.mark.parametrize("case", UNUSUAL_ESTIMATORS)
def test_an_estimator_that_cannot_be_a_model_is_a_user_error(factory, run_cli, case):
    path, message = UNUSUAL_ESTIMATORS[case]
    spec = churn_spec(f"estimator: {path}")
    factory.model("churn", spec, {"data/train.csv": csv(customers())})
    for command in ("validate", "train"):
        assert_user_error(run_cli(command, "churn"), spec, "estimator:", "model.estimator", message)


UNUSUAL_ENTRYPOINTS = {
    "returns-a-class": ("from sklearn.linear_model import LogisticRegression\n\n\ndef build():\n"
                        "    return LogisticRegression\n",
                        "build() returned the class LogisticRegression, not an estimator: return LogisticRegression(...)"),
    "duck-typed": ("class Model:\n    def fit(self, X, y):\n        return self\n\n    def predict(self, X):\n"
                   "        return [0] * len(X)\n\n\ndef build():\n    return Model()\n",
                   "build() returned Model, not an estimator with fit, predict and get_params (subclass "
                   "sklearn.base.BaseEstimator)"),
    "custom-base-exception": ("class Stop(BaseException):\n    pass\n\n\ndef build():\n    raise Stop('no')\n",
                              "build() raised Stop: no at train.py:6"),
    "sys-exit-0": ("import sys\n\n\ndef build():\n    sys.exit(0)\n", "build() raised SystemExit: 0 at train.py:5"),
    "sys-exit-on-import": ("import sys\n\nsys.exit(0)\n", "importing train.py failed: SystemExit: 0 at train.py:3"),
}


@pytest.mark.parametrize("case", UNUSUAL_ENTRYPOINTS)
def test_an_entrypoint_that_does_not_return_an_estimator_is_a_user_error(factory, run_cli, case):
    code, message = UNUSUAL_ENTRYPOINTS[case]
    spec = churn_spec("entrypoint: train.py:build")
    factory.model("churn", spec, {"data/train.csv": csv(customers()), "train.py": code})
    for command in ("validate", "train"):
        assert_user_error(run_cli(command, "churn"), spec, "entrypoint:", "model.entrypoint", message)


FAILING_MODELS = {
    "wrong-length-predict": ("    def predict(self, X):\n        return [0] * (len(X) + 1)\n",
                             "evaluating failed: ValueError: "),
    "unpicklable": ("    def fit(self, X, y):\n        import threading\n        self.lock_ = threading.Lock()\n"
                    "        return super().fit(X, y)\n",
                    "saving the model (it must pickle) failed: TypeError: cannot pickle '_thread.lock' object"),
}


@pytest.mark.parametrize("case", FAILING_MODELS)
def test_a_model_that_fails_after_fitting_is_a_training_error_naming_the_stage(factory, run_cli, case):
    method, message = FAILING_MODELS[case]
    code = ("from sklearn.linear_model import LogisticRegression\n\n\nclass Model(LogisticRegression):\n"
            + method + "\n\ndef build():\n    return Model(max_iter=500)\n")
    spec = churn_spec("entrypoint: train.py:build")
    factory.model("churn", spec, {"data/train.csv": csv(customers()), "train.py": code})
    assert_user_error(run_cli("train", "churn"), spec, "entrypoint:", "model.entrypoint", message)


@pytest.mark.parametrize(
    ("model", "task", "target", "needle", "field", "message"),
    [
        pytest.param("estimator: sklearn.linear_model.LinearRegression", "classification", "churned",
                     "estimator:", "model.estimator", "LinearRegression is a regressor but task is classification",
                     id="regressor-for-classification"),
        pytest.param("entrypoint: train.py:build", "regression", "spend",
                     "entrypoint:", "model.entrypoint", "KNeighborsClassifier is a classifier but task is regression",
                     id="entrypoint-classifier-for-regression"),
    ],
)
def test_estimator_of_the_wrong_kind_for_the_task_is_a_user_error(factory, run_cli, model, task, target,
                                                                  needle, field, message):
    spec = churn_spec(model, task=task, target=target)
    factory.model("churn", spec, {"data/train.csv": csv(customers()), "train.py": ENTRYPOINT})

    assert_user_error(run_cli("train", "churn"), spec, needle, field, message)
    assert not factory.project.cache_dir.exists() or not any(factory.project.cache_dir.iterdir())


# --- preprocessing ----------------------------------------------------------------------


def test_cached_model_predicts_raw_records_with_strings_missing_values_and_unseen_categories(factory):
    frame = customers()
    frame.loc[[3, 30, 60], "income"] = np.nan   # gaps in training data too
    frame.loc[[5, 50], "plan"] = np.nan
    factory.model("churn", churn_spec(LOGISTIC), {"data/train.csv": csv(frame)})

    result = api.train("churn")
    model = entry_of(factory, result).load_model()

    records = pd.DataFrame([
        {"age": 35, "income": 72.5, "plan": "premium", "region": "north"},
        {"age": 61, "income": None, "plan": "basic", "region": "south"},          # missing number
        {"age": None, "income": 40.0, "plan": None, "region": "east"},            # missing category
        {"age": 44, "income": 55.0, "plan": "enterprise", "region": "atlantis"},  # never seen in training
    ])
    predicted = model.predict(records)
    proba = model.predict_proba(records)

    assert set(predicted) <= {"no", "yes"} and len(predicted) == 4
    assert np.isfinite(proba).all()
    assert proba.sum(axis=1) == pytest.approx(np.ones(4))
    assert list(model.classes_) == ["no", "yes"]
    lineage = entry_of(factory, result).lineage()
    assert lineage["data"]["categorical"] == ["plan", "region"]
    # The high earner on the premium plan is likelier to churn than the low earner on basic.
    assert proba[0, 1] > proba[2, 1]


RECORDER = """
    import pandas as pd
    from sklearn.dummy import DummyClassifier


    class Recorder(DummyClassifier):
        \"\"\"Remembers what it was fitted on.\"\"\"

        def fit(self, X, y, sample_weight=None):
            frame = pd.DataFrame(X)
            self.seen_type_ = type(X).__name__
            self.seen_columns_ = [str(c) for c in frame.columns]
            self.seen_missing_ = int(frame.isna().to_numpy().sum())
            self.seen_strings_ = sorted({v for v in frame.to_numpy().ravel() if isinstance(v, str)})
            return super().fit(X, y, sample_weight)


    def build():
        return Recorder(strategy="prior")
"""


@pytest.mark.parametrize("preprocess", [False, True])
def test_preprocess_false_hands_the_raw_columns_to_the_estimator(factory, preprocess):
    frame = customers()
    frame.loc[[3, 30], "income"] = np.nan
    extra = "" if preprocess else "  preprocess: false\n"
    spec = churn_spec("entrypoint: train.py:build").replace("model:\n", "model:\n" + extra)
    factory.model("churn", spec, {"data/train.csv": csv(frame), "train.py": RECORDER})

    model = entry_of(factory, api.train("churn")).load_model()

    if preprocess:  # the contrast: by default it gets an imputed, scaled, one-hot encoded matrix
        recorder = model.named_steps["model"]
        assert recorder.seen_type_ == "ndarray"
        assert len(recorder.seen_columns_) == 2 + 3 + 4  # age, income + one column per plan and region
        assert recorder.seen_missing_ == 0
        assert recorder.seen_strings_ == []
    else:
        recorder = model
        assert type(model).__name__ == "Recorder"  # no pipeline around it
        assert recorder.seen_type_ == "DataFrame"
        assert recorder.seen_columns_ == ["age", "income", "plan", "region"]
        assert recorder.seen_missing_ == 2
        assert recorder.seen_strings_ == ["basic", "east", "north", "premium", "south", "standard", "west"]


def test_preprocess_false_with_an_estimator_that_needs_numbers_is_a_training_error(factory, run_cli):
    factory.model("churn", churn_spec(f"{LOGISTIC}\npreprocess: false"), {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: churn: fitting failed: ")
    assert "could not convert string to float" in result.stderr


# --- reproducibility -------------------------------------------------------------------


def test_two_runs_without_the_cache_give_identical_metrics_and_predictions(factory, run_cli):
    factory.model("churn", churn_spec("estimator: sklearn.ensemble.RandomForestClassifier\n"
                                      "params: {n_estimators: 15, max_features: 0.5}"),
                  {"data/train.csv": csv(customers())})

    runs = []
    for _ in range(2):
        result = run_cli("train", "churn", "--no-cache", "--json")
        assert result.exit_code == 0, result.output
        [document] = json.loads(result.stdout)
        assert document["cache_hit"] is False
        entry = Cache(factory.project.cache_dir).get(document["fingerprint"])
        runs.append((document, entry.predictions(), entry.load_model()))

    (first, first_predictions, first_model), (second, second_predictions, second_model) = runs
    assert first["fingerprint"] == second["fingerprint"]
    assert first["metrics"] == second["metrics"]
    pd.testing.assert_frame_equal(first_predictions, second_predictions)
    # The unset random_state was given the split's seed, which is what makes the runs repeat.
    assert first_model.named_steps["model"].random_state == 7 == second_model.named_steps["model"].random_state


# --- metrics -----------------------------------------------------------------------------


def expected_metrics(task: str, predictions: pd.DataFrame, positive: str | None) -> dict[str, float]:
    """The metrics recomputed with scikit-learn's functions from the stored held-out predictions."""
    y, y_pred = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
    if task == "regression":
        return {
            "rmse": math.sqrt(skm.mean_squared_error(y, y_pred)),
            "mae": skm.mean_absolute_error(y, y_pred),
            "r2": skm.r2_score(y, y_pred),
            "mape": skm.mean_absolute_percentage_error(y, y_pred),
        }
    columns = [c for c in predictions.columns if c.startswith("proba:")]
    classes = [c.removeprefix("proba:") for c in columns]
    proba = predictions[columns].to_numpy()
    if positive is None:
        averaging = {"average": "macro"}
        roc_auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    else:
        averaging = {"average": "binary", "pos_label": positive}
        roc_auc = skm.roc_auc_score(y == positive, predictions[f"proba:{positive}"])
    return {
        "roc_auc": roc_auc,
        "accuracy": skm.accuracy_score(y, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, y_pred),
        "precision": skm.precision_score(y, y_pred, zero_division=0, **averaging),
        "recall": skm.recall_score(y, y_pred, zero_division=0, **averaging),
        "f1": skm.f1_score(y, y_pred, zero_division=0, **averaging),
        "log_loss": skm.log_loss(y, proba, labels=classes),
    }


CLASSIFICATION_METRICS = "[roc_auc, accuracy, balanced_accuracy, precision, recall, f1, log_loss]"


@pytest.mark.parametrize(
    ("task", "target", "estimator", "evaluation", "positive", "classes"),
    [
        pytest.param("classification", "churned", LOGISTIC,
                     f"metrics: {CLASSIFICATION_METRICS}\n  positive_class: \"yes\"", "yes", ["no", "yes"],
                     id="binary"),
        pytest.param("classification", "tier", LOGISTIC,
                     f"metrics: {CLASSIFICATION_METRICS}", None, ["high", "low", "mid"], id="multiclass"),
        pytest.param("regression", "spend", "estimator: sklearn.linear_model.Ridge",
                     "metrics: [rmse, mae, r2, mape]", None, None, id="regression"),
    ],
)
def test_metrics_equal_scikit_learn_recomputed_on_the_cached_held_out_predictions(
        factory, task, target, estimator, evaluation, positive, classes):
    frame = customers()
    factory.model("churn", churn_spec(estimator, task=task, target=target, extra=f"evaluation:\n  {evaluation}\n"),
                  {"data/train.csv": csv(frame)})

    result = api.train("churn")
    entry = entry_of(factory, result)
    predictions = entry.predictions()

    expected = expected_metrics(task, predictions, positive)
    assert result.unavailable == {}
    assert list(result.metrics) == list(expected)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    # The stored predictions are the held-out rows of the table, and the cached model's own.
    assert len(predictions) == result.rows["test"] == 65
    rows = predictions["row"].to_numpy()
    assert len(set(rows)) == 65 and rows.max() < len(frame)
    assert predictions["y_true"].tolist() == frame[target].iloc[rows].tolist()
    held_out = frame.iloc[rows][["age", "income", "plan", "region"]]
    model = entry.load_model()
    np.testing.assert_array_equal(model.predict(held_out), predictions["y_pred"].to_numpy())
    if classes is None:
        assert [c for c in predictions.columns if c.startswith("proba:")] == []
    else:
        proba_columns = [f"proba:{c}" for c in classes]
        assert list(predictions.columns) == ["row", "digest", "y_true", "y_pred", *proba_columns]
        np.testing.assert_allclose(model.predict_proba(held_out), predictions[proba_columns].to_numpy())


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])
def test_probability_metric_of_a_model_without_predict_proba_is_unavailable_and_its_gate_fails_closed(
        factory, run_cli, metric):
    gate = "min: 0.5" if metric == "roc_auc" else "max: 10"
    factory.model("churn", churn_spec("estimator: sklearn.svm.LinearSVC",
                                      extra=f"evaluation:\n  metrics: [{metric}, accuracy]\n"
                                            f"gates:\n  {metric}: {{{gate}}}\n"),
                  {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert result.exit_code == 1, result.output
    assert f"{metric} could not be computed (the estimator has no predict_proba), so its gate fails" in result.stdout
    assert "n/a: the estimator has no predict_proba" in result.stdout
    assert "1 of 1 failed their gates: churn" in result.stdout
    trained = api.train("churn")
    assert trained.cache_hit
    assert trained.unavailable == {metric: "the estimator has no predict_proba"}
    assert set(trained.metrics) == {"accuracy"}
    assert [(g.metric, g.passed) for g in trained.gates] == [(metric, False)]


# --- gates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gates", "exit_code", "failure"),
    [
        pytest.param("accuracy: {min: 0.5}", 0, None, id="min-passes"),
        pytest.param("accuracy: {min: 0.99}", 1, r"accuracy 0\.\d+ < min 0\.99", id="min-fails"),
        pytest.param("log_loss: {max: 5}", 0, None, id="max-passes"),
        pytest.param("log_loss: {max: 0.01}", 1, r"log_loss 0\.\d+ > max 0\.01", id="max-fails"),
        pytest.param("roc_auc: {min: 0.5, max: 0.6}", 1, r"roc_auc 0\.\d+ > max 0\.6", id="range-fails-above"),
        pytest.param("accuracy: {min: 0.5}\n  f1: {min: 0.999}", 1, r"f1 0\.\d+ < min 0\.999",
                     id="one-of-two-fails"),
    ],
)
def test_gates_pass_or_fail_with_exit_code_one_naming_the_metric(factory, run_cli, gates, exit_code, failure):
    factory.model("churn", churn_spec(LOGISTIC, extra=f"gates:\n  {gates}\n"), {"data/train.csv": csv(customers())})

    result = run_cli("train", "churn")

    assert result.exit_code == exit_code, result.output
    assert result.stderr == ""
    if failure is None:
        assert "❌" not in result.stdout
        assert "1 model trained and evaluated; all gates passed." in result.stdout
    else:
        failed_lines = [line.strip() for line in result.stdout.splitlines() if "❌ gate:" in line]
        assert len(failed_lines) == 1
        assert re.fullmatch(rf"❌ gate: {failure}", failed_lines[0]), failed_lines
        assert "1 of 1 failed their gates: churn" in result.stdout


def test_a_min_gate_equal_to_the_metric_passes_and_one_just_above_fails(factory):
    factory.model("churn", churn_spec(LOGISTIC), {"data/train.csv": csv(customers())})
    accuracy = api.train("churn").metrics["accuracy"]

    for bound, passed in ((accuracy, True), (math.nextafter(accuracy, 1.0), False)):
        factory.model("churn", churn_spec(LOGISTIC, extra=f"gates:\n  accuracy: {{min: {bound!r}}}\n"))
        result = api.train("churn")
        assert result.cache_hit
        assert result.passed is passed, bound


def test_fit_warnings_are_recorded_shown_and_kept_on_a_cache_hit(factory, run_cli):
    factory.model("churn", churn_spec(f"{LOGISTIC}\nparams: {{max_iter: 1}}"), {"data/train.csv": csv(customers())})

    trained = run_cli("train", "churn")
    cached = run_cli("train", "churn")

    for result in (trained, cached):
        assert result.exit_code == 0, result.output
        assert "⚠️ ConvergenceWarning: lbfgs failed to converge" in result.stdout
    assert "from cache" in cached.stdout
    assert any(w.startswith("ConvergenceWarning: ") for w in api.train("churn").warnings)


# --- performance and lineage -----------------------------------------------------------------


def test_training_time_model_size_and_predict_latency_are_recorded(factory, run_cli):
    factory.model("churn", churn_spec(LOGISTIC), {"data/train.csv": csv(customers())})

    result = api.train("churn")

    performance = result.performance
    assert set(performance) == {"fit_seconds", "predict_seconds_per_row", "model_bytes"}
    assert performance["fit_seconds"] > 0
    assert 0 < performance["predict_seconds_per_row"] < 1
    assert performance["model_bytes"] == (result.entry / MODEL_FILE).stat().st_size > 500
    timings = entry_of(factory, result).lineage()["timings"]
    assert timings["fit_seconds"] == performance["fit_seconds"]
    assert all(timings[k] > 0 for k in ("load_seconds", "fit_seconds", "evaluate_seconds", "total_seconds"))
    assert timings["total_seconds"] >= timings["load_seconds"] + timings["fit_seconds"]
    summary = run_cli("train", "churn").stdout
    assert "235 train / 65 held-out rows · fit " in summary and " µs/row · model " in summary


def test_lineage_records_the_git_commit_and_whether_the_tree_was_dirty(factory):
    factory.model("churn", churn_spec(LOGISTIC), {"data/train.csv": csv(customers())})
    factory.git_init()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=factory.root, capture_output=True, text=True,
                          check=True).stdout.strip()

    clean = api.train("churn")
    assert entry_of(factory, clean).lineage()["git"] == {"commit": head, "dirty": False}

    data = factory.root / "models/churn/data/train.csv"
    data.write_bytes(data.read_bytes().replace(b"\n", b"\r\n", 1))  # an uncommitted change
    dirty = api.train("churn")
    assert not dirty.cache_hit
    assert entry_of(factory, dirty).lineage()["git"] == {"commit": head, "dirty": True}


def test_lineage_outside_git_has_no_commit_and_no_dirty_flag(factory, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(factory.root.parent))
    factory.model("churn", churn_spec(LOGISTIC), {"data/train.csv": csv(customers())})

    lineage = entry_of(factory, api.train("churn")).lineage()

    assert lineage["git"] == {"commit": None, "dirty": None}


def test_lineage_records_the_data_digest_the_features_and_the_library_versions(factory):
    content = csv(customers())
    factory.model("churn", churn_spec(LOGISTIC), {"data/train.csv": content})

    result = api.train("churn")
    lineage = entry_of(factory, result).lineage()

    digest = hashlib.sha256(content).hexdigest()
    assert lineage["data"]["digests"] == {"data/train.csv": digest}
    assert lineage["fingerprint_parts"]["data"] == {"data/train.csv": digest}
    assert lineage["data"]["features"] == ["age", "income", "plan", "region"]
    assert (lineage["data"]["train_rows"], lineage["data"]["test_rows"]) == (235, 65)
    assert lineage["versions"] == {
        "mlship": mlship.__version__,
        "python": ".".join(platform.python_version_tuple()[:2]),
        **{name: metadata.version(name) for name in ("scikit-learn", "numpy", "pandas", "scipy")},
    }
    assert lineage["fingerprint"] == result.fingerprint == result.entry.name
    assert lineage["model"] == "churn"
