"""The fingerprint cache: hits train nothing, real changes miss, interruptions never leave a valid-looking entry.

Training is proved to have happened (or not) by an entrypoint that appends a line to
a log file each time ``build`` is called, and by the entry folder's inode and times.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from mlship import api
from mlship.api import load
from mlship.project import Project
from mlship.train import fingerprint as fingerprint_module
from mlship.train.cache import (ENTRY_FILES, LINEAGE_FILE, MANIFEST_FILE, METRICS_FILE, MODEL_FILE, STAGING_PREFIX,
                                TRAIN_DIGESTS_FILE, Cache)
from mlship.train.digests import MEMO_FILE
from mlship.train.fingerprint import fingerprint

# --- helpers -----------------------------------------------------------------------


def customers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.normal(50, 15, n), 2),
        "plan": rng.choice(["basic", "standard", "premium"], n),
    })
    score = (frame["income"] - 50) / 10 + 1.5 * (frame["plan"] == "premium") - 0.5
    frame["churned"] = np.where(rng.random(n) < 1 / (1 + np.exp(-score)), "yes", "no")
    return frame


SPEC = """\
description: Predicts which customers will cancel.
task: classification
data:
  path: data/train.csv
  target: churned
  split: {test_size: 0.25, seed: 3}
model:
  entrypoint: train.py:build
  params: {C: 1.0}
gates:
  accuracy: {min: 0.5}
"""

TRAIN_PY = """\
from pathlib import Path

from sklearn.linear_model import LogisticRegression


def build(C: float = 1.0):
    with open(Path(__file__).with_name("build_calls.log"), "a") as log:
        log.write("build\\n")
    return LogisticRegression(C=C)
