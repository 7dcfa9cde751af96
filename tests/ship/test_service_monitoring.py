"""The served model's monitoring, with real BentoML: the sampled prediction log, the Prometheus
metrics, the release in /metadata, and alert rules and a dashboard that name real series.

One project for the module: the churn classifier (trained on data where a tenth of the incomes
are missing, so the reference profile has a missing share to report) and the house-price
regressor. Three servers are started once, in parallel, each from its own BentoML home holding
the imported archive (``bentoml serve`` keeps its Prometheus multiprocess files in
``$BENTOML_HOME/prometheus_multiproc_dir`` and empties that folder when it starts, so two servers
of one home would report, and reset, each other's metrics):

* ``logged``: churn, logging every record, rotated at 8 KiB with 2 backups, deployed as v1.2.3;
* ``unsampled``: churn, logging at rate 0 and no release set;
* ``failing``: prices, logging at the default rate into a folder where the log file cannot be
  created (a directory has its name), so every write fails.

Each test looks at what its own requests changed: metrics are compared before and after, and
log lines are read from the end of the rotated files.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from mlship import api
from mlship.monitor import current as recent
from mlship.project import Project
from mlship.ship import manifests, packaging
from mlship.train.cache import CacheEntry
from churn_repos import hermetic, mlship
from sample_churn import CHURN, customers
from test_manifests import FINGERPRINT, equal_matchers, promql, queries, selectors
from test_packaging import (PRICES, PRICES_TRAIN, Printed, Server, houses, packaged, records, reviewed_project,
                            start_server, stop_server, wait_ready)

FEATURES = ["age", "income", "plan", "region"]
LOG_MAX_BYTES = 8192
LOG_BACKUPS = 2
RELEASE = "v1.2.3"
LOG_FIELDS = {"time", "model", "fingerprint", "endpoint", "features", "prediction"}
FAILED_START_TIMEOUT_SECONDS = 60
BIND_ATTEMPTS = 3


def incomplete_customers() -> pd.DataFrame:
    """The churn data with a tenth of the incomes missing (the model imputes them)."""
    frame = customers()
    frame.loc[np.random.default_rng(4).random(len(frame)) < 0.1, "income"] = np.nan
    return frame


def requested(n: int, seed: int, missing: dict[str, list[int]] | None = None) -> pd.DataFrame:
    """``n`` churn records, with None in the given rows of the given features."""
    rows = customers(n, seed=seed)[FEATURES].astype(object)
    for feature, positions in (missing or {}).items():
        rows.loc[rows.index[positions], feature] = None
    return rows


@dataclass
class Monitored:
    root: Path
    churn: Printed
    prices: Printed
    servers: dict[str, Server]
    logs: dict[str, Path]
    homes: dict[str, Path] = field(default_factory=dict)

    def home(self, folder: Path, name: str) -> Path:
        """A BentoML home of its own, holding the bento of ``name``."""
        packaging.import_archive(self.root / getattr(self, name).values["archive"], folder)
        self.homes[name] = folder
        return folder

    @property
    def project(self) -> Project:
        return Project(self.root)

    def entry(self, name: str) -> CacheEntry:
        return CacheEntry(api.train(name, self.project).entry)

    def fingerprint(self, name: str) -> str:
        return json.loads((self.root / "reports" / name / "metrics.json").read_text())["fingerprint"]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        root = tmp_path_factory.mktemp("monitoring") / "project"
        reviewed_project(root, {
            "churn": (CHURN, {}, incomplete_customers(), "customers.csv"),
            "prices": (PRICES, {"train.py": PRICES_TRAIN}, houses(), "houses.csv"),
        })
        patch.chdir(root)
        monitored = Monitored(root, packaged(mlship(root, "package", "churn")),
                              packaged(mlship(root, "package", "prices")), {}, {})
        logs = monitored.logs
        logs.update({name: tmp_path_factory.mktemp(f"log-{name}") for name in ("logged", "unsampled", "failing")})
        (logs["failing"] / "predictions.jsonl").mkdir()
        settings = {
            "logged": ("churn", {"MLSHIP_PREDICTION_LOG_DIR": str(logs["logged"]), "MLSHIP_PREDICTION_LOG_RATE": "1",
                                 "MLSHIP_PREDICTION_LOG_MAX_BYTES": str(LOG_MAX_BYTES),
                                 "MLSHIP_PREDICTION_LOG_BACKUPS": str(LOG_BACKUPS), "MLSHIP_RELEASE": RELEASE}),
            "unsampled": ("churn", {"MLSHIP_PREDICTION_LOG_DIR": str(logs["unsampled"]),
                                    "MLSHIP_PREDICTION_LOG_RATE": "0"}),
            "failing": ("prices", {"MLSHIP_PREDICTION_LOG_DIR": str(logs["failing"])}),
        }
        arguments = {}
        for server, (name, extra) in settings.items():
            home = monitored.home(tmp_path_factory.mktemp(f"bentoml-{server}"), name)
            arguments[server] = (getattr(monitored, name).values["bento"], home,
                                 {**packaging.bentoml_env(home), **extra},
                                 tmp_path_factory.mktemp("serve") / f"{server}.log")
        servers = monitored.servers
        try:
            servers.update({server: start_server(*given) for server, given in arguments.items()})
            for server, given in arguments.items():
                servers[server] = ready(servers[server], given)
            yield monitored
        finally:
            for server in servers.values():
                stop_server(server)


# --- helpers -------------------------------------------------------------------------------------


def ready(server: Server, arguments: tuple[str, Path, dict[str, str], Path]) -> Server:
    """``server`` once ready; started again on another port if the free port it was given was taken
    before BentoML bound it (servers starting side by side open ports of their own)."""
    for _ in range(BIND_ATTEMPTS - 1):
        try:
            wait_ready(server, time.monotonic())
            return server
        except pytest.fail.Exception:
            if "Could not bind" not in server.log.read_text():
                raise
            server = start_server(*arguments)
    wait_ready(server, time.monotonic())
    return server


def post(server: Server, endpoint: str, rows: pd.DataFrame) -> list[Any]:
    answer = server.post(endpoint, {"records": records(rows)})
    assert answer.status_code == 200, answer.text
    return answer.json()


Samples = dict[tuple[str, frozenset], float]


def scrape(server: Server) -> Samples:
    """Every sample on /metrics, by name and labels."""
    text = requests.get(f"{server.url}/metrics", timeout=30).text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def changed(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def log_files(folder: Path) -> list[Path]:
    """The log and its backups, oldest first (predictions.jsonl.2, .1, then predictions.jsonl)."""
    files = [path for path in folder.iterdir() if re.fullmatch(r"predictions\.jsonl(\.\d+)?", path.name)]
    return sorted(files, key=lambda path: -int(path.suffix[1:]) if path.suffix[1:].isdigit() else 0)


def log_lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in log_files(folder) for line in path.read_text(encoding="utf-8").splitlines()]


# --- the prediction log ----------------------------------------------------------------------------


def test_logging_every_record_writes_one_line_per_record_in_the_agreed_format(monitored):
    server, folder = monitored.servers["logged"], monitored.logs["logged"]
    rows = requested(30, seed=3, missing={"income": [0, 4], "plan": [4, 9], "region": [21]})
    start = datetime.now(timezone.utc).replace(microsecond=0)
    predicted = post(server, "predict", rows.iloc[:20])
    probabilities = post(server, "predict_proba", rows.iloc[20:])
    end = datetime.now(timezone.utc)

    lines = log_lines(folder)[-30:]
    sent = records(rows)
    for index, line in enumerate(lines):
        proba = index >= 20
        assert set(line) == LOG_FIELDS | ({"probabilities"} if proba else set())
        logged_at = datetime.fromisoformat(line["time"])
        assert logged_at.utcoffset() == timedelta(0) and logged_at.microsecond == 0
        assert start <= logged_at <= end
        assert line["model"] == monitored.churn.values["model"]
        assert line["fingerprint"] == monitored.fingerprint("churn")
        assert line["endpoint"] == ("predict_proba" if proba else "predict")
        assert line["features"] == sent[index]
        if proba:
            answer = probabilities[index - 20]
            assert line["probabilities"] == answer
            assert line["prediction"] == max(answer, key=answer.get)
        else:
            assert line["prediction"] == predicted[index]
    assert lines[0]["features"]["income"] is None and lines[4]["features"]["plan"] is None


def test_the_logs_read_back_as_current_data_for_mlship_drift(monitored):
    """The other side of the agreed format: `mlship drift`'s reader takes the logged records as they were sent."""
    server, folder = monitored.servers["logged"], monitored.logs["logged"]
    rows = requested(12, seed=8, missing={"age": [2]})
    predicted = post(server, "predict", rows)

    entry = monitored.entry("churn")
    current = recent.read_current(folder, entry.profile(), monitored.fingerprint("churn"))
    tail = current.features.iloc[-12:].reset_index(drop=True)
    expected = rows.reset_index(drop=True).astype({"age": float, "income": float})
    pd.testing.assert_frame_equal(tail, expected, check_dtype=False)
    assert current.predictions["prediction"].tolist()[-12:] == predicted


