"""Calibration of the PR verdicts: how often the change gates fail when they should not, how
often they fail when they should, and whether the intervals cover the true change.

Not a timed benchmark: each case repeats an experiment many times with fixed seeds and
counts outcomes. The verdicts come from mlship's own code, called as ``compare.py`` calls
it (``paired_bootstrap`` on the shared rows, ``compare._slices`` for the slices, and
``check_changes`` for the gates), or, in case F, from ``mlship pr --dry-run --json``.

A  equally good models (independent errors), 4 gated metrics x (global + 6 slices):
   family-wise false alarms <= 5%
B  the same RandomForestClassifier, only random_state changed, gates of A: fails <= 5%
C  true drop inside the bound (dAUC -0.005, max_drop 0.01, 500 rows): fails <= 5%
D  true drop of twice the bound (dAUC -0.02, max_drop 0.01, 2,000 rows): fails >= 90%
E  coverage of the 95% intervals of dAUC, daccuracy, dlog_loss, drmse at 500 and 2,000
   rows: 0.93-0.97; dAUC's interval width within 10% of DeLong's
F  data grown by 20% from the same generator, nothing else changed, through the real
   ``mlship pr``: passes in >= 95% of seeds, and no compared row was a baseline training row
G  a small RandomForest (3 trees), only random_state changed: a Δ of AUC or accuracy called
   significant, and a max_drop 0 gate failing, <= 5% with ``evaluation.seeds: 5`` (and, for
   comparison, how often with one seed)

Each case prints its rate with its Monte-Carlo standard error, sqrt(p(1-p)/runs). The
Markdown table at the end goes into benchmarks/README.md.

Default runs: 400 for A, C, D, E (C and D at each of two correlations, E at each of two sizes),
100 for B, 40 for F, 200 for G; ``--runs N`` sets the 400 and scales B (N/4), F (N/10) and G (N/2) with it. About
15-30 minutes in all on 2 cores (F half as long with --jobs 2); see benchmarks/README.md.

Usage: python benchmarks/verdicts.py [--only A,C] [--runs N] [--jobs 2]   (or: make bench)
"""

from __future__ import annotations

import os

# Calibration, not timing: one thread per process, so two runs side by side do not fight over cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, fields  # noqa: E402
from pathlib import Path  # noqa: E402
from statistics import NormalDist  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from scipy.stats import rankdata, spearmanr  # noqa: E402

from mlship.review import compare  # noqa: E402
from mlship.review.bootstrap import Predictions, paired_bootstrap  # noqa: E402
from mlship.review.gates import check_changes  # noqa: E402
from mlship.spec import Gate, ModelSpec, Spec  # noqa: E402
from mlship.train.data import Dataset  # noqa: E402
from mlship.train.evaluation import score  # noqa: E402
from run import log_load, machine, mlship_revision  # noqa: E402  (benchmarks/run.py, beside this script)

PYTHON = Path(sys.executable)
MLSHIP = PYTHON.parent / "mlship"
NORMAL = NormalDist()
Z95 = NORMAL.inv_cdf(0.975)

#: mlship's defaults, which every case keeps: 1,000 resamples, 95%, and the base's seed 0.
RESAMPLES, CONFIDENCE, BOOTSTRAP_SEED = 1000, 0.95, 0
#: The default number of runs of the light cases; ``--runs`` changes it, and the heavy cases scale with it.
BASE_RUNS = 400
#: Each case's runs as a share of ``--runs``: B and F train real models and take fewer.
RUN_SHARE = {"A": 1.0, "B": 0.25, "C": 1.0, "D": 1.0, "E": 1.0, "F": 0.1, "G": 0.5}
#: Experiment k of a case draws from ``numpy.random.default_rng([CASE_SEED[case], k, variant...])``.
CASE_SEED = {"A": 101, "B": 202, "C": 303, "D": 404, "E": 505, "F": 606, "G": 707}

CLASSIFICATION_METRICS = ["roc_auc", "accuracy", "f1", "log_loss"]
#: Two gate sets for A and B. "strict": every bound 0, so a true change of 0 sits exactly on the
#: boundary of every test (the least favourable case for false alarms). "typical": bounds a team
#: might write; a true change of 0 is then well inside them.
GATE_SETS: dict[str, dict[str, Gate]] = {
    "strict": {m: Gate(max_drop=0.0, slice_max_drop=0.0) for m in CLASSIFICATION_METRICS},
    "typical": {
        "roc_auc": Gate(max_drop=0.01, slice_max_drop=0.03),
        "accuracy": Gate(max_drop=0.01, slice_max_drop=0.03),
        "f1": Gate(max_drop=0.02, slice_max_drop=0.05),
        "log_loss": Gate(max_drop=0.02, slice_max_drop=0.05),
    },
}
GATE_SET_TEXT = {
    "strict": "all bounds 0",
    "typical": "typical bounds",
}

