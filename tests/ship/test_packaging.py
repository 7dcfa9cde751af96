"""`mlship package`: the ledger-approved model as a bento, with real BentoML end to end.

One project, packaged once for the whole module: a classifier with categorical features
on generated customers, and a regressor built by an entrypoint (whose code must travel by
value) on generated houses. The ledger is written by `mlship pr --base main --dry-run`
and committed, as in the real flow. The archives are imported into a fresh BentoML home
that also holds a newer "decoy" model of the same name, and served with `bentoml serve`
on 127.0.0.1, where `import mlship` fails: the service must need nothing of mlship.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from click.testing import Result

from mlship import api
from mlship.project import Project
from mlship.ship import packaging
from mlship.train.cache import PROFILE_FILE, CacheEntry
from churn_repos import hermetic, mlship, reviewed_churn
from repo_helpers import git
from sample_churn import CHURN, customers

READY_TIMEOUT_SECONDS = 90
REQUEST_TIMEOUT_SECONDS = 30


PRICES = """
description: Estimates house prices.
task: regression
data:
  path: houses.csv
  target: price
  categorical: [floor]
model:
  entrypoint: train.py:build
  params: {alpha: 1.0}
evaluation:
  metrics: [rmse, r2]
  bootstrap: {resamples: 100}
serving: {threads: 1, max_rows: 100, max_bytes: 16384}
"""

# The target transform is defined here, so the pickled model carries this code by value.
PRICES_TRAIN = """
import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge


def to_log(y):
    return np.log(y)


def from_log(y):
    return np.exp(y)


def build(alpha):
    return TransformedTargetRegressor(regressor=Ridge(alpha=alpha), func=to_log, inverse_func=from_log)
"""

# Saved after the import, so it is what `latest` means in the fresh store.
DECOY = """
import bentoml
with bentoml.models.create("churn:decoy", metadata={"fingerprint": "not the approved model"}):
    pass
"""


def houses(n: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "area": np.round(rng.uniform(30, 200, n), 1),
        "floor": rng.integers(1, 5, n),
        "garden": rng.random(n) < 0.4,
        "district": rng.choice(["centre", "suburb", "harbour"], n),
    })
    base = 2000 * frame["area"] * np.where(frame["district"] == "centre", 1.5, 1.0) * (1 + 0.1 * frame["garden"])
    frame["price"] = np.round(base * rng.lognormal(0, 0.1, n), 2)
    return frame


# --- helpers -----------------------------------------------------------------------


def write_model(root: Path, name: str, spec: str, files: dict[str, str]) -> Path:
    folder = root / "models" / name
    folder.mkdir(parents=True)
    (folder / "model.yaml").write_text(textwrap.dedent(spec).lstrip())
    for relative, text in files.items():
        (folder / relative).write_text(textwrap.dedent(text).lstrip())
    return folder


def reviewed_project(root: Path, models: dict[str, tuple[str, dict[str, str], pd.DataFrame, str]]) -> None:
    """A repository whose branch adds ``models`` and commits the ledger `mlship pr` wrote for them."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("models\n")
    (root / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    git(root, "checkout", "-qb", "feature")
    for name, (spec, files, data, data_file) in models.items():
        folder = write_model(root, name, spec, files)
        data.to_csv(folder / data_file, index=False)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add models")
    reviewed = mlship(root, "pr", "--base", "main", "--dry-run")
    assert reviewed.exit_code == 0, reviewed.stdout + reviewed.stderr
    git(root, "add", "reports")
    git(root, "commit", "-qm", "ledger")


@dataclass
class Printed:
    """What `mlship package` printed: model, bento, archive, sha256 and store, and what happened to each."""

    values: dict[str, str]
    notes: dict[str, str]

    @property
    def bento_version(self) -> str:
        return self.values["bento"].split(":")[1]


def packaged(result: Result) -> Printed:
    assert result.exit_code == 0, result.stdout + result.stderr
    values, notes = {}, {}
    for line in result.stdout.splitlines()[1:]:
        key, value, *note = line.split()
        values[key], notes[key] = value, " ".join(note).strip("()")
    return Printed(values, notes)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def post(self, api_name: str, body: dict) -> requests.Response:
        return requests.post(f"{self.url}/{api_name}", json=body, timeout=REQUEST_TIMEOUT_SECONDS)


def start_server(bento_tag: str, home: Path, env: dict[str, str], log: Path) -> Server:
    port = free_port()
    with open(log, "wb") as stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", bento_tag, "--host", "127.0.0.1", "--port", str(port)],
            cwd=home, env=env, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(process, f"http://127.0.0.1:{port}", log)


def wait_ready(server: Server, started: float) -> None:
    deadline = started + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"bentoml serve exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            if requests.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
            pass
        time.sleep(0.1)
    pytest.fail(f"bentoml serve was not ready after {READY_TIMEOUT_SECONDS} s:\n{server.log.read_text()}")


def stop_server(server: Server) -> None:
    """Stop the server and the workers it started (its own process group)."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON records, NaN as null."""
    return [{key: (None if isinstance(value, float) and np.isnan(value) else value) for key, value in row.items()}
            for row in frame.astype(object).to_dict(orient="records")]


def stored_models(home: Path, name: str) -> list[str]:
    folder = home / "models" / name
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


# --- the packaged project, shared by the module --------------------------------------


@dataclass
class Shipped:
    root: Path
    churn: Printed
    prices: Printed

    @property
    def project(self) -> Project:
        return Project(self.root)

    def model(self, name: str):
        return CacheEntry(api.train(name, self.project).entry).load_model()

    def ledger(self, name: str) -> dict:
        return json.loads((self.root / "reports" / name / "metrics.json").read_text())

    def archive(self, name: str) -> Path:
        return self.root / getattr(self, name).values["archive"]

    @property
    def store(self) -> Path:
        return self.root / ".mlship" / "bentoml"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipped]:
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        root = tmp_path_factory.mktemp("packaging") / "project"
        reviewed_project(root, {
            "churn": (CHURN, {}, customers(), "customers.csv"),
            "prices": (PRICES, {"train.py": PRICES_TRAIN}, houses(), "houses.csv"),
        })
        patch.chdir(root)
        yield Shipped(root, packaged(mlship(root, "package", "churn")), packaged(mlship(root, "package", "prices")))


