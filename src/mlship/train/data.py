"""Loading a model's data, checking it, and splitting it into training and held-out rows.

Every way the data can fail to match the spec (a missing file or column, an empty
table, a target that cannot be learnt from, a split that leaves a side empty) is a
:class:`DataError` that points at the spec field and says what to do. Rows are split
by a digest of each row (:mod:`mlship.train.split`); the digests of both sides are
kept, so a later comparison can tell which rows a version trained on.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlship.errors import DataError, Location, Problem, did_you_mean, display_path
from mlship.spec import Spec
from mlship.train.columns import FeatureKinds, feature_kinds, is_numeric
from mlship.train.lfs import refuse_lfs_pointer
from mlship.train.split import digest_columns, held_out, row_digests

MAX_LISTED = 12
STRATIFY_IGNORED = ("data.split.stratify no longer applies: rows are split by a digest of each row (or of "
                    "data.split.key), so that adding rows never moves others to the other side; remove it")


@dataclass(frozen=True)
class SplitRecord:
    """How a dataset's rows were divided, as the cache entry's ``lineage.json`` records it under ``split``.

    ``columns`` are what each row's digest covers (``[key]``, or the content columns sorted
    by name): :func:`mlship.train.split.row_digests` of a table restricted to them, with
    ``key``, gives digests comparable with this dataset's.
    """

    method: Literal["hash", "test_path"]
    key: str | None
    columns: list[str]
    #: The split's parameters; None for ``test_path``, where they do not apply.
    test_size: float | None
    seed: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Dataset:
    """A model's training rows and held-out rows, with the columns the model uses."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    #: Position of each held-out row in its source table (the data file, or test_path's file).
    test_rows: np.ndarray
    #: The uint64 digest of each training row and each held-out row, aligned with ``X_train`` and ``X_test``.
    train_digests: np.ndarray
    test_digests: np.ndarray
    #: What the digests cover and how the rows were split.
    split: SplitRecord
    #: The held-out rows with every column, aligned with ``X_test``: slices, and the
    #: features another version of the model may need, come from here.
    test_table: pd.DataFrame
    #: Every column of the source table.
    columns: list[str]
    #: The target's distribution over all rows (see :func:`target_profile`).
    target: dict[str, Any]
    numeric: list[str]
    categorical: list[str]
    #: Date or time columns, turned into numbers (see :mod:`mlship.train.dates`).
    dates: list[str]
    #: How each feature is treated, in words, for the training summary.
    treatment: dict[str, str]
    classes: list[Any] | None
    positive_class: Any | None
    #: Problems with the spec that did not stop training, for the training warnings.
    warnings: list[str]


def load_dataset(spec: Spec, files: dict[str, Path] | None = None) -> Dataset:
    """The model's rows, split, read from ``files`` (the local file of each data role, ``path`` and
    ``test_path``, as :func:`mlship.train.remote.local_data_files` gives them), by default the spec's
    local paths; the first problem :func:`check_data` would list is raised as a :class:`DataError`."""
    data = spec.config.data
    files = files if files is not None else _local_files(spec)
    table = _read_source(spec, files)
    _raise_first(_table_problems(spec, table, _source_name(spec), _field(spec, "path")))
    features = _features(spec, table)
    kinds = _raise_first_or(feature_kinds(spec, table, features))
    if data.split.key is not None:
        _raise_first(_key_problems(spec, table, _source_name(spec)))
    if "test_path" in files:
        test = _read_test_file(spec, features, files["test_path"])
        train, test_rows = table, np.arange(len(test))
        train_digests, test_digests, record = _file_digests(spec, table, test)
    else:
        held, digests, record = _hash_split(spec, table)
        train, test, test_rows = table[~held], table[held], np.flatnonzero(held)
        train_digests, test_digests = digests[~held], digests[held]
    classes = sorted(train[spec.target].unique().tolist()) if spec.task == "classification" else None
    return Dataset(
        X_train=train[features],
        y_train=train[spec.target],
        X_test=test[features],
        y_test=test[spec.target],
        test_rows=test_rows,
        train_digests=train_digests,
        test_digests=test_digests,
        split=record,
        test_table=test,
        columns=[str(c) for c in table.columns],
        target=target_profile(spec.task, pd.concat([train[spec.target], test[spec.target]]) if "test_path" in files
                              else table[spec.target]),
        numeric=kinds.numeric,
        categorical=kinds.categorical,
        dates=kinds.dates,
        treatment=kinds.treatment,
        classes=classes,
        positive_class=_positive_class(spec, classes),
        warnings=_split_warnings(spec),
    )


