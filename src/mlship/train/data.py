"""Loading a model's data, checking it, and splitting it into training and held-out rows.

Every way the data can fail to match the spec (a missing file or column, an empty
table, a target that cannot be learnt from) is a :class:`DataError` that points at the
spec field and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlship.errors import DataError, Location, did_you_mean, display_path
from mlship.spec import Spec

MAX_LISTED = 12


@dataclass(frozen=True)
class Dataset:
    """A model's training rows and held-out rows, with the columns the model uses."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    #: Position of each held-out row in its source table (the data file, or test_path's file).
    test_rows: np.ndarray
    #: The held-out rows with every column, aligned with ``X_test``: slices, and the
    #: features another version of the model may need, come from here.
    test_table: pd.DataFrame
    #: Every column of the source table.
    columns: list[str]
    #: The target's distribution over all rows (see :func:`target_profile`).
    target: dict[str, Any]
    numeric: list[str]
    categorical: list[str]
    classes: list[Any] | None
    positive_class: Any | None


def load_dataset(spec: Spec) -> Dataset:
    data = spec.config.data
    table = _read_source(spec)
    _check_table(spec, table, _source_name(spec), "path")
    features = data.features or [c for c in table.columns if c != spec.target]
    numeric, categorical = _column_kinds(spec, table, features)
    if data.test_path:
        test = read_table(spec.dir / data.test_path, spec.location("data", "test_path"))
        _check_table(spec, test, data.test_path, "test_path")
        lacking = [c for c in features if c not in test.columns]
        if lacking:
            raise DataError(f"{data.test_path} lacks feature column{'s' if len(lacking) > 1 else ''} "
                            f"{', '.join(repr(c) for c in lacking)}, which {data.path} has",
                            spec.location("data", "test_path"))
        train, test_rows = table, np.arange(len(test))
    else:
        train_rows, test_rows = _split(spec, table)
        train, test = table.iloc[train_rows], table.iloc[test_rows]
    classes = sorted(train[spec.target].unique().tolist()) if spec.task == "classification" else None
    return Dataset(
        X_train=train[features],
        y_train=train[spec.target],
        X_test=test[features],
        y_test=test[spec.target],
        test_rows=np.asarray(test_rows),
        test_table=test,
        columns=[str(c) for c in table.columns],
        target=target_profile(spec.task, pd.concat([train[spec.target], test[spec.target]]) if data.test_path
                              else table[spec.target]),
        numeric=numeric,
        categorical=categorical,
        classes=classes,
        positive_class=_positive_class(spec, classes),
    )


def target_profile(task: str, y: pd.Series) -> dict[str, Any]:
    """Rows and class shares (classification) or summary statistics (regression) of a target."""
    if task == "classification":
        shares = y.value_counts(normalize=True).sort_index()
        return {"rows": len(y), "classes": {str(label): float(share) for label, share in shares.items()}}
    stats = y.describe()
    return {"rows": len(y), **{key: float(stats[key]) for key in ("mean", "std", "min", "25%", "50%", "75%", "max")}}