@pytest.fixture(scope="module")
def served(shipped: Shipped, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Both bentos imported into a fresh BentoML home and served, where mlship cannot be imported."""
    fresh = tmp_path_factory.mktemp("fresh-bentoml")
    for name in ("churn", "prices"):
        packaging.import_archive(shipped.archive(name), fresh)
    poison = tmp_path_factory.mktemp("no-mlship")
    (poison / "mlship").mkdir()
    (poison / "mlship" / "__init__.py").write_text("raise ImportError('the service must not need mlship')\n")
    env = {**packaging.bentoml_env(fresh), "PYTHONPATH": str(poison)}
    subprocess.run([sys.executable, "-c", DECOY], env=env, check=True, timeout=120, capture_output=True)
    assert (fresh / "models" / "churn" / "latest").read_text() == "decoy"
    blocked = subprocess.run([sys.executable, "-c", "import mlship"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert "the service must not need mlship" in blocked.stderr
    servers: dict[str, Server] = {}
    try:
        started = time.monotonic()
        for name in ("churn", "prices"):
            tag = getattr(shipped, name).values["bento"]
            servers[name] = start_server(tag, fresh, env, tmp_path_factory.mktemp("logs") / f"{name}.log")
        for server in servers.values():
            wait_ready(server, started)
        yield servers
    finally:
        for server in servers.values():
            stop_server(server)


# --- what packaging makes ------------------------------------------------------------


def test_package_saves_the_approved_model_with_its_metadata_and_exports_a_verified_archive(shipped):
    ledger = shipped.ledger("churn")
    fingerprint = ledger["fingerprint"]
    printed = shipped.churn
    assert printed.values["model"] == f"churn:{fingerprint[:16]}" and printed.notes["model"] == "saved"
    assert printed.notes["bento"] == "built" and printed.values["bento"].startswith("churn:")
    assert printed.values["archive"] == f"dist/churn-{printed.bento_version}.bento"
    assert printed.notes["archive"] == "exported" and printed.values["store"] == ".mlship/bentoml"
    archive = shipped.archive("churn")
    assert packaging.verify_archive(archive) == printed.values["sha256"]
    assert packaging.digest_file(archive).read_text() == f"{printed.values['sha256']}  {archive.name}\n"

    assert stored_models(shipped.store, "churn") == [fingerprint[:16]]
    saved = yaml.safe_load((shipped.store / "models" / "churn" / fingerprint[:16] / "model.yaml").read_text())
    assert saved["labels"] == {"fingerprint": fingerprint, "task": "classification"}
    metadata = saved["metadata"]
    assert metadata["fingerprint"] == fingerprint
    assert metadata["metrics"] == ledger["metrics"]
    assert metadata["commit"] == git(shipped.root, "rev-parse", "HEAD").strip()
    assert metadata["lineage"]["data"]["features"] == ["age", "income", "plan", "region"]
    assert metadata["lineage"]["data"]["categorical"] == ["plan", "region"]
    # BentoML metadata cannot hold None: such entries (no entrypoint code here) are left out.
    assert ledger["fingerprint_parts"]["code"] is None
    assert metadata["lineage"]["fingerprint_parts"] == {k: v for k, v in ledger["fingerprint_parts"].items() if v}


def test_the_bento_pins_the_exact_model_tag_and_every_package(shipped):
    from importlib.metadata import version

    bento = shipped.store / "bentos" / "churn" / shipped.churn.bento_version
    service = (bento / "src" / "service.py").read_text()
    model_tag = shipped.churn.values["model"]
    assert f"MODEL_TAG = '{model_tag}'" in service and "BentoModel(MODEL_TAG)" in service
    assert ":latest" not in service
    assert "import mlship" not in service and "from mlship" not in service
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert [model["tag"] for model in info["services"][0]["models"]] == [model_tag]
    assert info["labels"] == {"model": model_tag, "fingerprint": shipped.ledger("churn")["fingerprint"]}
    requirements = (bento / "env" / "python" / "requirements.txt").read_text().split()
    for name in ("scikit-learn", "numpy", "pandas", "scipy", "cloudpickle", "pydantic", "prometheus_client", "bentoml"):
        assert f"{name}=={version(name)}" in requirements
    assert all("==" in line for line in requirements)
    assert (bento / "README.md").read_text() == (shipped.root / "reports/churn/model_card.md").read_text()


def test_the_bento_installs_the_tested_environment_every_package_pinned_with_all_it_needs(shipped):
    """Not only the direct libraries: each pinned package's own requirements (those whose markers hold
    here) are pinned too, to the installed version, so building the image later resolves nothing."""
    from importlib.metadata import distribution, version

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    bento = shipped.store / "bentos" / "churn" / shipped.churn.bento_version
    lines = (bento / "env" / "python" / "requirements.txt").read_text().split()
    pins = dict(line.split("==") for line in lines)
    assert {canonicalize_name(name) for name in pins} >= {"uvicorn", "starlette", "httpx", "attrs",
                                                        "numpy", "scikit-learn", "joblib", "bentoml"}
    for name, pinned in pins.items():
        assert pinned == version(name), name
        for line in distribution(name).requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                assert canonicalize_name(requirement.name) in {canonicalize_name(n) for n in pins}, (name, line)
    assert not (bento / "env" / "python" / "requirements.lock.txt").exists()


def test_the_bentos_image_pins_the_base_image_to_this_python_and_uv_to_the_installed_one(shipped):
    from importlib.metadata import version

    bento = shipped.store / "bentos" / "churn" / shipped.churn.bento_version
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    python = ".".join(str(part) for part in sys.version_info[:3])
    assert f"\nFROM python:{python}-slim-bookworm as base-container\n" in dockerfile
    pinned_uv = dockerfile.index(f"RUN pip install --no-cache-dir uv=={version('uv')}")
    assert pinned_uv < dockerfile.index("command -v uv >/dev/null || pip install uv")
    options = yaml.safe_load((bento / "bento.yaml").read_text())["docker"]
    assert options["base_image"] == f"python:{python}-slim-bookworm"


def test_the_model_carries_its_reference_profile_beside_the_model_file_and_in_its_metadata(shipped, tmp_path):
    entry = CacheEntry(api.train("churn", shipped.project).entry)
    profile_file = entry.path / PROFILE_FILE
    profile = json.loads(profile_file.read_text())
    stored = shipped.store / "models" / "churn" / shipped.ledger("churn")["fingerprint"][:16]

    assert (stored / "profile.json").read_bytes() == profile_file.read_bytes()
    metadata = yaml.safe_load((stored / "model.yaml").read_text())["metadata"]
    assert metadata["profile"] == without_none(profile)
    assert metadata["profile"]["features"]["income"]["kind"] == "numeric"
    # ... and travels in the exported archive.
    home = tmp_path / "bentoml"
    packaging.import_archive(shipped.archive("churn"), home)
    (imported,) = (home / "models" / "churn").glob(f"{stored.name}/profile.json")
    assert imported.read_bytes() == profile_file.read_bytes()


def without_none(value):
    """What BentoML's metadata can hold of a JSON document: entries that are None left out."""
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value if item is not None]
    return value