#: The synthetic classifier of A, C, D, E: prevalence and the baseline's AUC.
PREVALENCE, BASE_AUC = 0.3, 0.80
#: A's six slices: a segment column drawn independently of everything else, with these shares.
SEGMENT_SHARES = (0.25, 0.2, 0.2, 0.15, 0.1, 0.1)
A_ROWS = 1000
C_ROWS, C_DROP = 500, 0.005
D_ROWS, D_DROP = 2000, 0.02
AUC_BOUND = 0.01
#: Within-class correlation of the two versions' scores in C and D. 0.9 is about what "the
#: candidate is the baseline plus independent noise" gives for D's drop (0.918), 0.98 for C's (0.979).
CD_RHOS = (0.9, 0.98)
E_ROWS, E_RHO, E_AUC_DROP = (500, 2000), 0.9, 0.01
#: E's regression: residuals N(0, 1) for the baseline and N(0, 1.03^2) for the candidate, correlated E_RHO.
E_RMSE = (1.0, 1.03)
#: B: the churn-like table (4,000 rows, like the churn example), split 75/25 with stratification.
B_ROWS, B_TEST_SIZE, B_SPLIT_SEED, B_RANDOM_STATES = 4000, 0.25, 7, (7, 8)
#: G: a forest small enough that a seed moves its metrics, judged with one seed and with several.
G_ROWS, G_SEEDS, G_FOREST = 8000, 5, {"n_estimators": 3, "max_depth": 3}
G_METRICS = ["roc_auc", "accuracy"]
G_GATES = {m: Gate(max_drop=0.0) for m in G_METRICS}
#: F: rows on main, and the share appended on the branch.
F_ROWS, F_GROWTH = 2000, 0.2
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@mlship.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@mlship.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "BENTOML_DO_NOT_TRACK": "true", "OMP_NUM_THREADS": "1"}


def log(text: str = "") -> None:
    print(text, flush=True)


def rng_for(case: str, *keys: int) -> np.random.Generator:
    """The generator of one experiment: the case's seed and the experiment's keys (its run, its variant)."""
    return np.random.default_rng([CASE_SEED[case], *keys])


# ---------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    """One line of the results table: a rate (or a mean ratio) over ``runs`` experiments."""

    case: str
    label: str
    runs: int
    value: float
    #: Monte-Carlo standard error of ``value``.
    error: float
    target: str
    met: bool | None
    #: "rate" (shown as a percentage) or "ratio".
    kind: str = "rate"

    def shown(self) -> str:
        if self.kind == "rate":
            # At 0 or 1 the standard error is 0, which says nothing: add the rule of three's 95% bound.
            extreme = (f" (< {min(1.0, 3 / self.runs):.1%} at 95%)" if self.value == 0 else
                       f" (> {max(0.0, 1 - 3 / self.runs):.1%} at 95%)" if self.value == 1 else "")
            return f"{self.value:.1%} ± {self.error:.1%}{extreme}"
        return f"{self.value:.3f} ± {self.error:.3f}"


def rate(case: str, label: str, hits: list[bool], target: str, ok: Callable[[float], bool | None]) -> Outcome:
    runs = len(hits)
    p = sum(hits) / runs if runs else math.nan
    return Outcome(case, label, runs, p, math.sqrt(p * (1 - p) / runs) if runs else math.nan, target,
                   ok(p) if runs else None)


def coverage(case: str, label: str, hits: list[bool]) -> Outcome:
    return rate(case, label, hits, "0.93–0.97", lambda p: 0.93 <= p <= 0.97)


def mean_ratio(case: str, label: str, ratios: list[float], target: str, ok: Callable[[float], bool]) -> Outcome:
    values = np.asarray(ratios)
    mean = float(values.mean())
    return Outcome(case, label, len(values), mean, float(values.std(ddof=1) / math.sqrt(len(values))), target,
                   ok(mean), "ratio")


# ---------------------------------------------------------------- the binormal classifier


@dataclass(frozen=True)
class Binormal:
    """A calibrated scorer of a two-class target: a positive's score is N(mu, 1), a negative's N(0, 1).

    Its probability is the true P(y = 1 | score), logit = log(pi / (1 - pi)) + mu*s - mu^2/2, and it
    predicts class 1 where that is >= 0.5. Its population metrics are exact functions of (pi, mu):
    AUC = Phi(mu / sqrt 2); accuracy and F1 follow from the threshold on s; log loss is a
    one-dimensional normal expectation, computed by Gauss-Hermite quadrature (120 nodes).
    """

    prevalence: float
    mu: float

    @classmethod
    def with_auc(cls, auc: float, prevalence: float = PREVALENCE) -> "Binormal":
        return cls(prevalence, math.sqrt(2) * NORMAL.inv_cdf(auc))

    @property
    def prior_logit(self) -> float:
        return math.log(self.prevalence / (1 - self.prevalence))

    @property
    def threshold(self) -> float:
        """The score above which the probability reaches 0.5."""
        return self.mu / 2 - self.prior_logit / self.mu

    def proba(self, scores: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.prior_logit + self.mu * scores - self.mu**2 / 2)))

    def truth(self) -> dict[str, float]:
        pi, t = self.prevalence, self.threshold
        tpr, fpr = NORMAL.cdf(self.mu - t), NORMAL.cdf(-t)
        nodes, weights = np.polynomial.hermite_e.hermegauss(120)
        weights = weights / math.sqrt(2 * math.pi)
        a, mu = self.prior_logit, self.mu
        loss_pos = float(weights @ np.logaddexp(0, -(a + mu * nodes + mu**2 / 2)))
        loss_neg = float(weights @ np.logaddexp(0, a + mu * nodes - mu**2 / 2))
        return {
            "roc_auc": NORMAL.cdf(mu / math.sqrt(2)),
            "accuracy": pi * tpr + (1 - pi) * (1 - fpr),
            "f1": 2 * pi * tpr / (pi + pi * tpr + (1 - pi) * fpr),
            "log_loss": pi * loss_pos + (1 - pi) * loss_neg,
        }