def read_table(path: Path, location: Location | None) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every way that can fail into a :class:`DataError`."""
    if not path.is_file():
        raise DataError(f"data file {display_path(path)} does not exist (paths are relative to the model folder)",
                        location)
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{display_path(path)} is empty: it has no header and no rows", location) from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(f"cannot read {display_path(path)}: {error}", location) from None


def _read_source(spec: Spec) -> pd.DataFrame:
    data = spec.config.data
    if data.sklearn:
        from sklearn import datasets

        return getattr(datasets, f"load_{data.sklearn}")(as_frame=True).frame
    return read_table(spec.dir / data.path, spec.location("data", "path"))


def _source_name(spec: Spec) -> str:
    data = spec.config.data
    return f"sklearn dataset '{data.sklearn}'" if data.sklearn else str(data.path)


def _check_table(spec: Spec, table: pd.DataFrame, name: str, source_field: str) -> None:
    data, target = spec.config.data, spec.target
    if len(table) == 0:
        raise DataError(f"{name} has a header but no rows", spec.location("data", source_field))
    columns = [str(c) for c in table.columns]
    if target not in table.columns:
        raise DataError(
            f"target column '{target}' is not in {name}{did_you_mean(target, columns)}. Columns: {_listed(columns)}",
            spec.location("data", "target"),
        )
    for field, wanted in (("features", data.features or []), ("categorical", data.categorical)):
        for index, column in enumerate(wanted):
            if column not in table.columns:
                raise DataError(
                    f"column '{column}' is not in {name}{did_you_mean(column, columns)}. Columns: {_listed(columns)}",
                    spec.location("data", field, index),
                )
    for index, column in enumerate(s.column for s in spec.config.evaluation.slices):
        if column not in table.columns:
            raise DataError(
                f"slice column '{column}' is not in {name}{did_you_mean(column, columns)}. Columns: {_listed(columns)}",
                spec.location("evaluation", "slices", index),
            )
    _check_target(spec, table[target], name)


def _check_target(spec: Spec, y: pd.Series, name: str) -> None:
    where = spec.location("data", "target")
    missing = np.flatnonzero(y.isna().to_numpy())
    if len(missing):
        rows = ", ".join(str(i + 1) for i in missing[:5])
        raise DataError(
            f"{len(missing)} of {len(y)} rows of {name} have no value in target '{spec.target}' "
            f"(data rows {rows}{', ...' if len(missing) > 5 else ''}); drop or fill them",
            where,
        )
    if spec.task == "regression" and not _is_numeric(y):
        not_numbers = y if pd.api.types.is_bool_dtype(y) else y[pd.to_numeric(y, errors="coerce").isna()]
        examples = not_numbers.drop_duplicates().head(3).tolist()
        raise DataError(
            f"target '{spec.target}' in {name} must be numeric for regression, but holds values like "
            f"{', '.join(repr(v) for v in examples)}; for categories, set task: classification",
            where,
        )
    if spec.task == "classification" and y.nunique() < 2:
        raise DataError(
            f"target '{spec.target}' in {name} has a single class ({y.iloc[0]!r}): "
            "a classifier needs at least two",
            where,
        )


def _column_kinds(spec: Spec, table: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    if not features:
        raise DataError("no feature columns: the data holds only the target", spec.location("data"))
    declared = set(spec.config.data.categorical)
    categorical = [c for c in features if c in declared or not _is_numeric(table[c])]
    return [c for c in features if c not in categorical], categorical


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _split(spec: Spec, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    split = spec.config.data.split
    y = table[spec.target]
    stratify = y if spec.task == "classification" and split.stratify else None
    try:
        train, test = train_test_split(
            np.arange(len(table)), test_size=split.test_size, random_state=split.seed, stratify=stratify
        )
    except ValueError as error:
        hint = " or set stratify: false" if stratify is not None else ""
        raise DataError(f"cannot split {len(table)} rows: {error}. Use more data, change test_size{hint}",
                        spec.location("data", "split")) from None
    return np.sort(train), np.sort(test)


def _positive_class(spec: Spec, classes: list[Any] | None) -> Any | None:
    wanted = spec.config.evaluation.positive_class
    if classes is None or len(classes) != 2:
        if wanted is not None:
            raise DataError(f"positive_class applies to two-class targets; '{spec.target}' has {len(classes or [])}",
                            spec.location("evaluation", "positive_class"))
        return None
    if wanted is None:
        return classes[1]
    for label in classes:
        if label == wanted or str(label) == str(wanted):
            return label
    hint = " (YAML reads unquoted yes/no/true/false as booleans: quote the value)" if isinstance(wanted, bool) else ""
    raise DataError(f"{wanted!r} is not a class of '{spec.target}'. Classes: {_listed(classes)}{hint}",
                    spec.location("evaluation", "positive_class"))


def _listed(values: list[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > MAX_LISTED else "")
