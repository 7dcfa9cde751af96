"""Does a cache hit cost more as the data grows? Cache-hit ``mlship train`` with CSVs of several sizes.

A cache hit must compute the model's fingerprint, which covers the digest of every data file.
Without a memo of the digests (mlship.train.digests) every hit reads the whole file (about
0.7 s per GB); with it, an unchanged file is only stat'ed. Target: the 1 GB hit within 0.3 s
of the 10 MB hit.

For each size, a throw-away project under benchmarks/.work/data-hits/ holds a generated CSV
of about that many MB (an ``id`` key, two numeric features, a 0/1 target, and a padding
column the model does not use, so the file is large but cheap to train on) and a
``sklearn.dummy.DummyClassifier`` model. One cold ``mlship train --no-cache`` fills the cache
and one untimed hit settles the memo (a file written less than 2 s before it is hashed is not
remembered); then the hits are timed.

Usage: python benchmarks/data_hits.py [--sizes 10,100,1000] [--repeat 5]
Prints the runs, then a Markdown results table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "data-hits"
PYTHON = Path(sys.executable)  # not resolved: the venv's python is a symlink
MLSHIP = PYTHON.parent / "mlship"
MB = 1_000_000
#: Characters of padding per row: with the other columns, about 1 kB a row.
PADDING = 960
CHUNK_ROWS = 5_000
TARGET_GAP_SECONDS = 0.3


def write_csv(path: Path, megabytes: int, seed: int = 42) -> int:
    """A CSV of about ``megabytes`` MB, written in chunks so memory stays small; returns its rows."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, written = 0, 0
    with open(path, "w", newline="") as stream:
        header = True
        while written < megabytes * MB:
            x0, x1 = rng.normal(0, 1, CHUNK_ROWS), rng.normal(5, 2, CHUNK_ROWS)
            chunk = pd.DataFrame({
                "id": np.arange(rows, rows + CHUNK_ROWS),
                "x0": x0, "x1": x1,
                "pad": "p" * PADDING,
                "target": (rng.random(CHUNK_ROWS) < 1 / (1 + np.exp(-x0))).astype(int),
            })
            chunk.to_csv(stream, index=False, header=header, float_format="%.5g")
            header = False
            rows += CHUNK_ROWS
            written = stream.tell()
    return rows


def write_project(folder: Path, megabytes: int) -> int:
    shutil.rmtree(folder, ignore_errors=True)
    model = folder / "models" / "bench"
    rows = write_csv(model / "data" / "train.csv", megabytes)
    spec = {
        "description": f"Cache-hit benchmark on a {megabytes} MB CSV (written by benchmarks/data_hits.py).",
        "task": "classification",
        "data": {"path": "data/train.csv", "target": "target", "features": ["x0", "x1"],
                 "split": {"test_size": 0.25, "seed": 1, "key": "id"}},
        "model": {"estimator": "sklearn.dummy.DummyClassifier", "params": {"strategy": "prior"}},
        "evaluation": {"metrics": ["accuracy"]},
    }
    (model / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return rows


def train(folder: Path, cold: bool) -> float:
    env = {**os.environ, "BENTOML_DO_NOT_TRACK": "true", "MLSHIP_CACHE_DIR": str(folder / "cache")}
    argv = [str(MLSHIP), "-C", str(folder), "train", "bench", "--json"] + (["--no-cache"] if cold else [])
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark command failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}{done.stderr}")
    if json.loads(done.stdout)[0]["cache_hit"] == cold:
        sys.exit(f"expected cache_hit={not cold} for {folder.name}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="CSV sizes in MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="timed cache hits per size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    medians = {}
    for size in sizes:
        folder = WORK / f"{size}mb"
        rows = write_project(folder, size)
        csv = folder / "models/bench/data/train.csv"
        print(f"{size} MB: {rows} rows, {csv.stat().st_size / MB:.0f} MB written; cold train ...", flush=True)
        cold = train(folder, cold=True)
        time.sleep(2.1)  # past the memo's racy window (see mlship.train.digests)
        train(folder, cold=False)
        hits = [train(folder, cold=False) for _ in range(args.repeat)]
        medians[size] = statistics.median(hits)
        print(f"  cold {cold:.2f} s; hits {', '.join(f'{h:.3f}' for h in hits)}", flush=True)
        shutil.rmtree(folder, ignore_errors=True)

    smallest = min(sizes)
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("\n| CSV | cache-hit `mlship train` (median) | gap to the smallest |")
    print("|---|---|---|")
    for size in sizes:
        print(f"| {size} MB | {medians[size]:.3f} s | {medians[size] - medians[smallest]:+.3f} s |")
    largest = max(sizes)
    gap = medians[largest] - medians[smallest]
    verdict = "met" if gap <= TARGET_GAP_SECONDS else "NOT met"
    print(f"\nTarget: the {largest} MB hit within {TARGET_GAP_SECONDS} s of the {smallest} MB hit: {verdict} "
          f"({gap:+.3f} s)")


if __name__ == "__main__":
    main()
