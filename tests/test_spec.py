"""Spec validation: every mistake is reported with its file, line and field, and what is allowed."""

from __future__ import annotations

import pytest

from mlship.errors import SpecError
from mlship.spec import load_spec

VALID = """# line 1: a small valid spec; the expected line numbers below count from here
task: classification
data:
  sklearn: iris
  split: {test_size: 0.3, seed: 1}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 500}
evaluation:
  metrics: [accuracy, f1]
gates:
  accuracy: {min: 0.8}
"""


def _errors(run_cli) -> tuple[int, list[str]]:
    result = run_cli("validate")
    return result.exit_code, result.stderr.splitlines()


def test_a_valid_spec_validates_and_names_the_model(factory, run_cli):
    factory.model("iris", VALID)
    result = run_cli("validate")
    assert result.exit_code == 0
    assert result.stdout.startswith("✅ iris (models/iris/model.yaml): classification")


@pytest.mark.parametrize(
    "spec, expected",
    [
        pytest.param(
            VALID.replace("task: classification", "task: clasification"),
            "error: models/m/model.yaml:2: task: 'clasification' is not allowed (did you mean 'classification'?). "
            "Allowed: classification, regression",
            id="misspelt-task",
        ),
        pytest.param(
            VALID.replace("evaluation:", "evalution:"),
            "error: models/m/model.yaml:9: evalution: unknown key 'evalution' (did you mean 'evaluation'?). "
            "Allowed here: description, owners, intended_use, limitations, task, data, model, evaluation, gates, monitoring, serving, version",
            id="unknown-top-level-key",
        ),
        pytest.param(
            VALID.replace("seed: 1}", "sede: 1}"),
            "error: models/m/model.yaml:5: data.split.sede: unknown key 'sede' (did you mean 'seed'?). "
            "Allowed here: test_size, seed, key, stratify",
            id="unknown-nested-key",
        ),
        pytest.param(
            VALID.replace("accuracy: {min: 0.8}", "accuracy: {minimum: 0.8}"),
            "error: models/m/model.yaml:12: gates.accuracy.minimum: unknown key 'minimum' (did you mean 'min'?). "
            "Allowed here: min, max, max_drop, max_relative_drop, slice_max_drop",
            id="unknown-key-in-a-gate",
        ),
        pytest.param(
            VALID.replace("test_size: 0.3", "test_size: 1.5"),
            "error: models/m/model.yaml:5: data.split.test_size: input should be less than 1 (got 1.5)",
            id="test-size-out-of-range",
        ),
        pytest.param(
            VALID.replace("seed: 1", 'seed: "1"'),
            "error: models/m/model.yaml:5: data.split.seed: input should be a valid integer (got '1')",
            id="quoted-number",
        ),
        pytest.param(
            VALID.replace("[accuracy, f1]", "[accuracy, f_1]"),
            "error: models/m/model.yaml:10: evaluation.metrics[1]: 'f_1' is not allowed (did you mean 'f1'?). "
            "Allowed: accuracy, balanced_accuracy, precision, recall, f1, roc_auc, log_loss, rmse, mae, r2, mape",
            id="unknown-metric",
        ),
        pytest.param(
            VALID.replace("[accuracy, f1]", "[accuracy, rmse]"),
            "error: models/m/model.yaml:10: evaluation.metrics[1]: 'rmse' is not a classification metric. "
            "Allowed: accuracy, balanced_accuracy, precision, recall, f1, roc_auc, log_loss",
            id="metric-of-the-other-task",
        ),
        pytest.param(
            VALID.replace("accuracy: {min: 0.8}", "acuracy: {min: 0.8}"),
            "error: models/m/model.yaml:12: gates.acuracy: 'acuracy' is not allowed (did you mean 'accuracy'?). "
            "Allowed: accuracy, balanced_accuracy, precision, recall, f1, roc_auc, log_loss, rmse, mae, r2, mape",
            id="gate-on-unknown-metric",
        ),
        pytest.param(
            VALID.replace("accuracy: {min: 0.8}", "accuracy: {min: 0.9, max: 0.8}"),
            "error: models/m/model.yaml:12: gates.accuracy: min 0.9 is above max 0.8",
            id="gate-min-above-max",
        ),
        pytest.param(
            VALID.replace("accuracy: {min: 0.8}", "accuracy: {}"),
            "error: models/m/model.yaml:12: gates.accuracy: a gate needs at least one of min, max, max_drop, "
            "max_relative_drop, slice_max_drop",
            id="empty-gate",
        ),
        pytest.param(
            VALID + "version: 1.2\n",
            "error: models/m/model.yaml:13: version: input should be a valid string (got 1.2); put it in quotes",
            id="version-as-number",
        ),
        pytest.param(
            VALID + "version: v1\n",
            "error: models/m/model.yaml:13: version: 'v1' is not a semantic version like 1.2.0",
            id="version-not-semver",
        ),
        pytest.param(
            VALID.replace("  sklearn: iris\n", "  sklearn: iris\n  path: data.csv\n"),
            "error: models/m/model.yaml:3: data: give exactly one data source: 'path' (a CSV or Parquet file), "
            "'url' (a file served over HTTP(S), with its sha256) or 'sklearn' (a bundled dataset)",
            id="two-data-sources",
        ),
        pytest.param(
            VALID.replace("  sklearn: iris\n", "  sklearn: iris2\n"),
            "error: models/m/model.yaml:4: data.sklearn: 'iris2' is not allowed (did you mean 'iris'?). "
            "Allowed: breast_cancer, digits, iris, wine, diabetes",
            id="unknown-bundled-dataset",
        ),
        pytest.param(
            VALID.replace("  sklearn: iris\n", "  sklearn: diabetes\n"),
            "error: models/m/model.yaml:4: data.sklearn: 'diabetes' is a regression dataset but task is classification",
            id="dataset-task-mismatch",
        ),
        pytest.param(
            VALID.replace("  sklearn: iris\n", "  path: data.xlsx\n  target: y\n"),
            "error: models/m/model.yaml:4: data.path: 'data.xlsx' is not a .csv or .parquet file",
            id="unsupported-file-type",
        ),
        pytest.param(
            VALID.replace("  sklearn: iris\n", "  path: data.csv\n"),
            "error: models/m/model.yaml:3: data.target: required with 'path': the name of the column to predict",
            id="path-without-target",
        ),
        pytest.param(
            VALID.replace("estimator: sklearn.linear_model.LogisticRegression", "estimator: LogisticRegression"),
            "error: models/m/model.yaml:7: model.estimator: 'LogisticRegression' is not a dotted class path like "
            "sklearn.linear_model.LogisticRegression",
            id="estimator-not-dotted",
        ),
        pytest.param(
            VALID.replace("estimator: sklearn.linear_model.LogisticRegression", "entrypoint: train.py:build"),
            "error: models/m/model.yaml:7: model.entrypoint: 'train.py' does not exist in models/m",
            id="entrypoint-file-missing",
        ),
        pytest.param(
            VALID.replace("estimator: sklearn.linear_model.LogisticRegression", "entrypoint: train:build"),
            "error: models/m/model.yaml:7: model.entrypoint: 'train:build' is not of the form file.py:function",
            id="entrypoint-malformed",
        ),
        pytest.param(
            VALID.replace("  estimator: sklearn.linear_model.LogisticRegression\n", ""),
            "error: models/m/model.yaml:6: model: give exactly one of 'estimator' (a dotted class path) or "
            "'entrypoint' (file.py:function)",
            id="no-estimator",
        ),
        pytest.param(
            VALID.replace("task: classification\n", ""),
            "error: models/m/model.yaml: task: required key is missing",
            id="missing-task",
        ),
        pytest.param(
            VALID.replace("  metrics: [accuracy, f1]", "  metrics: [accuracy, f1]\n  metrics: [f1]"),
            "error: models/m/model.yaml:11: evaluation.metrics: duplicate key; keep one",
            id="duplicate-key",
        ),
        pytest.param(
            VALID.replace("params: {max_iter: 500}", "params: {max_iter: 500"),
            "error: models/m/model.yaml:9: invalid YAML: did not find expected ',' or '}'",
            id="yaml-syntax-error",
        ),
        pytest.param(
            "",
            "error: models/m/model.yaml:1: the file is empty; see the spec reference in docs/spec.md",
            id="empty-file",
        ),
        pytest.param(
            "- just\n- a list\n",
            "error: models/m/model.yaml:1: expected a mapping of keys (task, data, model, ...) at the top",
            id="not-a-mapping",
        ),
    ],
)
def test_spec_mistake_is_reported_with_file_line_field_and_what_is_allowed(factory, run_cli, spec, expected):
    factory.model("m", spec)
    code, errors = _errors(run_cli)
    assert code == 2
    assert expected in errors


