"""Drift: recent data compared with the reference profile saved at training.

The statistics are tested on generated columns with known distributions (planted
shifts, same-distribution samples); reading is tested on real CSV, Parquet and JSONL
files, the logs written in the format the service writes, against the sample churn
model trained for real.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlship import api
from mlship.errors import DataError, SpecError
from mlship.monitor import drift
from mlship.monitor.current import Current
from mlship.monitor.drift import detect
from mlship.monitor.statistics import ColumnDrift, holm
from mlship.project import Project
from mlship.spec import Monitoring, load_spec
from mlship.train.cache import CacheEntry
from mlship.train.fingerprint import fingerprint
from mlship.train.profile import profile_frame
from sample_churn import CHURN, customers

# --- generated data for the statistics -------------------------------------------------

CATEGORICAL = ["plan", "city"]


def sample(rows: int, rng: np.random.Generator, shift: bool = False) -> pd.DataFrame:
    """Three kinds of numbers (normal, skewed with gaps, counts) and two categorical columns."""
    plan_shares = [0.25, 0.3, 0.15, 0.1, 0.2] if shift else [0.4, 0.3, 0.15, 0.1, 0.05]
    cities = np.arange(1, 31, dtype=float)
    frame = pd.DataFrame({
        "income": rng.normal(50 + (7.5 if shift else 0), 15, rows),
        "spend": rng.lognormal(0, 1, rows),
        "visits": rng.poisson(3, rows).astype(float),
        "plan": rng.choice(["a", "b", "c", "d", "e"], rows, p=plan_shares),
        "city": rng.choice([f"city-{i}" for i in range(30)], rows, p=cities / cities.sum()),
    })
    frame.loc[rng.random(rows) < 0.05, "spend"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "plan"] = None
    return frame


def profile_of(frame: pd.DataFrame) -> dict:
    return {"model": "generated", "rows": len(frame), "features": profile_frame(frame, CATEGORICAL),
            "predictions": {}}


def check(reference: pd.DataFrame, current: pd.DataFrame, **settings) -> drift.DriftResult:
    return detect(profile_of(reference), Current(current, "current.csv"), Monitoring(**settings))


def by_name(result: drift.DriftResult) -> dict[str, ColumnDrift]:
    return {c.name: c for c in [*result.features, *result.predictions]}


# --- the statistics --------------------------------------------------------------------


def test_a_planted_shift_in_one_number_and_one_category_is_detected_and_named():
    rng = np.random.default_rng(0)
    result = check(sample(2000, rng), sample(1000, rng, shift=True))
    assert result.drifted_features == ["income", "plan"]
    assert result.share == pytest.approx(2 / 5)
    assert not result.dataset_drift  # 40% of the features, under the default 50%
    assert result.major_features == ["plan"] and result.exit_code == 1  # plan's PSI makes it a major shift
    share_rule = check(sample(2000, rng), sample(1000, rng, shift=True), major_psi=10)
    assert share_rule.drifted_features == ["income", "plan"] and share_rule.exit_code == 0
    columns = by_name(result)
    assert columns["income"].test == "Kolmogorov-Smirnov" and columns["income"].distance == pytest.approx(0.5, abs=0.1)
    assert columns["plan"].test == "chi-square" and columns["plan"].adjusted_p < 1e-6
    assert check(sample(2000, rng), sample(1000, rng, shift=True), drift_share=0.4, major_psi=10).exit_code == 1


def test_same_distribution_samples_raise_a_false_alarm_in_at_most_5_percent_of_200_runs():
    """Fresh reference and current samples of one distribution, at sizes where PSI alone is noisy."""
    alarms, any_column, runs = 0, 0, 200
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        rows = (100, 300, 1000, 5000)[seed % 4]
        result = check(sample(1000, rng), sample(rows, rng), min_rows=50, drift_share=0.2)
        alarms += result.drifted
        any_column += bool(result.drifted_features)
    assert alarms / runs <= 0.05
    assert any_column / runs <= 0.05


def test_psi_is_inflated_in_small_samples_and_the_significance_test_holds_it_back():
    large_by_chance = drifted = 0
    for seed in range(60):
        rng = np.random.default_rng(1000 + seed)
        city = by_name(check(sample(1000, rng), sample(100, rng), min_rows=50))["city"]
        large_by_chance += city.psi >= 0.2
        drifted += city.drifted
    assert large_by_chance >= 30  # 30 categories, 100 rows: PSI's noise alone is around 0.3
    assert drifted <= 3


def test_a_tiny_change_in_a_large_sample_is_significant_but_not_drift():
    rng = np.random.default_rng(4)
    reference = sample(100_000, rng)
    current = sample(100_000, rng).assign(income=lambda f: f["income"] + 0.6)  # 0.04 standard deviations
    income = by_name(check(reference, current))["income"]
    assert income.significant and not income.large and not income.drifted
    assert income.distance == pytest.approx(0.04, abs=0.01)


def test_the_binned_ks_statistic_is_exact_for_few_distinct_values_and_conservative_otherwise():
    rng = np.random.default_rng(5)
    reference, current = sample(3000, rng), sample(800, rng, shift=True)
    columns = by_name(check(reference, current))
    visits = stats.ks_2samp(reference["visits"], current["visits"])
    assert columns["visits"].statistic == pytest.approx(visits.statistic, abs=1e-12)
    income = stats.ks_2samp(reference["income"], current["income"])
    assert income.statistic - 0.02 <= columns["income"].statistic <= income.statistic


def test_the_wasserstein_distance_matches_scipy_in_reference_standard_deviations():
    rng = np.random.default_rng(6)
    reference, current = sample(5000, rng), sample(5000, rng, shift=True)
    current["spend"] = current["spend"] * 3  # a heavy tail, reaching beyond the reference's range
    current["visits"] = current["visits"] + 1
    columns = by_name(check(reference, current))
    for name in ("income", "spend", "visits"):
        ref, cur = reference[name].dropna(), current[name].dropna()
        expected = stats.wasserstein_distance(ref, cur) / ref.std(ddof=0)
        assert columns[name].distance == pytest.approx(expected, rel=0.01), name
    spend = current["spend"].dropna()
    beyond = (spend > reference["spend"].max()) | (spend < reference["spend"].min())
    assert columns["spend"].out_of_range == pytest.approx(beyond.mean()) and beyond.mean() > 0.005


def test_holm_adjusts_like_its_definition():
    rng = np.random.default_rng(7)
    p = rng.uniform(0, 0.2, 12).tolist()
    order = sorted(range(len(p)), key=p.__getitem__)
    expected, running = [0.0] * len(p), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        expected[index] = running
    assert holm(p) == pytest.approx(expected)
    assert holm([]) == []


def test_categories_the_training_data_did_not_have_are_reported():
    rng = np.random.default_rng(8)
    current = sample(1000, rng)
    current.loc[:99, "plan"] = "platinum"
    current.loc[100:102, "plan"] = "gold"
    plan = by_name(check(sample(2000, rng), current))["plan"]
    assert plan.unseen == {"platinum": 100, "gold": 3}
    assert plan.reference_pooled == 0 and plan.drifted


def test_a_rise_in_missing_values_is_drift():
    rng = np.random.default_rng(9)
    current = sample(1000, rng)
    current.loc[current.sample(frac=0.3, random_state=1).index, "income"] = np.nan
    income = by_name(check(sample(2000, rng), current))["income"]
    assert income.missing == (0.0, pytest.approx(0.3))
    assert income.test == "Kolmogorov-Smirnov + missing share" and income.drifted


def test_a_feature_missing_from_every_current_row_is_drift():
    rng = np.random.default_rng(10)
    current = sample(500, rng).assign(visits=np.nan)
    visits = by_name(check(sample(2000, rng), current))["visits"]
    assert visits.statistic is None and visits.distance is None and visits.test == "missing share"
    assert visits.missing == (0.0, 1.0) and visits.drifted


def test_fewer_rows_than_min_rows_cannot_be_judged():
    rng = np.random.default_rng(11)
    with pytest.raises(DataError) as raised:
        check(sample(500, rng), sample(99, rng))
    assert str(raised.value) == ("current.csv has 99 rows; judging drift needs at least 100 "
                                 "(monitoring.min_rows in model.yaml)")
    assert raised.value.exit_code == 2


# --- the monitoring section of the spec --------------------------------------------------


def test_monitoring_thresholds_come_from_the_spec_and_change_no_fingerprint(factory):
    folder = factory.model("churn", CHURN, {"customers.csv": customers().to_csv(index=False)})
    before = fingerprint(load_spec(folder))
    (folder / "model.yaml").write_text(textwrap.dedent(CHURN) + "monitoring:\n  p_value: 0.01\n  drift_share: 0.3\n")
    spec = load_spec(folder)
    assert spec.config.monitoring == Monitoring(p_value=0.01, drift_share=0.3)
    assert fingerprint(spec) == before


def test_a_bad_monitoring_value_names_its_line(factory):
    folder = factory.model("churn", CHURN + "monitoring:\n  p_value: 2\n  min_row: 10\n",
                           {"customers.csv": customers().to_csv(index=False)})
    line = (folder / "model.yaml").read_text().splitlines().index("  p_value: 2") + 1
    with pytest.raises(SpecError) as raised:
        load_spec(folder)
    problems = str(raised.value).splitlines()
    assert problems[0] == f"models/churn/model.yaml:{line}: monitoring.p_value: input should be less than 1 (got 2)"
    assert problems[1].startswith(f"models/churn/model.yaml:{line + 1}: monitoring.min_row: unknown key 'min_row' "
                                  "(did you mean 'min_rows'?). Allowed here: p_value, drift_share,")


# --- reading recent data, with the real model ---------------------------------------------


class Trained:
    def __init__(self, root: Path):
        self.root = root
        self.project = Project(root)
        result = api.train("churn", self.project)
        self.fingerprint = result.fingerprint
        self.entry = CacheEntry(result.entry)
        self.model = self.entry.load_model()

    def log(self, folder: Path, frame: pd.DataFrame, name: str = "predictions.jsonl", fingerprint: str = "",
            proba_every: int = 2, start: int = 0) -> Path:
        """Write ``frame``'s rows as the service logs them: predict, and predict_proba for every other record."""
        fingerprint = fingerprint or self.fingerprint
        labels = self.model.predict(frame)
        proba = self.model.predict_proba(frame)
        begin = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
        lines = []
        for index, (record, label) in enumerate(zip(frame.to_dict(orient="records"), labels)):
            features = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()}
            entry = {"time": (begin + dt.timedelta(minutes=start + index)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "model": f"churn:{fingerprint[:16]}", "fingerprint": fingerprint, "endpoint": "predict",
                     "features": features, "prediction": label}
            if index % proba_every == 0:
                entry["endpoint"] = "predict_proba"
                entry["probabilities"] = {str(c): float(p) for c, p in zip(self.model.classes_, proba[index])}
            lines.append(json.dumps(entry))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text("\n".join(lines) + "\n")
        return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLSHIP_CACHE_DIR", raising=False)
        root = tmp_path_factory.mktemp("drift") / "project"
        (root / "models" / "churn").mkdir(parents=True)
        (root / "models" / "churn" / "model.yaml").write_text(textwrap.dedent(CHURN).lstrip())
        customers(2000, seed=0).to_csv(root / "models" / "churn" / "customers.csv", index=False)
        patch.chdir(root)
        yield Trained(root)


def features(rows: int, seed: int, shift: bool = False) -> pd.DataFrame:
    frame = customers(rows, seed).drop(columns="churned")
    if shift:
        frame["income"] = frame["income"] + 10
        frame.loc[frame.sample(frac=0.4, random_state=seed).index, "region"] = "north"
    return frame


def test_logged_jsonl_round_trips_into_drift(trained, tmp_path):
    logs = tmp_path / "logs"
    trained.log(logs, features(300, 1), "predictions.jsonl.2", start=0)
    trained.log(logs, features(300, 2), "predictions.jsonl.1", start=300)
    trained.log(logs, features(300, 3), "predictions.jsonl", start=600)
    (logs / "notes.txt").write_text("not a log")
    result = drift.check("churn", logs, trained.project, out=tmp_path / "out")
    assert result.exit_code == 0 and not result.drifted_features
    assert result.rows == 900 and result.source.endswith("logs")
    assert result.period == ("2026-03-01T00:00:00Z", "2026-03-01T14:59:00Z")
    columns = by_name(result)
    assert columns["prediction"].current_rows == 900
    assert columns["proba:yes"].current_rows == 450  # only the predict_proba records carry probabilities
    assert not result.prediction_drift and result.notes == []
    written = json.loads((tmp_path / "out" / "drift-churn.json").read_text())
    assert written == json.loads(json.dumps(result.to_dict()))
    assert (tmp_path / "out" / "drift-churn.md").read_text().startswith("## ✅ Drift of `churn`: no drift")


def test_shifted_logs_name_the_drifted_features_and_the_predictions(trained, tmp_path):
    log = trained.log(tmp_path, features(1000, 4, shift=True))
    result = drift.check("churn", log, trained.project, out=tmp_path / "out")
    assert result.drifted_features == ["income", "region"]
    assert result.dataset_drift and result.exit_code == 1
    assert result.prediction_drift  # income drives churn in the sample model
    report = (tmp_path / "out" / "drift-churn.md").read_text()
    headline = report.splitlines()[0]
    assert headline.startswith("## ❌ Drift of `churn`: drift: a major shift of 'income' (PSI ")
    assert headline.endswith(", 2 of 4 features drifted (50%), the predictions drifted")
    assert re.search(r"\| `income` \| number \| [0-9.]+ \| 1,000 \| Kolmogorov-Smirnov \| < 0.0001 \|", report)


def test_records_of_other_model_versions_count_for_features_not_predictions(trained, tmp_path):
    logs = tmp_path / "logs"
    trained.log(logs, features(400, 5), "predictions.jsonl.1", fingerprint="0" * 64)
    trained.log(logs, features(200, 6), "predictions.jsonl")
    result = drift.check("churn", logs, trained.project, out=tmp_path)
    assert result.rows == 600
    assert by_name(result)["prediction"].current_rows == 200
    assert result.notes == ["400 of 600 records were predicted by other model versions (`000000000000`): "
                            "their features are compared, their predictions are not."]


def test_a_csv_is_scored_by_the_model_for_prediction_drift_and_its_target_compared(trained, tmp_path):
    data = customers(800, seed=7)
    data.to_csv(tmp_path / "recent.csv", index=False)
    result = drift.check("churn", tmp_path / "recent.csv", trained.project, out=tmp_path)
    assert [c.name for c in result.predictions] == ["prediction", "proba:yes"]
    assert all(c.current_rows == 800 for c in result.predictions)
    assert result.target is not None and result.target.name == "churned" and not result.target.drifted
    assert result.exit_code == 0


def test_a_parquet_file_with_a_new_category_reports_it(trained, tmp_path):
    data = features(500, 8)
    data.loc[:49, "plan"] = "enterprise"
    data.to_parquet(tmp_path / "recent.parquet")
    result = drift.check("churn", tmp_path / "recent.parquet", trained.project, out=tmp_path)
    assert by_name(result)["plan"].unseen == {"enterprise": 50}
    report = drift.render(result)
    assert "- `plan`: `enterprise` (50); 10.0% of the rows" in report


def test_a_projects_own_template_renders_the_report(trained, tmp_path):
    features(300, 9).to_csv(tmp_path / "recent.csv", index=False)
    result = drift.check("churn", tmp_path / "recent.csv", trained.project, out=tmp_path)
    templates = trained.root / ".mlship" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "drift.md.j2").write_text("{{ model }}: {{ headline }}\n")
    try:
        assert drift.render(result, trained.root) == "churn: no drift: 0 of 4 features drifted\n"
    finally:
        (templates / "drift.md.j2").unlink()


