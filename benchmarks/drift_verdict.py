"""Drift's default verdict, simulated: false alarms on same-distribution data, detection of one shifted feature.

Each run draws a fresh reference and a fresh current table from the 20-feature generator
of benchmarks/drift.py (14 numbers of varied shapes, 6 categories of 2 to 30 levels, some
missing values), profiles the reference as training does and judges the current table with
the default `monitoring:` settings. A same-distribution current table that is judged
drifted is a false alarm; a table with one feature changed that is judged drifted is a
detection. The share-only rule (before the major-shift rule) is judged on the same tables.
Rates carry their Monte-Carlo standard error and a 95% Wilson interval. These are
simulations, not timings: machine load does not change them.

    .venv/bin/python benchmarks/drift_verdict.py                              # 400 / 100 runs per size
    .venv/bin/python benchmarks/drift_verdict.py --runs 40 --shift-runs 10    # a quick run
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drift import CATEGORICAL, generate  # noqa: E402  (the generator the timing benchmark uses)

from mlship.monitor.current import Current  # noqa: E402
from mlship.monitor.drift import detect  # noqa: E402
from mlship.spec import Monitoring  # noqa: E402
from mlship.train.profile import profile_frame  # noqa: E402

#: The share rule alone: what the verdict was before a major shift of one feature counted.
SHARE_ONLY = Monitoring(major_psi=1e9, major_out_of_range=1.0)
DEFAULT = Monitoring()


def scale(column: str, factor: float) -> Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]:
    def change(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        frame[column] = frame[column] * factor
        return frame
    return change


def shift(column: str, sds: float, sd: float) -> Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]:
    def change(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        frame[column] = frame[column] + sds * sd
        return frame
    return change


def unchanged(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    return frame


#: name -> (what it plants, the change). num_01 is normal(50, 10); num_00 is normal(0, 1).
SCENARIOS = {
    "same": ("nothing: a fresh sample of the reference's distribution", unchanged),
    "scaled": ("num_01 x 1.6 (as 'mean radius' x 1.6 on breast cancer)", scale("num_01", 1.6)),
    "scaled-less": ("num_01 x 1.2", scale("num_01", 1.2)),
    "major": ("num_00 + 1 sd (PSI about 1)", shift("num_00", 1.0, 1.0)),
    "minor": ("num_00 + 0.25 sd (PSI about 0.06): one minor shift, not meant to fail", shift("num_00", 0.25, 1.0)),
}


def wilson(hits: int, runs: int) -> tuple[float, float]:
    z = 1.959964
    p = hits / runs
    centre = (p + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / (1 + z * z / runs)
    return max(0.0, centre - half), min(1.0, centre + half)


def simulate(runs: int, reference_rows: int, current_rows: int, change: Callable) -> tuple[int, int]:
    """How many of ``runs`` tables the default verdict and the share-only verdict judge drifted."""
    default = share_only = 0
    for run in range(runs):
        rng = np.random.default_rng([reference_rows, current_rows, run])
        reference = generate(reference_rows, int(rng.integers(2**31)))
        current = change(generate(current_rows, int(rng.integers(2**31))), rng)
        profile = {"model": "simulated", "rows": len(reference), "features": profile_frame(reference, CATEGORICAL),
                   "predictions": {}}
        data = Current(current, "simulated")
        default += detect(profile, data, DEFAULT).drifted
        share_only += detect(profile, data, SHARE_ONLY).drifted
    return default, share_only


def rate(hits: int, runs: int) -> str:
    p = hits / runs
    low, high = wilson(hits, runs)
    return f"{p:.1%} ± {math.sqrt(p * (1 - p) / runs):.1%} ({low:.1%}–{high:.1%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs per size of the same-distribution scenario")
    parser.add_argument("--shift-runs", type=int, default=100, help="runs per size of each shifted scenario")
    args = parser.parse_args()
    sizes = [(5_000, 500), (5_000, 5_000)]
    print(f"{platform.node()}: Python {platform.python_version()}, numpy {np.__version__}; "
          f"defaults p_value {DEFAULT.p_value}, psi {DEFAULT.psi}, major_psi {DEFAULT.major_psi}, "
          f"major_out_of_range {DEFAULT.major_out_of_range}, drift_share {DEFAULT.drift_share}\n", flush=True)
    print("| Scenario | reference × current rows | runs | judged drifted, default verdict | share rule only |")
    print("|---|---|---:|---|---|")
    for name, (what, change) in SCENARIOS.items():
        runs = args.runs if name == "same" else args.shift_runs
        for reference_rows, current_rows in sizes:
            default, share_only = simulate(runs, reference_rows, current_rows, change)
            print(f"| {name}: {what} | {reference_rows:,} × {current_rows:,} | {runs} | {rate(default, runs)} | "
                  f"{rate(share_only, runs)} |", flush=True)


if __name__ == "__main__":
    main()