def check_data(spec: Spec, cache_dir: Path | None = None) -> list[Problem]:
    """Every problem :func:`load_dataset` could meet, found in one pass: ``mlship validate`` lists them all
    (a missing file stops the checks of that file; a missing column stops none of the others). With
    ``cache_dir``, a file pinned by URL is fetched into it (and checked against its digest) first."""
    data, problems = spec.config.data, []
    try:
        files = _local_files(spec, cache_dir)
        table = _read_source(spec, files)
    except DataError as error:
        return [_as_problem(spec, error, _field(spec, "path"))]
    problems += _table_problems(spec, table, _source_name(spec), _field(spec, "path"))
    features = _features(spec, table)
    present = [c for c in features if c in table.columns]
    if present:
        problems += feature_kinds(spec, table, present).problems
    if data.split.key is not None:
        problems += _key_problems(spec, table, _source_name(spec))
    if "test_path" in files:
        try:
            _read_test_file(spec, present, files["test_path"])
        except DataError as error:
            problems.append(_as_problem(spec, error, _field(spec, "test_path")))
    elif not problems:
        try:
            _hash_split(spec, table)
        except DataError as error:
            problems.append(_as_problem(spec, error, "split"))
    if spec.config.evaluation.positive_class is not None and spec.target in table.columns and not problems:
        try:
            classes = sorted(table[spec.target].unique().tolist()) if spec.task == "classification" else None
            _positive_class(spec, classes)
        except DataError as error:
            problems.append(_as_problem(spec, error, "path"))
    return problems


def _features(spec: Spec, table: pd.DataFrame) -> list[str]:
    """The spec's features; by default every column but the target, and the split's key: an ID
    identifies a row, it predicts nothing."""
    data = spec.config.data
    return data.features or [c for c in table.columns if c not in (spec.target, data.split.key)]


def _as_problem(spec: Spec, error: DataError, field: str) -> Problem:
    """A :class:`DataError` as one problem of a list (the message it printed, at its location)."""
    message = str(error)
    if error.location is not None:
        message = message.removeprefix(f"{error.location}: ")
    return Problem(error.location or spec.location("data", field), message)


def _raise_first(problems: list[Problem]) -> None:
    if problems:
        raise DataError(problems[0].message, problems[0].location)


def _raise_first_or(kinds: FeatureKinds) -> FeatureKinds:
    _raise_first(kinds.problems)
    return kinds


def _local_files(spec: Spec, cache_dir: Path | None = None) -> dict[str, Path]:
    """The spec's data files by role; with ``cache_dir``, those pinned by URL too (fetched)."""
    if cache_dir is not None:
        from mlship.train.remote import local_data_files

        return local_data_files(spec, cache_dir)
    data = spec.config.data
    return {role: spec.dir / getattr(data, role) for role in ("path", "test_path") if getattr(data, role)}


def _read_test_file(spec: Spec, features: list[str], file: Path) -> pd.DataFrame:
    data, field = spec.config.data, _field(spec, "test_path")
    name = str(getattr(data, field))
    test = read_table(file, spec.location("data", field))
    _raise_first(_table_problems(spec, test, name, field))
    lacking = [c for c in features if c not in test.columns]
    if lacking:
        raise DataError(f"{name} lacks feature column{'s' if len(lacking) > 1 else ''} "
                        f"{', '.join(repr(c) for c in lacking)}, which {_source_name(spec)} has",
                        spec.location("data", field))
    if data.split.key is not None:
        _raise_first(_key_problems(spec, test, name))
    return test


def _hash_split(spec: Spec, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, SplitRecord]:
    """Which rows of ``table`` are held out, the digest of every row, and the record of both."""
    split = spec.config.data.split
    digests = row_digests(table, split.key)
    held = held_out(digests, split.test_size, split.seed)
    _check_split(spec, table, held)
    return held, digests, SplitRecord("hash", split.key, digest_columns(table, split.key), split.test_size, split.seed)


