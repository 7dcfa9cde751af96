"""Paired bootstrap confidence intervals for the change in each metric.

Candidate and baseline predict the same held-out rows. Each resample draws the rows
with replacement, once, and scores both models on that draw, so the interval is for
the *difference* on like data. For a classifier the rows are drawn within each true
class, so every resample keeps the class counts of the data (no resample lacks a
positive, which would leave ROC AUC undefined).

The bootstrap gives the standard error of each delta; the interval is the delta plus or
minus that many standard errors, and the same normal approximation gives the p-values
the gates test (see :mod:`mlship.review.significance`), so an interval and its test
always agree. Accuracy on shared rows is a difference of discordant counts, for which
McNemar's exact test replaces the approximation: with a handful of discordant rows the
bootstrap calls noise a change.

Every metric is written as a function of a weight matrix ``W`` (resamples × rows, the
number of times each row was drawn): counts and sums become matrix products, and
ROC AUC a cumulative sum over rows sorted by score. With ``W`` all ones the functions
give exactly scikit-learn's values, which the tests check. Resamples are processed in
chunks to bound memory. Metrics of a confusion matrix (accuracy, precision, recall, F1,
balanced accuracy) skip the rows altogether: their resamples are drawn as multinomial
counts of the kinds of row in each class, the same distribution at a fraction of the cost.

Resampling rows measures how much a delta would move on other data, not on another
training run. With ``evaluation.seeds``, :func:`with_seed_variation` adds the variance of
the delta between pairs of seed replicas to the bootstrap's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from statistics import NormalDist
from typing import Any, Callable, Sequence

import numpy as np

from mlship.metrics import CATALOGUE
from mlship.review.significance import mcnemar_p, normal_p, quantile, seed_df

#: Rows × resamples per chunk: bounds the weight matrix to ~64 MB of float64.
CHUNK_CELLS = 8_000_000
#: Metrics that depend on the rows only through each version's confusion matrix.
CONFUSION_METRICS = frozenset({"accuracy", "balanced_accuracy", "precision", "recall", "f1"})
#: scikit-learn's floor under |y| in MAPE's denominator.
FLOAT_EPSILON = float(np.finfo(np.float64).eps)
#: Up to this many classes, confusion metrics are resampled as counts (classes³ kinds of row when paired).
MAX_CONFUSION_CLASSES = 12


class Draws:
    """Resamples of ``n`` rows: which rows each resample drew, and how often it drew each row.

    ``rows`` holds positions in ``order`` (a permutation of the rows, grouping them by
    stratum), or row indices when there is no ``order``: metrics bin the drawn positions
    after permuting their per-row values once, instead of looking up every draw.
    """

    def __init__(self, rows: np.ndarray, n: int, order: np.ndarray | None = None):
        #: resamples × n positions.
        self.rows = rows
        self.n = n
        self.order = order

    @classmethod
    def identity(cls, n: int) -> "Draws":
        """One "resample" that is the data itself: scoring it gives the plain metric."""
        return cls(np.arange(n)[None, :], n)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def indices(self) -> np.ndarray:
        """resamples × n drawn row indices."""
        return self.rows if self.order is None else self.order[self.rows]

    def binned(self, bins: np.ndarray, size: int) -> np.ndarray:
        """resamples × size integer counts of draws per bin, where ``bins[row]`` is each row's bin."""
        keys = (bins if self.order is None else bins[self.order])[self.rows]
        keys += (np.arange(self.count) * size)[:, None]
        return np.bincount(keys.ravel(), minlength=self.count * size).reshape(self.count, size)

    @cached_property
    def weights(self) -> np.ndarray:
        """resamples × n: how often each row was drawn, as floats for matrix products."""
        return self.binned(np.arange(self.n), self.n).astype(np.float64)


class Resampler:
    """Draws resamples of ``n`` rows, chunk by chunk; with ``strata`` (a label per row), each
    stratum is drawn within itself, so every resample has the data's count of each label.

    Each stratum has its own random stream, consumed in resample order, so the resamples do
    not depend on how they are chunked.
    """

    def __init__(self, n: int, strata: np.ndarray | None, seed: np.random.SeedSequence):
        self.n = n
        if strata is None:
            self.order, sizes = None, np.array([n])
        else:
            self.order = np.argsort(strata, kind="stable")
            sizes = np.unique(strata[self.order], return_counts=True)[1]
        self.blocks = [(int(start), int(size), np.random.default_rng(stream)) for start, size, stream
                       in zip(np.cumsum(sizes) - sizes, sizes, seed.spawn(len(sizes)))]

    def draw(self, count: int) -> Draws:
        positions = np.empty((count, self.n), dtype=np.int64)
        for start, size, rng in self.blocks:
            positions[:, start:start + size] = rng.integers(start, start + size, size=(count, size))
        return Draws(positions, self.n, self.order)


