"""The command line: help, exit codes, JSON output, and a start that imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from mlship.cli import cli

IRIS = """
task: classification
data: {sklearn: iris}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}}
gates:
  accuracy: {min: 0.5}
"""


def _commands(group=cli, prefix=""):
    """Every command that runs, by its full name (``ledger verify``); groups are walked into."""
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            assert command.help, name
            found += _commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


@pytest.mark.parametrize("name, command", _commands())
def test_every_command_has_help_ending_with_an_example(name, command):
    assert command.help, name
    assert command.help.strip().splitlines()[-1].strip().startswith("Example: mlship " + name)


@pytest.mark.parametrize("name, command", [("mlship", cli), *_commands()])
def test_every_option_has_help_text(name, command):
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts}"


def test_cli_start_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from mlship.cli import main\n"
        "sys.argv = ['mlship', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sklearn', 'pandas', 'numpy', 'pydantic', 'yaml', 'bentoml') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip().splitlines()[-1] == "HEAVY="


def test_version_is_the_package_version(run_cli):
    from mlship import __version__

    assert run_cli("--version").stdout == f"mlship, version {__version__}\n"


def test_train_without_any_model_says_where_models_belong(factory, run_cli):
    result = run_cli("train")
    assert result.exit_code == 2
    assert "error: no models found under" in result.stderr
    assert "create models/<name>/model.yaml" in result.stderr


def test_train_json_gives_metrics_gates_and_fingerprint_per_model(factory, run_cli):
    factory.model("iris", IRIS)
    result = run_cli("train", "--json")
    assert result.exit_code == 0, result.stderr
    (model,) = json.loads(result.stdout)
    assert model["name"] == "iris" and model["passed"] is True and model["cache_hit"] is False
    assert set(model["metrics"]) == {"roc_auc", "accuracy", "f1"}
    assert model["gates"] == [{"metric": "accuracy", "rule": "min 0.5", "passed": True,
                               "message": f"accuracy {model['metrics']['accuracy']:.4g} >= min 0.5",
                               "p_value": None}]
    assert len(model["fingerprint"]) == 64


def test_train_summary_marks_the_primary_metric_and_a_cache_hit(factory, run_cli):
    factory.model("iris", IRIS)
    first = run_cli("train")
    second = run_cli("train")
    assert first.stdout.splitlines()[0].startswith("✅ iris: passed (trained in ")
    assert second.stdout.splitlines()[0].startswith("✅ iris: passed (from cache, fingerprint ")
    assert any(line.strip().startswith("roc_auc*") for line in second.stdout.splitlines())
    assert second.stdout.splitlines()[-1] == "1 model trained and evaluated; all gates passed."


def test_a_failed_gate_exits_1_and_names_the_gate(factory, run_cli):
    factory.model("iris", IRIS.replace("min: 0.5", "min: 0.999"))
    result = run_cli("train")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("❌ iris: FAILED its gates")
    assert "❌ gate: accuracy" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 of 1 failed their gates: iris"


def test_train_with_no_arguments_trains_every_model_and_reports_every_failure(factory, run_cli):
    factory.model("bad", IRIS.replace("task: classification", "task: x"))
    factory.model("good", IRIS)
    factory.model("gated", IRIS.replace("min: 0.5", "min: 0.999"))
    factory.model("nodata", IRIS.replace("data: {sklearn: iris}", "data: {path: data/nope.csv, target: y}"))
    result = run_cli("train")
    assert result.exit_code == 2  # a model could not be trained: that outranks a failed gate (1)
    errors = result.stderr.splitlines()
    assert errors[0].startswith("error: models/bad/model.yaml:1: task: 'x' is not allowed")
    assert errors[1].startswith("error: models/nodata/model.yaml:2: data.path: data file models/nodata/data/nope.csv "
                                "does not exist")
    summaries = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert summaries[0].startswith("❌ gated: FAILED its gates")
    assert summaries[1].startswith("✅ good: passed")
    assert summaries[-1] == ("2 of 4 could not be trained (see the errors above): bad, nodata; "
                             "1 of 4 failed their gates: gated")


def test_train_exits_2_when_the_only_failure_is_a_model_that_cannot_be_trained(factory, run_cli):
    factory.model("good", IRIS)
    factory.model("nodata", IRIS.replace("data: {sklearn: iris}", "data: {path: data/nope.csv, target: y}"))
    result = run_cli("train")
    assert result.exit_code == 2
    assert result.stdout.splitlines()[-1] == "1 of 2 could not be trained (see the errors above): nodata"


def test_project_option_runs_as_if_started_there(factory, run_cli, monkeypatch, tmp_path):
    factory.model("iris", IRIS)
    monkeypatch.chdir(tmp_path)
    result = run_cli("-C", str(factory.root), "validate")
    assert result.exit_code == 0, result.stderr
    assert "iris" in result.stdout


def test_traceback_flag_reraises_the_error_for_bug_reports(factory, run_cli):
    factory.model("bad", IRIS.replace("task: classification", "task: x"))
    from mlship.errors import SpecError

    with pytest.raises(SpecError):
        run_cli("--traceback", "validate")


def test_python_dash_m_runs_the_cli(factory):
    factory.model("iris", IRIS)
    done = subprocess.run([sys.executable, "-m", "mlship", "validate"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("✅ iris")


def test_ctrl_c_in_any_command_exits_130_not_a_failed_gates_1(factory, run_cli, monkeypatch):
    from mlship import api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "train", interrupted)
    factory.model("iris", "task: classification\ndata: {sklearn: iris}\nmodel: {estimator: sklearn.dummy.DummyClassifier}\n")
    result = run_cli("train", "iris")
    assert result.exit_code == 130 and result.stderr.strip() == "interrupted"
