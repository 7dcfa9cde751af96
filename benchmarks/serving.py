"""Serving benchmark: a packaged classifier served by ``bentoml serve`` on 127.0.0.1, against the
service a user would write by hand (``peer_service.py``: Starlette on uvicorn) and against the
same fitted pipeline called in-process.

Builds a throw-away project in a temporary folder (a git repository with a churn-like
classifier on generated customers: 5,000 rows, 5 numeric and 3 categorical features),
reviews it with ``mlship pr --base main --dry-run``, commits the ledger and packages it with
``mlship package`` (timed: the first package, and repeats that reuse everything). The archive
is imported into a fresh BentoML home and served with ``mlship.ship.serving.start``, as a local
deploy does; the peer serves the cached model file with the bento's capacity (one process, the
threads and math-library threads the bento reports in ``/metadata``). Then, from this process
over loopback, on the same machine (its CPUs are in the table):

- the latency of one record: sequential 1-row requests on one session (concurrency 1), p50 and
  p99, on each service and in-process;
- throughput and latency at concurrency 16 (a thread pool, one ``requests.Session`` each) of
  1-row and of 100-row requests to ``/predict_proba``, the three sides taking turns; each
  ratio compares medians over the runs;
- recovery: the p50 of 100 sequential 1-row requests before, right after one request at the
  bento's row limit, and right after 30 s of 1-row requests at concurrency 64;
- a request over the row limit: how fast the 413 comes, and the workers' memory before and after.

Request bodies are encoded before the clock starts; every 200 answer is checked against the
in-process probabilities after it stops. CPU time is counted on every side (for HTTP, this
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import requests

from mlship import api
from mlship.project import Project
from mlship.ship import packaging, serving
from mlship.train.cache import MODEL_FILE, CacheEntry
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

CONCURRENCY = 16
#: Requests per timed run (and per warm-up) for each request size, in rows per request.
REQUESTS = {1: 1_000, 100: 200}
WARMUP = {1: 300, 100: 60}
LATENCY_REQUESTS, LATENCY_WARMUP = 500, 50
#: Recovery: sequential 1-row requests measured before and after each disturbance.
RECOVERY_REQUESTS = 100
SATURATION_SECONDS, SATURATION_CONCURRENCY = 30, 64
PEER = Path(__file__).with_name("peer_service.py")
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
    """One timed run of one side: its rows, wall time, CPU time and each request's latency."""

    rows: int
    seconds: float
    #: CPU time of this process: the client threads (HTTP), or the predictions (in-process).
    local_cpu: float
    #: CPU time of every process of the server (HTTP only).
    server_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def rows_per_cpu_second(self) -> float:
        return self.rows / (self.local_cpu + self.server_cpu)


class Client:
    """``concurrency`` threads, each with its own ``requests.Session`` (kept alive across runs)."""

    def __init__(self, url: str, concurrency: int = CONCURRENCY) -> None:
        self.url = url
        self.local = threading.local()
        self.sessions: list[requests.Session] = []
        self.pool = ThreadPoolExecutor(concurrency, initializer=self._new_session)

    def _new_session(self) -> None:
        self.local.session = requests.Session()
        self.sessions.append(self.local.session)

    def _post(self, payload: bytes) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        answer = self.local.session.post(self.url, data=payload, headers=JSON_HEADERS,
                                         timeout=REQUEST_TIMEOUT_SECONDS)
        return answer.status_code, answer.content, time.perf_counter() - started

    def post_all(self, payloads: list[bytes]) -> tuple[float, list[tuple[int, bytes, float]]]:
        """Post every payload, the pool's size at a time; return the wall time and (status, body, seconds) of each."""
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
    used = Run(rows, seconds, time.process_time() - cpu, server_cpu_seconds(server) - server_cpu,
               [latency for _, _, latency in answers], sum(status != 200 for status, _, _ in answers))
    if used.errors:
        first = next(body for status, body, _ in answers if status != 200)
        log(f"   {used.errors} errors at {client.url}, the first: {first[:300]!r}")
    return used, [body for _, body, _ in answers]


def in_process_run(model: Any, frames: list[pd.DataFrame], rows: int) -> Run:
    started, cpu = time.perf_counter(), time.process_time()
    latencies = []
    for frame in frames:
        each = time.perf_counter()
        model.predict_proba(frame)
        latencies.append(time.perf_counter() - each)
    return Run(rows, time.perf_counter() - started, time.process_time() - cpu, latencies=latencies)