@dataclass(frozen=True)
class Predictions:
    """One model's predictions on the shared held-out rows."""

    y_pred: np.ndarray
    #: Class probabilities, columns in the order of ``classes``; None for regressors.
    proba: np.ndarray | None = None


@dataclass(frozen=True)
class Delta:
    """candidate − baseline for one metric, with its interval and its evidence of a change."""

    delta: float
    ci_low: float
    ci_high: float
    significant: bool
    #: "better", "worse" or "unchanged" (not significant), by the metric's direction.
    verdict: str
    #: The bootstrap's standard error of ``delta``.
    se: float = float("nan")
    #: Two-sided p-value of "both versions score the same".
    p_value: float = float("nan")
    #: For accuracy on shared rows: (rows only the candidate got right, rows only the baseline got
    #: right, rows). Tests of accuracy use these counts exactly.
    discordant: tuple[int, int, int] | None = None
    #: Training seeds per version behind the error (``evaluation.seeds``); 1 when seed variation is not in it.
    seeds: int = 1
    #: The standard deviation of the delta between pairs of seed replicas.
    seed_sd: float | None = None
    #: Degrees of freedom of Student's t behind the interval and tests; None for the normal distribution.
    df: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sample:
    """A model's predictions with the truth and the classes they are scored against."""

    y_true: np.ndarray
    predictions: Predictions
    classes: list[Any] | None = None
    positive_class: Any | None = None


def paired_bootstrap(
    metrics: list[str],
    y_true: np.ndarray,
    candidate: Predictions,
    baseline: Predictions,
    classes: list[Any] | None = None,
    positive_class: Any | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Delta]:
    """Intervals of candidate − baseline where both models predicted the same rows: each resample
    draws the rows once and scores both models on that draw."""
    y_true = np.asarray(y_true)
    deltas = _bootstrap(metrics, Sample(y_true, candidate, classes, positive_class),
                        Sample(y_true, baseline, classes, positive_class), True, resamples, confidence, seed)
    if "accuracy" in deltas:
        deltas["accuracy"] = _exact_accuracy(deltas["accuracy"], y_true, candidate, baseline, confidence)
    return deltas


def with_seed_variation(name: str, delta: Delta, seed_deltas: Sequence[float], confidence: float) -> Delta:
    """``delta`` (between the models that ship) with the variation between training seeds added to its error.

    ``seed_deltas`` are candidate − baseline for each pair of seed replicas, the shipped pair
    first. The delta then estimates the change of the training procedure, with variance the
    bootstrap's plus the seeds' (rows and seeds vary independently); the seed part comes from
    a few values, so intervals and tests use Student's t with Welch–Satterthwaite degrees of
    freedom. Where the seeds do not move the delta at all, the delta is kept as it is.
    """
    values = np.asarray(seed_deltas)
    if len(values) < 2 or not (np.all(np.isfinite(values)) and math.isfinite(delta.se)):
        return delta
    seed_variance = float(np.var(values, ddof=1))
    if seed_variance == 0:
        return replace(delta, seeds=len(values), seed_sd=0.0)
    se = math.sqrt(delta.se ** 2 + seed_variance)
    df = seed_df(delta.se ** 2, seed_variance, len(values))
    half = quantile(1 - (1 - confidence) / 2, df) * se
    judged = _judged(name, delta.delta, delta.delta - half, delta.delta + half, se,
                     normal_p(delta.delta, se, df), confidence)
    return replace(judged, seeds=len(values), seed_sd=math.sqrt(seed_variance), df=df)


