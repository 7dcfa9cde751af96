"""How each feature is treated: a number, a category, a date, or refused with the fix.

Nothing is encoded silently in a way that cannot work: a column of dates becomes
numbers (:mod:`mlship.train.dates`), dates in an ambiguous form and columns that look
like identifiers (nearly every value distinct) are refused with what to do, unless the
spec lists them in ``data.categorical``. The words each feature gets here are the
training summary's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mlship.errors import Problem
from mlship.spec import Spec
from mlship.train.dates import PARTS, date_kind

#: Categories beyond this many per column are pooled as "infrequent", so a wide column
#: cannot blow the one-hot matrix up.
MAX_CATEGORIES = 50
#: A text column with more distinct values than MAX_CATEGORIES and at least this share of
#: distinct values among its rows looks like an identifier.
ID_SHARE = 0.5


@dataclass
class FeatureKinds:
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    #: Each feature's treatment in words, in the order of the features.
    treatment: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def feature_kinds(spec: Spec, table: pd.DataFrame, features: list[str]) -> FeatureKinds:
    """Sort ``features`` (all columns of ``table``) into numbers, categories and dates, in words too."""
    kinds = FeatureKinds()
    if not features:
        kinds.problems.append(Problem(spec.location("data"), "no feature columns: the data holds only the target"))
        return kinds
    declared = set(spec.config.data.categorical)
    # With preprocess: false the model's own pipeline encodes its columns: nothing here is refused.
    refuse = spec.config.model.preprocess
    for column in features:
        values = table[column]
        kind = "category" if column in declared else column_kind(values)
        if not refuse and kind in ("identifier", "ambiguous date"):
            kind = "category"
        if kind == "number":
            kinds.numeric.append(column)
            kinds.treatment[column] = "number: missing values get the median, then scaled"
        elif kind == "date":
            kinds.dates.append(column)
            kinds.treatment[column] = (f"date: turned into {', '.join(PARTS[:-1])} and {PARTS[-1]}; "
                                       "missing values get the median, then scaled")
        elif kind == "ambiguous date":
            kinds.problems.append(Problem(_where(spec, column), _ambiguous_dates(column, values)))
        elif kind == "identifier":
            kinds.problems.append(Problem(_where(spec, column), _id_like(column, values)))
        else:
            kinds.categorical.append(column)
            listed = " (listed in data.categorical)" if column in declared else ""
            kinds.treatment[column] = ("true/false: one-hot encoded" if kind == "true/false"
                                       else f"category{listed}: {_one_hot(values)}")
    return kinds


def column_kind(values: pd.Series) -> str:
    """What a column holds, left to itself: number, date, ambiguous date, true/false, identifier or category."""
    if is_numeric(values):
        return "number"
    date = date_kind(values)
    if date:
        return "date" if date == "iso" else "ambiguous date"
    if pd.api.types.is_bool_dtype(values):
        return "true/false"
    return "identifier" if _looks_like_id(values) else "category"


def is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _one_hot(values: pd.Series) -> str:
    """How a category column is encoded, in words."""
    distinct = values.nunique()
    pooled = f", all but the {MAX_CATEGORIES} most frequent pooled as 'infrequent'" if distinct > MAX_CATEGORIES else ""
    return f"{distinct} value{'s' if distinct != 1 else ''}, one-hot encoded{pooled}; missing values get the most frequent"


def _looks_like_id(values: pd.Series) -> bool:
    present = values.dropna()
    distinct = present.nunique()
    return distinct > MAX_CATEGORIES and distinct >= ID_SHARE * len(present)


def _where(spec: Spec, column: str):
    features = spec.config.data.features or []
    return spec.location("data", "features", features.index(column)) if column in features else spec.location("data")


def _id_like(column: str, values: pd.Series) -> str:
    present = values.dropna()
    return (f"column '{column}' looks like an identifier ({present.nunique()} distinct values in {len(present)} rows, "
            f"e.g. {present.iloc[0]!r}): one-hot encoding it learns nothing that carries to new rows. Leave it out "
            "(list the features to use in data.features, or make it data.split.key), or list it in "
            "data.categorical to encode it anyway")


def _ambiguous_dates(column: str, values: pd.Series) -> str:
    example = values.dropna().iloc[0]
    return (f"column '{column}' holds dates like {example!r}, whose day and month order is ambiguous: write them "
            "as ISO 8601 (YYYY-MM-DD), and mlship turns them into numbers; or list the column in data.categorical "
            "to encode each value as a category")