def draw_pair(rng: np.random.Generator, rows: int, candidate: Binormal, baseline: Binormal,
              rho: float) -> tuple[np.ndarray, Predictions, Predictions]:
    """``rows`` held-out rows (y ~ Bernoulli(prevalence), not stratified) scored by both versions, whose
    noise has within-class correlation ``rho``; returns y and each version's predictions."""
    y = (rng.random(rows) < baseline.prevalence).astype(np.int64)
    noise_b = rng.standard_normal(rows)
    noise_c = rho * noise_b + math.sqrt(1 - rho**2) * rng.standard_normal(rows)
    out = []
    for model, noise in ((candidate, noise_c), (baseline, noise_b)):
        p = model.proba(model.mu * y + noise)
        out.append(Predictions((p >= 0.5).astype(np.int64), np.column_stack([1 - p, p])))
    return y, out[0], out[1]


def delong_se(positive: np.ndarray, score_c: np.ndarray, score_b: np.ndarray) -> float:
    """Standard error of AUC_c - AUC_b on the same rows, by DeLong's method.

    DeLong, DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more correlated
    receiver operating characteristic curves: a nonparametric approach", Biometrics 44(3):837-845.
    With m positives X_i, n negatives Y_j, and psi(x, y) = 1 if x > y, 1/2 if x = y, else 0, the
    structural components of version k are V10_k(X_i) = (1/n) sum_j psi(X_i, Y_j) and
    V01_k(Y_j) = (1/m) sum_i psi(X_i, Y_j); S10 and S01 are their 2 x 2 sample covariance
    matrices over the positives and the negatives, and
        Var(A_c - A_b) = (S10_cc + S10_bb - 2 S10_cb) / m + (S01_cc + S01_bb - 2 S01_cb) / n.
    The components come from midranks (Sun & Xu 2014, IEEE Signal Processing Letters 21(11):1389-1393):
    V10(X_i) = (rank of X_i among all - rank among positives) / n, V01(Y_j) = 1 - (rank of Y_j among
    all - rank among negatives) / m.
    """
    m, n = int(positive.sum()), int((~positive).sum())
    v10, v01 = [], []
    for s in (score_c, score_b):
        x, y = s[positive], s[~positive]
        everything = rankdata(np.concatenate([x, y]))
        v10.append((everything[:m] - rankdata(x)) / n)
        v01.append(1 - (everything[m:] - rankdata(y)) / m)
    return math.sqrt(np.var(v10[0] - v10[1], ddof=1) / m + np.var(v01[0] - v01[1], ddof=1) / n)


# ---------------------------------------------------------------- a verdict as compare.py reaches it


def bench_spec(metrics: list[str], slice_column: str, positive: Any) -> Spec:
    """A spec that only carries what ``compare._slices`` reads: the metrics, the slice column and the
    evaluation defaults (min_slice_size 30, min_slice_class_size 10, bootstrap 1,000 / 95% / seed 0)."""
    config = ModelSpec.model_validate({
        "task": "classification",
        "data": {"path": "unused.csv", "target": "y"},
        "model": {"estimator": "sklearn.dummy.DummyClassifier"},
        "evaluation": {"metrics": metrics, "slices": [slice_column], "positive_class": positive},
    })
    return Spec("verdicts", Path("."), config, {})


def judge(y: np.ndarray, candidate: Predictions, baseline: Predictions, slice_values: np.ndarray,
          classes: list[Any], positive: Any, gate_sets: dict[str, dict[str, Gate]],
          metrics: list[str] = CLASSIFICATION_METRICS,
          replicas: list[tuple[Predictions, Predictions]] = ()) -> dict[str, dict[str, Any]]:
    """The paired branch of ``compare._compare``: baseline metrics, global deltas, slices, change gates,
    with the variation between seed ``replicas`` (pairs of candidate and baseline) where there are any.

    Returns, per gate set, whether the model passed, whether any test would have failed without
    Holm's adjustment, and how many tests there were.
    """
    spec = bench_spec(metrics, "segment", positive)
    known = {"y_test": pd.Series(y), "test_rows": np.arange(len(y)),
             "test_table": pd.DataFrame({"segment": slice_values}), "columns": ["segment", "y"], "target": {},
             "numeric": [], "categorical": ["segment"], "classes": classes, "positive_class": positive,
             "warnings": []}
    # Only the fields above are read by _slices; any others (training rows, digests) stay None.
    dataset = Dataset(**{f.name: known.get(f.name) for f in fields(Dataset)})
    baseline_metrics, _ = score(metrics, y, baseline.y_pred, baseline.proba, classes, positive)
    pairs = [(candidate, baseline), *replicas]
    deltas = compare._with_seeds(paired_bootstrap(metrics, y, candidate, baseline, classes, positive, RESAMPLES,
                                                  CONFIDENCE, BOOTSTRAP_SEED), y, pairs, dataset, CONFIDENCE)
    slices = compare._slices(spec, dataset, pairs, BOOTSTRAP_SEED)
    verdicts = {}
    for name, gates in gate_sets.items():
        results, tests = check_changes(gates, deltas, baseline_metrics, slices, True, CONFIDENCE)
        verdicts[name] = {
            "passed": all(g.passed for g in results),
            "uncorrected_fail": any(t.p_value < 1 - CONFIDENCE for t in tests),
            "tests": len(tests),
            # (metric, "global" or "slice", rejected without adjustment, failed after Holm) per test
            "each": [(t.metric, "slice" if t.where else "global", t.p_value < 1 - CONFIDENCE, t.failed)
                     for t in tests],
        }
    return verdicts


