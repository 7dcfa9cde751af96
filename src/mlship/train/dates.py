"""Date and time columns as numbers a model can learn from.

A date one-hot encoded is a category per day: the model learns nothing that carries to
a new day, and the drift check sees every new day as an unseen category. A column whose
values are all ISO 8601 dates or times (``2026-03-14``, ``2026-03-14T09:30:00+01:00``), or
a datetime column of a Parquet file, becomes four numbers: days since 1970-01-01 (UTC),
year, month and weekday (Monday 0).

The transformer is part of the saved pipeline, so the served model takes the raw date
strings. The trainer pickles this module by value (as it does an entrypoint), so the
bento needs pandas and scikit-learn, not mlship.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

#: What each date column becomes, in the order of the transformer's output.
PARTS = ("days", "year", "month", "weekday")
#: ISO 8601 dates and date-times; a trailing Z or UTC offset is allowed.
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
#: Dates with slashes or dots, which are ambiguous (is 03/04 March or April?).
OTHER_DATE_RE = re.compile(r"^\d{1,4}[/.]\d{1,2}[/.]\d{1,4}([T ]\d{1,2}:\d{2}(:\d{2})?)?$")
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def date_kind(values: pd.Series) -> str | None:
    """``"iso"`` when every value present is an ISO 8601 date or time (or the column is a datetime
    column), ``"ambiguous"`` when every value is a date of another form, else None."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return "iso"
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    present = values.dropna()
    if present.empty or not all(isinstance(v, str) for v in present):
        return None
    texts = present.str.strip()
    if texts.str.fullmatch(ISO_DATE_RE).all() and parse(texts).notna().all():
        return "iso"
    if texts.str.fullmatch(OTHER_DATE_RE).all():
        return "ambiguous"
    return None


def parse(values: pd.Series) -> pd.Series:
    """Timestamps in UTC (a date without an offset is taken as UTC); NaT where a value is not a date."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.Series(values)
        return stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
    texts = pd.Series(values, dtype="object").map(lambda v: v.strip() if isinstance(v, str) else None)
    return pd.to_datetime(texts, format="ISO8601", errors="coerce", utc=True)


def days_since_epoch(values: pd.Series) -> pd.Series:
    """Fractional days since 1970-01-01 UTC; NaN where a value is missing or not a date."""
    stamps = parse(values)
    return (stamps - _EPOCH) / pd.Timedelta(days=1)


class DateFeatures(TransformerMixin, BaseEstimator):
    """Each input column (dates or times) as :data:`PARTS`; NaN where a value is missing or not a date."""

    def fit(self, X: Any, y: Any = None) -> DateFeatures:
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = pd.DataFrame(X)
        columns = []
        for name in frame.columns:
            stamps = parse(frame[name].reset_index(drop=True))
            days = (stamps - _EPOCH) / pd.Timedelta(days=1)
            parts = {"days": days, "year": stamps.dt.year, "month": stamps.dt.month, "weekday": stamps.dt.day_of_week}
            columns += [pd.to_numeric(parts[part], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                        for part in PARTS]
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray([f"{name}_{part}" for name in names for part in PARTS], dtype=object)