def test_the_log_rotates_by_size_and_keeps_the_configured_number_of_backups(monitored):
    server, folder = monitored.servers["logged"], monitored.logs["logged"]
    rows = requested(200, seed=5)
    for start in range(0, len(rows), 50):
        predicted = post(server, "predict", rows.iloc[start:start + 50])

    files = log_files(folder)
    assert [path.name for path in files] == ["predictions.jsonl.2", "predictions.jsonl.1", "predictions.jsonl"]
    assert all(0 < path.stat().st_size <= LOG_MAX_BYTES for path in files)
    lines = log_lines(folder)
    assert 50 < len(lines) < 200, "the oldest lines were rotated out"
    assert [line["features"] for line in lines] == records(rows)[-len(lines):], "what is kept is the newest, in order"
    assert [line["prediction"] for line in lines[-50:]] == predicted


def test_at_rate_zero_nothing_is_logged_but_every_record_is_counted(monitored):
    server = monitored.servers["unsampled"]
    before = scrape(server)
    post(server, "predict", requested(40, seed=6))

    after = scrape(server)
    assert list(monitored.logs["unsampled"].iterdir()) == []
    assert changed(before, after, "mlship_input_records_total", endpoint="predict") == 40
    assert changed(before, after, "mlship_prediction_log_records_total", outcome="written") == 0
    assert changed(before, after, "mlship_prediction_log_records_total", outcome="failed") == 0


