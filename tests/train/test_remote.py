"""Data pinned by URL and SHA-256: downloaded once into the cache, verified, never used when it does not match.

The files are served by a local HTTP server on 127.0.0.1 that counts the requests it answers.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

from mlship.train.remote import DOWNLOADS_DIR

from test_cache import customers


class Served:
    """A folder served over HTTP on 127.0.0.1, with the paths requested."""

    def __init__(self, folder: Path):
        self.folder, self.requests = folder, []
        served = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                served.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def put(self, name: str, content: bytes) -> str:
        (self.folder / name).write_bytes(content)
        return hashlib.sha256(content).hexdigest()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    server = Served(folder)
    yield server
    server.server.shutdown()
    server.server.server_close()


def remote_spec(url: str, sha256: str, extra: str = "") -> str:
    return f"""\
task: classification
data:
  url: {url}
  sha256: {sha256}
  target: churned
{extra}model:
  estimator: sklearn.linear_model.LogisticRegression
"""


def train(run_cli) -> dict:
    result = run_cli("train", "churn", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0]


def test_a_pinned_url_is_downloaded_once_into_the_cache_and_trains(factory, run_cli, served):
    content = customers().to_csv(index=False).encode()
    digest = served.put("churn.csv", content)
    factory.model("churn", remote_spec(served.url("churn.csv"), digest))

    first = train(run_cli)
    second = train(run_cli)
    (factory.project.cache_dir / first["fingerprint"]).rename(factory.project.cache_dir / "moved-away")
    third = train(run_cli)  # trains again from the downloaded copy

    assert served.requests == ["/churn.csv"]
    assert not first["cache_hit"] and second["cache_hit"] and not third["cache_hit"]
    assert third["fingerprint"] == first["fingerprint"]
    copy = factory.project.cache_dir / DOWNLOADS_DIR / f"{digest}.csv"
    assert copy.read_bytes() == content
    lineage = json.loads((factory.project.cache_dir / first["fingerprint"] / "lineage.json").read_text())
    assert lineage["data"]["digests"] == {served.url("churn.csv"): digest}


def test_a_file_that_does_not_match_its_sha256_exits_2_and_is_not_kept(factory, run_cli, served):
    served.put("churn.csv", customers().to_csv(index=False).encode())
    pinned = hashlib.sha256(b"the file as it was").hexdigest()
    factory.model("churn", remote_spec(served.url("churn.csv"), pinned))

    result = run_cli("train", "churn")

    assert result.exit_code == 2, result.output
    actual = hashlib.sha256((served.folder / "churn.csv").read_bytes()).hexdigest()
    assert result.stderr.startswith("error: models/churn/model.yaml:4: data.sha256: ")
    assert f"the file at {served.url('churn.csv')} has SHA-256 {actual}, but sha256 pins {pinned}" in result.stderr
    assert "Traceback" not in result.output
    downloads = factory.project.cache_dir / DOWNLOADS_DIR
    assert not downloads.exists() or list(downloads.iterdir()) == []


def test_a_damaged_copy_in_the_cache_is_fetched_again(factory, run_cli, served):
    digest = served.put("churn.csv", customers().to_csv(index=False).encode())
    factory.model("churn", remote_spec(served.url("churn.csv"), digest))
    train(run_cli)
    copy = factory.project.cache_dir / DOWNLOADS_DIR / f"{digest}.csv"
    copy.write_bytes(customers(seed=9).to_csv(index=False).encode())

    result = run_cli("train", "churn", "--no-cache")

    assert result.exit_code == 0, result.output
    assert served.requests == ["/churn.csv", "/churn.csv"]
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest


def test_an_unreachable_url_exits_2_naming_it(factory, run_cli, served):
    digest = hashlib.sha256(b"x").hexdigest()
    factory.model("churn", remote_spec(served.url("missing.csv"), digest))

    result = run_cli("train", "churn")

    assert result.exit_code == 2, result.output
    assert f"cannot download {served.url('missing.csv')}: 404" in result.stderr
    assert "data.url" in result.stderr


def test_a_held_out_file_can_be_pinned_by_url_too(factory, run_cli, served):
    digest = served.put("train.csv", customers().to_csv(index=False).encode())
    test_digest = served.put("test.csv", customers(80, seed=5).to_csv(index=False).encode())
    factory.model("churn", remote_spec(served.url("train.csv"), digest,
                                       f"  test_url: {served.url('test.csv')}\n  test_sha256: {test_digest}\n"))

    first = train(run_cli)

    assert first["rows"] == {"train": 300, "test": 80}
    assert sorted(served.requests) == ["/test.csv", "/train.csv"]


@pytest.mark.parametrize("data, message", [
    ("  url: http://127.0.0.1:1/churn.csv\n", "data.url: a downloaded file is never trusted without its digest: add sha256"),
    ("  url: ftp://example.invalid/churn.csv\n  sha256: " + "a" * 64 + "\n", "is not an http:// or https:// URL"),
    ("  url: http://127.0.0.1:1/churn.json\n  sha256: " + "a" * 64 + "\n", "does not name a .csv or .parquet file"),
    ("  url: http://127.0.0.1:1/churn.csv\n  sha256: ABC\n", "data.sha256"),
    ("  path: data/train.csv\n  url: http://127.0.0.1:1/churn.csv\n  sha256: " + "a" * 64 + "\n",
     "give exactly one data source"),
])
def test_a_url_without_a_valid_digest_or_with_another_source_is_refused_at_validation(factory, run_cli, data, message):
    factory.model("churn", f"task: classification\ndata:\n{data}  target: churned\n"
                           "model:\n  estimator: sklearn.linear_model.LogisticRegression\n")

    result = run_cli("validate", "churn")

    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_pull_request_that_pins_new_data_compares_with_the_merge_bases_file_and_records_both_digests(
        factory, run_cli, served):
    from repo_helpers import branch_off, commit_all

    old = served.put("churn-1.csv", customers(400).to_csv(index=False).encode())
    new = served.put("churn-2.csv", customers(500).to_csv(index=False).encode())
    factory.model("churn", remote_spec(served.url("churn-1.csv"), old))
    root = branch_off(factory)
    factory.model("churn", remote_spec(served.url("churn-2.csv"), new))
    commit_all(root, "newer data")

    result = run_cli("pr", "--base", "main", "--dry-run", "--json")

    assert result.exit_code in (0, 1), result.output
    (model,) = json.loads(result.stdout)["models"]
    assert model["baseline"] is not None, "the baseline trained on the merge-base's pinned file"
    assert sorted(served.requests) == ["/churn-1.csv", "/churn-2.csv"]
    ledger = json.loads((root / "reports/churn/metrics.json").read_text())
    assert ledger["data"]["sources"] == [{"role": "path", "kind": "url", "url": served.url("churn-2.csv"),
                                          "sha256": new}]
    card = (root / "reports/churn/model_card.md").read_text()
    assert f"- Data: `{served.url('churn-2.csv')}`, SHA-256 `{new}`." in card