def unpaired_bootstrap(metrics: list[str], candidate: Sample, baseline: Sample, resamples: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> dict[str, Delta]:
    """Intervals of candidate − baseline where each model was scored on its own rows: the two
    are resampled independently, so the interval is wider than a paired one."""
    paired = False  # pragma: no mutate: None would do the same
    return _bootstrap(metrics, candidate, baseline, paired, resamples, confidence, seed)


def _bootstrap(metrics: list[str], candidate: Sample, baseline: Sample, paired: bool, resamples: int,
               confidence: float, seed: int) -> dict[str, Delta]:
    sizes = (len(candidate.y_true), len(baseline.y_true))
    scorers = {
        name: (_scorer_for(name, candidate), _scorer_for(name, baseline))
        for name in metrics
        if _computable(name, candidate.predictions, baseline.predictions)
    }
    point = {name: float(c(Draws.identity(sizes[0]))[0] - b(Draws.identity(sizes[1]))[0])
             for name, (c, b) in scorers.items()}
    # Independent streams: counts for the confusion metrics, rows for each version's other metrics.
    counts_seed, candidate_seed, baseline_seed = np.random.SeedSequence(seed).spawn(3)
    counts_rng = np.random.default_rng(counts_seed)
    deltas: dict[str, list[np.ndarray]] = {name: [] for name in scorers}
    counted = [name for name in scorers if name in CONFUSION_METRICS]
    confusions = _confusion_resamples(candidate, baseline, paired, resamples, counts_rng) if counted else None
    if confusions is not None:
        for name in counted:
            deltas[name].append(_confusion_metric(name, confusions[0], candidate) -
                                _confusion_metric(name, confusions[1], baseline))
            del scorers[name]
    chunk = max(1, CHUNK_CELLS // max(sizes))
    candidate_rows = Resampler(sizes[0], _strata(candidate), candidate_seed)
    baseline_rows = None if paired else Resampler(sizes[1], _strata(baseline), baseline_seed)
    for start in range(0, resamples if scorers else 0, chunk):
        count = min(chunk, resamples - start)
        candidate_draws = candidate_rows.draw(count)
        baseline_draws = baseline_rows.draw(count) if baseline_rows else candidate_draws
        for name, (score_candidate, score_baseline) in scorers.items():
            deltas[name].append(score_candidate(candidate_draws) - score_baseline(baseline_draws))
    return {name: _interval(name, point[name], np.concatenate(chunks), confidence) for name, chunks in deltas.items()}


def _confusion_resamples(candidate: Sample, baseline: Sample, paired: bool, resamples: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """Each version's confusion matrix (true × predicted class) on every resample, or None where
    counting does not apply (a regressor, too many classes, a label outside the classes).

    Drawing ``n`` rows of a class with replacement and counting them by kind (which label each
    version gave) is a multinomial draw over the kinds, so the counts are drawn directly: the
    same resampling distribution as drawing rows, at a cost that does not grow with the rows.
    """
    coded = [_class_codes(sample) for sample in (candidate, baseline)]
    if any(codes is None for codes in coded):
        return None
    (truth_c, pred_c), (truth_b, pred_b) = coded
    size = len(candidate.classes)
    if paired:
        kinds = _multinomial_by_class(truth_c, pred_c * size + pred_b, size, size * size, resamples, rng)
        joint = kinds.reshape(resamples, size, size, size)
        return joint.sum(axis=3), joint.sum(axis=2)
    return (_multinomial_by_class(truth_c, pred_c, size, size, resamples, rng),
            _multinomial_by_class(truth_b, pred_b, len(baseline.classes), len(baseline.classes), resamples, rng))


def _class_codes(sample: Sample) -> tuple[np.ndarray, np.ndarray] | None:
    """The index among the classes of each row's true and predicted label."""
    if sample.classes is None or len(sample.classes) > MAX_CONFUSION_CLASSES:
        return None
    index = {label: k for k, label in enumerate(sample.classes)}
    codes = []
    for labels in (sample.y_true, sample.predictions.y_pred):
        values, inverse = np.unique(np.asarray(labels), return_inverse=True)
        mapped = np.array([index.get(v, -1) for v in values.tolist()], dtype=np.int64)
        if np.any(mapped < 0):
            return None
        codes.append(mapped[inverse.ravel()])
    return codes[0], codes[1]


def _multinomial_by_class(truth: np.ndarray, kind: np.ndarray, classes: int, kinds: int, resamples: int,
                          rng: np.random.Generator) -> np.ndarray:
    """resamples × classes × kinds: the rows of each true class drawn (as many as it has) and counted by kind."""
    counts = np.zeros((resamples, classes, kinds), dtype=np.int64)
    for label in range(classes):
        of_class = kind[truth == label]
        if len(of_class):
            shares = np.bincount(of_class, minlength=kinds) / len(of_class)
            counts[:, label, :] = rng.multinomial(len(of_class), shares, size=resamples)
    return counts


def _confusion_metric(name: str, confusion: np.ndarray, sample: Sample) -> np.ndarray:
    """A confusion metric per resample from resamples × true × predicted counts (the formulas of the row scorers)."""
    hits = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
    support, claimed = confusion.sum(axis=2).astype(np.float64), confusion.sum(axis=1).astype(np.float64)
    if name == "accuracy":
        return hits.sum(axis=1) / support.sum(axis=1)
    if name == "balanced_accuracy":
        return _nanmean_ratio(hits, support)
    if sample.positive_class is not None:
        labels = [list(sample.classes).index(sample.positive_class)]
        hits, support, claimed = hits[:, labels], support[:, labels], claimed[:, labels]
    return _per_label(name, hits, support, claimed)


def _strata(sample: Sample) -> np.ndarray | None:
    """A classifier's rows are resampled within their true class; a regressor's all together."""
    return None if sample.classes is None else np.asarray(sample.y_true)


def _interval(name: str, point: float, values: np.ndarray, confidence: float) -> Delta:
    """The delta ± z standard errors, and the two-sided p-value of no change.

    A resample on which the metric is undefined makes the whole delta undefined (NaN),
    never a narrower interval from the resamples that happened to work.
    """
    if not np.isfinite(point) or not np.all(np.isfinite(values)):
        return Delta(point, float("nan"), float("nan"), False, "unchanged")
    se = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    half = NormalDist().inv_cdf(1 - (1 - confidence) / 2) * se
    return _judged(name, point, point - half, point + half, se, normal_p(point, se), confidence)


def _judged(name: str, point: float, low: float, high: float, se: float, p_value: float, confidence: float,
            discordant: tuple[int, int, int] | None = None) -> Delta:
    significant = bool(p_value < 1 - confidence)
    better = (point > 0) == CATALOGUE[name].higher_is_better
    verdict = ("better" if better else "worse") if significant else "unchanged"
    return Delta(point, float(low), float(high), significant, verdict, se, p_value, discordant)


def _exact_accuracy(delta: Delta, y: np.ndarray, candidate: Predictions, baseline: Predictions,
                    confidence: float) -> Delta:
    """The accuracy delta judged by McNemar's exact test on the discordant rows."""
    right_c, right_b = np.asarray(candidate.y_pred) == y, np.asarray(baseline.y_pred) == y
    counts = (int(np.sum(right_c & ~right_b)), int(np.sum(right_b & ~right_c)), len(y))
    return _judged("accuracy", delta.delta, delta.ci_low, delta.ci_high, delta.se, mcnemar_p(*counts[:2]),
                   confidence, counts)


def score(name: str, y_true: np.ndarray, predictions: Predictions, classes: list[Any] | None = None,
          positive_class: Any | None = None, draws: Draws | None = None) -> np.ndarray:
    """The metric on each resample of ``draws`` (default: on the rows as they are)."""
    y_true = np.asarray(y_true)
    return _scorer(name, y_true, predictions, classes, positive_class)(draws or Draws.identity(len(y_true)))


def _scorer_for(name: str, sample: Sample) -> Scorer:
    return _scorer(name, np.asarray(sample.y_true), sample.predictions, sample.classes, sample.positive_class)


def _computable(name: str, *models: Predictions) -> bool:
    return not CATALOGUE[name].needs_proba or all(m.proba is not None for m in models)


Scorer = Callable[[Draws], np.ndarray]


def _scorer(name: str, y: np.ndarray, model: Predictions, classes: list[Any] | None, positive: Any | None) -> Scorer:
    """A function of the weight matrix giving the metric per resample."""
    if CATALOGUE[name].task == "regression":
        return _regression_scorer(name, y.astype(np.float64), np.asarray(model.y_pred, dtype=np.float64))
    return _classification_scorer(name, y, model, list(classes), positive)


def _regression_scorer(name: str, y: np.ndarray, y_pred: np.ndarray) -> Scorer:
    error = y_pred - y
    centred = y - y.mean()  # r2 is shift-invariant; centring keeps a constant target's spread exactly 0
    if name == "rmse":
        return lambda d: np.sqrt(d.weights @ error**2 / d.n)
    if name == "mae":
        return lambda d: d.weights @ np.abs(error) / d.n
    if name == "mape":
        relative = np.abs(error) / np.maximum(np.abs(y), FLOAT_EPSILON)
        return lambda d: d.weights @ relative / d.n
    if name == "r2":
        def r2(d: Draws) -> np.ndarray:
            w = d.weights
            spread = w @ centred**2 - (w @ centred) ** 2 / d.n
            squared = w @ error**2
            with np.errstate(divide="ignore", invalid="ignore"):  # pragma: no mutate: only silences warnings
                ratio = 1 - squared / spread
            # scikit-learn's convention for a constant target: 1 for a perfect fit, else 0.
            return np.where(spread > 0, ratio, np.where(squared == 0, 1.0, 0.0))
        return r2
    raise AssertionError(f"no bootstrap scorer for {name}")  # pragma: no mutate: unreachable, names are validated


def _classification_scorer(name: str, y: np.ndarray, model: Predictions, classes: list[Any], positive: Any) -> Scorer:
    y_pred = np.asarray(model.y_pred)
    if name == "accuracy":
        correct = (y == y_pred).astype(np.float64)
        return lambda d: d.weights @ correct / d.n
    if name == "log_loss":
        eps = np.finfo(model.proba.dtype).eps
        proba = np.clip(model.proba, eps, 1 - eps)  # as scikit-learn does, which does not renormalise the rows
        index = np.searchsorted(np.asarray(classes), y) if _sortable(classes) else np.array([classes.index(v) for v in y])
        loss = -np.log(proba[np.arange(len(y)), index])
        return lambda d: d.weights @ loss / d.n
    if name == "roc_auc":
        if positive is not None:
            return _auc_scorer(y == positive, model.proba[:, classes.index(positive)])
        per_class = [_auc_scorer(y == c, model.proba[:, k]) for k, c in enumerate(classes)]
        return lambda d: np.mean([auc(d) for auc in per_class], axis=0)
    labels = [positive] if positive is not None else classes
    truth = np.stack([(y == c) for c in labels], axis=1).astype(np.float64)
    predicted = np.stack([(y_pred == c) for c in labels], axis=1).astype(np.float64)
    hits = truth * predicted
    if name == "balanced_accuracy":
        all_truth = np.stack([(y == c) for c in classes], axis=1).astype(np.float64)
        all_hits = all_truth * np.stack([(y_pred == c) for c in classes], axis=1)
        return lambda d: _nanmean_ratio(d.weights @ all_hits, d.weights @ all_truth)
    if name in ("precision", "recall", "f1"):
        return lambda d: _per_label(name, d.weights @ hits, d.weights @ truth, d.weights @ predicted)
    raise AssertionError(f"no bootstrap scorer for {name}")


def _per_label(name: str, tp: np.ndarray, support: np.ndarray, claimed: np.ndarray) -> np.ndarray:
    """Precision, recall or F1 per resample from per-label counts (resamples × labels), macro-averaged
    over the labels that occur (scikit-learn's ``zero_division=0``)."""
    if name == "precision":
        value = _safe_ratio(tp, claimed)
    elif name == "recall":
        value = _safe_ratio(tp, support)
    else:
        value = _safe_ratio(2 * tp, support + claimed)
    present = (support + claimed) > 0
    return np.where(present, value, 0).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def _auc_scorer(is_positive: np.ndarray, scores: np.ndarray) -> Scorer:
    """ROC AUC per resample: the weighted chance a positive outranks a negative, ties counting half.

    Negative rows are binned by their score among the negatives' distinct scores, positive
    rows by theirs among the positives', so one ``bincount`` of the draws gives every
    resample's count per level; a cumulative sum over the negatives' levels then gives, for
    each positive level, how many drawn negatives score below it.
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    negative_levels, negative_bin = np.unique(scores[~is_positive], return_inverse=True)
    positive_levels, positive_bin = np.unique(scores[is_positive], return_inverse=True)
    bins = np.empty(len(scores), dtype=np.int64)
    bins[~is_positive] = negative_bin.ravel()
    bins[is_positive] = len(negative_levels) + positive_bin.ravel()
    # For each positive level: how many negative levels lie below it, and the tied one if any.
    below = np.searchsorted(negative_levels, positive_levels, side="left")
    tied = below < len(negative_levels)
    tied[tied] = negative_levels[below[tied]] == positive_levels[tied]

    def auc(draws: Draws) -> np.ndarray:
        # Integer counts throughout: exact, and no float copies of the (resamples × levels) arrays.
        counts = draws.binned(bins, len(negative_levels) + len(positive_levels))
        negatives, positives = counts[:, :len(negative_levels)], counts[:, len(negative_levels):]
        drawn_below = np.zeros((draws.count, len(negative_levels) + 1), dtype=np.int64)
        np.cumsum(negatives, axis=1, out=drawn_below[:, 1:])
        twice_wins = 2 * np.einsum("ij,ij->i", positives, drawn_below[:, below])
        twice_wins += np.einsum("ij,ij->i", positives[:, tied], negatives[:, below[tied]])
        with np.errstate(divide="ignore", invalid="ignore"):
            return twice_wins / (2.0 * positives.sum(axis=1) * negatives.sum(axis=1))

    return auc


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _nanmean_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nanmean(numerator / denominator, axis=1)


def _sortable(classes: list[Any]) -> bool:
    return list(classes) == sorted(classes)