def family_outcomes(case: str, what: str, verdicts: list[dict[str, dict[str, Any]]]) -> list[Outcome]:
    outcomes = []
    for name in GATE_SETS:
        fails = [not v[name]["passed"] for v in verdicts]
        uncorrected = np.mean([v[name]["uncorrected_fail"] for v in verdicts])
        tests = sorted({v[name]["tests"] for v in verdicts})
        log(f"   {name} gates ({GATE_SET_TEXT[name]}): fails {np.mean(fails):.1%} with Holm; "
            f"{uncorrected:.1%} if each test were judged alone; tests per model: {', '.join(map(str, tests))}")
        kinds = sorted({(metric, scope) for v in verdicts for metric, scope, _, _ in v[name]["each"]},
                       key=lambda kind: (CLASSIFICATION_METRICS.index(kind[0]), kind[1]))
        shares, culprits = [], []
        for metric, scope in kinds:
            mine = [(raw, held) for v in verdicts for m, w, raw, held in v[name]["each"] if (m, w) == (metric, scope)]
            shares.append(f"{metric} {scope} {np.mean([raw for raw, _ in mine]):.1%}")
            if any(held for _, held in mine):
                culprits.append(f"{metric} {scope} {sum(held for _, held in mine)}")
        log(f"      share of single tests with unadjusted p < {1 - CONFIDENCE:.2f}: {', '.join(shares)}")
        log(f"      tests that failed after Holm, by kind: {', '.join(culprits) or 'none'}")
        outcomes.append(rate(case, f"{what}, {GATE_SET_TEXT[name]}: fails", fails, "≤ 5%", lambda p: p <= 0.05))
    return outcomes


# ---------------------------------------------------------------- A: equally good models


def case_a(runs: int) -> list[Outcome]:
    model = Binormal.with_auc(BASE_AUC)
    shares = np.asarray(SEGMENT_SHARES)
    log(f"A: {runs} runs of {A_ROWS:,} rows, prevalence {PREVALENCE}, both versions AUC {BASE_AUC} "
        f"(true difference 0 in every metric), independent errors (rho 0), 6 slices of shares {SEGMENT_SHARES}")
    verdicts = []
    for run in range(runs):
        rng = rng_for("A", run)
        y, candidate, baseline = draw_pair(rng, A_ROWS, model, model, 0.0)
        segments = np.array([f"s{k + 1}" for k in range(len(shares))])[rng.choice(len(shares), A_ROWS, p=shares)]
        verdicts.append(judge(y, candidate, baseline, segments, [0, 1], 1, GATE_SETS))
    return family_outcomes("A", "equally good, 4 metrics × (global + 6 slices)", verdicts)


# ---------------------------------------------------------------- B: only random_state changed