@pytest.mark.parametrize(
    "params, expected",
    [
        pytest.param(
            "{max_iters: 500}",
            "error: models/m/model.yaml:8: model.params.max_iters: LogisticRegression has no parameter 'max_iters' "
            "(did you mean 'max_iter'?). Parameters: C, class_weight, dual, fit_intercept, intercept_scaling, "
            "l1_ratio, max_iter, n_jobs, penalty, random_state, solver, tol, verbose, warm_start",
            id="unknown-param",
        ),
        pytest.param(
            "{max_iter: -5}",
            "error: models/m/model.yaml:8: model.params.max_iter: The 'max_iter' parameter of LogisticRegression "
            "must be an int in the range [0, inf). Got -5 instead.",
            id="param-out-of-range",
        ),
        pytest.param(
            "{solver: newton}",
            "error: models/m/model.yaml:8: model.params.solver: The 'solver' parameter of LogisticRegression must be "
            "a str among {",
            id="param-not-among-choices",
        ),
    ],
)
def test_estimator_params_are_checked_against_the_estimators_own_params(factory, run_cli, params, expected):
    factory.model("m", VALID.replace("{max_iter: 500}", params))
    code, errors = _errors(run_cli)
    assert code == 2
    assert any(line.startswith(expected) for line in errors), errors


