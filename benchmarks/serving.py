"""Serving benchmark: a packaged classifier served by ``bentoml serve`` on 127.0.0.1, against
the same fitted pipeline called in-process.

Builds a throw-away project in a temporary folder (a git repository with a churn-like
classifier on generated customers: 5,000 rows, 5 numeric and 3 categorical features),
reviews it with ``mlship pr --base main --dry-run``, commits the ledger and packages it with
``mlship package`` (timed: the first package, and repeats that reuse everything). The archive
is imported into a fresh BentoML home and served with ``mlship.ship.serving.start``, as a local
deploy does. Then, from this process over loopback:

- throughput, 8 requests at a time (a thread pool of 8, one ``requests.Session`` each), of
  1-row and of 100-row requests to ``/predict_proba``, against sequential in-process
  ``predict_proba`` calls of the cached pipeline on the same rows in the same batch sizes;
  the two sides take turns, and each ratio (HTTP / in-process rows/s) compares medians.
  Target for 100-row requests: >= 0.35;
- the latency of one record: sequential 1-row requests on one session, p50 and p99, measured
  first, on the fresh server after a warm-up (right after concurrent load, BentoML's adaptive
  batching holds lone requests back for a few seconds).

Request bodies are encoded before the clock starts; every response is checked against the
in-process probabilities after it stops. CPU time is counted on both sides (for HTTP, this
process's client threads and every process of the server), so a run on a busy machine still
says what each side costs. Nothing is written into the repository.

Usage: python benchmarks/serving.py [--repeat N]   (or: make bench)
Prints the runs, then a Markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import requests

from mlship import api
from mlship.project import Project
from mlship.ship import packaging, serving
from mlship.train.cache import CacheEntry
from run import machine, mlship_revision  # benchmarks/run.py, beside this script

PYTHON = Path(sys.executable)  # not resolved: the venv's python is a symlink
MLSHIP = PYTHON.parent / "mlship"
MODEL = "churn"
ROWS = 5_000
SEED = 0
SPEC = """
description: Predicts which customers will cancel (written by benchmarks/serving.py).
task: classification
data:
  path: customers.csv
  target: churned
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 1000}
evaluation:
  bootstrap: {resamples: 100}
gates:
  roc_auc: {min: 0.6}
