"""Benchmarks of the PR flow: two ratios.

(d) bootstrap: the paired bootstrap of roc_auc, accuracy and f1 over 100,000 rows x 1,000
    resamples, in-process, vs ONE scikit-learn ``roc_auc_score`` call on those rows.
    Target <= 300.
(e) no change: ``mlship pr --dry-run`` on a branch that touches only an unrelated file, vs
    ``mlship pr --dry-run`` on a branch that changes the model, with an empty cache (so it
    trains the candidate and the baseline). Both as subprocesses. Target <= 0.2.

Usage: python benchmarks/pr_flow.py [--repeat N]   (or: make bench)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from mlship.review.bootstrap import Predictions, paired_bootstrap

PYTHON = Path(sys.executable)
MLSHIP = PYTHON.parent / "mlship"
ROOT = Path(__file__).resolve().parent.parent
ROWS, RESAMPLES = 100_000, 1_000
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@mlship.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@mlship.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "BENTOML_DO_NOT_TRACK": "true"}


def two_models(rows: int) -> tuple[np.ndarray, Predictions, Predictions]:
    """A binary target and two similar, imperfect scorers of it (continuous scores, few ties)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    scores = [1 / (1 + np.exp(-(skill * (2 * y - 1) + rng.normal(0, 1, rows)))) for skill in (1.0, 0.95)]
    return y, *(Predictions((s > 0.5).astype(int), np.column_stack([1 - s, s])) for s in scores)


def best_of(repeat: int, action) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_bootstrap(repeat: int) -> tuple[float, float]:
    y, candidate, baseline = two_models(ROWS)
    single = best_of(max(repeat, 5), lambda: roc_auc_score(y, candidate.proba[:, 1]))
    bootstrap = best_of(repeat, lambda: paired_bootstrap(["roc_auc", "accuracy", "f1"], y, candidate, baseline,
                                                         [0, 1], 1, resamples=RESAMPLES))
    return bootstrap, single


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def make_repo(work: Path, change: str) -> Path:
    """The churn example on main, and a branch that changes only the README or the model."""
    repo = work / f"repo-{change}"
    shutil.copytree(ROOT / "models" / "churn", repo / "models" / "churn")
    (repo / "README.md").write_text("notes\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "checkout", "-q", "-b", "change")
    if change == "readme":
        (repo / "README.md").write_text("more notes\n")
    else:
        spec = repo / "models" / "churn" / "model.yaml"
        spec.write_text(spec.read_text().replace("learning_rate: 0.05", "learning_rate: 0.06"))
    git(repo, "commit", "-q", "-am", "change")
    return repo


def run_pr(repo: Path, cache: Path) -> float:
    env = {**os.environ, **GIT_ENV, "MLSHIP_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    done = subprocess.run([str(MLSHIP), "pr", "--base", "main", "--dry-run"], cwd=repo, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"mlship pr failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def bench_no_change(repeat: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="mlship-bench-") as temporary:
        work = Path(temporary)
        readme, model = make_repo(work, "readme"), make_repo(work, "model")
        quiet, trains = [], []
        for run in range(repeat):
            quiet.append(run_pr(readme, work / "cache-readme"))
            trains.append(run_pr(model, work / f"cache-model-{run}"))  # a new, empty cache: trains both
        return statistics.median(quiet), statistics.median(trains)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (default 3)")
    args = parser.parse_args()
    bootstrap, single = bench_bootstrap(args.repeat)
    quiet, trains = bench_no_change(args.repeat)
    rows = [
        ("(d) paired bootstrap, 3 metrics, 100,000 rows x 1,000 resamples", bootstrap, "one roc_auc_score call",
         single, bootstrap / single, 120),
        ("(e) `mlship pr --dry-run`, nothing touched", quiet, "`mlship pr --dry-run` that trains both versions",
         trains, quiet / trains, 0.2),
    ]
    print("| benchmark | time | against | time | ratio | target | met |")
    print("|---|--:|---|--:|--:|--:|:-:|")
    for name, ours, other, theirs, ratio, target in rows:
        print(f"| {name} | {ours:.3f} s | {other} | {theirs:.3f} s | {ratio:.3g} | ≤ {target:g} | "
              f"{'yes' if ratio <= target else 'NO'} |")


if __name__ == "__main__":
    main()