def test_the_value_histogram_is_bucketed_at_rounded_quantiles_of_the_held_out_predictions():
    predictions = np.random.default_rng(0).lognormal(12, 0.5, 1000)

    buckets = packaging.value_buckets(predictions.tolist() + [float("nan")])

    expected = np.quantile(predictions, packaging.VALUE_QUANTILES)
    assert buckets == sorted(buckets) and len(buckets) == len(packaging.VALUE_QUANTILES)
    assert all(float(f"{bound:.3g}") == bound for bound in buckets), "three significant digits"
    assert np.allclose(buckets, expected, rtol=5e-3)
    assert packaging.value_buckets([2.5] * 10) == [2.5], "one bound when every prediction is the same"


def test_missing_shares_come_from_the_profiles_counts_of_each_feature():
    profile = {"features": {"age": {"rows": 200, "missing": 0}, "income": {"rows": 200, "missing": 30},
                            "plan": {"rows": 200, "missing": 2}}}

    assert packaging.missing_shares(profile, ["age", "income", "plan"]) == {"age": 0.0, "income": 0.15, "plan": 0.01}
    assert packaging.missing_shares(profile, ["age", "region"]) == {"age": 0.0}, "a feature it does not know: none"
    assert packaging.missing_shares(None, ["age"]) == {}, "no profile: no reference"