"""
FEATURES = ["age", "income", "tenure_months", "monthly_charges", "support_calls", "plan", "region", "contract"]

CONCURRENCY = 8
#: Requests per timed run (and per warm-up) for each request size, in rows per request.
REQUESTS = {1: 1_000, 100: 200}
WARMUP = {1: 400, 100: 100}
LATENCY_REQUESTS, LATENCY_WARMUP = 500, 50
TARGET_RATIO_100 = 0.35
#: Repeats of `mlship package` once everything is made.
PACKAGE_REPEATS = 3
REQUEST_TIMEOUT_SECONDS = 60
#: A 1-minute load average above this at the start means other work shares the CPUs.
BUSY_LOAD = 0.5
JSON_HEADERS = {"Content-Type": "application/json"}


# ---------------------------------------------------------------- the project


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Generated customers: 5 numeric features (1% of incomes missing), 3 categorical ones, a yes/no target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, rows),
        "income": np.round(rng.normal(50, 15, rows), 2),
        "tenure_months": rng.integers(0, 72, rows),
        "monthly_charges": np.round(rng.uniform(10, 120, rows), 2),
        "support_calls": rng.poisson(1.5, rows),
        "plan": rng.choice(["basic", "standard", "premium"], rows),
        "region": rng.choice(["north", "south", "east", "west"], rows),
        "contract": rng.choice(["monthly", "annual", "two-year"], rows, p=[0.6, 0.25, 0.15]),
    })
    score = ((frame["income"] - 50) / 8 + 1.0 * (frame["plan"] == "premium") - 0.5 * (frame["region"] == "south")
             + 0.3 * frame["support_calls"] - frame["tenure_months"] / 36 + 1.0 * (frame["contract"] == "monthly"))
    frame["churned"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-score)), "yes", "no")
    frame.loc[rng.random(rows) < 0.01, "income"] = np.nan
    return frame


def hermetic_env(work: Path) -> dict[str, str]:
    """Every subprocess's environment: a home, git identity and caches of our own, telemetry off."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("BENTOML_HOME", "MLSHIP_CACHE_DIR", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    env.update({"HOME": str(work / "home"), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(work / "gitconfig"),
                "BENTOML_DO_NOT_TRACK": "true"})
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = "bench", "bench@mlship.invalid"
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run ``argv``; return its wall time and its stdout. A failing command stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark command failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def reviewed_project(root: Path, env: dict[str, str]) -> float:
    """A repository whose branch adds the model and commits the ledger `mlship pr` wrote; return the pr's time."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("models\n")
    (root / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\n")
    git = lambda *args: run(["git", *args], root, env)  # noqa: E731
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "initial")
    git("checkout", "-qb", "feature")
    folder = root / "models" / MODEL
    folder.mkdir(parents=True)
    (folder / "model.yaml").write_text(textwrap.dedent(SPEC).lstrip())
    customers(ROWS, SEED).to_csv(folder / "customers.csv", index=False)
    git("add", "-A")
    git("commit", "-qm", "add the model")
    seconds, _ = run([str(MLSHIP), "pr", "--base", "main", "--dry-run"], root, env)
    git("add", "reports")
    git("commit", "-qm", "ledger")
    return seconds


@dataclass
class Packaged:
    seconds: float
    values: dict[str, str]
    notes: dict[str, str]


def mlship_package(root: Path, env: dict[str, str]) -> Packaged:
    """``mlship package`` as a subprocess; its printed lines (model, bento, archive, sha256, store) parsed."""
    seconds, stdout = run([str(MLSHIP), "package", MODEL], root, env)
    values, notes = {}, {}
    for line in stdout.splitlines()[1:]:
        key, value, *note = line.split()
        values[key], notes[key] = value, " ".join(note).strip("()")
    return Packaged(seconds, values, notes)


# ---------------------------------------------------------------- measuring


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON records, NaN as null (as test_packaging sends them)."""
    return [{key: (None if isinstance(value, float) and np.isnan(value) else value) for key, value in row.items()}
            for row in frame.astype(object).to_dict(orient="records")]


def body(frame: pd.DataFrame) -> bytes:
    return json.dumps({"records": records(frame)}, allow_nan=False).encode()


