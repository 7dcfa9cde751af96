"""Drift detection: mlship against Evidently's DataDriftPreset, on the same generated data.

Writes a reference table and one current table per scenario (Parquet, in
benchmarks/.work/drift/), then runs each tool in its own subprocess on the same files:
mlship in the project's venv, Evidently in a venv of its own (.cache/bench-evidently/,
created on first use), since Evidently's pins clash with the project's. Each worker
reads the tables first and times only the drift computation. Prints the Markdown table
recorded in benchmarks/README.md.

    .venv/bin/python benchmarks/drift.py                 # 1,000,000 rows x 20 features
    .venv/bin/python benchmarks/drift.py --rows 100000   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "drift"
EVIDENTLY_VENV = REPO / ".cache" / "bench-evidently"
#: Evidently 0.7 imports a pandas internal that pandas 3 removed, hence the pandas pin.
EVIDENTLY_PINS = ["evidently==0.7.23", "pandas==2.3.3", "pyarrow==26.0.1"]
SEED = 42

NUMERIC = [f"num_{i:02d}" for i in range(14)]
CATEGORICAL = [f"cat_{i:02d}" for i in range(6)]
LEVELS = [2, 3, 5, 8, 12, 30]

#: What each scenario changes in the current data; "same" changes nothing.
SCENARIOS = {
    "same": "nothing: a fresh sample of the reference's distribution",
    "planted": "num_00 mean +0.5 sd; cat_02 moves 15% of the rows from its commonest level to its rarest",
    "subtle": "num_02 (log-normal) scaled by 1.1; cat_05 gets a new level on 5% of the rows",
}


def generate(rows: int, seed: int, scenario: str = "same") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {
        "num_00": rng.normal(0, 1, rows),
        "num_01": rng.normal(50, 10, rows),
        "num_02": rng.lognormal(0, 1, rows),
        "num_03": rng.lognormal(3, 0.5, rows),
        "num_04": rng.uniform(0, 100, rows),
        "num_05": rng.exponential(2, rows),
        "num_06": rng.gamma(2, 2, rows),
        "num_07": rng.beta(2, 5, rows),
        "num_08": rng.poisson(3, rows).astype(float),
        "num_09": rng.integers(18, 81, rows).astype(float),
        "num_10": np.where(rng.random(rows) < 0.3, rng.normal(-2, 0.5, rows), rng.normal(2, 1, rows)),
        "num_11": rng.standard_t(5, rows),
        "num_12": rng.poisson(20, rows).astype(float),
        "num_13": np.round(rng.normal(100, 15, rows), 1),
    }
    for name, levels in zip(CATEGORICAL, LEVELS):
        weights = np.arange(levels, 0, -1, dtype=float)
        columns[name] = rng.choice([f"{name[-2:]}-{i}" for i in range(levels)], rows, p=weights / weights.sum())
    frame = pd.DataFrame(columns)
    frame.loc[rng.random(rows) < 0.01, "num_01"] = np.nan
    frame.loc[rng.random(rows) < 0.01, "cat_03"] = None
    if scenario == "planted":
        frame["num_00"] += 0.5
        commonest = frame["cat_02"] == "02-0"
        frame.loc[commonest & (rng.random(rows) < 0.15 / commonest.mean()), "cat_02"] = "02-4"
    elif scenario == "subtle":
        frame["num_02"] *= 1.1
        frame.loc[rng.random(rows) < 0.05, "cat_05"] = "05-new"
    return frame


MLSHIP_WORKER = """
import json, sys, time
import pandas as pd
import scipy.spatial.distance, scipy.stats  # imported before the clock starts, as Evidently's are
from mlship.monitor.current import Current
from mlship.monitor.drift import detect
from mlship.spec import Monitoring
from mlship.train.profile import profile_frame

reference, current, categorical = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2]), json.loads(sys.argv[3])
started = time.perf_counter()
profile = {"model": "bench", "rows": len(reference), "features": profile_frame(reference, categorical),
           "predictions": {}}
profiled = time.perf_counter()
result = detect(profile, Current(current, "current"), Monitoring())
done = time.perf_counter()
print(json.dumps({"profile_seconds": profiled - started, "detect_seconds": done - profiled,
                  "profile_bytes": len(json.dumps(profile)), "drifted": result.drifted_features,
                  "dataset_drift": result.dataset_drift,
                  "columns": {c.name: {"distance": c.distance, "psi": c.psi, "p": c.adjusted_p} for c in result.features}}))
"""

EVIDENTLY_WORKER = """
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

reference, current, categorical = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2]), json.loads(sys.argv[3])
definition = DataDefinition(numerical_columns=[c for c in reference.columns if c not in categorical],
                            categorical_columns=categorical)
started = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                            Dataset.from_pandas(reference, data_definition=definition))
seconds = time.perf_counter() - started
columns, share = {}, None
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config["type"].endswith("ValueDrift"):
        # Every default method here is a distance (drift when at or above the threshold).
        columns[config["column"]] = {"method": config["method"], "value": metric["value"],
                                     "drifted": bool(metric["value"] >= config["threshold"])}
    elif config["type"].endswith("DriftedColumnsCount"):
        share = metric["value"]["share"]
print(json.dumps({"seconds": seconds, "drifted": sorted(c for c, v in columns.items() if v["drifted"]),
                  "dataset_drift": bool(share >= 0.5), "columns": columns}))
"""


def ensure_evidently() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    check = "import importlib.metadata as m; print(m.version('evidently'), m.version('pandas'))"
    wanted = " ".join(pin.split("==")[1] for pin in EVIDENTLY_PINS[:2])
    if python.exists():
        found = subprocess.run([str(python), "-c", check], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == wanted:
            return python
    print(f"setting up {EVIDENTLY_VENV.relative_to(REPO)} with {', '.join(EVIDENTLY_PINS)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_PINS], check=True)
    return python


def run_worker(python: Path, code: str, reference: Path, current: Path) -> dict:
    started = time.perf_counter()
    completed = subprocess.run([str(python), "-c", textwrap.dedent(code), str(reference), str(current),
                                json.dumps(CATEGORICAL)], capture_output=True, text=True,
                               env={**os.environ, "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1"})
    if completed.returncode:
        sys.exit(f"worker failed:\n{completed.stderr}")
    return {**json.loads(completed.stdout.strip().splitlines()[-1]), "wall_seconds": time.perf_counter() - started}


def write_tables(rows: int) -> dict[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    paths = {"reference": WORK / f"reference-{rows}.parquet"}
    generate(rows, SEED).to_parquet(paths["reference"])
    for index, scenario in enumerate(SCENARIOS, 1):
        paths[scenario] = WORK / f"current-{scenario}-{rows}.parquet"
        generate(rows, SEED + index, scenario).to_parquet(paths[scenario])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the reference and of each current table")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool per scenario (the median counts)")
    args = parser.parse_args()

    evidently = ensure_evidently()
    load = os.getloadavg()[0]
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {load:.2f}{' (busy machine)' if load > 0.5 else ''}", flush=True)
    started = time.perf_counter()
    paths = write_tables(args.rows)
    print(f"wrote {len(paths)} tables of {args.rows:,} rows x {len(NUMERIC) + len(CATEGORICAL)} features "
          f"in {time.perf_counter() - started:.0f} s", flush=True)

    rows = []
    for scenario in SCENARIOS:
        ours, theirs = [], []
        for _ in range(args.repeat):  # in turns, so a slow spell of the machine hits both
            ours.append(run_worker(Path(sys.executable), MLSHIP_WORKER, paths["reference"], paths[scenario]))
            theirs.append(run_worker(evidently, EVIDENTLY_WORKER, paths["reference"], paths[scenario]))
            print(f"  {scenario}: mlship detect {ours[-1]['detect_seconds']:.2f} s + profile "
                  f"{ours[-1]['profile_seconds']:.2f} s; Evidently {theirs[-1]['seconds']:.2f} s", flush=True)
        detect = statistics.median(r["detect_seconds"] for r in ours)
        total = statistics.median(r["detect_seconds"] + r["profile_seconds"] for r in ours)
        evidently_seconds = statistics.median(r["seconds"] for r in theirs)
        rows.append({"scenario": scenario, "detect": detect, "total": total, "evidently": evidently_seconds,
                     "ours": ours[0], "theirs": theirs[0]})

    print("\n| Scenario | mlship: check against the saved profile | mlship: profile + check | Evidently "
          "`DataDriftPreset` | Ratio (check) | Ratio (profile + check) | Drifted (mlship) | Drifted (Evidently) | Agree |")
    print("|---|---:|---:|---:|---:|---:|---|---|---|")
    for row in rows:
        mine, theirs = row["ours"]["drifted"], row["theirs"]["drifted"]
        print(f"| {row['scenario']} | {row['detect']:.2f} s | {row['total']:.2f} s | {row['evidently']:.2f} s | "
              f"{row['detect'] / row['evidently']:.3f} | {row['total'] / row['evidently']:.3f} | "
              f"{', '.join(mine) or 'none'} | {', '.join(theirs) or 'none'} | {'yes' if set(mine) == set(theirs) else 'no'} |")
    print(f"\nprofile size: {rows[0]['ours']['profile_bytes']:,} bytes (compact JSON)")
    for row in rows:
        if row["scenario"] == "same":
            continue
        for name in sorted(set(row["ours"]["drifted"]) | set(row["theirs"]["drifted"])):
            ours, theirs = row["ours"]["columns"][name], row["theirs"]["columns"][name]
            print(f"{row['scenario']} {name}: mlship distance {ours['distance']:.4f}, PSI {ours['psi']:.4f}; "
                  f"Evidently {theirs['method']} {theirs['value']:.4f}")


if __name__ == "__main__":
    main()