# --- bad data: exit code 2, naming the file, the line and the column ----------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def bad_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: write(d / "empty.csv", "age,income,plan,region\n"), "empty.csv has a header but no rows"),
    (lambda d: write(d / "blank.csv", ""), "blank.csv is empty: it has no header and no rows"),
    (lambda d: bad_csv(features(200, 1).rename(columns={"income": "incme"}), d / "renamed.csv"),
     "renamed.csv lacks feature column 'income' (did you mean 'incme'?). The model needs: age, income, plan, region"),
    (lambda d: bad_csv(features(200, 1).astype({"age": object}).assign(age=lambda f: f["age"].where(
        f.index != 41, "forty")), d / "typo.csv"),
     "typo.csv:43: age: 'forty' is not a number, but the model was trained on numbers (1 such value)"),
    (lambda d: d / "nowhere.csv", "nowhere.csv does not exist: give a CSV or Parquet file, a .jsonl log, "
                                  "or the folder the service logs to"),
    (lambda d: write(d / "data.xlsx", "x"), "data.xlsx is not a .csv, .parquet or .jsonl file"),
    (lambda d: (d / "empty-logs").mkdir() or d / "empty-logs",
     "empty-logs holds no prediction logs (predictions.jsonl, predictions.jsonl.1, ...): the service writes "
     "them when MLSHIP_PREDICTION_LOG_DIR is set"),
    (lambda d: write(d / "predictions.jsonl", ""), "predictions.jsonl holds no records: the service has logged "
                                                   "nothing yet"),
])
def test_bad_current_data_is_an_error_naming_the_file_and_column(trained, tmp_path, monkeypatch, make, message):
    monkeypatch.chdir(tmp_path)
    path = make(Path("."))
    with pytest.raises(DataError) as raised:
        drift.check("churn", path, trained.project, out=tmp_path / "out")
    assert str(raised.value) == message
    assert raised.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def good_line(trained: Trained, **changes) -> str:
    record = {"time": "2026-03-01T00:00:00Z", "model": f"churn:{trained.fingerprint[:16]}",
              "fingerprint": trained.fingerprint, "endpoint": "predict",
              "features": {"age": 40, "income": 51.5, "plan": "basic", "region": "north"}, "prediction": "no"}
    for key, value in changes.items():
        if key in record["features"]:
            record["features"][key] = value
        else:
            record[key] = value
    return json.dumps(record)