def test_a_log_that_cannot_be_written_never_fails_a_prediction_and_is_counted(monitored):
    server = monitored.servers["failing"]
    rows = houses(40, seed=2)[["area", "floor", "garden", "district"]]
    before = scrape(server)

    predicted = post(server, "predict", rows)

    after = scrape(server)
    model = monitored.entry("prices").load_model()
    assert np.array_equal(np.array(predicted), model.predict(rows))
    assert changed(before, after, "mlship_prediction_log_records_total", outcome="failed") == 40, "default rate: 1"
    assert changed(before, after, "mlship_prediction_log_records_total", outcome="written") == 0
    assert (monitored.logs["failing"] / "predictions.jsonl").is_dir()


def test_invalid_log_settings_stop_the_service_at_start_with_a_message_naming_the_variable(monitored, tmp_path):
    home = monitored.home(tmp_path / "bentoml", "churn")
    env = {**packaging.bentoml_env(home), "MLSHIP_PREDICTION_LOG_DIR": str(tmp_path / "logs"),
           "MLSHIP_PREDICTION_LOG_RATE": "1.5"}
    server = start_server(monitored.churn.values["bento"], home, env, tmp_path / "serve.log")
    message = "MLSHIP_PREDICTION_LOG_RATE='1.5' is not valid: expected a number from 0 to 1"
    try:
        deadline = time.monotonic() + FAILED_START_TIMEOUT_SECONDS
        while message not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert message in server.log.read_text()
        try:
            ready = requests.get(f"{server.url}/readyz", timeout=2).status_code
        except (requests.ConnectionError, requests.Timeout):  # nothing answers: the worker keeps failing
            ready = None
        assert ready != 200
    finally:
        stop_server(server)


# The generated service's log writer and the standard library's handler, fed the same records:
# the writer hands the handler runs of lines, and must leave exactly the files the handler leaves
# when given one line at a time.
SAME_ROTATION = """
import json, logging, logging.handlers, sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, sys.argv[1])
import service

class Fixed(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

service.datetime = Fixed
ours, theirs = Path(sys.argv[2]), Path(sys.argv[3])
log = service.PredictionLog(str(ours), 1.0, 3000, 3, service.Metrics.once([]).log_records)
handler = logging.handlers.RotatingFileHandler(theirs / "predictions.jsonl", maxBytes=3000, backupCount=3,
                                               encoding="utf-8", delay=True)
batches = [1, 7, 3, 25, 1, 1, 12, 40, 2, 9]
for number, size in enumerate(batches):
    rows = [{"age": number * 100 + i, "plan": "basic" * (700 if (number, i) == (8, 0) else 1 + i % 3)}
            for i in range(size)]
    predictions = ["yes" if i % 2 else "no" for i in range(size)]
    log.write("predict", rows, predictions)
    for row, prediction in zip(rows, predictions):
        line = {"time": "2024-05-01T12:00:00+00:00", "model": service.MODEL_TAG, "fingerprint": service.FINGERPRINT,
                "endpoint": "predict", "features": row, "prediction": prediction}
        handler.handle(logging.makeLogRecord({"msg": json.dumps(line, ensure_ascii=False)}))
"""