def _file_digests(spec: Spec, train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, SplitRecord]:
    """The digests of a training file's and a test_path file's rows, over the columns both have,
    so that a row in both files has one digest."""
    key = spec.config.data.split.key
    shared = [c for c in train.columns if c in test.columns]
    record = SplitRecord("test_path", key, digest_columns(train[shared], key), None, None)
    return row_digests(train[shared], key), row_digests(test[shared], key), record


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
    refuse_lfs_pointer(path, location)
    try:
        _refuse_duplicates(_header(path), path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{display_path(path)} is empty: it has no header and no rows", location) from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, csv.Error) as error:
        raise DataError(f"cannot read {display_path(path)}: {error}", location) from None


def _header(path: Path) -> list[str]:
    """The column names as the file has them: pandas renames a repeated CSV column (``a``, ``a.1``)."""
    if path.suffix.lower() != ".csv":
        import pyarrow.parquet as pq

        return pq.read_schema(path).names
    with open(path, encoding="utf-8", newline="") as stream:
        return next(csv.reader(stream), [])


def _refuse_duplicates(columns: list[str], path: Path) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise DataError(f"the column '{column}' appears twice in the header of {display_path(path)}: "
                            "rename or remove one", Location(path, 1, column))
        seen.add(column)


def _read_source(spec: Spec, files: dict[str, Path]) -> pd.DataFrame:
    data = spec.config.data
    if data.sklearn:
        from sklearn import datasets

        return getattr(datasets, f"load_{data.sklearn}")(as_frame=True).frame
    return read_table(files["path"], spec.location("data", _field(spec, "path")))


def _source_name(spec: Spec) -> str:
    data = spec.config.data
    return f"sklearn dataset '{data.sklearn}'" if data.sklearn else str(data.url or data.path)


def _field(spec: Spec, role: str) -> str:
    """The spec field that gives a data role: ``path``/``test_path``, or ``url``/``test_url`` for a remote file."""
    remote = {"path": "url", "test_path": "test_url"}[role]
    return remote if getattr(spec.config.data, remote) else role


def _table_problems(spec: Spec, table: pd.DataFrame, name: str, source_field: str) -> list[Problem]:
    """Rows, the target, and every column the spec names: all that is wrong, in the spec's order."""
    data, target = spec.config.data, spec.target
    if len(table) == 0:
        return [Problem(spec.location("data", source_field), f"{name} has a header but no rows")]
    columns = [str(c) for c in table.columns]
    problems = []
    if target not in table.columns:
        problems.append(Problem(
            spec.location("data", "target"),
            f"target column '{target}' is not in {name}{did_you_mean(target, columns)}. Columns: {_listed(columns)}",
        ))
    for field, wanted in (("features", data.features or []), ("categorical", data.categorical)):
        for index, column in enumerate(wanted):
            if column not in table.columns:
                problems.append(Problem(
                    spec.location("data", field, index),
                    f"column '{column}' is not in {name}{did_you_mean(column, columns)}. Columns: {_listed(columns)}",
                ))
    for index, column in enumerate(s.column for s in spec.config.evaluation.slices):
        if column not in table.columns:
            problems.append(Problem(
                spec.location("evaluation", "slices", index),
                f"slice column '{column}' is not in {name}{did_you_mean(column, columns)}. Columns: {_listed(columns)}",
            ))
    if target in table.columns:
        problems += _target_problems(spec, table[target], name)
    return problems


def _target_problems(spec: Spec, y: pd.Series, name: str) -> list[Problem]:
    try:
        _check_target(spec, y, name)
    except DataError as error:
        return [_as_problem(spec, error, "target")]
    return []


def _check_target(spec: Spec, y: pd.Series, name: str) -> None:
    where = spec.location("data", "target")
    missing = np.flatnonzero(y.isna().to_numpy())
    if len(missing):
        raise DataError(
            f"{len(missing)} of {len(y)} rows of {name} have no value in target '{spec.target}' "
            f"({_data_rows(missing)}); drop or fill them",
            where,
        )
    if spec.task == "regression" and not is_numeric(y):
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


def _key_problems(spec: Spec, table: pd.DataFrame, name: str) -> list[Problem]:
    """The key column must exist and name every row; duplicates are allowed (they share a side)."""
    key, where = spec.config.data.split.key, spec.location("data", "split", "key")
    columns = [str(c) for c in table.columns]
    if key not in table.columns:
        return [Problem(where, f"key column '{key}' is not in {name}{did_you_mean(key, columns)}. "
                               f"Columns: {_listed(columns)}")]
    missing = np.flatnonzero(table[key].isna().to_numpy())
    if len(missing):
        return [Problem(where,
                        f"{len(missing)} of {len(table)} rows of {name} have no value in key '{key}' "
                        f"({_data_rows(missing)}): the key decides each row's side of the split; fill them or "
                        "declare another key")]
    return []


def _check_split(spec: Spec, table: pd.DataFrame, held: np.ndarray) -> None:
    """Both sides must have rows, and training must see every class the held-out rows have."""
    split, where = spec.config.data.split, spec.location("data", "split")
    remedy = "add rows, change test_size (or seed), or give the held-out rows in a file with test_path"
    settings = f"test_size {split.test_size}, seed {split.seed}"
    if held.all() or not held.any():
        side = "no held-out rows" if not held.any() else "no training rows"
        raise DataError(f"splitting {len(table)} rows ({settings}) leaves {side}: {remedy}", where)
    if spec.task == "classification":
        y = table[spec.target]
        unseen = sorted(set(y[held].unique().tolist()) - set(y[~held].unique().tolist()), key=str)
        if unseen:
            raise DataError(
                f"splitting {len(table)} rows ({settings}) puts every row of class{'es' if len(unseen) > 1 else ''} "
                f"{', '.join(repr(c) for c in unseen)} of '{spec.target}' in the held-out rows, so training never sees "
                f"{'them' if len(unseen) > 1 else 'it'}: {remedy}",
                where,
            )


def _split_warnings(spec: Spec) -> list[str]:
    """The hash split does not stratify: say so when the spec asks for it in so many words."""
    data = spec.config.data
    asked = "stratify" in data.split.model_fields_set and data.split.stratify
    return [STRATIFY_IGNORED] if asked and not (data.test_path or data.test_url) else []


def _data_rows(positions: np.ndarray, shown: int = 5) -> str:
    """``data rows 1, 4, 9, ...``: 1-based positions in the table, the first few of them."""
    rows = ", ".join(str(i + 1) for i in positions[:shown])
    return f"data rows {rows}{', ...' if len(positions) > shown else ''}"


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