@pytest.mark.parametrize(("lines", "message"), [
    (lambda t: [good_line(t), '{"time": oops}', good_line(t)],
     "predictions.jsonl:2: not valid JSON (Expecting value, column 10)"),
    (lambda t: [good_line(t), "", "[1, 2]"], "predictions.jsonl:3: not a JSON object: each line must be one record"),
    (lambda t: [good_line(t), "", good_line(t, income="a lot")],
     "predictions.jsonl:3: features.income: 'a lot' is text, but line 1 has a number here"),
    (lambda t: [good_line(t, income="high"), "", good_line(t, income="low")],
     "predictions.jsonl:1: features.income: 'high' is not a number, but the model was trained on numbers "
     "(2 such values)"),
    (lambda t: [good_line(t), good_line(t, model="other:0123456789abcdef")],
     "predictions.jsonl:2: model: a record of model 'other:0123456789abcdef', not 'churn': keep each model's logs "
     "in its own folder"),
    (lambda t: [json.dumps({"time": "2026-03-01T00:00:00Z", "features": {"age": 1}})],
     "predictions.jsonl: no record has the field 'model': each line must be a JSON object with time, model, "
     "fingerprint, endpoint, features and prediction (the service's log format)"),
    (lambda t: [good_line(t, features={"age": 40, "plan": "basic", "region": "north", "incom": 3.0})],
     "predictions.jsonl: no record has feature 'income' (did you mean 'incom'?). The model needs: age, income, "
     "plan, region"),
])
def test_a_malformed_log_is_an_error_naming_the_line_and_field(trained, tmp_path, monkeypatch, lines, message):
    monkeypatch.chdir(tmp_path)
    path = write(Path("predictions.jsonl"), "\n".join(lines(trained)) + "\n")
    with pytest.raises(DataError) as raised:
        drift.check("churn", path, trained.project, out=tmp_path / "out")
    assert str(raised.value) == message
    assert raised.value.exit_code == 2