def test_the_log_rotates_exactly_as_the_standard_rotating_file_handler_does(monitored, tmp_path):
    source = next((monitored.homes["churn"] / "bentos" / "churn").glob("*/src"))
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    theirs.mkdir()
    done = subprocess.run([sys.executable, "-c", SAME_ROTATION, str(source), str(ours), str(theirs)],
                          env=packaging.bentoml_env(monitored.homes["churn"]), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr

    files = {path.name: path.read_bytes() for path in log_files(ours)}
    assert files == {path.name: path.read_bytes() for path in log_files(theirs)}
    assert sorted(files) == ["predictions.jsonl", "predictions.jsonl.1", "predictions.jsonl.2",
                             "predictions.jsonl.3"]
    assert any(len(line) > 3000 for content in files.values() for line in content.splitlines()), \
        "a record longer than the limit gets a file of its own"


# --- metrics -------------------------------------------------------------------------------------


def test_the_metrics_count_records_missing_values_and_predicted_classes(monitored):
    server = monitored.servers["unsampled"]
    rows = requested(60, seed=7, missing={"income": [1, 2, 3], "plan": [3], "region": [10, 50]})
    before = scrape(server)

    predicted = post(server, "predict", rows.iloc[:40])
    probabilities = post(server, "predict_proba", rows.iloc[40:])

    after = scrape(server)
    for endpoint, part in (("predict", rows.iloc[:40]), ("predict_proba", rows.iloc[40:])):
        assert changed(before, after, "mlship_input_records_total", endpoint=endpoint) == len(part)
        for feature in FEATURES:
            assert changed(before, after, "mlship_input_missing_values_total", endpoint=endpoint,
                           feature=feature) == part[feature].isna().sum(), (endpoint, feature)
    most_probable = [max(answer, key=answer.get) for answer in probabilities]
    for endpoint, labels in (("predict", predicted), ("predict_proba", most_probable)):
        counts = Counter(labels)
        for label in ("no", "yes"):
            assert changed(before, after, "mlship_predictions_total", endpoint=endpoint, **{"class": label}) \
                == counts[label]
    for label in ("no", "yes"):
        observed = np.array([answer[label] for answer in probabilities])
        for bound in (*packaging.PROBABILITY_BUCKETS, float("inf")):
            le = "+Inf" if bound == float("inf") else str(bound)
            assert changed(before, after, "mlship_prediction_probability_bucket", le=le, **{"class": label}) \
                == np.sum(observed <= bound), (label, le)
        assert changed(before, after, "mlship_prediction_probability_count", **{"class": label}) == 20
        assert changed(before, after, "mlship_prediction_probability_sum", **{"class": label}) \
            == pytest.approx(observed.sum())


def test_the_predicted_value_histogram_has_buckets_at_quantiles_of_the_held_out_predictions(monitored):
    server = monitored.servers["failing"]
    held_out = monitored.entry("prices").predictions()["y_pred"]
    buckets = packaging.value_buckets(held_out.tolist())
    rows = houses(80, seed=9)[["area", "floor", "garden", "district"]]
    before = scrape(server)

    predicted = np.array(post(server, "predict", rows))

    after = scrape(server)
    exposed = sorted(float(dict(labels)["le"]) for name, labels in after if name == "mlship_prediction_value_bucket")
    assert exposed == [*buckets, float("inf")]
    assert buckets == sorted(set(buckets)) and len(buckets) >= 5
    assert buckets[0] <= np.quantile(held_out, 0.05) and buckets[-1] >= np.quantile(held_out, 0.95)
    for bound in exposed:
        le = "+Inf" if bound == float("inf") else next(dict(labels)["le"] for name, labels in after
                                                       if name == "mlship_prediction_value_bucket"
                                                       and float(dict(labels)["le"]) == bound)
        assert changed(before, after, "mlship_prediction_value_bucket", le=le) == np.sum(predicted <= bound)
    assert changed(before, after, "mlship_prediction_value_count") == 80
    assert changed(before, after, "mlship_prediction_value_sum") == pytest.approx(predicted.sum())


def test_the_reference_missing_ratio_is_each_features_share_of_missing_values_in_training(monitored):
    profile = monitored.entry("churn").profile()
    exposed = scrape(monitored.servers["logged"])

    shares = {feature: value(exposed, "mlship_reference_missing_ratio", feature=feature) for feature in FEATURES}
    expected = {feature: profile["features"][feature]["missing"] / profile["features"][feature]["rows"]
                for feature in FEATURES}
    assert shares == pytest.approx(expected)
    assert 0.05 < shares["income"] < 0.15 and shares["age"] == 0


# --- metadata ------------------------------------------------------------------------------------


def test_metadata_reports_the_release_the_service_was_deployed_as(monitored):
    deployed = monitored.servers["logged"].post("metadata", {}).json()
    unreleased = monitored.servers["unsampled"].post("metadata", {}).json()

    assert deployed["release"] == RELEASE and unreleased["release"] is None
    for document in (deployed, unreleased):
        assert document["tag"] == monitored.churn.values["model"]
        assert document["fingerprint"] == monitored.fingerprint("churn")
        assert "metrics" in document and "lineage" in document
        assert "profile" not in document, "the reference profile stays beside the model"


# --- alert rules and dashboard against the real series ---------------------------------------------


def exposed_series(samples: Samples) -> dict[str, dict[str, set[str]]]:
    """Each exposed sample name, with each of its labels' values."""
    found: dict[str, dict[str, set[str]]] = {}
    for name, labels in samples:
        for label, label_value in labels:
            found.setdefault(name, {}).setdefault(label, set()).add(label_value)
        found.setdefault(name, {})
    return found


def unknown_references(expression: str, series: dict[str, dict[str, set[str]]], target_labels: set[str]) -> list[str]:
    """What ``expression`` refers to that the served model does not expose (Prometheus adds ``up`` and
    the ServiceMonitor's target labels)."""
    import promql_parser

    problems: list[str] = []
    labels = set(target_labels)

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name == "up":
                return
            if node.name not in series:
                problems.append(f"no series {node.name}")
                return
            labels.update(series[node.name])
            for matcher in node.matchers.matchers:
                if matcher.name in target_labels:
                    continue
                values = series[node.name].get(matcher.name)
                if values is None:
                    problems.append(f"{node.name} has no label {matcher.name}")
                elif matcher.op == promql_parser.MatchOp.Re and not any(re.fullmatch(matcher.value, v) for v in values):
                    problems.append(f"no {node.name}{{{matcher.name}=~{matcher.value!r}}} among {sorted(values)}")

    promql_parser.walk(promql(expression), visit)

    def grouping(node: Any) -> None:
        modifier = getattr(node, "modifier", None)
        named = getattr(modifier, "labels", None) or getattr(getattr(modifier, "matching", None), "labels", None) or []
        problems.extend(f"grouping by unknown label {label}" for label in named if label not in labels)

    promql_parser.walk(promql(expression), grouping)
    return problems


def test_the_alert_rules_and_the_dashboard_name_series_and_labels_the_served_models_expose(monitored):
    churn, prices = monitored.servers["logged"], monitored.servers["failing"]
    for name, task, server in (("churn", "classification", churn), ("prices", "regression", prices)):
        post(server, "predict", requested(5, seed=1) if task == "classification"
             else houses(5, seed=1)[["area", "floor", "garden", "district"]])
        refused = server.post("predict", {"records": [{"colour": "red"}]})
        assert refused.status_code == 400, "a 4xx, so that BentoML exposes a 4xx series"
        series = exposed_series(scrape(server))
        text = manifests.render_manifests(name, "prod", "v1.2.3", f"ghcr.io/acme/{name}:0123456789abcdef",
                                          bento_tag=f"{name}:0123456789abcdef", fingerprint=FINGERPRINT, task=task)
        documents = {document["kind"]: document for document in yaml.safe_load_all(text)}
        target_labels = {relabel["targetLabel"]
                         for relabel in documents["ServiceMonitor"]["spec"]["endpoints"][0]["relabelings"]}
        (group,) = documents["PrometheusRule"]["spec"]["groups"]
        (board,) = documents["ConfigMap"]["data"].values()
        expressions = [rule["expr"] for rule in group["rules"]] + queries(json.loads(board))
        problems = {expression: unknown_references(expression, series, target_labels) for expression in expressions}
        assert {expression: found for expression, found in problems.items() if found} == {}, task
        for expression in expressions:
            for selector in selectors(expression):
                assert {"mlship_model", "mlship_stage"} <= equal_matchers(selector).keys() <= target_labels | {
                    "http_response_code", "outcome"}