"""


def churn_model(factory, spec: str = SPEC, code: str = TRAIN_PY):
    return factory.model("churn", spec, {"data/train.csv": customers().to_csv(index=False).encode(),
                                         "train.py": code})


def build_calls(factory) -> int:
    log = factory.root / "models/churn/build_calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def cache_listing(factory) -> list[str]:
    """The entries and staging folders in the cache (not the memo of data digests beside them)."""
    return sorted(p.name for p in factory.project.cache_dir.iterdir() if p.name != MEMO_FILE)


def stamp(path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, info.st_ctime_ns


def edit(factory, relative: str, old: str, new: str) -> None:
    path = factory.root / "models/churn" / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# --- hits ------------------------------------------------------------------------------


def test_second_train_with_nothing_changed_is_a_cache_hit_that_trains_nothing(factory, run_cli):
    churn_model(factory)

    first = run_cli("train", "churn")
    assert first.exit_code == 0, first.output
    assert "trained in" in first.stdout
    result = api.train("churn")
    entry = Cache(factory.project.cache_dir).get(result.fingerprint)
    before = stamp(entry.path), [stamp(entry.path / name) for name in ENTRY_FILES], entry.lineage()["created_at"]
    time.sleep(0.05)

    second = run_cli("train", "churn")
    third = api.train("churn")

    assert second.exit_code == 0, second.output
    assert f"✅ churn: passed (from cache, fingerprint {result.fingerprint[:12]})" in second.stdout
    assert result.cache_hit and third.cache_hit
    assert third.metrics == result.metrics and third.entry == result.entry
    after = stamp(entry.path), [stamp(entry.path / name) for name in ENTRY_FILES], entry.lineage()["created_at"]
    assert after == before  # the same folder and files, untouched
    assert build_calls(factory) == 1  # three runs, one build
    assert cache_listing(factory) == [result.fingerprint]


def test_cache_hit_imports_no_machine_learning_library(factory):
    churn_model(factory)
    trained = api.train("churn")
    probe = ("import json, sys\nfrom mlship import api\nresult = api.train('churn')\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('sklearn', 'numpy', 'pandas', 'scipy', 'pyarrow', 'cloudpickle'))\n"
             "print(json.dumps({'hit': result.cache_hit, 'fingerprint': result.fingerprint, 'heavy': heavy}))\n")

    done = subprocess.run([sys.executable, "-c", probe], cwd=factory.root, capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == {"hit": True, "fingerprint": trained.fingerprint, "heavy": []}
    assert build_calls(factory) == 1


@pytest.mark.parametrize(
    ("old", "new", "exit_code"),
    [
        pytest.param("Predicts which customers will cancel.", "Flags customers likely to cancel next month.", 0,
                     id="description"),
        pytest.param("task: classification", "version: 1.2.0\ntask: classification", 0, id="version-note"),
        pytest.param("accuracy: {min: 0.5}", "accuracy: {min: 0.99}", 1, id="stricter-gate-now-fails"),
        pytest.param("gates:\n  accuracy: {min: 0.5}\n", "", 0, id="gate-removed"),
        pytest.param("accuracy: {min: 0.5}", "accuracy: {min: 0.5}\n  f1: {min: 0.999}", 1,
                     id="gate-added-on-a-computed-metric"),
    ],
)
def test_changing_only_gates_or_notes_is_a_hit_and_the_verdict_follows_the_new_gates(
        factory, run_cli, old, new, exit_code):
    churn_model(factory)
    first = api.train("churn")
    assert first.passed

    edit(factory, "model.yaml", old, new)
    result = run_cli("train", "churn")
    again = api.train("churn")

    assert result.exit_code == exit_code, result.output
    assert "(from cache, fingerprint" in result.stdout
    assert again.cache_hit and again.fingerprint == first.fingerprint
    assert again.passed is (exit_code == 0)
    if exit_code:
        assert "❌ churn: FAILED its gates" in result.stdout
        assert "1 of 1 failed their gates: churn" in result.stdout
    assert build_calls(factory) == 1


# --- misses ----------------------------------------------------------------------------


def flip_first_data_byte(factory) -> None:
    path = factory.root / "models/churn/data/train.csv"
    content = bytearray(path.read_bytes())
    position = content.index(b"\n") + 1  # the first digit of the first row's age
    content[position] = ord("9") if content[position] != ord("9") else ord("8")
    path.write_bytes(bytes(content))


@pytest.mark.parametrize(
    ("change", "part"),
    [
        pytest.param(flip_first_data_byte, "data", id="one-data-byte"),
        pytest.param(lambda f: edit(f, "model.yaml", "C: 1.0", "C: 0.25"), "spec", id="param"),
        pytest.param(lambda f: edit(f, "model.yaml", "seed: 3", "seed: 4"), "spec", id="split-seed"),
        pytest.param(lambda f: edit(f, "model.yaml", "seed: 3", "seed: 3, key: age"), "spec", id="split-key"),
        pytest.param(lambda f: edit(f, "train.py", "LogisticRegression(C=C)", "LogisticRegression(C=C, tol=1e-6)"),
                     "code", id="entrypoint-code"),
        pytest.param(lambda f: (f.root / "models/churn/helpers.py").write_text("SCALE = 2\n"),
                     "code", id="new-python-file-beside-the-entrypoint"),
    ],
)
def test_change_that_can_alter_the_model_is_a_miss_and_retrains(factory, change, part):
    churn_model(factory)
    first = api.train("churn")

    change(factory)
    second = api.train("churn")

    assert not second.cache_hit
    assert second.fingerprint != first.fingerprint
    assert build_calls(factory) == 2
    cache = Cache(factory.project.cache_dir)
    assert cache_listing(factory) == sorted([first.fingerprint, second.fingerprint])
    old_parts = cache.get(first.fingerprint).lineage()["fingerprint_parts"]
    new_parts = cache.get(second.fingerprint).lineage()["fingerprint_parts"]
    assert [name for name in old_parts if old_parts[name] != new_parts[name]] == [part]


def test_reverting_a_change_hits_the_earlier_entry(factory):
    churn_model(factory)
    first = api.train("churn")
    edit(factory, "model.yaml", "C: 1.0", "C: 0.25")
    api.train("churn")

    edit(factory, "model.yaml", "C: 0.25", "C: 1.0")
    reverted = api.train("churn")

    assert reverted.cache_hit and reverted.fingerprint == first.fingerprint
    assert build_calls(factory) == 2


def test_gating_a_metric_that_was_not_computed_retrains_to_compute_it(factory):
    churn_model(factory)
    first = api.train("churn")
    assert "log_loss" not in first.metrics

    edit(factory, "model.yaml", "accuracy: {min: 0.5}", "accuracy: {min: 0.5}\n  log_loss: {max: 5}")
    second = api.train("churn")

    assert not second.cache_hit and second.fingerprint != first.fingerprint
    assert second.metrics["log_loss"] > 0 and second.passed
    assert build_calls(factory) == 2


def test_an_entry_of_an_older_format_is_not_reused(factory, monkeypatch):
    """Entries of an older format (before the hash split, before dates became numbers) must retrain."""
    churn_model(factory)
    with monkeypatch.context() as patch:
        patch.setattr(fingerprint_module, "ENTRY_FORMAT", fingerprint_module.ENTRY_FORMAT - 1)
        older = api.train("churn")

    current = api.train("churn")

    assert not current.cache_hit and current.fingerprint != older.fingerprint
    assert build_calls(factory) == 2
    cache = Cache(factory.project.cache_dir)
    old_parts = cache.get(older.fingerprint).lineage()["fingerprint_parts"]
    new_parts = cache.get(current.fingerprint).lineage()["fingerprint_parts"]
    assert [name for name in new_parts if old_parts[name] != new_parts[name]] == ["format"]
    assert new_parts["format"] == 3


def test_no_cache_retrains_and_replaces_the_entry(factory, run_cli):
    churn_model(factory)
    first = api.train("churn")
    old_folder, old_model = stamp(first.entry), stamp(first.entry / MODEL_FILE)

    result = run_cli("train", "churn", "--no-cache")

    assert result.exit_code == 0, result.output
    assert "(trained in " in result.stdout
    assert build_calls(factory) == 2
    entry = Cache(factory.project.cache_dir).get(first.fingerprint)
    assert entry is not None and entry.path == first.entry
    assert stamp(entry.path)[0] != old_folder[0]  # a new folder took the old one's place
    assert stamp(entry.path / MODEL_FILE) != old_model
    assert cache_listing(factory) == [first.fingerprint]  # no leftover staging or retired folders
    assert api.train("churn").metrics == first.metrics


# --- interruptions and damage ------------------------------------------------------------

DIES_WHILE_PICKLED = """\
import os
import signal