def test_packaging_again_reuses_the_model_the_bento_and_the_archive(shipped):
    archive = shipped.archive("churn")
    before = archive.stat().st_mtime_ns
    again = packaged(mlship(shipped.root, "package", "churn"))
    assert again.values == shipped.churn.values
    assert again.notes == {"model": "already in the store", "bento": "already in the store", "archive": "unchanged",
                           "sha256": "", "store": ""}
    assert archive.stat().st_mtime_ns == before
    assert stored_models(shipped.store, "churn") == [shipped.ledger("churn")["fingerprint"][:16]]
    bentos = sorted(p.name for p in (shipped.store / "bentos" / "churn").iterdir() if p.is_dir())
    assert bentos == [shipped.churn.bento_version]


def test_packaging_removes_the_partial_exports_a_killed_package_left(shipped):
    dist = shipped.root / "dist"
    abandoned = dist / ".churn-0123456789abcdef.99999999.partial.bento"  # no such process
    running = dist / ".churn-0123456789abcdef.1.partial.bento"  # pid 1 runs: its export may be under way
    abandoned.write_bytes(b"half an archive")
    running.write_bytes(b"half an archive")
    try:
        assert packaged(mlship(shipped.root, "package", "churn")).notes["archive"] == "unchanged"
        assert not abandoned.exists() and running.exists()
    finally:
        running.unlink(missing_ok=True)


def test_a_missing_archive_is_exported_again_from_the_stored_bento(shipped, tmp_path):
    archive = shipped.archive("prices")
    kept = tmp_path / archive.name
    shutil.copy2(archive, kept)
    archive.unlink()
    try:
        again = packaged(mlship(shipped.root, "package", "prices"))
        assert again.notes["bento"] == "already in the store" and again.notes["archive"] == "exported"
        assert again.values["archive"] == shipped.prices.values["archive"]
        assert packaging.verify_archive(archive) == again.values["sha256"]
        assert [p.name for p in archive.parent.iterdir() if p.name.startswith(".")] == [], "no partial export is left"
    finally:
        if not archive.exists():
            shutil.copy2(kept, archive)


# --- served over HTTP -----------------------------------------------------------------


def test_http_predictions_equal_in_process_predictions_of_the_cached_model(shipped, served):
    rows = customers().iloc[:150][["age", "income", "plan", "region"]].copy()
    rows.loc[rows.index[:5], "income"] = np.nan  # missing values are imputed as in training
    rows.loc[rows.index[3:8], "plan"] = np.nan
    model = shipped.model("churn")
    body = {"records": records(rows)}

    predicted = served["churn"].post("predict", body)
    assert predicted.status_code == 200, predicted.text
    assert predicted.json() == model.predict(rows).tolist()
    probabilities = served["churn"].post("predict_proba", body)
    assert probabilities.status_code == 200, probabilities.text
    expected = model.predict_proba(rows)
    assert [list(p) for p in probabilities.json()] == [["no", "yes"]] * len(rows)
    assert np.array_equal(np.array([[p["no"], p["yes"]] for p in probabilities.json()]), expected)