def server_cpu_seconds(server: serving.Server) -> float:
    """User + system CPU of the server's processes (the arbiter and its workers) so far."""
    total = 0.0
    leader = psutil.Process(server.pid)
    for process in [leader, *leader.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@dataclass
class Run:
    """One timed run of one side: its rows, wall time and CPU time."""

    rows: int
    seconds: float
    #: CPU time of this process: the client threads (HTTP), or the predictions (in-process).
    local_cpu: float
    #: CPU time of every process of the server (HTTP only).
    server_cpu: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def rows_per_cpu_second(self) -> float:
        return self.rows / (self.local_cpu + self.server_cpu)


class Client:
    """``CONCURRENCY`` threads, each with its own ``requests.Session`` (kept alive across runs)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()
        self.sessions: list[requests.Session] = []
        self.pool = ThreadPoolExecutor(CONCURRENCY, initializer=self._new_session)

    def _new_session(self) -> None:
        self.local.session = requests.Session()
        self.sessions.append(self.local.session)

    def _post(self, payload: bytes) -> bytes:
        answer = self.local.session.post(self.url, data=payload, headers=JSON_HEADERS,
                                         timeout=REQUEST_TIMEOUT_SECONDS)
        if answer.status_code != 200:
            raise RuntimeError(f"{self.url} answered {answer.status_code}: {answer.text[:500]}")
        return answer.content

    def post_all(self, payloads: list[bytes]) -> tuple[float, list[bytes]]:
        """Post every payload, ``CONCURRENCY`` at a time; return the wall time and the answers, in order."""
        started = time.perf_counter()
        answers = list(self.pool.map(self._post, payloads))
        return time.perf_counter() - started, answers

    def close(self) -> None:
        self.pool.shutdown()
        for session in self.sessions:
            session.close()


def http_run(client: Client, server: serving.Server, payloads: list[bytes], rows: int) -> tuple[Run, list[bytes]]:
    cpu, server_cpu = time.process_time(), server_cpu_seconds(server)
    seconds, answers = client.post_all(payloads)
    used = Run(rows, seconds, time.process_time() - cpu, server_cpu_seconds(server) - server_cpu)
    return used, answers


def in_process_run(model: Any, frames: list[pd.DataFrame], rows: int) -> Run:
    started, cpu = time.perf_counter(), time.process_time()
    for frame in frames:
        model.predict_proba(frame)
    return Run(rows, time.perf_counter() - started, time.process_time() - cpu)


def check_answers(answers: list[bytes], frames: list[pd.DataFrame], model: Any) -> None:
    """Every answer must hold the in-process probabilities of its rows (to 1e-12: the server predicts
    several requests' rows in one call)."""
    classes = [str(label) for label in model.classes_]
    served = np.array([[row[label] for label in classes] for answer in answers for row in json.loads(answer)])
    expected = model.predict_proba(pd.concat(frames))
    if served.shape != expected.shape:
        sys.exit(f"the answers hold {served.shape} probabilities, not {expected.shape}")
    worst = float(np.abs(served - expected).max())
    if worst > 1e-12:
        sys.exit(f"served probabilities differ from in-process ones by up to {worst:g}")


@dataclass
class Throughput:
    size: int
    http: list[Run]
    in_process: list[Run]

    @property
    def http_median(self) -> float:
        return statistics.median(r.rows_per_second for r in self.http)

    @property
    def in_process_median(self) -> float:
        return statistics.median(r.rows_per_second for r in self.in_process)

    @property
    def ratio(self) -> float:
        return self.http_median / self.in_process_median

    def cpu_ms_per_1000_rows(self, side: str) -> float:
        """Median CPU time per 1,000 rows: for HTTP, the client's and the server's together."""
        return statistics.median(1e6 / r.rows_per_cpu_second for r in getattr(self, side))


def bench_throughput(client: Client, server: serving.Server, model: Any, pool: pd.DataFrame, size: int,
                     repeat: int) -> Throughput:
    """``REQUESTS[size]`` requests of ``size`` rows, over HTTP 8 at a time and in-process one after another."""
    count = REQUESTS[size]
    starts = [(i * size) % (len(pool) - size + 1) for i in range(WARMUP[size] + count)]
    frames = [pool.iloc[start:start + size] for start in starts]
    payloads = [body(frame) for frame in frames]
    warm, timed = slice(0, WARMUP[size]), slice(WARMUP[size], None)
    client.post_all(payloads[warm])
    in_process_run(model, frames[warm], size * WARMUP[size])
    result = Throughput(size, [], [])
    for _ in range(repeat):
        used, answers = http_run(client, server, payloads[timed], size * count)
        result.http.append(used)
        check_answers(answers, frames[timed], model)
        result.in_process.append(in_process_run(model, frames[timed], size * count))
    return result


def bench_latency(url: str, model: Any, pool: pd.DataFrame) -> tuple[list[float], list[float]]:
    """Sequential 1-row requests on one session, and the same rows in-process; seconds per request."""
    frames = [pool.iloc[i:i + 1] for i in range(LATENCY_WARMUP + LATENCY_REQUESTS)]
    payloads = [body(frame) for frame in frames]
    http, local = [], []
    with requests.Session() as session:
        for index, (frame, payload) in enumerate(zip(frames, payloads)):
            started = time.perf_counter()
            answer = session.post(url, data=payload, headers=JSON_HEADERS, timeout=REQUEST_TIMEOUT_SECONDS)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                sys.exit(f"{url} answered {answer.status_code}: {answer.text[:500]}")
            started = time.perf_counter()
            model.predict_proba(frame)
            in_process = time.perf_counter() - started
            if index >= LATENCY_WARMUP:
                http.append(elapsed)
                local.append(in_process)
    return http, local


def client_json_seconds(pool: pd.DataFrame, model: Any, size: int, count: int = 100) -> float:
    """What a client spends per request on JSON alone: encoding the records, decoding the answer."""
    frames = [pool.iloc[start:start + size] for start in range(0, len(pool) - size + 1, size)][:count]
    bodies = [{"records": records(frame)} for frame in frames]
    labels = [str(label) for label in model.classes_]
    answers = [json.dumps([dict(zip(labels, row)) for row in model.predict_proba(frame).tolist()]) for frame in frames]
    started = time.perf_counter()
    for request, answer in zip(bodies, answers):
        json.dumps(request)
        json.loads(answer)
    return (time.perf_counter() - started) / len(frames)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


# ---------------------------------------------------------------- report


def log(text: str) -> None:
    print(text, flush=True)


def describe_runs(label: str, runs: list[Run]) -> str:
    described = []
    for r in runs:
        cpu = f"client {r.local_cpu / r.seconds:.2f} + server {r.server_cpu / r.seconds:.2f}" if r.server_cpu \
            else f"{r.local_cpu / r.seconds:.2f}"
        described.append(f"{r.rows_per_second:,.0f} rows/s (CPU cores busy: {cpu})")
    return f"   {label}: " + "; ".join(described)


@dataclass
class Measured:
    first: Packaged
    again: list[Packaged]
    throughput: dict[int, Throughput]
    #: Seconds per sequential 1-row request: over HTTP, and in-process.
    http_latency: list[float]
    local_latency: list[float]


def package_twice(root: Path, env: dict[str, str]) -> tuple[Packaged, list[Packaged]]:
    """The first ``mlship package`` (it makes everything), then repeats that must reuse everything."""
    first = mlship_package(root, env)
    if first.notes["model"] != "saved" or first.notes["bento"] != "built" or first.notes["archive"] != "exported":
        sys.exit(f"the first package should make everything, but: {first.notes}")
    again = [mlship_package(root, env) for _ in range(PACKAGE_REPEATS)]
    for each in again:
        if each.notes["archive"] != "unchanged" or each.values != first.values:
            sys.exit(f"a repeated package should reuse everything, but: {each.notes}")
    log(f"mlship package: first {first.seconds:.2f} s (model saved, bento built, archive exported); "
        f"again: {', '.join(f'{p.seconds:.2f}' for p in again)} s (all reused)")
    return first, again


def measure(work: Path, repeat: int) -> Measured:
    """Make the project, package it, serve it as a local deploy does, and measure both sides."""
    env = hermetic_env(work)
    # The in-process side reads the same cache (the project's .mlship/cache), and nothing of the caller's.
    for variable in ("BENTOML_HOME", "MLSHIP_CACHE_DIR"):
        os.environ.pop(variable, None)
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    root = work / "project"
    pr_seconds = reviewed_project(root, env)
    log(f"project: {ROWS:,} rows x {len(FEATURES)} features in {root}; `mlship pr --dry-run` {pr_seconds:.1f} s")
    first, again = package_twice(root, env)

    fresh = work / "serve-home"
    started = time.perf_counter()
    packaging.import_archive(root / first.values["archive"], fresh)
    imported = time.perf_counter() - started
    server = serving.start(first.values["bento"], packaging.bentoml_env(fresh), work / "serve.log")
    log(f"archive imported into a fresh BentoML home in {imported:.1f} s; `bentoml serve` ready "
        f"{time.perf_counter() - started - imported:.1f} s later at {server.url}")
    try:
        trained = api.train(MODEL, Project(root))
        if not trained.cache_hit:
            sys.exit("the in-process model should come from the cache that `mlship pr` filled")
        model = CacheEntry(trained.entry).load_model()
        pool = customers(10_000, SEED + 1)[FEATURES]
        url = f"{server.url}/predict_proba"
        # First, on the fresh server: right after concurrent load, BentoML's batching holds lone requests back.
        log(f"latency: {LATENCY_REQUESTS} sequential 1-row requests after {LATENCY_WARMUP} to warm up")
        http_latency, local_latency = bench_latency(url, model, pool)
        throughput = {}
        client = Client(url)
        try:
            for size in (100, 1):
                log(f"throughput, {size}-row requests: {REQUESTS[size]:,} per run after {WARMUP[size]} to warm up, "
                    f"HTTP {CONCURRENCY} at a time vs in-process one after another, {repeat} runs each, in turns")
                result = throughput[size] = bench_throughput(client, server, model, pool, size, repeat)
                log(describe_runs("HTTP", result.http))
                log(describe_runs("in-process", result.in_process))
                log(f"   CPU per 1,000 rows (medians): HTTP {result.cpu_ms_per_1000_rows('http'):.0f} ms "
                    f"(client + server), in-process {result.cpu_ms_per_1000_rows('in_process'):.0f} ms")
        finally:
            client.close()
        json_ms = [client_json_seconds(pool, model, size) * 1e3 for size in (1, 100)]
        log(f"client-side JSON alone (encode the records, decode the answer), per request: 1 row {json_ms[0]:.3f} ms, "
            f"100 rows {json_ms[1]:.3f} ms (not in the timed runs: bodies are encoded beforehand)")
    finally:
        serving.stop(server)
    return Measured(first, again, throughput, http_latency, local_latency)


def markdown_table(measured: Measured) -> str:
    hundred, one = measured.throughput[100], measured.throughput[1]
    met = hundred.ratio >= TARGET_RATIO_100
    milliseconds = [percentile(values, q) * 1e3 for q in (50, 99)
                    for values in (measured.http_latency, measured.local_latency)]
    again_seconds = statistics.median(p.seconds for p in measured.again)

    def row(*cells: str) -> str:
        return "| " + " | ".join(cells + ("",) * (6 - len(cells))) + " |"

    return "\n".join([
        "| measure | HTTP (`bentoml serve`) | in-process `predict_proba` | ratio | target | met |",
        "|---|--:|--:|--:|--:|:-:|",
        row("throughput, 100-row requests, concurrency 8", f"{hundred.http_median:,.0f} rows/s",
            f"{hundred.in_process_median:,.0f} rows/s", f"{hundred.ratio:.2f}", f"≥ {TARGET_RATIO_100}",
            "✅ yes" if met else "❌ no"),
        row("throughput, 1-row requests, concurrency 8", f"{one.http_median:,.0f} rows/s",
            f"{one.in_process_median:,.0f} rows/s", f"{one.ratio:.2f}"),
        row("CPU per 1,000 rows, 100-row requests (HTTP: client + server)",
            f"{hundred.cpu_ms_per_1000_rows('http'):,.0f} ms", f"{hundred.cpu_ms_per_1000_rows('in_process'):,.0f} ms"),
        row("CPU per 1,000 rows, 1-row requests (HTTP: client + server)",
            f"{one.cpu_ms_per_1000_rows('http'):,.0f} ms", f"{one.cpu_ms_per_1000_rows('in_process'):,.0f} ms"),
        row("latency of one record, sequential, p50", f"{milliseconds[0]:.1f} ms", f"{milliseconds[1]:.1f} ms"),
        row("latency of one record, sequential, p99", f"{milliseconds[2]:.1f} ms", f"{milliseconds[3]:.1f} ms"),
        row("`mlship package`, first (model saved, bento built, archive exported)", f"{measured.first.seconds:.1f} s"),
        row(f"`mlship package` again, everything reused (median of {len(measured.again)})", f"{again_seconds:.1f} s"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed runs of each side of each throughput, taking turns (default 5)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not MLSHIP.is_file():
        sys.exit(f"{MLSHIP} not found: run this with the venv's python (make bench)")
    started = time.perf_counter()
    load = os.getloadavg()[0]
    log(f"machine: {machine(('bentoml', 'scikit-learn', 'pandas', 'numpy', 'requests'))}")
    log(f"mlship: commit {mlship_revision()}")
    log(f"load average at start: {load:.2f}" + ("  (busy machine: timings will be noisy)" if load > BUSY_LOAD else ""))
    with tempfile.TemporaryDirectory(prefix="mlship-bench-serving-") as temporary:
        measured = measure(Path(temporary), args.repeat)
    log(f"load average at the end: {os.getloadavg()[0]:.2f}")
    log(f"\n{markdown_table(measured)}\n")
    log(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