def check_answers(answers: list[bytes], frames: list[pd.DataFrame], model: Any) -> None:
    """Every answer must hold the in-process probabilities of its rows (to 1e-12)."""
    classes = [str(label) for label in model.classes_]
    served = np.array([[row[label] for label in classes] for answer in answers for row in json.loads(answer)])
    expected = model.predict_proba(pd.concat(frames))
    if served.shape != expected.shape:
        sys.exit(f"the answers hold {served.shape} probabilities, not {expected.shape}")
    worst = float(np.abs(served - expected).max())
    if worst > 1e-12:
        sys.exit(f"served probabilities differ from in-process ones by up to {worst:g}")


SIDES = ("bento", "peer", "in_process")


@dataclass
class Throughput:
    size: int
    runs: dict[str, list[Run]]

    def median(self, side: str) -> float:
        return statistics.median(r.rows_per_second for r in self.runs[side])

    def p99_ms(self, side: str) -> float:
        """The p99 latency over every request of every run of ``side``."""
        return percentile([latency for r in self.runs[side] for latency in r.latencies], 99) * 1e3

    def errors(self, side: str) -> int:
        return sum(r.errors for r in self.runs[side])

    def cpu_ms_per_1000_rows(self, side: str) -> float:
        """Median CPU time per 1,000 rows: for HTTP, the client's and the server's together."""
        return statistics.median(1e6 / r.rows_per_cpu_second for r in self.runs[side])


def bench_throughput(clients: dict[str, Client], servers: dict[str, serving.Server], model: Any,
                     pool: pd.DataFrame, size: int, repeat: int) -> Throughput:
    """``REQUESTS[size]`` requests of ``size`` rows: over HTTP to each service, ``CONCURRENCY`` at a time, and
    in-process one after another, the sides taking turns."""
    count = REQUESTS[size]
    starts = [(i * size) % (len(pool) - size + 1) for i in range(WARMUP[size] + count)]
    frames = [pool.iloc[start:start + size] for start in starts]
    payloads = [body(frame) for frame in frames]
    warm, timed = slice(0, WARMUP[size]), slice(WARMUP[size], None)
    for client in clients.values():
        client.post_all(payloads[warm])
    in_process_run(model, frames[warm], size * WARMUP[size])
    result = Throughput(size, {side: [] for side in SIDES})
    for _ in range(repeat):
        for side, client in clients.items():
            used, answers = http_run(client, servers[side], payloads[timed], size * count)
            result.runs[side].append(used)
            if not used.errors:
                check_answers(answers, frames[timed], model)
        result.runs["in_process"].append(in_process_run(model, frames[timed], size * count))
    return result


def sequential(url: str, frames: list[pd.DataFrame]) -> list[float]:
    """Seconds per request of 1-row requests sent one after another on one session."""
    payloads = [body(frame) for frame in frames]
    seconds = []
    with requests.Session() as session:
        for payload in payloads:
            started = time.perf_counter()
            answer = session.post(url, data=payload, headers=JSON_HEADERS, timeout=REQUEST_TIMEOUT_SECONDS)
            seconds.append(time.perf_counter() - started)
            if answer.status_code != 200:
                sys.exit(f"{url} answered {answer.status_code}: {answer.text[:500]}")
    return seconds


def bench_latency(urls: dict[str, str], model: Any, pool: pd.DataFrame) -> dict[str, list[float]]:
    """Sequential 1-row requests to each service and the same rows in-process; seconds per request."""
    frames = [pool.iloc[i:i + 1] for i in range(LATENCY_WARMUP + LATENCY_REQUESTS)]
    measured = {side: sequential(url, frames)[LATENCY_WARMUP:] for side, url in urls.items()}
    measured["in_process"] = in_process_run(model, frames, len(frames)).latencies[LATENCY_WARMUP:]
    return measured


@dataclass
class Recovery:
    """The p50 of sequential 1-row requests before and after each disturbance, in seconds; the 413."""

    before: float
    after_limit: float
    after_saturation: float
    saturation_requests: int
    saturation_errors: int
    rejected_seconds: float
    rejected_status: int
    memory_before: int
    memory_after: int


def workers_memory(server: serving.Server) -> int:
    """Resident bytes of the server's worker processes."""
    return sum(child.memory_info().rss for child in psutil.Process(server.pid).children(recursive=True))


