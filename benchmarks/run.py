"""mlship's performance benchmarks: three ratios, each against a plain-Python baseline.

(a) startup:    ``mlship --help``            vs ``python -c "import sklearn, pandas"``   target <= 0.15
(b) cold train: ``mlship train --no-cache``  vs the same work as a plain script         target <= 1.15
(c) cache hit:  ``mlship train`` (cached)    vs the cold ``mlship train`` of (b)        target <= 0.20

Every command runs as a subprocess of this interpreter's venv, so both sides of a
ratio pay interpreter start-up and imports. Each side runs several times, the two
sides alternating, and the ratio compares medians. (b) and (c) train on a generated
200,000 x 20 table (fixed seed) in a throw-away project under benchmarks/.work/.

Usage: python benchmarks/run.py [--only a,b,c] [--repeat N]   (or: make bench)
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PROJECT = WORK / "project"
CACHE = WORK / "cache"
MODEL = "bench"
MODEL_DIR = PROJECT / "models" / MODEL
CSV = MODEL_DIR / "data" / "train.csv"
PLAIN_CONFIG = WORK / "plain_config.json"
PLAIN_SCRIPT = HERE / "plain_train.py"

# Not resolved: the venv's python is a symlink, and resolving it would leave the venv.
PYTHON = Path(sys.executable)
MLSHIP = PYTHON.parent / "mlship"

# The generated dataset and the model trained on it.
ROWS = 200_000
NUMERIC = 16
CATEGORY_COUNTS = (3, 6, 12, 30)  # one categorical column per entry, with that many levels
MISSING_SHARE = 0.01  # of the values in every 4th numeric column and in cat_0
SEED = 42
TEST_SIZE = 0.25
TARGET = "target"
POSITIVE_CLASS = 1
ESTIMATOR = "sklearn.ensemble.HistGradientBoostingClassifier"
# random_state is set (mlship would fill in the split seed anyway) so both sides fit the same model;
# early_stopping is off so that every run does exactly max_iter boosting rounds.
PARAMS = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31,
          "early_stopping": False, "random_state": SEED}
METRICS = ["roc_auc", "accuracy", "f1"]

DEFAULT_REPEAT = {"a": 7, "b": 5, "c": 5}
#: A 1-minute load average above this at the start means other work shares the CPUs.
BUSY_LOAD = 0.5


@dataclass
class Ratio:
    """One benchmark: timed runs of mlship and of its baseline, and the ratio of their medians."""

    key: str
    title: str
    subject: str
    baseline: str
    subject_seconds: list[float]
    baseline_seconds: list[float]
    target: float

    @property
    def ratio(self) -> float:
        return statistics.median(self.subject_seconds) / statistics.median(self.baseline_seconds)

    @property
    def met(self) -> bool:
        return self.ratio <= self.target


# ---------------------------------------------------------------- running commands


def subprocess_env() -> dict[str, str]:
    """The environment of every timed command: no telemetry, and a cache we own."""
    return {**os.environ, "BENTOML_DO_NOT_TRACK": "true", "MLSHIP_CACHE_DIR": str(CACHE)}


def run_timed(argv: list[str]) -> tuple[float, str]:
    """Run ``argv``; return its wall time in seconds and its stdout. A failing command stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=subprocess_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark command failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def alternate(repeat: int, first: Callable[[], float], second: Callable[[], float]) -> tuple[list[float], list[float]]:
    """Time ``first`` and ``second`` ``repeat`` times each, taking turns, so drift in the machine hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        times[0].append(first())
        times[1].append(second())
    return times


def log(text: str) -> None:
    print(text, flush=True)


def log_load() -> None:
    """Other processes slow both sides, but unevenly (scikit-learn's OpenMP threads stall on a busy CPU): say so."""
    load = os.getloadavg()[0]
    busy = load > BUSY_LOAD
    log(f"load average at start: {load:.2f}" + ("  (busy machine: timings will be noisy)" if busy else ""))


def seconds_list(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


# ---------------------------------------------------------------- the benchmark project


def generate_table(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    """16 numeric and 4 categorical features, and a 0/1 target drawn from a logistic model of them.

    Numeric columns have assorted means and scales (so the scaler matters) and some have
    missing values (so both imputers work). Same seed, same table.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    logit = np.full(rows, -0.5)
    for i in range(NUMERIC):
        values = rng.normal(rng.uniform(-50, 50), rng.uniform(0.5, 20), rows)
        logit += rng.normal(0, 0.5) * (values - values.mean()) / values.std()
        if i % 4 == 0:
            values[rng.random(rows) < MISSING_SHARE] = np.nan
        columns[f"num_{i:02d}"] = values
    for j, count in enumerate(CATEGORY_COUNTS):
        codes = rng.choice(count, size=rows, p=rng.dirichlet(np.ones(count)))
        logit += rng.normal(0, 0.5, count)[codes]
        labels = np.array([f"c{j}_{level:02d}" for level in range(count)], dtype=object)[codes]
        if j == 0:
            labels[rng.random(rows) < MISSING_SHARE] = None
        columns[f"cat_{j}"] = labels
    columns[TARGET] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(columns)


def categorical_columns() -> list[str]:
    return [f"cat_{j}" for j in range(len(CATEGORY_COUNTS))]


def write_project() -> None:
    """A fresh project: models/bench/{model.yaml,data/train.csv}, and the plain script's config."""
    for folder in (PROJECT, CACHE):
        shutil.rmtree(folder, ignore_errors=True)
    CSV.parent.mkdir(parents=True)
    generate_table().to_csv(CSV, index=False, float_format="%.6g")
    spec = {
        "description": "Benchmark model on generated data (written by benchmarks/run.py).",
        "task": "classification",
        "data": {"path": "data/train.csv", "target": TARGET, "categorical": categorical_columns(),
                 "split": {"test_size": TEST_SIZE, "seed": SEED}},
        "model": {"estimator": ESTIMATOR, "params": PARAMS},
        "evaluation": {"metrics": METRICS, "positive_class": POSITIVE_CLASS},
    }
    (MODEL_DIR / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    PLAIN_CONFIG.write_text(json.dumps({
        "csv": str(CSV), "target": TARGET, "categorical": categorical_columns(), "test_size": TEST_SIZE,
        "seed": SEED, "params": PARAMS, "positive_class": POSITIVE_CLASS,
    }, indent=2))


def mlship_train(cold: bool) -> tuple[float, dict[str, Any]]:
    """One ``mlship train`` run; return its wall time and its JSON result (with the entry's lineage timings).

    A cold run starts from an empty cache, like a first train, and says --no-cache besides.
    """
    if cold:
        shutil.rmtree(CACHE, ignore_errors=True)
    argv = [str(MLSHIP), "-C", str(PROJECT), "train", MODEL, "--json"] + (["--no-cache"] if cold else [])
    seconds, stdout = run_timed(argv)
    result = json.loads(stdout)[0]
    if result["cache_hit"] == cold:
        sys.exit(f"expected cache_hit={not cold}, got {result['cache_hit']}")
    result["timings"] = json.loads((Path(result["cache_entry"]) / "lineage.json").read_text())["timings"]
    return seconds, result


def plain_train() -> tuple[float, dict[str, Any]]:
    seconds, stdout = run_timed([str(PYTHON), str(PLAIN_SCRIPT), str(PLAIN_CONFIG)])
    return seconds, json.loads(stdout)


# ---------------------------------------------------------------- the three benchmarks


def bench_startup(repeat: int) -> Ratio:
    """(a) The CLI must start without loading the ML stack: compare it with just importing that stack."""
    help_seconds, import_seconds = alternate(
        repeat,
        lambda: run_timed([str(MLSHIP), "--help"])[0],
        lambda: run_timed([str(PYTHON), "-c", "import sklearn, pandas"])[0],
    )
    return Ratio("a", "startup", "`mlship --help`", '`python -c "import sklearn, pandas"`',
                 help_seconds, import_seconds, 0.15)


def bench_cold_train(repeat: int) -> Ratio:
    """(b) What mlship adds on top of the training itself: the same work in a plain script is the floor."""
    mlship_runs: list[dict[str, Any]] = []
    plain_runs: list[dict[str, Any]] = []

    def one_mlship() -> float:
        seconds, result = mlship_train(cold=True)
        mlship_runs.append({**result, "wall_seconds": seconds})
        return seconds

    def one_plain() -> float:
        seconds, result = plain_train()
        plain_runs.append({**result, "wall_seconds": seconds})
        return seconds

    mlship_seconds, plain_seconds = alternate(repeat, one_mlship, one_plain)
    check_same_work(mlship_runs, plain_runs)
    log_stage_timings("mlship (from lineage.json)", mlship_runs)
    log_stage_timings("plain script", plain_runs)
    return Ratio("b", "cold train", "`mlship train --no-cache`", "plain script (same work)",
                 mlship_seconds, plain_seconds, 1.15)


def bench_cache_hit(repeat: int, cold_seconds: list[float]) -> Ratio:
    """(c) A cached model must come back far faster than training it: compare with the cold runs of (b)."""
    hit_seconds = [mlship_train(cold=False)[0] for _ in range(repeat)]
    return Ratio("c", "cache hit", "`mlship train` (cache hit)", "`mlship train --no-cache` (b)",
                 hit_seconds, cold_seconds, 0.20)


def check_same_work(mlship_runs: list[dict[str, Any]], plain_runs: list[dict[str, Any]]) -> None:
    """Both sides must split the same rows and reach the same metrics, in every run; else the ratio means nothing."""
    reference = plain_runs[0]
    for run in mlship_runs + plain_runs:
        if run["rows"] != reference["rows"]:
            sys.exit(f"row counts differ: {run['rows']} vs {reference['rows']}")
        for name, value in reference["metrics"].items():
            if abs(run["metrics"][name] - value) > 1e-9:
                sys.exit(f"{name} differs between runs: {run['metrics'][name]} vs {value}")
    shown = ", ".join(f"{k} {v:.4f}" for k, v in reference["metrics"].items())
    log(f"   same rows ({reference['rows']['train']:,} train / {reference['rows']['test']:,} test) "
        f"and metrics on both sides in every run: {shown}")


def log_stage_timings(label: str, runs: list[dict[str, Any]]) -> None:
    """Where a side's time goes. "Outside fit" (wall time minus fit) is start-up, imports, I/O and
    bookkeeping: it is what mlship adds, and unlike fit it hardly varies with the machine's load."""
    stages = ("load_seconds", "fit_seconds", "evaluate_seconds", "total_seconds")
    medians = [f"{s.removesuffix('_seconds')} {statistics.median(r['timings'][s] for r in runs):.2f} s"
               for s in stages]
    outside_fit = statistics.median(r["wall_seconds"] - r["timings"]["fit_seconds"] for r in runs)
    log(f"   {label}, in-process medians: {', '.join(medians)}; outside fit (wall - fit) {outside_fit:.2f} s")


# ---------------------------------------------------------------- report


def markdown_table(ratios: list[Ratio]) -> str:
    lines = [
        "| Benchmark | mlship (median) | Baseline (median) | Ratio | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for r in ratios:
        lines.append(
            f"| ({r.key}) {r.title}: {r.subject} vs {r.baseline} "
            f"| {statistics.median(r.subject_seconds):.3f} s | {statistics.median(r.baseline_seconds):.3f} s "
            f"| {r.ratio:.3f} | ≤ {r.target:.2f} | {'✅ yes' if r.met else '❌ no'} |"
        )
    return "\n".join(lines)


def machine(libraries: tuple[str, ...] = ("scikit-learn", "pandas", "numpy")) -> str:
    from importlib import metadata

    versions = ", ".join(f"{name} {metadata.version(name)}" for name in libraries)
    return f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {versions}, {platform.platform()}"


def mlship_revision() -> str:
    """The commit measured, and whether src/ had uncommitted changes (which the runs include)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", str(HERE.parent / "src"))
    return commit + (" + uncommitted changes in src/" if dirty else "")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="a,b,c",
                        help="comma-separated benchmarks to run, of a, b, c (default: all)")
    parser.add_argument("--repeat", type=int,
                        help="timed runs of each side; default: a 7, b 5, c 5")
    args = parser.parse_args()
    args.only = {part.strip() for part in args.only.split(",")}
    if not args.only or not args.only <= {"a", "b", "c"}:
        parser.error("--only takes a comma-separated subset of a, b, c")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    if not MLSHIP.is_file():
        sys.exit(f"{MLSHIP} not found: run this with the venv's python (make bench)")
    repeat = {key: args.repeat or default for key, default in DEFAULT_REPEAT.items()}
    started = time.perf_counter()
    log(f"machine: {machine()}")
    log(f"mlship: commit {mlship_revision()}")
    log_load()
    ratios: list[Ratio] = []

    if "a" in args.only:
        log(f"(a) startup, timed runs of each side: {repeat['a']}")
        ratios.append(bench_startup(repeat["a"]))
    if args.only & {"b", "c"}:
        log(f"writing the benchmark project ({ROWS:,} rows x {NUMERIC + len(CATEGORY_COUNTS)} features) "
            f"under {WORK.relative_to(HERE.parent)}/")
        write_project()
    if "b" in args.only:
        log(f"(b) cold train, timed runs of each side: {repeat['b']}")
        cold = bench_cold_train(repeat["b"])
        ratios.append(cold)
        cold_seconds = cold.subject_seconds
    elif "c" in args.only:
        log(f"(c) needs cold runs to compare with; runs of mlship train --no-cache: {repeat['b']}")
        cold_seconds = [mlship_train(cold=True)[0] for _ in range(repeat["b"])]
    if "c" in args.only:
        log(f"(c) cache hit, timed runs: {repeat['c']}")
        ratios.append(bench_cache_hit(repeat["c"], cold_seconds))

    log("\nruns (seconds):")
    for r in ratios:
        log(f"   ({r.key}) {r.subject}: {seconds_list(r.subject_seconds)}")
        log(f"   ({r.key}) {r.baseline}: {seconds_list(r.baseline_seconds)}")
    log(f"\n{markdown_table(ratios)}\n")
    log(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
