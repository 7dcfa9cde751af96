"""The statistics of a drift check: one column of recent data against its reference profile.

A column drifts when its change is both **significant** and **large**, the rule the
change gates follow. Significance comes from a two-sample test (Kolmogorov-Smirnov for
numbers, chi-square for categories, plus a test of the missing share), with Holm's
correction over every test of the run, so that data from the training distribution
raises a false alarm in at most ``p_value`` of runs however many features a model has.
Size comes from effect measures: the population stability index, and a Wasserstein
distance in reference standard deviations (numbers) or a Jensen-Shannon distance
(categories). Needing both is what makes the check sample-size aware: in a small sample
the distances are inflated by noise (PSI's expected value alone is about
``(bins - 1) * (1/n + 1/m)``) and the test holds them back; in a million rows every
difference is significant and the distances keep a negligible one from being drift.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mlship.spec import Monitoring
from mlship.train.profile import category_counts

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Shares below this count as this in the PSI, whose logarithm an empty bin would make infinite.
PSI_FLOOR = 1e-4
#: Above this effective sample size the Kolmogorov-Smirnov p-value is the asymptotic one (exact is slow there).
EXACT_KS_MAX = 10_000
#: Categories expected fewer times than this are pooled, as the chi-square approximation needs.
MIN_EXPECTED = 5


@dataclass(frozen=True)
class ColumnDrift:
    name: str
    kind: str
    #: "Kolmogorov-Smirnov" or "chi-square", and for a number "missing share" when values are missing.
    test: str
    statistic: float | None
    p_value: float
    #: "wasserstein" (in reference standard deviations) or "jensen_shannon".
    distance_name: str
    distance: float | None
    psi: float
    reference_rows: int
    current_rows: int
    #: Reference and current shares of missing values (features only).
    missing: tuple[float, float] | None = None
    #: Current categories the reference does not list, with their counts.
    unseen: dict[str, int] = field(default_factory=dict)
    #: How many categories the reference pooled (then "unseen" may be rare rather than new).
    reference_pooled: int = 0
    #: Share of current numbers outside the reference's range.
    out_of_range: float | None = None
    #: Set once every column of the run is measured: Holm's p-value, and the verdicts.
    adjusted_p: float = 1.0
    significant: bool = False
    large: bool = False
    #: A drift so large that this one column makes the data drift (see :func:`judge`).
    major: bool = False

    @property
    def drifted(self) -> bool:
        return self.significant and self.large

    def to_dict(self) -> dict[str, Any]:
        document = {key: _finite(value) for key, value in asdict(self).items()}
        document["missing"] = list(self.missing) if self.missing else None
        return {**document, "drifted": self.drifted}



def measure(name: str, reference: dict[str, Any], values: "pd.Series", bins: int, with_missing: bool) -> ColumnDrift:
    """One column's tests and distances; ``bins`` is the number of PSI bins for a number."""
    if reference["kind"] == "date":  # profiled as days since 1970, as the model sees it (mlship.train.dates)
        from mlship.train.dates import days_since_epoch

        return _measure_numbers(name, reference, days_since_epoch(values), bins, with_missing)
    if reference["kind"] == "numeric":
        return _measure_numbers(name, reference, values, bins, with_missing)
    return _measure_categories(name, reference, values, with_missing)