def bench_recovery(url: str, server: serving.Server, pool: pd.DataFrame, max_rows: int) -> Recovery:
    """How one request at the row limit, and 30 s at concurrency 64, change the lone requests that follow."""
    frames = [pool.iloc[i:i + 1] for i in range(RECOVERY_REQUESTS)]
    before = statistics.median(sequential(url, frames))
    at_limit = pd.concat([pool] * (max_rows // len(pool) + 1)).iloc[:max_rows]
    answer = requests.post(url, data=body(at_limit), headers=JSON_HEADERS, timeout=300)
    if answer.status_code != 200:
        sys.exit(f"a request at the limit ({max_rows} rows) answered {answer.status_code}: {answer.text[:300]}")
    after_limit = statistics.median(sequential(url, frames))
    client = Client(url, SATURATION_CONCURRENCY)
    payloads = [body(frame) for frame in frames] * 50
    sent = errors = 0
    try:
        deadline = time.perf_counter() + SATURATION_SECONDS
        while time.perf_counter() < deadline:
            _, answers = client.post_all(payloads[:SATURATION_CONCURRENCY * 4])
            sent += len(answers)
            errors += sum(status != 200 for status, _, _ in answers)
    finally:
        client.close()
    after_saturation = statistics.median(sequential(url, frames))
    over = body(pd.concat([pool] * (max_rows // len(pool) + 1)).iloc[:max_rows + 1])
    memory_before = workers_memory(server)
    started = time.perf_counter()
    rejected = requests.post(url, data=over, headers=JSON_HEADERS, timeout=60)
    rejected_seconds = time.perf_counter() - started
    return Recovery(before, after_limit, after_saturation, sent, errors, rejected_seconds, rejected.status_code,
                    memory_before, workers_memory(server))


def start_peer(model_file: Path, threads: int, math_threads: int, log_file: Path) -> serving.Server:
    port = serving.free_port()
    with open(log_file, "ab") as output:
        process = subprocess.Popen([str(PYTHON), str(PEER), str(model_file), str(port), str(threads),
                                    str(math_threads)], stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    peer = serving.Server(process.pid, port, "peer", str(log_file))
    deadline = time.monotonic() + 120
    while not serving.is_ready(peer):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the peer service did not start:\n{log_file.read_text()}")
        time.sleep(0.2)
    return peer


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
    serving: dict[str, Any]
    throughput: dict[int, Throughput]
    #: Seconds per sequential 1-row request, by side.
    latency: dict[str, list[float]]
    recovery: Recovery


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
    """Make the project, package it, serve it as a local deploy does and as the peer does, and measure."""
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
    bento = serving.start(first.values["bento"], packaging.bentoml_env(fresh), work / "serve.log", "benchmark")
    servers = {"bento": bento}
    log(f"archive imported into a fresh BentoML home in {imported:.1f} s; `bentoml serve` ready "
        f"{time.perf_counter() - started - imported:.1f} s later at {bento.url}")
    try:
        trained = api.train(MODEL, Project(root))
        if not trained.cache_hit:
            sys.exit("the in-process model should come from the cache that `mlship pr` filled")
        entry = CacheEntry(trained.entry)
        model = entry.load_model()
        budget = serving.metadata(bento)["serving"]
        log(f"the bento's capacity (/metadata): {budget}")
        # The in-process side gets the same math-library threads as each of the services' threads.
        from threadpoolctl import threadpool_limits

        threadpool_limits(budget["math_threads"])
        servers["peer"] = start_peer(entry.path / MODEL_FILE, budget["threads"], budget["math_threads"],
                                     work / "peer.log")
        log(f"peer service (Starlette on uvicorn, {budget['threads']} threads) ready at {servers['peer'].url}")
        pool = customers(10_000, SEED + 1)[FEATURES]
        urls = {side: f"{server.url}/predict_proba" for side, server in servers.items()}
        log(f"latency: {LATENCY_REQUESTS} sequential 1-row requests after {LATENCY_WARMUP} to warm up, each side")
        latency = bench_latency(urls, model, pool)
        for side, values in latency.items():
            log(f"   {side}: p50 {percentile(values, 50) * 1e3:.1f} ms, p99 {percentile(values, 99) * 1e3:.1f} ms")
        throughput = {}
        clients = {side: Client(url) for side, url in urls.items()}
        try:
            for size in (1, 100):
                log(f"throughput, {size}-row requests: {REQUESTS[size]:,} per run after {WARMUP[size]} to warm up, "
                    f"HTTP {CONCURRENCY} at a time vs in-process one after another, {repeat} runs each, in turns")
                result = throughput[size] = bench_throughput(clients, servers, model, pool, size, repeat)
                for side in SIDES:
                    log(describe_runs(side, result.runs[side]))
        finally:
            for client in clients.values():
                client.close()
        log(f"recovery: {RECOVERY_REQUESTS} sequential 1-row requests before, after one request of "
            f"{budget['max_rows']:,} rows, after {SATURATION_SECONDS} s at concurrency {SATURATION_CONCURRENCY}")
        recovery = bench_recovery(urls["bento"], bento, pool, budget["max_rows"])
        log(f"   {recovery}")
    finally:
        for server in servers.values():
            serving.stop(server)
    return Measured(first, again, budget, throughput, latency, recovery)


def markdown_table(measured: Measured) -> str:
    one, hundred, recovery = measured.throughput[1], measured.throughput[100], measured.recovery
    ms = {side: (percentile(values, 50) * 1e3, percentile(values, 99) * 1e3)
          for side, values in measured.latency.items()}
    again_seconds = statistics.median(p.seconds for p in measured.again)
    yes = lambda met: "✅ yes" if met else "❌ no"  # noqa: E731

    def row(*cells: str) -> str:
        return "| " + " | ".join(cells + ("",) * (6 - len(cells))) + " |"

    lines = [
        f"CPUs: {len(os.sched_getaffinity(0))}; the bento: {measured.serving['workers']} worker, "
        f"{measured.serving['threads']} threads, math libraries {measured.serving['math_threads']} thread each "
        "(the peer and the in-process side the same).",
        "",
        "| case | bento (`bentoml serve`) | hand-written peer (Starlette) | in-process | target | met |",
        "|---|--:|--:|--:|---|:-:|",
        row("1 row, c=1: p50 / p99", *(f"{ms[side][0]:.1f} / {ms[side][1]:.1f} ms" for side in SIDES),
            "bento p50 ≤ in-process p50 + 10 ms; p99 ≤ 3 × p50",
            yes(ms["bento"][0] <= ms["in_process"][0] + 10 and ms["bento"][1] <= 3 * ms["bento"][0])),
    ]
    for size, result in ((1, one), (100, hundred)):
        met = (result.median("bento") >= 0.8 * result.median("peer")
               and result.p99_ms("bento") <= 1.2 * result.p99_ms("peer") and result.errors("bento") == 0)
        lines.append(row(f"{size}-row requests, c={CONCURRENCY}: rows/s (p99, errors)",
                         *(f"{result.median(side):,.0f} ({result.p99_ms(side):.0f} ms, {result.errors(side)})"
                           if side != "in_process" else f"{result.median(side):,.0f}" for side in SIDES),
                         "≥ 0.8 × peer; p99 ≤ 1.2 × peer's; 0 errors", yes(met)))
        lines.append(row(f"CPU per 1,000 rows, {size}-row requests (HTTP: client + server)",
                         *(f"{result.cpu_ms_per_1000_rows(side):,.0f} ms" for side in SIDES)))
    limit = measured.serving["max_rows"]
    lines += [
        row(f"p50 of 1-row requests: before / after one {limit:,}-row request / after "
            f"{SATURATION_SECONDS} s at c={SATURATION_CONCURRENCY}",
            f"{recovery.before * 1e3:.1f} / {recovery.after_limit * 1e3:.1f} / {recovery.after_saturation * 1e3:.1f} ms",
            "", "", "after ≤ 1.5 × before",
            yes(max(recovery.after_limit, recovery.after_saturation) <= 1.5 * recovery.before)),
        row(f"requests during the {SATURATION_SECONDS} s at c={SATURATION_CONCURRENCY} (errors)",
            f"{recovery.saturation_requests:,} ({recovery.saturation_errors})"),
        row(f"a request of {limit + 1:,} rows: status, time, workers' memory before → after",
            f"{recovery.rejected_status} in {recovery.rejected_seconds * 1e3:.0f} ms, "
            f"{recovery.memory_before / 2**20:.0f} → {recovery.memory_after / 2**20:.0f} MiB", "", "",
            "413 in < 100 ms, memory unchanged",
            yes(recovery.rejected_status == 413 and recovery.rejected_seconds < 0.1
                and recovery.memory_after <= recovery.memory_before * 1.02)),
        row("`mlship package`, first / again (median)", f"{measured.first.seconds:.1f} s / {again_seconds:.1f} s"),
    ]
    return "\n".join(lines)


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
    log(f"machine: {machine(('bentoml', 'scikit-learn', 'pandas', 'numpy', 'requests', 'starlette', 'uvicorn'))}")
    log(f"mlship: commit {mlship_revision()}")
    log(f"load average at start: {load:.2f}" + ("  (busy machine: timings will be noisy)" if load > BUSY_LOAD else ""))
    with tempfile.TemporaryDirectory(prefix="mlship-bench-serving-") as temporary:
        measured = measure(Path(temporary), args.repeat)
    log(f"load average at the end: {os.getloadavg()[0]:.2f}")
    log(f"\n{markdown_table(measured)}\n")
    log(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