@pytest.mark.parametrize("nested", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000])
def test_a_log_line_nested_100000_deep_is_refused_naming_the_line(trained, tmp_path, nested):
    """pyarrow's JSON reader overflows its stack on it (SIGSEGV): a real process, so a crash shows as one."""
    import subprocess
    import sys

    path = write(tmp_path / "predictions.jsonl", good_line(trained) + "\n" + nested + "\n")
    done = subprocess.run([sys.executable, "-m", "mlship", "-C", str(trained.root), "drift", "churn", "--current",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"error: {path}:2: the record is nested more than 32 levels deep: each line must be one "
                           "record of the service's log format\n")


# --- the command ----------------------------------------------------------------------------


def test_the_command_prints_the_report_and_exits_1_on_drift_and_0_without(trained, tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(trained.root)
    shifted = trained.log(tmp_path / "shifted", features(1000, 4, shift=True))
    result = run_cli("drift", "churn", "--current", str(shifted), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stdout.startswith("## ❌ Drift of `churn`: drift: a major shift of 'income'")
    assert f"wrote {tmp_path / 'out' / 'drift-churn.md'}" in result.stderr
    same = trained.log(tmp_path / "same", features(600, 7))
    document = run_cli("drift", "churn", "--current", str(same), "--out", str(tmp_path / "out"), "--json")
    assert document.exit_code == 0 and json.loads(document.stdout)["drifted"] is False
    empty = write(tmp_path / "empty.csv", "age,income,plan,region\n")
    refused = run_cli("drift", "churn", "--current", str(empty))
    assert refused.exit_code == 2 and "empty.csv" in refused.stderr


def test_the_command_opens_one_issue_for_a_drifting_model_and_updates_it(trained, tmp_path, run_cli, monkeypatch,
                                                                        github_env):
    monkeypatch.chdir(trained.root)
    shifted = trained.log(tmp_path, features(1000, 4, shift=True))
    for _ in range(2):
        result = run_cli("drift", "churn", "--current", str(shifted), "--out", str(tmp_path / "out"), "--issue")
        assert result.exit_code == 1, result.stderr
    (issue,) = github_env.issues_in()
    assert issue.state == "open" and "mlship-drift" in [label.name for label in issue.labels]
    assert "## ❌ Drift of `churn`" in issue.body and "<!-- mlship:drift:churn -->" in issue.body
    assert "drift issue: unchanged #1" in result.stderr


def test_hostile_column_names_and_categories_stay_text_in_the_drift_report():
    """Column names and categories come from the data (a PR's, or logged requests): the report shows them as text."""
    from markdown_structure import assert_untrusted_text_stayed_text, headings, inline_texts, tables

    column = "plan ``` <img src=x> @octocat"
    hostile = ["<!-- mlship:drift -->", "north\n<h2>✅ no drift</h2>", "@octocat </details> ![x](https://e.invalid/x.png)",
               "a | b `c`"]
    rng = np.random.default_rng(9)
    reference = sample(2000, rng).rename(columns={"plan": column})
    current = sample(1000, rng).rename(columns={"plan": column})
    current.loc[:399, column] = np.repeat(hostile, 100)
    profile = {"model": "generated", "rows": len(reference), "features": profile_frame(reference, ["city", column]),
               "predictions": {}}
    result = detect(profile, Current(current, "current.csv"), Monitoring())
    report = drift.render(result)
    assert_untrusted_text_stayed_text(report, {"<details>", "</details>", "<summary>", "</summary>", "<code>",
                                               "</code>", "<sub>", "</sub>"})
    assert [level for level, _ in headings(report)] == ["h2", "h3", "h3"], headings(report)
    (features,) = tables(report)
    assert len(features) == 5 and all(len(row) == 9 for row in features)
    assert column in [row[0] for row in features]
    (unseen,) = [text for text in inline_texts(report) if text.startswith(column + ":")]
    assert all(" ".join(value.split()) in unseen for value in hostile)


# --- scoring a table once ------------------------------------------------------------------


def test_a_table_is_scored_once_where_predict_is_the_argmax_of_the_probabilities():
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(12)
    X = pd.DataFrame({"a": rng.normal(0, 1, 400), "b": rng.normal(0, 1, 400)})
    y = np.where(X["a"] + rng.normal(0, 1, 400) > 0, "yes", "no")
    profile = {"predictions": {"prediction": {}, "proba:yes": {}}}
    fitted = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    expected = fitted.predict(X)
    fitted.predict = lambda rows: pytest.fail("predict ran: the labels should come from predict_proba")
    frame = drift.predict(fitted, profile, Current(X, "current.csv"))
    assert frame["prediction"].tolist() == expected.tolist()
    assert frame["proba:yes"].tolist() == pytest.approx(fitted.predict_proba(X)[:, 1].tolist())
    # An estimator off the list (whose predict may not follow its probabilities) is asked for both.
    other = KNeighborsClassifier().fit(X, y)
    assert not drift.predicts_argmax(other)
    calls, original = [], other.predict
    other.predict = lambda rows: calls.append(len(rows)) or original(rows)
    assert drift.predict(other, profile, Current(X, "current.csv"))["prediction"].tolist() == original(X).tolist()
    assert calls == [400]
