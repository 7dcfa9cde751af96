"""The rows a comparison may use: held-out rows that neither version trained on.

Each version's cache entry records the digest of every row it trained on, and how the
digests were made (the split's key, or the columns a row's content digest covers). The
candidate's held-out rows are digested the baseline's way, and every row either
version trained on is left out: checked from what each version recorded, not assumed
from the split. Where the baseline's way can no longer be followed (its key or one of
its columns is gone), its training rows cannot be told apart, and the versions are not
compared on shared rows at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlship.train.split import row_digests

BASELINE_TRAINED = "the baseline trained on them"
CANDIDATE_TRAINED = "the candidate trained on them"


@dataclass(frozen=True)
class ComparedRows:
    """Which of the candidate's held-out rows both versions can be scored on."""

    #: One flag per held-out row of the candidate; None when the baseline's training rows cannot be told.
    mask: np.ndarray | None
    #: The held-out rows' digests made the baseline's way (None with ``mask``), to match its recorded predictions.
    digests: np.ndarray | None
    #: Why rows were left out → how many.
    excluded: dict[str, int] = field(default_factory=dict)
    #: Why the rows cannot be checked, when ``mask`` is None.
    unknown: str = ""



def compared_rows(test_table: pd.DataFrame, test_digests: np.ndarray, candidate_trained: np.ndarray,
                  baseline_split: dict[str, Any] | None, baseline_trained: np.ndarray) -> ComparedRows:
    """The candidate's held-out rows (``test_table``, digested ``test_digests`` its own way) that
    neither the candidate (``candidate_trained``) nor the baseline trained on."""
    digests, unknown = _baseline_digests(test_table, baseline_split)
    if digests is None:
        return ComparedRows(None, None, unknown=unknown)
    by_baseline = np.isin(digests, baseline_trained)
    by_candidate = np.isin(test_digests, candidate_trained)
    excluded = {reason: int(count) for reason, count in ((BASELINE_TRAINED, by_baseline.sum()),
                                                          (CANDIDATE_TRAINED, (by_candidate & ~by_baseline).sum()))
                if count}
    return ComparedRows(~(by_baseline | by_candidate), digests, excluded)


def _baseline_digests(table: pd.DataFrame, split: dict[str, Any] | None) -> tuple[np.ndarray | None, str]:
    if not split:
        return None, "the baseline did not record which rows it trained on"
    key, columns = split.get("key"), split["columns"]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        what = f"its split key '{key}'" if key else f"column{'s' if len(missing) > 1 else ''} " + ", ".join(
            repr(c) for c in missing)
        return None, (f"the rows the baseline trained on cannot be told apart: the data no longer has {what}, "
                      "which identified its rows")
    return row_digests(table[columns], key), ""