def judge(columns: list[ColumnDrift], settings: Monitoring) -> list[ColumnDrift]:
    """Holm's correction over the columns' p-values, then each column's verdict.

    A drifted column is a major shift when its PSI reaches ``major_psi`` or when
    ``major_out_of_range`` of its values lie outside the training range. Both need the
    significance every drift needs, so data of the training distribution still raises a
    false alarm in at most ``p_value`` of runs.
    """
    adjusted = holm([c.p_value for c in columns])
    judged = []
    for column, p in zip(columns, adjusted):
        limit = settings.wasserstein if column.distance_name == "wasserstein" else settings.jensen_shannon
        large = column.psi >= settings.psi or (column.distance is not None and column.distance >= limit)
        significant = p <= settings.p_value
        far = column.psi >= settings.major_psi or (column.out_of_range or 0.0) >= settings.major_out_of_range
        judged.append(replace(column, adjusted_p=p, significant=significant, large=large,
                              major=significant and large and far))
    return judged


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values: the family-wise error stays at most the level, for any dependence."""
    import numpy as np

    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    steps = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty(len(p))
    adjusted[order] = np.minimum(steps, 1.0)
    return adjusted.tolist()


def _measure_numbers(name: str, reference: dict[str, Any], values: "pd.Series", bins: int,
                     with_missing: bool) -> ColumnDrift:
    import numpy as np

    x = values.to_numpy(dtype=float, na_value=np.nan)
    present = x[~np.isnan(x)]
    edges = np.asarray(reference["edges"], dtype=float)
    ref_counts = np.asarray(reference["counts"], dtype=float)
    positions = np.searchsorted(edges, present, side="right")
    cur_counts = np.bincount(positions, minlength=len(edges) + 1)
    n, m = ref_counts.sum(), len(present)
    tests, p_values, statistic, distance, out_of_range = [], [], None, None, None
    if n and m:
        ref_cdf, cur_cdf = np.cumsum(ref_counts) / n, np.cumsum(cur_counts) / m
        # The largest gap between the binned distribution functions: exact when every distinct value has
        # its own bin, otherwise a little below the unbinned statistic, which keeps the test conservative.
        statistic = float(np.abs(cur_cdf - ref_cdf).max())
        tests.append("Kolmogorov-Smirnov")
        p_values.append(_ks_p_value(statistic, n * m / (n + m)))
        distance = _wasserstein(edges, reference, present, positions, cur_counts) / (reference["std"] or 1.0)
        out_of_range = float(((present < reference["min"]) | (present > reference["max"])).mean())
    ref_binned, cur_binned = _psi_bins(ref_counts, cur_counts, bins)
    missing = None
    if with_missing:
        ref_missing, cur_missing = reference["missing"], len(x) - m
        missing = (ref_missing / max(reference["rows"], 1), cur_missing / max(len(x), 1))
        p_missing = _missing_p_value(n, ref_missing, m, cur_missing)
        if p_missing is not None:
            tests.append("missing share")
            p_values.append(p_missing)
        ref_binned, cur_binned = np.append(ref_binned, ref_missing), np.append(cur_binned, cur_missing)
    return ColumnDrift(
        name=name, kind="numeric", test=" + ".join(tests) or "none (no values)",
        statistic=statistic, p_value=min(1.0, len(p_values) * min(p_values)) if p_values else 1.0,
        distance_name="wasserstein", distance=distance, psi=_psi(ref_binned, cur_binned),
        reference_rows=int(reference["rows"]), current_rows=len(x), missing=missing, out_of_range=out_of_range,
    )


def _ks_p_value(statistic: float, effective_n: float) -> float:
    from scipy import stats

    if effective_n <= EXACT_KS_MAX:
        return float(stats.kstwo.sf(statistic, max(1, round(effective_n))))
    return float(stats.kstwobign.sf(statistic * math.sqrt(effective_n)))


def _wasserstein(edges: "np.ndarray", reference: dict[str, Any], present: "np.ndarray", positions: "np.ndarray",
                 cur_counts: "np.ndarray") -> float:
    """The area between the two distribution functions, summed bin by bin from the bins' counts and means.

    Exact over every bin where the functions do not cross, so it falls short only by noise.
    """
    import numpy as np

    ref_counts = np.asarray(reference["counts"], dtype=float)
    ref_sums = ref_counts * np.asarray(reference["means"], dtype=float)
    cur_sums = np.bincount(positions, weights=present, minlength=len(edges) + 1)
    difference = _areas(edges, cur_counts, cur_sums) - _areas(edges, ref_counts, ref_sums)
    return float(np.abs(difference).sum())


def _areas(edges: "np.ndarray", counts: "np.ndarray", sums: "np.ndarray") -> "np.ndarray":
    """Per bin, the area under the distribution function F (over the last bin, above it: 1 - F).

    Over [a, b), the area is b F(b) - a F(a) - (the sum of the values in [a, b)) / n.
    """
    import numpy as np

    n = counts.sum()
    cdf = np.cumsum(counts) / n
    first = edges[0] * cdf[0] - sums[0] / n
    inner = edges[1:] * cdf[1:-1] - edges[:-1] * cdf[:-2] - sums[1:-1] / n
    last = edges[-1] * (1 - cdf[-2]) - sums[-1] / n
    return np.concatenate([[first], inner, [last]])


def _psi_bins(ref_counts: "np.ndarray", cur_counts: "np.ndarray", bins: int) -> tuple[Any, Any]:
    """Merge the fine quantile bins into about ``bins`` bins of equal reference share."""
    import numpy as np

    starts = np.concatenate([[0.0], np.cumsum(ref_counts)[:-1] / max(ref_counts.sum(), 1)])
    coarse = np.minimum((starts * bins + 1e-9).astype(int), bins - 1)
    return (np.bincount(coarse, weights=ref_counts, minlength=bins),
            np.bincount(coarse, weights=cur_counts, minlength=bins))


def _psi(ref_counts: Any, cur_counts: Any) -> float:
    import numpy as np

    ref, cur = np.asarray(ref_counts, dtype=float), np.asarray(cur_counts, dtype=float)
    if not ref.sum() or not cur.sum():
        return 0.0
    r = np.maximum(ref / ref.sum(), PSI_FLOOR)
    c = np.maximum(cur / cur.sum(), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def _missing_p_value(ref_present: float, ref_missing: int, cur_present: float, cur_missing: int) -> float | None:
    from scipy import stats

    if not (ref_missing + cur_missing) or not (ref_present + cur_present):
        return None
    table = [[ref_present, ref_missing], [cur_present, cur_missing]]
    return float(stats.chi2_contingency(table).pvalue)


def _measure_categories(name: str, reference: dict[str, Any], values: "pd.Series",
                        with_missing: bool) -> ColumnDrift:
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    counts, cur_missing = category_counts(values)
    known = reference["categories"]
    unseen = {category: count for category, count in counts.items() if category not in known}
    ref_counts = [*known.values(), reference["other"]]
    cur_counts = [*(counts.get(category, 0) for category in known), sum(unseen.values())]
    if with_missing:
        ref_counts.append(reference["missing"])
        cur_counts.append(cur_missing)
    table = np.array([ref_counts, cur_counts], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    statistic, p_value = _chi_square(table)
    ref, cur = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    distance = float(jensenshannon(ref, cur, base=2)) if table.shape[1] and cur.sum() and ref.sum() else None
    rows = len(values)
    return ColumnDrift(
        name=name, kind="categorical", test="chi-square", statistic=statistic, p_value=p_value,
        distance_name="jensen_shannon", distance=distance, psi=_psi(table[0], table[1]),
        reference_rows=int(reference["rows"]), current_rows=rows,
        missing=(reference["missing"] / max(reference["rows"], 1), cur_missing / max(rows, 1)) if with_missing else None,
        unseen=dict(sorted(unseen.items(), key=lambda item: (-item[1], item[0]))),
        reference_pooled=int(reference["other_categories"]),
    )


def _chi_square(table: "np.ndarray") -> tuple[float | None, float]:
    """A two-sample chi-square test; columns expected fewer than MIN_EXPECTED times are pooled, smallest first."""
    import numpy as np
    from scipy import stats

    rows = table.sum(axis=1)
    if table.shape[1] < 2 or not rows.all():
        return None, 1.0
    totals = table.sum(axis=0)
    needed = MIN_EXPECTED * table.sum() / rows.min()
    group_of, group, running = np.empty(len(totals), dtype=int), 0, 0.0
    for index in np.argsort(totals, kind="stable"):
        group_of[index], running = group, running + totals[index]
        if running >= needed:
            group, running = group + 1, 0.0
    if running and group:
        group_of[group_of == group] = group - 1
    pooled = np.zeros((2, group_of.max() + 1))
    np.add.at(pooled.T, group_of, table.T)
    if pooled.shape[1] < 2:
        return None, 1.0
    result = stats.chi2_contingency(pooled, correction=False)
    return float(result.statistic), float(result.pvalue)



def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value