def test_the_regressor_built_by_an_entrypoint_serves_its_predictions(shipped, served):
    rows = houses().iloc[:100][["area", "floor", "garden", "district"]]
    predicted = served["prices"].post("predict", {"records": records(rows)})
    assert predicted.status_code == 200, predicted.text
    assert np.array_equal(np.array(predicted.json()), shipped.model("prices").predict(rows))
    assert served["prices"].post("predict_proba", {"records": records(rows)}).status_code == 404


def test_concurrent_requests_each_get_their_own_rows(shipped, served):
    rows = customers(400, seed=5)[["age", "income", "plan", "region"]]
    chunks = [rows.iloc[i:i + 25] for i in range(0, len(rows), 25)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda chunk: served["churn"].post("predict_proba", {"records": records(chunk)}),
                                chunks))
    model = shipped.model("churn")
    for chunk, answer in zip(chunks, answers):
        assert answer.status_code == 200, answer.text
        assert np.array_equal(np.array([[p["no"], p["yes"]] for p in answer.json()]), model.predict_proba(chunk))
    assert served["churn"].post("predict", {"records": []}).json() == []


def test_the_metadata_endpoint_names_the_pinned_model_not_the_latest_one(shipped, served):
    answer = served["churn"].post("metadata", {})
    assert answer.status_code == 200, answer.text
    document = answer.json()
    ledger = shipped.ledger("churn")
    assert document["tag"] == f"churn:{ledger['fingerprint'][:16]}", "the decoy is `latest`, but not served"
    assert document["version"] == ledger["fingerprint"][:16]
    assert document["fingerprint"] == ledger["fingerprint"]
    assert document["metrics"] == ledger["metrics"] and document["primary_metric"] == "roc_auc"
    assert document["commit"] == git(shipped.root, "rev-parse", "HEAD").strip()
    assert document["lineage"]["data"]["features"] == ["age", "income", "plan", "region"]
    assert document["release"] is None, "served without MLSHIP_RELEASE"
    assert "profile" not in document


@pytest.mark.parametrize(("change", "field"), [
    ({"plan": "gold"}, "plan"),                 # a category the model never saw
    ({"age": "thirty"}, "age"),                 # not a number
    ({"age": "30"}, "age"),                     # a number in a string: strict, as a spec is
    ({"income": True}, "income"),
    ({"colour": "red"}, "colour"),              # not a feature (a typo would be silently ignored otherwise)
])
def test_the_input_schema_rejects_what_the_model_cannot_take_with_a_4xx(served, change, field):
    record = {"age": 30, "income": 52.5, "plan": "basic", "region": "north", **change}
    answer = served["churn"].post("predict", {"records": [record]})
    assert 400 <= answer.status_code < 500, answer.text
    assert field in answer.text


def test_the_input_schema_needs_every_feature_and_takes_null_for_missing(served):
    missing = served["churn"].post("predict", {"records": [{"age": 30, "income": 52.5, "plan": "basic"}]})
    assert 400 <= missing.status_code < 500 and "region" in missing.text
    unknown = served["churn"].post("predict", {"records": [{"age": None, "income": None, "plan": None,
                                                            "region": None}]})
    assert unknown.status_code == 200 and unknown.json()[0] in ("no", "yes")
    typed = served["prices"].post("predict", {"records": [{"area": 80, "floor": 9, "garden": True,
                                                          "district": "centre"}]})
    assert 400 <= typed.status_code < 500 and "floor" in typed.text, "floor is categorical: 1 to 4"


# --- the HTTP contract: limits, media types, one error shape ---------------------------


def error_schema(server: Server) -> dict:
    contract = requests.get(f"{server.url}/docs.json", timeout=REQUEST_TIMEOUT_SECONDS).json()
    return contract["components"]["schemas"]["Error"]


def assert_error(answer: requests.Response, status: int, schema: dict, *words: str) -> None:
    """The one documented error shape: {"error": text} and nothing else, as the published schema says."""
    import jsonschema

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    jsonschema.validate(answer.json(), schema)
    for word in words:
        assert word in answer.json()["error"]