def customers(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """A churn-like table, after tests/sample_churn.py but with six regions (six slices).

    Churn is drawn from a logistic model: income (strongly), the premium plan, age, and two regions.
    """
    regions = np.array(["north", "south", "east", "west", "centre", "islands"])
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, rows),
        "income": np.round(rng.normal(50, 15, rows), 2),
        "plan": rng.choice(["basic", "standard", "premium"], rows),
        "region": regions[rng.choice(len(regions), rows, p=SEGMENT_SHARES)],
    })
    logit = ((frame["income"] - 50) / 12 + 1.0 * (frame["plan"] == "premium") - 0.01 * (frame["age"] - 50)
             - 0.5 * (frame["region"] == "south") + 0.4 * (frame["region"] == "islands"))
    frame["churned"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame


def case_b(runs: int) -> list[Outcome]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    from mlship.train.fit import build_pipeline

    log(f"B: {runs} runs; each a new churn-like table of {B_ROWS:,} rows, split 75/25 (stratified, seed "
        f"{B_SPLIT_SEED}), mlship's preprocessing + RandomForestClassifier() with random_state "
        f"{B_RANDOM_STATES[1]} (candidate) vs {B_RANDOM_STATES[0]} (baseline); slices by region (6)")
    verdicts, correlations, aucs = [], [], []
    for run in range(runs):
        table = customers(B_ROWS, rng_for("B", run))
        train, test = train_test_split(table, test_size=B_TEST_SIZE, random_state=B_SPLIT_SEED,
                                       stratify=table["churned"])
        features = ["age", "income", "plan", "region"]
        versions = []
        for random_state in reversed(B_RANDOM_STATES):  # candidate first
            pipeline = build_pipeline(RandomForestClassifier(random_state=random_state), ["age", "income"],
                                      ["plan", "region"])
            pipeline.fit(train[features], train["churned"])
            versions.append(Predictions(pipeline.predict(test[features]), pipeline.predict_proba(test[features])))
        y = test["churned"].to_numpy()
        verdicts.append(judge(y, versions[0], versions[1], test["region"].to_numpy(), ["no", "yes"], "yes",
                              GATE_SETS))
        correlations.append(np.mean([spearmanr(versions[0].proba[y == c, 1], versions[1].proba[y == c, 1])[0]
                                     for c in ("no", "yes")]))
        aucs.append(score(["roc_auc"], y, versions[1].y_pred, versions[1].proba, ["no", "yes"], "yes")[0]["roc_auc"])
    log(f"   baseline AUC {np.mean(aucs):.3f} on average; within-class Spearman correlation of the two "
        f"versions' P(yes): median {np.median(correlations):.3f} (range {min(correlations):.3f}–"
        f"{max(correlations):.3f})")
    return family_outcomes("B", "only random_state changed (random forest), gates of A", verdicts)


# ---------------------------------------------------------------- G: training seeds


def case_g(runs: int) -> list[Outcome]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    from mlship.train.fit import build_pipeline, reseeded

    log(f"G: {runs} runs; each a new churn-like table of {G_ROWS:,} rows, split 75/25, a small forest "
        f"({G_FOREST}) with random_state {B_RANDOM_STATES[1]} vs {B_RANDOM_STATES[0]}, the candidate alternating; "
        f"ROC AUC and accuracy judged with 1 seed and with evaluation.seeds: {G_SEEDS}")
    called: dict[str, list[bool]] = {"1 seed": [], f"evaluation.seeds: {G_SEEDS}": []}
    failed: dict[str, list[bool]] = {label: [] for label in called}
    features, classes = ["age", "income", "plan", "region"], ["no", "yes"]
    for run in range(runs):
        table = customers(G_ROWS, rng_for("G", run))
        train, test = train_test_split(table, test_size=B_TEST_SIZE, random_state=B_SPLIT_SEED,
                                       stratify=table["churned"])
        y = test["churned"].to_numpy()
        versions = []
        # A seed can be luckier than another on every table; swapping the roles on odd runs keeps
        # the true difference between the versions zero on average.
        for random_state in B_RANDOM_STATES[::1 if run % 2 else -1]:  # candidate first
            forest = RandomForestClassifier(random_state=random_state, **G_FOREST)
            fitted = []
            for shift in range(G_SEEDS):
                pipeline = build_pipeline(reseeded(forest, shift), ["age", "income"], ["plan", "region"])
                pipeline.fit(train[features], train["churned"])
                fitted.append(Predictions(pipeline.predict(test[features]), pipeline.predict_proba(test[features])))
            versions.append(fitted)
        pairs = list(zip(*versions))
        dataset = Dataset(**{f.name: {"classes": classes, "positive_class": "yes"}.get(f.name)
                             for f in fields(Dataset)})
        bootstrap = paired_bootstrap(G_METRICS, y, *pairs[0], classes, "yes", RESAMPLES, CONFIDENCE, BOOTSTRAP_SEED)
        baseline_metrics = score(G_METRICS, y, pairs[0][1].y_pred, pairs[0][1].proba, classes, "yes")[0]
        for label, used in zip(called, (pairs[:1], pairs)):
            deltas = compare._with_seeds(bootstrap, y, used, dataset, CONFIDENCE)
            called[label].append(any(d.significant for d in deltas.values()))
            results, _ = check_changes(G_GATES, deltas, baseline_metrics, [], True, CONFIDENCE)
            failed[label].append(not all(g.passed for g in results))
    outcomes = []
    for label in called:
        seeded = label != "1 seed"
        target, ok = ("≤ 5%", lambda p: p <= 0.05) if seeded else ("(for comparison)", lambda p: None)
        outcomes.append(rate("G", f"only random_state changed (small forest), {label}: some Δ called significant",
                             called[label], target, ok))
        outcomes.append(rate("G", f"the same, {label}: a max_drop 0 gate fails", failed[label], target, ok))
    return outcomes


# ---------------------------------------------------------------- C and D: a true drop of AUC


def auc_drop_runs(case: str, runs: int, rows: int, drop: float, rho: float) -> tuple[list[bool], list[bool], float]:
    """Runs of one gate, roc_auc max_drop AUC_BOUND, when the candidate's true AUC is ``drop`` lower.

    Returns mlship's failures, the failures of the same one-sided z-test with DeLong's standard
    error (a reference), and the standard deviation of the observed deltas over the runs.
    """
    baseline, candidate = Binormal.with_auc(BASE_AUC), Binormal.with_auc(BASE_AUC - drop)
    gates = {"roc_auc": Gate(max_drop=AUC_BOUND)}
    fails, delong_fails, deltas = [], [], []
    for run in range(runs):
        rng = rng_for(case, run, round(rho * 1000))
        y, c, b = draw_pair(rng, rows, candidate, baseline, rho)
        result = paired_bootstrap(["roc_auc"], y, c, b, [0, 1], 1, RESAMPLES, CONFIDENCE, BOOTSTRAP_SEED)
        baseline_auc = score(["roc_auc"], y, b.y_pred, b.proba, [0, 1], 1)[0]
        gate_results, _ = check_changes(gates, result, baseline_auc, [], True, CONFIDENCE)
        fails.append(not all(g.passed for g in gate_results))
        se = delong_se(y == 1, c.proba[:, 1], b.proba[:, 1])
        delong_fails.append((-result["roc_auc"].delta - AUC_BOUND) / se > NORMAL.inv_cdf(CONFIDENCE))
        deltas.append(result["roc_auc"].delta)
    return fails, delong_fails, float(np.std(deltas, ddof=1))


def case_c(runs: int) -> list[Outcome]:
    outcomes = []
    for rho in CD_RHOS:
        log(f"C: {runs} runs of {C_ROWS} rows, AUC {BASE_AUC} -> {BASE_AUC - C_DROP} (true dAUC -{C_DROP}, "
            f"exact), gate roc_auc max_drop {AUC_BOUND}, rho {rho}")
        fails, delong_fails, spread = auc_drop_runs("C", runs, C_ROWS, C_DROP, rho)
        log(f"   fails {np.mean(fails):.1%}; a z-test with DeLong's se fails {np.mean(delong_fails):.1%}; "
            f"sd of the observed dAUC {spread:.4f}")
        outcomes.append(rate("C", f"ΔAUC −{C_DROP} within max_drop {AUC_BOUND}, {C_ROWS} rows, ρ {rho}: fails",
                             fails, "≤ 5%", lambda p: p <= 0.05))
    return outcomes


def case_d(runs: int) -> list[Outcome]:
    outcomes = []
    z_alpha, z_power = NORMAL.inv_cdf(CONFIDENCE), NORMAL.inv_cdf(0.9)
    for rho in CD_RHOS:
        log(f"D: {runs} runs of {D_ROWS:,} rows, AUC {BASE_AUC} -> {BASE_AUC - D_DROP} (true dAUC -{D_DROP}, "
            f"exact), gate roc_auc max_drop {AUC_BOUND}, rho {rho}")
        fails, delong_fails, spread = auc_drop_runs("D", runs, D_ROWS, D_DROP, rho)
        ideal = NORMAL.cdf((D_DROP - AUC_BOUND) / spread - z_alpha)
        needed = D_ROWS * ((z_alpha + z_power) * spread / (D_DROP - AUC_BOUND)) ** 2
        log(f"   fails {np.mean(fails):.1%}; a z-test with DeLong's se fails {np.mean(delong_fails):.1%}; "
            f"sd of the observed dAUC {spread:.4f}, so a one-sided 5% z-test knowing the true se would fail "
            f"{ideal:.1%}, and would need about {needed:,.0f} rows for 90%")
        outcomes.append(rate("D", f"ΔAUC −{D_DROP} vs max_drop {AUC_BOUND}, {D_ROWS:,} rows, ρ {rho}: fails",
                             fails, "≥ 90%", lambda p: p >= 0.90))
    return outcomes


# ---------------------------------------------------------------- E: coverage of the intervals


def case_e(runs: int) -> list[Outcome]:
    baseline, candidate = Binormal.with_auc(BASE_AUC), Binormal.with_auc(BASE_AUC - E_AUC_DROP)
    truth_b, truth_c = baseline.truth(), candidate.truth()
    true_delta = {m: truth_c[m] - truth_b[m] for m in ("roc_auc", "accuracy", "log_loss")}
    sigma_b, sigma_c = E_RMSE
    true_delta["rmse"] = sigma_c - sigma_b
    log(f"E: {runs} runs per size; classifier AUC {BASE_AUC} -> {BASE_AUC - E_AUC_DROP}, prevalence {PREVALENCE}, "
        f"rho {E_RHO}; regression residuals N(0, {sigma_b}^2) -> N(0, {sigma_c}^2), rho {E_RHO}")
    log("   true deltas (exact): " + ", ".join(f"{m} {v:+.5f}" for m, v in true_delta.items()))
    outcomes = []
    for rows in E_ROWS:
        hits: dict[str, list[bool]] = {m: [] for m in true_delta}
        delong_hits, width_ratios = [], []
        for run in range(runs):
            rng = rng_for("E", run, rows)
            y, c, b = draw_pair(rng, rows, candidate, baseline, E_RHO)
            deltas = paired_bootstrap(["roc_auc", "accuracy", "log_loss"], y, c, b, [0, 1], 1, RESAMPLES,
                                      CONFIDENCE, BOOTSTRAP_SEED)
            target = rng.normal(0, 3, rows)
            noise_b = rng.standard_normal(rows)
            noise_c = E_RHO * noise_b + math.sqrt(1 - E_RHO**2) * rng.standard_normal(rows)
            deltas |= paired_bootstrap(["rmse"], target, Predictions(target + sigma_c * noise_c),
                                       Predictions(target + sigma_b * noise_b), None, None, RESAMPLES, CONFIDENCE,
                                       BOOTSTRAP_SEED)
            for metric, truth in true_delta.items():
                hits[metric].append(deltas[metric].ci_low <= truth <= deltas[metric].ci_high)
            se = delong_se(y == 1, c.proba[:, 1], b.proba[:, 1])
            auc = deltas["roc_auc"]
            delong_hits.append(abs(auc.delta - true_delta["roc_auc"]) <= Z95 * se)
            width_ratios.append((auc.ci_high - auc.ci_low) / (2 * Z95 * se))
        log(f"   {rows:,} rows: coverage " + ", ".join(f"{m} {np.mean(h):.1%}" for m, h in hits.items())
            + f"; DeLong's dAUC interval covers {np.mean(delong_hits):.1%}; width ratio to DeLong "
            f"{np.mean(width_ratios):.3f}")
        for metric, shown in (("roc_auc", "ΔAUC"), ("accuracy", "Δaccuracy"), ("log_loss", "Δlog_loss"),
                              ("rmse", "Δrmse")):
            outcomes.append(coverage("E", f"{shown} 95% interval, {rows:,} rows: coverage", hits[metric]))
        outcomes.append(mean_ratio("E", f"ΔAUC interval width / DeLong's, {rows:,} rows", width_ratios,
                                   "0.90–1.10", lambda r: 0.9 <= r <= 1.1))
    return outcomes


# ---------------------------------------------------------------- F: grown data, through `mlship pr`


def houses(rows: int, rng: np.random.Generator, first_id: int = 0) -> pd.DataFrame:
    """A housing table: price (thousands) from floor area, rooms, age, distance and neighbourhood, plus noise."""
    hoods = np.array(["harbour", "old-town", "park", "hills", "riverside", "airport"])
    hood = rng.choice(len(hoods), rows, p=SEGMENT_SHARES)
    sqft = np.round(rng.gamma(9, 180, rows))
    rooms = np.clip(np.round(sqft / 400 + rng.normal(0, 0.8, rows)), 1, 9).astype(int)
    age = rng.integers(0, 100, rows)
    distance = np.round(rng.exponential(8, rows), 2)
    price = (60 + 0.12 * sqft + 12 * rooms - 0.6 * age - 4 * np.sqrt(distance)
             + np.array([40, 25, 15, 0, 10, -20])[hood] + rng.normal(0, 30, rows))
    return pd.DataFrame({"house_id": np.arange(first_id, first_id + rows), "neighbourhood": hoods[hood],
                         "sqft": sqft, "rooms": rooms, "age": age, "distance_km": distance,
                         "price": np.round(price, 1)})


F_MODELS = {
    "housing": {
        "description": "House prices (written by benchmarks/verdicts.py).",
        "task": "regression",
        "data": {"path": "data/houses.csv", "target": "price",
                 "features": ["neighbourhood", "sqft", "rooms", "age", "distance_km"],
                 "split": {"test_size": 0.25, "seed": 7}},
        "model": {"estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
                  "params": {"max_iter": 200, "learning_rate": 0.05}},
        "evaluation": {"metrics": ["rmse", "mae", "r2"], "slices": ["neighbourhood"]},
        "gates": {"rmse": {"max_relative_drop": 0.03, "slice_max_drop": 5.0},
                  "mae": {"max_relative_drop": 0.03},
                  "r2": {"max_drop": 0.01, "slice_max_drop": 0.05}},
    },
    "churn": {
        "description": "Customer churn (written by benchmarks/verdicts.py).",
        "task": "classification",
        "data": {"path": "data/customers.csv", "target": "churned", "features": ["age", "income", "plan", "region"],
                 "split": {"test_size": 0.25, "seed": 7}},
        "model": {"estimator": "sklearn.ensemble.RandomForestClassifier",
                  "params": {"n_estimators": 100, "min_samples_leaf": 5}},
        "evaluation": {"metrics": CLASSIFICATION_METRICS, "slices": ["region"], "positive_class": "yes"},
        "gates": {metric: gate.model_dump(exclude_none=True) for metric, gate in GATE_SETS["typical"].items()},
    },
}
F_TABLES = {"housing": houses, "churn": customers}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**clean_env(), **GIT_ENV}, check=True, capture_output=True)


