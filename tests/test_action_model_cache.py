"""The model-cache action's save keeps only what the job used or trained, so saves do not grow without bound.

The script runs as the action runs it, on a cache folder as actions/cache/restore leaves it
(entries restored with their old modification times); mlship's own cache marks what it reads.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from conftest import REPO_ROOT
from mlship.train.cache import ENTRY_FILES, Cache

SCRIPT = REPO_ROOT / "actions" / "model-cache" / "model-cache.sh"


def run(mode: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "MLSHIP_MODE": mode, "MLSHIP_MODEL": "churn",
                               "MLSHIP_CACHE": str(cache)})


def entry(cache: Cache, fingerprint: str) -> None:
    with cache.new_entry(fingerprint) as staging:
        for name in ENTRY_FILES:
            (staging / name).write_text(name)


def test_save_keeps_the_entries_this_job_used_or_trained_and_drops_the_rest(tmp_path):
    folder = tmp_path / "mlship-cache"
    cache = Cache(folder)
    for fingerprint in ("baseline", "older-iteration", "other-branch"):  # restored from earlier runs
        entry(cache, fingerprint)
        old = time.time() - 3600
        os.utime(folder / fingerprint / "manifest.json", (old, old))

    assert run("restore", folder).returncode == 0
    time.sleep(0.05)
    assert cache.get("baseline") is not None  # the baseline, read from the cache
    entry(cache, "candidate")  # trained in this job

    saved = run("save", folder)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert saved.stdout == "saving the 2 cache entries this job used or trained\n"
    assert sorted(p.name for p in folder.iterdir()) == ["baseline", "candidate"]


def test_save_without_restore_or_an_unknown_mode_fails_naming_the_fix(tmp_path):
    unrestored = run("save", tmp_path / "mlship-cache")
    assert unrestored.returncode == 2 and "save runs after restore in the same job" in unrestored.stdout
    unknown = run("keep", tmp_path / "mlship-cache")
    assert unknown.returncode == 2 and 'mode is "keep": use restore or save' in unknown.stdout