def test_the_published_contract_is_a_valid_openapi_document_of_the_version_it_declares(served):
    """A feature that takes null is `anyOf: [..., {type: null}]` (JSON Schema 2020-12): valid in OpenAPI
    3.1, not in the 3.0.2 BentoML declares; the validator checks the document against its declared version."""
    from openapi_spec_validator import validate

    contract = requests.get(f"{served['churn'].url}/docs.json", timeout=REQUEST_TIMEOUT_SECONDS).json()
    assert '"type": "null"' in json.dumps(contract)
    assert contract["openapi"] == "3.1.0"
    validate(contract)


def test_the_spec_sets_the_request_limits_and_a_request_beyond_them_gets_413_before_it_is_read(served):
    server, row = served["prices"], {"area": 80, "floor": 2, "garden": True, "district": "centre"}
    schema = error_schema(server)
    assert server.post("predict", {"records": [row] * 100}).status_code == 200
    too_many = server.post("predict", {"records": [row] * 101})
    assert_error(too_many, 413, schema, "holds 101 records, more than 100", "serving.max_rows")
    too_large = server.post("predict", {"records": [{**row, "district": "x" * 20000}]})
    assert_error(too_large, 413, schema, "larger than 16384 bytes", "serving.max_bytes")
    contract = requests.get(f"{server.url}/docs.json", timeout=REQUEST_TIMEOUT_SECONDS).json()
    assert contract["paths"]["/predict"]["post"]["requestBody"]["required"] is True
    assert "413" in contract["paths"]["/predict"]["post"]["responses"]
    assert served["churn"].post("metadata", {}).json()["serving"]["max_rows"] == 10000, "the default"


def test_a_body_announced_too_large_is_refused_without_being_read(served):
    with socket.create_connection(("127.0.0.1", int(served["prices"].url.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000000000\r\n\r\n{")
        head = raw.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413"), head


@pytest.mark.parametrize("media", ["multipart/form-data", "text/plain", "application/x-www-form-urlencoded"])
def test_a_media_type_other_than_json_gets_415_not_500(served, media):
    answer = requests.post(f"{served['churn'].url}/predict", data=b"x", headers={"Content-Type": media},
                           timeout=REQUEST_TIMEOUT_SECONDS)
    assert_error(answer, 415, error_schema(served["churn"]), media, "application/json")


def test_every_client_error_has_the_documented_shape_and_is_logged_as_one_line_without_a_traceback(served):
    server, schema = served["churn"], error_schema(served["churn"])
    before = server.log.read_text().count("\n")
    assert_error(server.post("predict", {"records": [{"age": "old"}]}), 400, schema, "age", "region")
    assert_error(requests.post(f"{server.url}/predict", data=b"{not json", timeout=REQUEST_TIMEOUT_SECONDS,
                               headers={"Content-Type": "application/json"}), 400, schema, "JSON")
    assert_error(requests.get(f"{server.url}/predict", timeout=REQUEST_TIMEOUT_SECONDS), 405, schema)
    assert_error(server.post("nothing-here", {}), 404, schema)
    time.sleep(0.5)  # the log is written by another process
    logged = server.log.read_text().splitlines()[before:]
    assert "Traceback" not in "\n".join(logged)
    warnings = [line for line in logged if "[WARNING]" in line]
    assert len(warnings) == 4 and "POST /predict 400: invalid input: records.0.age" in warnings[0]


def test_schemathesis_finds_no_failure_in_the_published_contract_with_all_checks(served, tmp_path):
    # 413 answers a request over the records' maxItems, as the contract documents.
    config = tmp_path / "schemathesis.toml"
    config.write_text('[checks.negative_data_rejection]\nexpected-statuses = ["400", "404", "405", "413", "415"]\n')
    done = subprocess.run([str(Path(sys.executable).with_name("st")), "--config-file", str(config), "--no-color",
                           "run", f"{served['churn'].url}/docs.json", "--checks", "all", "--max-examples", "15",
                           "--seed", "1", "--generation-database", "none", "--workers", "1"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:]
    assert "No issues found" in done.stdout and "Tested: 7" in done.stdout


def test_the_thread_budget_keeps_workers_times_threads_within_the_usable_cpus(served):
    budget = served["churn"].post("metadata", {}).json()["serving"]
    cpus = len(os.sched_getaffinity(0))
    assert budget["cpus"] == cpus and budget["workers"] == 1
    assert budget["threads"] == cpus and budget["math_threads"] == 1, "the default: one prediction per CPU"
    assert budget["math_libraries"]["openmp"] == 1, "what a prediction's thread really gets"
    pinned = served["prices"].post("metadata", {}).json()["serving"]
    assert pinned["threads"] == 1 and pinned["math_threads"] == cpus, "threads: 1 leaves the CPUs to the math"
    assert pinned["workers"] * pinned["threads"] * pinned["math_threads"] <= cpus


def served_function(shipped: Shipped, name: str):
    """A top-level function of the churn bento's service module, defined on its own (the module
    needs BentoML and the model to import)."""
    (source,) = (shipped.root / ".mlship" / "bentoml" / "bentos" / "churn").glob(f"*/src/{packaging.SERVICE_FILE}")
    (node,) = [n for n in ast.parse(source.read_text()).body if isinstance(n, ast.FunctionDef) and n.name == name]
    scope: dict = {"os": os}
    exec(compile(ast.Module([node], []), str(source), "exec"), scope)
    return scope[name]


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "150000 100000\n"}, 1),  # a Kubernetes limit of 1.5 CPUs: one whole CPU
    ({"cpu.max": "400000 100000\n"}, 4),
    ({"cpu.max": "max 100000\n"}, None),  # no quota: the affinity
    ({"cpu.max": "50000 100000\n"}, 1),  # half a CPU still gets one thread
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),  # cgroup v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "garbage\n"}, None),
    ({}, None),
])
def test_the_usable_cpus_are_capped_by_the_cgroups_cpu_quota(shipped, tmp_path, files, expected):
    usable_cpus = served_function(shipped, "usable_cpus")
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    with mock.patch.object(os, "sched_getaffinity", return_value=set(range(8))):
        assert usable_cpus(str(tmp_path)) == (8 if expected is None else expected)


