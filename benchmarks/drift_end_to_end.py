"""`mlship drift` end to end against Evidently's DataDriftPreset end to end, on run.py's 200,000 x 20 table.

The project of run.py (benchmarks/.work/project: the `bench` HistGradientBoosting model
on 200,000 rows x 20 features) is written and trained once, outside the timing. The
current table is a fresh draw of the same generator (seed 43), as Parquet. Each side is
one process timed from start to exit, with its peak resident memory (wait4's ru_maxrss):

- mlship: `mlship drift bench --current current.parquet --json` (Python start, the cache
  hit, reading, scoring the model once, the tests, the report);
- Evidently 0.7.23 in its own venv (benchmarks/drift.py sets it up): read the training CSV
  and the current table, run `Report([DataDriftPreset()])` (no model: it tests the
  features only, so mlship does more work here).

The two take turns, run after run; the ratio is of the medians. Wall times need an idle
machine: the script prints the load average before it starts.

    .venv/bin/python benchmarks/drift_end_to_end.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (run.py's project, table and environment)
from drift import ensure_evidently  # noqa: E402

CURRENT = run.WORK / "drift-current.parquet"
OUT = run.WORK / "drift-out"

EVIDENTLY = """
import sys
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

reference, current = pd.read_csv(sys.argv[1]), pd.read_parquet(sys.argv[2])
categorical = [c for c in reference.columns if c.startswith("cat_")]
features = [c for c in reference.columns if c != sys.argv[3]]
definition = DataDefinition(numerical_columns=[c for c in features if c not in categorical],
                            categorical_columns=categorical)
Report([DataDriftPreset()]).run(Dataset.from_pandas(current[features], data_definition=definition),
                                Dataset.from_pandas(reference[features], data_definition=definition))
"""


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one process; exit codes 0 and 1 (drift) both count as done."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=run.subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"failed ({code}): {' '.join(argv)}\n{process.stderr.read().decode() if process.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side (the medians count)")
    args = parser.parse_args()
    evidently = ensure_evidently()
    run.log(run.machine())
    run.log_load()
    run.write_project()
    run.run_timed([str(run.MLSHIP), "-C", str(run.PROJECT), "train", run.MODEL])  # once, outside the timing
    run.generate_table(seed=run.SEED + 1).to_parquet(CURRENT)
    ours = [str(run.MLSHIP), "-C", str(run.PROJECT), "drift", run.MODEL, "--current", str(CURRENT), "--json",
            "--out", str(OUT)]
    theirs = [str(evidently), "-c", EVIDENTLY, str(run.CSV), str(CURRENT), run.TARGET]
    mine, other = [], []
    for _ in range(args.repeat):
        mine.append(timed(ours))
        other.append(timed(theirs))
        run.log(f"  mlship {mine[-1][0]:.2f} s, {mine[-1][1]:.0f} MiB; Evidently {other[-1][0]:.2f} s, "
                f"{other[-1][1]:.0f} MiB")
    ours_s, theirs_s = statistics.median(s for s, _ in mine), statistics.median(s for s, _ in other)
    print("\n| Side | median seconds | peak memory (MiB, median) |\n|---|---:|---:|")
    print(f"| `mlship drift` (scores the model too) | {ours_s:.2f} | {statistics.median(m for _, m in mine):.0f} |")
    print(f"| Evidently `DataDriftPreset` | {theirs_s:.2f} | {statistics.median(m for _, m in other):.0f} |")
    print(f"\nratio mlship / Evidently: {ours_s / theirs_s:.2f} (target <= 0.2); "
          f"{json.dumps({'runs': args.repeat})}")


if __name__ == "__main__":
    main()
