"""The tests behind a verdict: is a change real, is a drop beyond its bound, and how the
tests of one model share one error budget.

A change gate asks "did the metric drop by more than the bound?", so it tests the drop
against the bound, one-sided: it fails only when the data show the drop exceeds the
bound at the stated confidence. A drop exactly at the bound then fails at most
``1 − confidence`` of the time, and a drop inside it less often. All change tests of one
model (every gated metric, globally and per slice) form one family, adjusted with Holm's
step-down method so that together they keep the false-alarm rate at ``1 − confidence``.

Accuracy on shared rows is judged exactly from the discordant rows, the rows exactly one
version got right (McNemar's test); every other metric by the normal approximation with
the bootstrap's standard error. With ``evaluation.seeds``, the variation between training
seeds is added to the error, and the test uses Student's t with Welch–Satterthwaite degrees
of freedom, since that part is estimated from a handful of trainings.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Sequence


def normal_p(delta: float, se: float, df: float = math.inf) -> float:
    """Two-sided p-value of "no change" for ``delta`` with standard error ``se`` (Student's t
    with ``df`` degrees of freedom where the error is itself estimated from few values)."""
    if not math.isfinite(delta):
        return math.nan
    if se <= 0:
        return 1.0 if delta == 0 else 0.0
    return 2 * _upper_tail(abs(delta) / se, df)


def drop_beyond_p(drop: float, se: float, bound: float, df: float = math.inf) -> float:
    """One-sided p-value of "the true drop is at most ``bound``", given the observed ``drop``."""
    if not (math.isfinite(drop) and math.isfinite(se)):
        return math.nan
    if se <= 0:
        return 0.0 if drop > bound else 1.0
    return _upper_tail((drop - bound) / se, df)


def quantile(probability: float, df: float = math.inf) -> float:
    """The standard normal's quantile, or Student's t's with ``df`` degrees of freedom."""
    if math.isinf(df):
        return NormalDist().inv_cdf(probability)
    from scipy.stats import t

    return float(t.ppf(probability, df))


def seed_df(row_variance: float, seed_variance: float, seeds: int) -> float:
    """Welch–Satterthwaite degrees of freedom of ``row_variance + seed_variance``, where the row part
    comes from many resamples (taken as exact) and the seed part from ``seeds`` trainings."""
    if seed_variance <= 0 or seeds < 2:
        return math.inf
    return (row_variance + seed_variance) ** 2 * (seeds - 1) / seed_variance ** 2


def _upper_tail(z: float, df: float) -> float:
    if math.isinf(df):
        return 1 - NormalDist().cdf(z)
    from scipy.stats import t

    return float(t.sf(z, df))


def mcnemar_p(candidate_only: int, baseline_only: int) -> float:
    """Two-sided exact McNemar p-value from the rows only the candidate / only the baseline got right."""
    discordant = candidate_only + baseline_only
    if discordant == 0:
        return 1.0
    tail = _binomial_at_least(max(candidate_only, baseline_only), discordant, 0.5)
    return min(1.0, 2 * tail)


def accuracy_drop_beyond_p(candidate_only: int, baseline_only: int, rows: int, bound: float) -> float:
    """One-sided p-value of "accuracy dropped by at most ``bound``", exact given the discordant rows.

    Accuracy drops by (baseline_only − candidate_only) / rows. Given ``d`` discordant rows, the
    rows the baseline alone got right are binomial with share π; a true drop of exactly
    ``bound`` means π = ½ + bound·rows / (2d) (McNemar's test when the bound is 0).
    """
    discordant = candidate_only + baseline_only
    if discordant == 0:
        return 1.0  # no row tells the versions apart: the drop is 0
    share = 0.5 + bound * rows / (2 * discordant)
    if share >= 1:
        return 1.0  # even if every discordant row went the baseline's way, the drop would be within the bound
    return _binomial_at_least(baseline_only, discordant, share)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: reject where adjusted p < α, with family-wise error ≤ α.

    An undefined p-value (NaN) stays NaN and does not count as a test.
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def _binomial_at_least(k: int, n: int, share: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, share)."""
    from scipy.stats import binom

    return float(binom.sf(k - 1, n, share))