def test_telemetry_is_off_in_the_served_processes(served):
    environ = Path(f"/proc/{served['churn'].process.pid}/environ").read_bytes().split(b"\0")
    assert b"BENTOML_DO_NOT_TRACK=true" in environ


# --- refusals and archives -----------------------------------------------------------


ONE = """
task: classification
data: {sklearn: iris}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}}
evaluation:
  metrics: [accuracy]
  bootstrap: {resamples: 100}
"""


def test_a_model_that_differs_from_its_ledger_is_refused_with_exit_2(factory, run_cli):
    factory.model("iris", ONE)
    factory.git_init()
    no_ledger = run_cli("package", "iris")
    assert no_ledger.exit_code == 2
    assert no_ledger.stderr.startswith("error: no ledger for 'iris' at reports/iris/metrics.json")

    git(factory.root, "checkout", "-qb", "feature")
    spec = factory.root / "models/iris/model.yaml"
    spec.write_text(spec.read_text().replace("max_iter: 500", "max_iter: 400"))
    assert run_cli("pr", "--base", "main", "--dry-run").exit_code == 0
    spec.write_text(spec.read_text().replace("max_iter: 400", "max_iter: 300"))
    refused = run_cli("package", "iris")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(
        "error: iris: the working tree does not match the ledger (reports/iris/metrics.json): fingerprint ")
    assert "differs in: spec." in refused.stderr
    assert refused.stderr.rstrip().endswith("run `mlship pr` and commit reports/iris/")
    assert not (factory.root / "dist").exists() and not (factory.root / ".mlship" / "bentoml").exists()

    unknown = run_cli("package", "irs")
    assert unknown.exit_code == 2 and "no model 'irs' (did you mean 'iris'?)" in unknown.stderr


def test_a_model_whose_ledger_records_failed_gates_is_refused_unless_allowed(factory, run_cli):
    (factory.root / "README.md").write_text("models\n")
    factory.git_init()
    git(factory.root, "checkout", "-qb", "feature")
    factory.model("iris", ONE + "gates:\n  accuracy: {min: 0.999}\n")  # a new model, on the branch
    assert run_cli("pr", "--base", "main", "--dry-run").exit_code == 1  # the gate fails: the ledger says so
    refused = run_cli("package", "iris")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "error: iris: the ledger (reports/iris/metrics.json) records that this version failed its gates, so it was "
        "not approved; only approved models are shipped. Fix the model and merge a passing change, or pass "
        "--allow-failed to ship it anyway\n")
    assert not (factory.root / "dist").exists()
    allowed = run_cli("package", "iris", "--allow-failed")
    assert allowed.exit_code == 0, allowed.stderr
    assert packaged(allowed).values["model"].startswith("iris:")