def test_misspelt_estimator_class_gets_a_suggestion(factory, run_cli):
    factory.model("m", VALID.replace("LogisticRegression", "LogisticRegresion"))
    code, errors = _errors(run_cli)
    assert code == 2
    assert errors == [
        "error: models/m/model.yaml:7: model.estimator: 'sklearn.linear_model' has no 'LogisticRegresion' "
        "(did you mean 'LogisticRegression'?)"
    ]


def test_estimator_from_a_package_that_is_not_installed_says_so(factory, run_cli):
    factory.model("m", VALID.replace("sklearn.linear_model.LogisticRegression", "xgboostx.XGBClassifier"))
    code, errors = _errors(run_cli)
    assert code == 2
    assert errors[0].startswith("error: models/m/model.yaml:7: model.estimator: cannot import 'xgboostx'")
    assert errors[0].endswith("is its package installed?")


def test_every_problem_in_a_file_is_reported_at_once(factory, run_cli):
    factory.model("m", VALID.replace("task: classification", "task: clasification").replace("seed: 1", "seed: x"))
    code, errors = _errors(run_cli)
    assert code == 2
    assert [line.split(": ")[2] for line in errors] == ["task", "data.split.seed"]


def test_problems_of_every_model_are_reported_together(factory, run_cli):
    factory.model("a", VALID.replace("task: classification", "task: x"))
    factory.model("b", VALID.replace("seed: 1", "seed: x"))
    factory.model("good", VALID)
    code, errors = _errors(run_cli)
    assert code == 2
    assert [line.split(":")[1].strip() for line in errors] == ["models/a/model.yaml", "models/b/model.yaml"]