from sklearn.linear_model import LogisticRegression


class DiesWhilePickled(LogisticRegression):
    \"\"\"Kills its own process as it is pickled, when asked to: a crash midway through writing the cache.\"\"\"

    def __reduce_ex__(self, protocol):
        if os.environ.get("MLSHIP_TEST_DIE_WHILE_PICKLED"):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__reduce_ex__(protocol)


def build(C: float = 1.0):
    return DiesWhilePickled(C=C)
"""


def test_a_run_killed_while_writing_the_cache_leaves_no_entry_that_reads_as_valid(factory, run_cli):
    churn_model(factory, code=DIES_WHILE_PICKLED)
    expected = fingerprint(load("churn", factory.project)).value
    cache = Cache(factory.project.cache_dir)

    killed = subprocess.run([sys.executable, "-m", "mlship", "train", "churn"], cwd=factory.root,
                            env={**os.environ, "MLSHIP_TEST_DIE_WHILE_PICKLED": "1"},
                            capture_output=True, text=True, timeout=120)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert cache.get(expected) is None
    [staging] = cache_listing(factory)
    assert staging.startswith(f"{STAGING_PREFIX}{expected[:12]}-")
    leftovers = {p.name for p in (cache.root / staging).iterdir()}
    assert MODEL_FILE in leftovers and METRICS_FILE not in leftovers  # it died inside the pickling

    rerun = run_cli("train", "churn")

    assert rerun.exit_code == 0, rerun.output
    assert "(trained in " in rerun.stdout
    entry = cache.get(expected)
    assert entry is not None
    assert set(p.name for p in entry.path.iterdir()) == {*ENTRY_FILES, MANIFEST_FILE}
    model = entry.load_model()
    assert type(model.named_steps["model"]).__name__ == "DiesWhilePickled"
    assert set(model.predict(customers(5, seed=9).drop(columns="churned"))) <= {"no", "yes"}
    assert api.train("churn").cache_hit

    # The abandoned staging folder is never read; once a day old, the next write sweeps it away.
    day_old = time.time() - 25 * 3600
    os.utime(cache.root / staging, (day_old, day_old))
    assert run_cli("train", "churn", "--no-cache").exit_code == 0
    assert cache_listing(factory) == [expected]


@pytest.mark.parametrize("missing", ENTRY_FILES)
def test_an_entry_with_a_file_missing_is_a_miss_and_is_retrained(factory, missing):
    churn_model(factory)
    first = api.train("churn")
    (first.entry / missing).unlink()

    assert Cache(factory.project.cache_dir).get(first.fingerprint) is None
    second = api.train("churn")

    assert not second.cache_hit and second.fingerprint == first.fingerprint
    assert (second.entry / missing).is_file()
    assert second.metrics == first.metrics
    assert build_calls(factory) == 2
    assert api.train("churn").cache_hit


@pytest.mark.parametrize("damaged", [METRICS_FILE, LINEAGE_FILE, MODEL_FILE, TRAIN_DIGESTS_FILE])
def test_an_entry_with_a_truncated_file_is_a_miss_and_is_retrained(factory, damaged):
    churn_model(factory)
    first = api.train("churn")
    path = first.entry / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    second = api.train("churn")

    assert not second.cache_hit
    Cache(factory.project.cache_dir).get(second.fingerprint).load_model()


# --- where the cache lives ----------------------------------------------------------------


@pytest.mark.parametrize("setting", [None, "absolute", "relative"])
def test_cache_location_follows_MLSHIP_CACHE_DIR(factory, monkeypatch, tmp_path, setting):
    expected = {None: factory.root / ".mlship" / "cache",
                "absolute": tmp_path / "shared" / "cache",
                "relative": factory.root / "ci-cache"}[setting]
    if setting == "absolute":
        monkeypatch.setenv("MLSHIP_CACHE_DIR", str(expected))
    elif setting == "relative":
        monkeypatch.setenv("MLSHIP_CACHE_DIR", "ci-cache")
    churn_model(factory)

    result = api.train("churn")

    assert result.entry == expected / result.fingerprint
    assert sorted(p.name for p in result.entry.iterdir()) == sorted([*ENTRY_FILES, MANIFEST_FILE])
    assert (factory.root / ".mlship").exists() is (setting is None)


def test_projects_sharing_MLSHIP_CACHE_DIR_share_entries(factory, monkeypatch, tmp_path):
    monkeypatch.setenv("MLSHIP_CACHE_DIR", str(tmp_path / "shared"))
    churn_model(factory)
    first = api.train("churn")
    clone = tmp_path / "clone"
    shutil.copytree(factory.root / "models", clone / "models", ignore=shutil.ignore_patterns("build_calls.log"))

    second = api.train("churn", Project(clone))

    assert second.cache_hit and second.fingerprint == first.fingerprint
    assert second.entry == first.entry
    assert not (clone / "models/churn/build_calls.log").exists()  # build was never called for the clone
    assert build_calls(factory) == 1
