"""The project-local cache of trained models, one folder per fingerprint.

An entry is written in a staging folder and renamed into place in one step, so a
folder named by a fingerprint is always complete: an interrupted run leaves at most a
staging folder, which is never read and is swept away later. A manifest of file sizes,
written last, catches an entry damaged afterwards (a file truncated or removed by
hand): it reads as a miss and is trained again.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

MODEL_FILE = "model.pkl"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.parquet"
LINEAGE_FILE = "lineage.json"
#: The reference profile of the training data and the predictions, for drift checks.
PROFILE_FILE = "profile.json"
#: The uint64 digest of each training row (see mlship.train.split), in the order of the source table.
TRAIN_DIGESTS_FILE = "train_digests.npy"
#: The seed replicas (``evaluation.seeds``): the same model trained with shifted seeds, a pickled list.
REPLICAS_FILE = "replicas.pkl"
MANIFEST_FILE = "manifest.json"
ENTRY_FILES = (MODEL_FILE, METRICS_FILE, PREDICTIONS_FILE, LINEAGE_FILE, PROFILE_FILE, TRAIN_DIGESTS_FILE)
OPTIONAL_FILES = (REPLICAS_FILE,)

STAGING_PREFIX = ".staging-"
STALE_STAGING_SECONDS = 24 * 3600


class CacheEntry:
    def __init__(self, path: Path):
        self.path = path

    @property
    def fingerprint(self) -> str:
        return self.path.name

    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / METRICS_FILE).read_text())

    def lineage(self) -> dict[str, Any]:
        return json.loads((self.path / LINEAGE_FILE).read_text())

    def profile(self) -> dict[str, Any]:
        return json.loads((self.path / PROFILE_FILE).read_text())

    def load_model(self) -> Any:
        import cloudpickle

        with open(self.path / MODEL_FILE, "rb") as stream:
            return cloudpickle.load(stream)

    def replicas(self) -> list[Any]:
        """The seed replicas of the model (empty when it was trained with one seed)."""
        import cloudpickle

        if not (self.path / REPLICAS_FILE).is_file():
            return []
        with open(self.path / REPLICAS_FILE, "rb") as stream:
            return cloudpickle.load(stream)

    def predictions(self) -> Any:
        """The held-out predictions: ``row``, ``digest``, ``y_true``, ``y_pred`` and ``proba:<class>``."""
        import pandas as pd

        return pd.read_parquet(self.path / PREDICTIONS_FILE)

    def train_digests(self) -> Any:
        """The digest of each row the model trained on, a uint64 array (``lineage()["split"]`` says what it covers)."""
        import numpy as np

        return np.load(self.path / TRAIN_DIGESTS_FILE, allow_pickle=False)


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def get(self, fingerprint: str) -> CacheEntry | None:
        """The entry for ``fingerprint`` if it is whole, else None.

        A hit touches the entry's manifest: its modification time says when the entry was last
        used, so a CI job can save only the entries it used (see actions/model-cache).
        """
        path = self.root / fingerprint
        try:
            sizes = json.loads((path / MANIFEST_FILE).read_text())
            whole = set(ENTRY_FILES) <= set(sizes) and all((path / name).stat().st_size == size
                                                           for name, size in sizes.items())
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not whole:
            return None
        try:
            os.utime(path / MANIFEST_FILE)
        except OSError:  # a read-only cache still serves
            pass
        return CacheEntry(path)

    @contextmanager
    def new_entry(self, fingerprint: str) -> Iterator[Path]:
        """Yield an empty staging folder; when the block succeeds, it becomes the entry for ``fingerprint``.

        An existing entry for the same fingerprint (a forced retrain) is replaced.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_stale_staging()
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{fingerprint[:12]}-", dir=self.root))
        try:
            yield staging
            present = ENTRY_FILES + tuple(name for name in OPTIONAL_FILES if (staging / name).exists())
            sizes = {name: (staging / name).stat().st_size for name in present}
            (staging / MANIFEST_FILE).write_text(json.dumps(sizes))
            self._install(staging, self.root / fingerprint)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _install(self, staging: Path, final: Path) -> None:
        if final.exists():
            retired = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}retired-", dir=self.root))
            os.rename(final, retired / final.name)
            shutil.rmtree(retired, ignore_errors=True)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.is_dir():
                raise
            # Another run installed the same fingerprint first: its entry is equivalent.

    def _sweep_stale_staging(self) -> None:
        cutoff = time.time() - STALE_STAGING_SECONDS
        for folder in self.root.glob(f"{STAGING_PREFIX}*"):
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass
