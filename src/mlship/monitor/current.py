"""Recent data for a drift check: a CSV or Parquet table, or the service's prediction logs.

Each is checked against the reference profile's features: a missing column, a value that
is not a number where the model was trained on numbers, a log line that is not a record of
this model, each is a :class:`DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mlship.errors import DataError, Location, did_you_mean, display_path
from mlship.markdown import Markdown, code

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: The service's log and its rotated backups: predictions.jsonl, predictions.jsonl.1, ...
LOG_FILE_RE = re.compile(r"\.jsonl(\.(?P<backup>\d+))?$")
LOG_FIELDS = ("model", "fingerprint", "features", "prediction")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
#: At most this many names (features, categories) are listed in a message or the report.
MAX_LISTED = 12
#: How deep a log record may nest: the service writes three levels; pyarrow's reader
#: recurses per level and overflows the stack (SIGSEGV) on a line nested 100,000 deep.
MAX_LOG_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Current:
    """Recent data: the feature columns, and the model's predictions and the target when known."""

    features: "pd.DataFrame"
    source: str
    #: ``prediction`` and ``proba:<class>`` columns; None until the model has predicted a table.
    predictions: "pd.DataFrame | None" = None
    target: "pd.Series | None" = None
    #: The first and last ``time`` of logged records.
    period: tuple[str, str] | None = None
    notes: tuple[str, ...] = ()



def read_current(path: Path, profile: dict[str, Any], fingerprint: str) -> Current:
    """Read recent data and check it against the profile's features."""
    if not path.exists():
        raise DataError(f"{display_path(path)} does not exist: give a CSV or Parquet file, a .jsonl log, "
                        "or the folder the service logs to")
    if path.is_dir():
        logs = sorted((p for p in path.iterdir() if p.is_file() and LOG_FILE_RE.search(p.name)), key=_oldest_first)
        if not logs:
            raise DataError(f"{display_path(path)} holds no prediction logs (predictions.jsonl, predictions.jsonl.1, "
                            "...): the service writes them when MLSHIP_PREDICTION_LOG_DIR is set")
        return read_logs(logs, profile, fingerprint)
    if LOG_FILE_RE.search(path.name):
        return read_logs([path], profile, fingerprint)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return read_table(path, profile)
    raise DataError(f"{display_path(path)} is not a .csv, .parquet or .jsonl file")


def read_table(path: Path, profile: dict[str, Any]) -> Current:
    from mlship.train import data

    frame = data.read_table(path, None)
    source = display_path(path)
    if not len(frame):
        raise DataError(f"{source} has a header but no rows")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    _check_features(profile, columns, f"{source} lacks feature column")
    csv = path.suffix.lower() == ".csv"

    def where(column: str, row: int) -> tuple[Location, str]:
        # A CSV's line 1 is its header.
        return (Location(path, row + 2, column), "") if csv else (Location(path, None, column), f"row {row + 1}: ")

    features = _typed(frame[list(profile["features"])], profile, where)
    target = profile.get("target") or {}
    values = frame[target["name"]] if target.get("name") in columns else None
    if values is not None and target["kind"] == "numeric":
        values = _numbers(values, lambda row: where(target["name"], row))
    return Current(features, source, target=values)


def read_logs(files: list[Path], profile: dict[str, Any], fingerprint: str) -> Current:
    """Read the service's prediction logs: one JSON object per line, its ``features`` the data.

    Only records of this model version (``fingerprint``) say anything about its predictions.
    """
    import pandas as pd

    parts = [part for part in (_read_log(file, profile) for file in files) if part is not None]
    source = display_path(files[0].parent) if len(files) > 1 else display_path(files[0])
    if not parts:
        raise DataError(f"{source} holds no records: the service has logged nothing yet")
    features = pd.concat([features for features, _ in parts], ignore_index=True)
    logged = pd.concat([logged for _, logged in parts], ignore_index=True)
    ours = (logged["fingerprint"] == fingerprint).to_numpy()
    predictions = logged.loc[ours, [c for c in logged.columns if c == "prediction" or c.startswith("proba:")]]
    times = logged["time"].dropna() if "time" in logged.columns else []
    period = (_timestamp(times.min()), _timestamp(times.max())) if len(times) else None
    return Current(features, source, predictions.reset_index(drop=True), None, period,
                   tuple(_version_notes(logged["fingerprint"], ours, fingerprint)))