@pytest.mark.parametrize("folder", ["Churn", "churn_v2", "-churn"])
def test_a_model_folder_name_must_be_a_valid_registry_name(factory, run_cli, folder):
    factory.model(folder, VALID)
    code, errors = _errors(run_cli)
    assert code == 2
    assert f"the model folder name '{folder}' is not a valid model name" in errors[0]


def test_unknown_model_name_gets_a_suggestion_and_the_list_of_models(factory, run_cli):
    factory.model("churn", VALID)
    factory.model("cancer", VALID)
    result = run_cli("validate", "chrun")
    assert result.exit_code == 2
    assert result.stderr == "error: no model 'chrun' (did you mean 'churn'?). Models here: cancer, churn\n"


def test_a_model_can_be_named_by_its_folder_path(factory, run_cli):
    factory.model("iris", VALID)
    assert run_cli("validate", "models/iris").exit_code == 0


def test_an_empty_evaluation_section_takes_the_default_metrics_then_the_gated_ones(factory):
    folder = factory.model("m", VALID.replace("  metrics: [accuracy, f1]\n", "").replace(
        "accuracy: {min: 0.8}", "balanced_accuracy: {min: 0.8}"))
    spec = load_spec(folder)
    assert spec.target == "target"
    assert spec.metrics == ["roc_auc", "accuracy", "f1", "balanced_accuracy"]
    assert spec.primary_metric == "roc_auc"


def test_gates_notes_slices_and_bootstrap_settings_are_not_part_of_the_training_config(factory):
    first = load_spec(factory.model("a", VALID))
    second = load_spec(factory.model("b", "description: notes\n" + VALID.replace("min: 0.8", "min: 0.5, max_drop: 0.1")
                                     .replace("[accuracy, f1]", "[accuracy, f1]\n  slices: [petal]\n"
                                              "  bootstrap: {resamples: 200}\n  min_slice_size: 5")))
    assert first.training_config_json() == second.training_config_json()


def test_spec_error_carries_structured_locations_for_annotations(factory):
    folder = factory.model("m", VALID.replace("seed: 1", "seed: x"))
    with pytest.raises(SpecError) as caught:
        load_spec(folder)
    (problem,) = caught.value.problems
    assert (problem.location.file.name, problem.location.line, problem.location.field) == (
        "model.yaml", 5, "data.split.seed")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
HOSTILE_YAML = {
    "alias-bomb": (VALID + BOMB, "models/m/model.yaml:18: the YAML's aliases expand to more than 100,000 values"),
    "deep-nesting": (VALID + "deep: " + "[" * 100_000 + "]" * 100_000 + "\n",
                     "models/m/model.yaml:13: the YAML nests more than 64 levels deep"),
    "nul": (VALID.replace("iris", "ir\0is"), "models/m/model.yaml:4: the character U+0000 is not allowed in YAML"),
    "control-character": (VALID + "notes: \x1b[31m\n", "models/m/model.yaml:13: the character U+001B is not allowed"),
    "complex-key": (VALID + "? [a, b]\n: 1\n", "models/m/model.yaml:13: a key must be a plain name, not a list"),
    "key-looking-like-pydantics-marker": (VALID + '"[key]": 1\n', "models/m/model.yaml:13: [key]: unknown key '[key]'"),
}


@pytest.mark.parametrize("text, expected", HOSTILE_YAML.values(), ids=HOSTILE_YAML)
def test_hostile_yaml_is_refused_with_its_line_before_it_is_built(factory, run_cli, text, expected):
    """`validate` exits 2; `changed` lists the model as touched (its PR run reports the error) with a warning."""
    folder = factory.model("m", VALID)
    factory.git_init()
    (folder / "model.yaml").write_text(text)
    validated = run_cli("validate")
    assert validated.exit_code == 2 and validated.stderr.startswith(f"error: {expected}"), validated.stderr
    changed = run_cli("changed", "--base", "HEAD")
    assert changed.exit_code == 0 and changed.stderr.startswith(f"warning: {expected}"), changed.stderr
    assert "m: models/m/model.yaml changed; the spec does not validate" in changed.stdout