def clean_env() -> dict[str, str]:
    """This process's environment without GitHub Actions' variables, so ``mlship pr`` never thinks it is in CI."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLSHIP_"))}


def grown_repo(work: Path, run: int) -> tuple[Path, dict[str, int]]:
    """A repository whose main holds both models on F_ROWS rows each, and a branch that appends
    F_GROWTH x F_ROWS rows from the same generator (the next draws of the same stream) and nothing else."""
    repo = work / "repo"
    rng = rng_for("F", run)
    tables = {}
    for name, spec in F_MODELS.items():
        folder = repo / "models" / name
        (folder / "data").mkdir(parents=True)
        (folder / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        tables[name] = F_TABLES[name](F_ROWS, rng)
        if name == "churn":
            tables[name].insert(0, "customer_id", np.arange(F_ROWS))
        tables[name].to_csv(folder / spec["data"]["path"], index=False)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "checkout", "-q", "-b", "more-data")
    added = round(F_ROWS * F_GROWTH)
    for name, spec in F_MODELS.items():
        new = houses(added, rng, F_ROWS) if name == "housing" else customers(added, rng)
        if name == "churn":
            new.insert(0, "customer_id", np.arange(F_ROWS, F_ROWS + added))
        new.to_csv(repo / "models" / name / spec["data"]["path"], mode="a", header=False, index=False)
    git(repo, "commit", "-q", "-am", "append 20% new rows")
    return repo, {name: F_ROWS for name in F_MODELS}


def test_rows(cache: Path, fingerprint: str | None) -> set[int] | None:
    """The held-out rows (positions in the data file) of a cache entry, or None if they cannot be read."""
    try:
        return set(pd.read_parquet(cache / str(fingerprint) / "predictions.parquet")["row"].tolist())
    except (OSError, KeyError, ValueError):
        return None


def one_grown_run(run: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mlship-verdicts-") as temporary:
        work = Path(temporary)
        repo, old_rows = grown_repo(work, run)
        cache = work / "cache"
        started = time.perf_counter()
        done = subprocess.run([str(MLSHIP), "pr", "--base", "main", "--dry-run", "--json"], cwd=repo,
                              env={**clean_env(), **GIT_ENV, "MLSHIP_CACHE_DIR": str(cache)},
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode not in (0, 1):
            return {"run": run, "error": f"exit {done.returncode}: {done.stderr.strip()[-500:]}", "seconds": seconds}
        document = json.loads(done.stdout)
        models = {}
        for model in document["models"]:
            name = model["name"]
            baseline_test = test_rows(cache, (model.get("baseline") or {}).get("fingerprint"))
            candidate_test = test_rows(cache, (model.get("candidate") or {}).get("fingerprint"))
            leaked = None
            if baseline_test is not None and candidate_test is not None:
                # Rows of the old table (positions below old_rows; the branch only appends) that the
                # baseline trained on, i.e. were not in its held-out set, yet are in the candidate's.
                leaked = sum(1 for r in candidate_test if r < old_rows[name] and r not in baseline_test)
            models[name] = {
                "passed": bool(model["passed"]),
                "failed_gates": [f"{g['metric']} {g['rule']}" for g in model.get("gates", []) if not g["passed"]],
                "candidate_test_rows": len(candidate_test) if candidate_test is not None else None,
                "leaked": leaked,
                "compared": model["rows"].get("compared"),
                "excluded": sum(model["rows"].get("excluded", {}).values()),
            }
        return {"run": run, "models": models, "errors": document.get("errors", {}), "seconds": seconds}


def clean_compare(model: dict[str, Any]) -> bool | None:
    """Whether no compared row was a baseline training row: true when the candidate's held-out set
    holds none, or when the review reports excluding at least that many and comparing the rest.
    None when it cannot be told (the cache entries could not be read)."""
    leaked = model["leaked"]
    if leaked is None:
        return None
    if leaked == 0:
        return True
    if model["compared"] is None:
        return False
    return model["excluded"] >= leaked and model["compared"] == model["candidate_test_rows"] - model["excluded"]


def case_f(runs: int, jobs: int) -> list[Outcome]:
    log(f"F: {runs} runs, {jobs} at a time; each a fresh git repository with two models on {F_ROWS:,} rows "
        f"(housing: HistGradientBoostingRegressor; churn: RandomForestClassifier), a branch appending "
        f"{F_GROWTH:.0%} more rows from the same generator, and `mlship pr --base main --dry-run --json`")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one_grown_run, range(runs)))
    passed: dict[str, list[bool]] = {name: [] for name in F_MODELS}
    clean: dict[str, list[bool | None]] = {name: [] for name in F_MODELS}
    for result in results:
        if "error" in result:
            log(f"   run {result['run']:>3}: mlship pr failed ({result['error']})")
            for name in F_MODELS:
                passed[name].append(False)
                clean[name].append(None)
            continue
        parts = []
        for name in F_MODELS:
            model = result["models"].get(name)
            if model is None:
                passed[name].append(False)
                clean[name].append(None)
                parts.append(f"{name}: not compared ({result['errors'].get(name, 'missing')})")
                continue
            passed[name].append(model["passed"])
            clean[name].append(clean_compare(model))
            compared = "n/a (not paired)" if model["compared"] is None else f"{model['compared']:,}"
            excluded = f"{model['excluded']:,}"
            leaked = "n/a" if model["leaked"] is None else model["leaked"]
            parts.append(f"{name}: {'pass' if model['passed'] else 'FAIL ' + ', '.join(model['failed_gates'])}; "
                         f"held-out {model['candidate_test_rows']}, of which baseline-trained {leaked}; "
                         f"compared {compared}, excluded {excluded}")
        log(f"   run {result['run']:>3} ({result['seconds']:.1f} s): " + " | ".join(parts))
    outcomes = []
    for name in F_MODELS:
        outcomes.append(rate("F", f"{F_GROWTH:.0%} more rows, `mlship pr`, {name}: passes", passed[name], "≥ 95%",
                             lambda p: p >= 0.95))
    both = [all(passed[name][k] for name in F_MODELS) for k in range(runs)]
    outcomes.append(rate("F", f"{F_GROWTH:.0%} more rows, `mlship pr`, both models: passes", both, "≥ 95%",
                         lambda p: p >= 0.95))
    for name in F_MODELS:
        known = [c for c in clean[name] if c is not None]
        label = f"{name}: runs where no compared row was a baseline training row"
        if len(known) < len(clean[name]):
            label += f" ({len(clean[name]) - len(known)} unknown)"
        outcomes.append(rate("F", label, known, "100%", lambda p: p == 1.0) if known else
                        Outcome("F", label, 0, math.nan, math.nan, "100%", None))
    return outcomes


# ---------------------------------------------------------------- report


def markdown_table(outcomes: list[Outcome]) -> str:
    lines = ["| case | measure | runs | result ± MC error | target | met |", "|---|---|--:|--:|--:|:-:|"]
    for o in outcomes:
        met = "n/a" if o.met is None else "✅ yes" if o.met else "❌ no"
        lines.append(f"| {o.case} | {o.label} | {o.runs} | {o.shown()} | {o.target} | {met} |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="A,B,C,D,E,F,G", help="comma-separated cases, of A-G (default: all)")
    parser.add_argument("--runs", type=int, default=BASE_RUNS,
                        help=f"runs of A, C, D, E (default {BASE_RUNS}); B runs a quarter as many, F a tenth")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2),
                        help="`mlship pr` processes at a time in F (default 1)")
    args = parser.parse_args()
    args.only = {part.strip().upper() for part in args.only.split(",") if part.strip()}
    if not args.only or not args.only <= set(RUN_SHARE):
        parser.error("--only takes a comma-separated subset of A, B, C, D, E, F, G")
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    return args


def main() -> None:
    args = parse_args()
    if "F" in args.only and not MLSHIP.is_file():
        sys.exit(f"{MLSHIP} not found: run this with the venv's python (make bench)")
    started = time.perf_counter()
    log(f"machine: {machine(('scikit-learn', 'numpy', 'scipy'))}")
    log(f"mlship: commit {mlship_revision()}")
    log_load()
    cases: dict[str, Callable[[int], list[Outcome]]] = {
        "A": case_a, "B": case_b, "C": case_c, "D": case_d, "E": case_e,
        "F": lambda runs: case_f(runs, args.jobs), "G": case_g,
    }
    outcomes: list[Outcome] = []
    seconds: dict[str, float] = {}
    for case, function in cases.items():
        if case not in args.only:
            continue
        runs = max(2, round(args.runs * RUN_SHARE[case]))
        case_started = time.perf_counter()
        found = function(runs)
        seconds[case] = time.perf_counter() - case_started
        for o in found:
            met = "n/a" if o.met is None else "met" if o.met else "NOT MET"
            log(f"   => {o.label}: {o.shown()} over {o.runs} runs; target {o.target}: {met}")
        log(f"   ({case} took {seconds[case]:.0f} s)")
        outcomes += found
    log(f"\n{markdown_table(outcomes)}\n")
    log("time per case: " + ", ".join(f"{case} {s:.0f} s" for case, s in seconds.items()))
    log(f"wall time: {time.perf_counter() - started:.0f} s")
    log_load()


if __name__ == "__main__":
    main()