@pytest.mark.parametrize("damage", ["flip a byte", "truncate"])
def test_a_corrupted_archive_fails_its_digest_and_cannot_be_imported(shipped, tmp_path, damage):
    archive = tmp_path / shipped.archive("churn").name
    shutil.copy2(shipped.archive("churn"), archive)
    shutil.copy2(packaging.digest_file(shipped.archive("churn")), tmp_path)
    content = bytearray(archive.read_bytes())
    if damage == "truncate":
        del content[len(content) // 2:]
    else:
        content[len(content) // 2] ^= 0xFF
    archive.write_bytes(bytes(content))

    with pytest.raises(packaging.ArchiveError, match="is corrupted or was replaced: its SHA-256 is "):
        packaging.verify_archive(archive)
    home = tmp_path / "bentoml"
    with pytest.raises(packaging.ArchiveError, match="corrupted"):
        packaging.import_archive(archive, home)
    # BentoML alone refuses it too, but unclearly: "Aborted!" for a truncated archive, a traceback
    # ending in LZMAError for a flipped byte. Hence the digest check first.
    raw = subprocess.run([sys.executable, "-m", "bentoml", "import", str(archive)], env=packaging.bentoml_env(home),
                         capture_output=True, text=True, timeout=120)
    assert raw.returncode != 0
    assert ("Aborted!" if damage == "truncate" else "LZMAError") in raw.stderr
    assert not list((home / "bentos").glob("*/*")), "nothing was imported"


def test_an_archive_without_its_digest_is_refused_and_a_good_one_imports_twice(shipped, tmp_path):
    archive = tmp_path / shipped.archive("churn").name
    shutil.copy2(shipped.archive("churn"), archive)
    with pytest.raises(packaging.ArchiveError, match=r"has no .*\.bento\.sha256 beside it"):
        packaging.verify_archive(archive)
    shutil.copy2(packaging.digest_file(shipped.archive("churn")), tmp_path)
    home = tmp_path / "bentoml"
    packaging.import_archive(archive, home)
    packaging.import_archive(archive, home)  # already there: kept
    assert (home / "bentos" / "churn" / shipped.churn.bento_version / "bento.yaml").is_file()
    assert stored_models(home, "churn") == [shipped.ledger("churn")["fingerprint"][:16]]


def test_bentoml_runs_with_telemetry_off_and_in_the_chosen_home(shipped, tmp_path, monkeypatch):
    """Even when the caller's environment leaves telemetry on; an explicit BENTOML_HOME is honoured."""
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "1")  # BentoML counts only "true"
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "elsewhere"))
    seen = []
    real_run = subprocess.run

    def recording_run(command, **kwargs):
        if command[0] == sys.executable:  # not git
            seen.append(kwargs["env"])
        return real_run(command, **kwargs)

    monkeypatch.setattr(packaging.subprocess, "run", recording_run)
    made = packaging.package(shipped.project, "churn")
    assert seen and all(env["BENTOML_DO_NOT_TRACK"] == "true" for env in seen)
    assert all(env["BENTOML_HOME"] == str(tmp_path / "elsewhere") for env in seen)
    assert made.store == tmp_path / "elsewhere" and made.model_saved and made.bento_built
    assert not made.exported and made.sha256 == shipped.churn.values["sha256"], "the same inputs: the same version"
    assert stored_models(tmp_path / "elsewhere", "churn") == [shipped.ledger("churn")["fingerprint"][:16]]


def test_two_cold_releases_at_once_make_one_version_and_both_succeed(tmp_path, monkeypatch):
    root = tmp_path / "project"
    root.mkdir()
    reviewed_churn(root)
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    command = [sys.executable, "-m", "mlship", "-C", str(root), "release", "churn"]
    both = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(process.wait(timeout=600), *process.communicate()) for process in both]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    assert git(root, "tag", "--list").split() == ["churn@v0.1.0"]
    assert sum("is already released as v0.1.0" in out for _, out, _ in outcomes) == 1
    assert stored_models(root / ".mlship" / "bentoml", "churn") != [] and not list((root / "dist").glob(".*partial*"))