def _read_log(file: Path, profile: dict[str, Any]) -> "tuple[pd.DataFrame, pd.DataFrame] | None":
    """One log file's features, and its other fields (``probabilities.<class>`` renamed ``proba:<class>``)."""
    import pyarrow as pa
    import pyarrow.json as pj

    if file.stat().st_size == 0:
        return None
    _check_depth(file)
    try:
        table = pj.read_json(file)
    except pa.ArrowInvalid as error:
        raise _log_error(file, error) from None
    if not table.num_rows:
        return None
    for name in LOG_FIELDS:
        if name not in table.column_names:
            raise DataError(f"no record has the field '{name}': each line must be a JSON object with time, model, "
                            "fingerprint, endpoint, features and prediction (the service's log format)",
                            Location(file))
    if not pa.types.is_struct(table.schema.field("features").type):
        raise DataError("'features' must be an object of feature name to value", Location(file, None, "features"))
    logged = table.drop_columns(["features"]).flatten().to_pandas()
    logged.columns = [c.replace("probabilities.", "proba:", 1) for c in logged.columns]
    _check_model_name(logged["model"], file, profile["model"])
    features = table.select(["features"]).flatten().to_pandas()
    features.columns = [c.removeprefix("features.") for c in features.columns]
    _check_features(profile, list(features.columns), "no record has feature", Location(file))

    def where(column: str, row: int) -> tuple[Location, str]:
        return Location(file, _line_of_record(file, row), column), ""

    features = _typed(features[list(profile["features"])], profile, lambda name, row: where(f"features.{name}", row))
    if profile["task"] == "regression":
        logged["prediction"] = _numbers(logged["prediction"], lambda row: where("prediction", row))
    return features, logged


def _check_features(profile: dict[str, Any], columns: list[str], lacks: str, location: Location | None = None) -> None:
    lacking = [name for name in profile["features"] if name not in columns]
    if lacking:
        raise DataError(f"{lacks} '{lacking[0]}'{did_you_mean(lacking[0], columns)}"
                        + (f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else "")
                        + f". The model needs: {_listed(list(profile['features']))}", location)


def _typed(frame: "pd.DataFrame", profile: dict[str, Any],
           where: Callable[[str, int], tuple[Location, str]]) -> "pd.DataFrame":
    """``frame`` with its numeric features as floats; a value that is not a number is an error naming it."""
    import pandas as pd

    columns = {}
    for name in frame.columns:
        values = frame[name]
        if profile["features"][name]["kind"] == "numeric":
            values = _numbers(values, lambda row, name=name: where(name, row))
        columns[name] = values
    return pd.DataFrame(columns, index=frame.index)


def _numbers(values: "pd.Series", where: Callable[[int], tuple[Location, str]]) -> "pd.Series":
    """Numbers as floats, infinities as missing; anything else is an error at its row."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        location, row = where(0)
        raise DataError(f"{row}true/false values, but the model was trained on numbers", location)
    if not pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        wrong = np.flatnonzero((numbers.isna() & values.notna()).to_numpy())
        if len(wrong):
            location, row = where(int(wrong[0]))
            raise DataError(f"{row}{values.iloc[wrong[0]]!r} is not a number, but the model was trained on numbers"
                            f" ({len(wrong)} such value{'s' if len(wrong) > 1 else ''})", location)
        values = numbers
    x = values.to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(np.where(np.isinf(x), np.nan, x), index=values.index, name=values.name)


def _check_depth(file: Path) -> None:
    """Refuse a line nested deeper than :data:`MAX_LOG_DEPTH` before any JSON reader sees it.

    Only a line with that many brackets at all is looked at closely (outside its strings).
    """
    with open(file, "rb") as stream:
        for number, line in enumerate(stream, 1):
            if line.count(b"{") + line.count(b"[") <= MAX_LOG_DEPTH:
                continue
            depth = deepest = 0
            for bracket in re.findall(rb"[\[\]{}]", _JSON_STRING.sub(b'""', line)):
                depth += 1 if bracket in b"[{" else -1
                deepest = max(deepest, depth)
            if deepest > MAX_LOG_DEPTH:
                raise DataError(f"the record is nested more than {MAX_LOG_DEPTH} levels deep: each line must be one "
                                "record of the service's log format", Location(file, number))


def _log_error(file: Path, error: Exception) -> DataError:
    """Name the first line that is not a record, or whose value's type differs from an earlier line's."""
    import json

    kinds: dict[str, tuple[str, int]] = {}
    with open(file, encoding="utf-8", errors="replace") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as bad:
                return DataError(f"not valid JSON ({bad.msg}, column {bad.colno})", Location(file, number))
            if not isinstance(record, dict):
                return DataError("not a JSON object: each line must be one record", Location(file, number))
            for key, value in _scalars(record):
                kind = _json_kind(value)
                if not kind:
                    continue
                first, line = kinds.setdefault(key, (kind, number))
                if kind != first:
                    return DataError(f"{value!r} is {kind}, but line {line} has {first} here",
                                     Location(file, number, key))
    return DataError(f"cannot read the log: {error}", Location(file))


def _scalars(record: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for key, value in record.items():
        if isinstance(value, dict):
            found += _scalars(value, f"{prefix}{key}.")
        else:
            found.append((f"{prefix}{key}", value))
    return found


def _json_kind(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list"


def _line_of_record(file: Path, index: int) -> int:
    """The line of the ``index``-th record (blank lines hold none)."""
    with open(file, encoding="utf-8", errors="replace") as stream:
        records = (number for number, line in enumerate(stream, 1) if line.strip())
        for _ in range(index):
            next(records)
        return next(records)


def _check_model_name(tags: "pd.Series", file: Path, model: str) -> None:
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(tags, use_na_sentinel=True)
    wrong = [index for index, tag in enumerate(uniques) if str(tag).split(":")[0] != model]
    bad = np.flatnonzero(np.isin(codes, wrong) | (codes < 0))
    if len(bad):
        index = int(bad[0])
        raise DataError(f"a record of model {tags.iloc[index]!r}, not '{model}': keep each model's logs in its own "
                        "folder", Location(file, _line_of_record(file, index), "model"))


def _version_notes(fingerprints: "pd.Series", ours: "np.ndarray", fingerprint: str) -> list[str]:
    others = sorted({str(f)[:12] for f in fingerprints[~ours]})
    if not others:
        return []
    if not ours.any():
        return [Markdown("Prediction drift is not checked: no record was predicted by this model version ({}); "
                         "the logs are from {}.").format(code(fingerprint[:12]), _codes(others))]
    return [Markdown("{:,} of {:,} records were predicted by other model versions ({}): their features are compared, "
                     "their predictions are not.").format(int((~ours).sum()), len(ours), _codes(others))]


def _codes(values: list[str]) -> Markdown:
    return Markdown(", ").join(map(code, values))


def _oldest_first(path: Path) -> tuple[int, str]:
    match = LOG_FILE_RE.search(path.name)
    return -int(match["backup"] or 0), path.name


def _timestamp(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(value, "strftime") else str(value)



def _listed(values: list[str]) -> str:
    shown = ", ".join(values[:MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > MAX_LISTED else "")
