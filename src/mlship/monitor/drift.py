"""Drift: does recent data still look like the data the model was trained on?

Recent data (a CSV or Parquet table, or the service's prediction logs) is compared,
column by column, with the reference profile saved at training (:mod:`mlship.train.profile`).

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

The dataset drifts when at least ``drift_share`` of its features drift; a drifted
prediction (or target, when the data has it) is reported as drift on its own, since
it means the model's behaviour moved, whichever features moved it.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mlship.errors import DataError, Location, did_you_mean, display_path
from mlship.files import atomic_write_json, atomic_write_text
from mlship.markdown import Markdown, code
from mlship.spec import Monitoring
from mlship.train.profile import category_counts, label

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlship.project import Project

#: The service's log and its rotated backups: predictions.jsonl, predictions.jsonl.1, ...
LOG_FILE_RE = re.compile(r"\.jsonl(\.(?P<backup>\d+))?$")
LOG_FIELDS = ("model", "fingerprint", "features", "prediction")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
#: Shares below this count as this in the PSI, whose logarithm an empty bin would make infinite.
PSI_FLOOR = 1e-4
#: Above this effective sample size the Kolmogorov-Smirnov p-value is the asymptotic one (exact is slow there).
EXACT_KS_MAX = 10_000
#: Categories expected fewer times than this are pooled, as the chi-square approximation needs.
MIN_EXPECTED = 5
#: Numbers outside the reference's range are listed in the report from this share of the values.
OUT_OF_RANGE_SHOWN = 0.01
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

    @property
    def drifted(self) -> bool:
        return self.significant and self.large

    def to_dict(self) -> dict[str, Any]:
        document = {key: _finite(value) for key, value in asdict(self).items()}
        document["missing"] = list(self.missing) if self.missing else None
        return {**document, "drifted": self.drifted}


@dataclass(frozen=True)
class DriftResult:
    model: str
    fingerprint: str
    source: str
    rows: int
    reference_rows: int
    settings: Monitoring
    features: list[ColumnDrift]
    predictions: list[ColumnDrift]
    target: ColumnDrift | None
    period: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def drifted_features(self) -> list[str]:
        return [c.name for c in self.features if c.drifted]

    @property
    def share(self) -> float:
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.drifted_features) and self.share >= self.settings.drift_share

    @property
    def prediction_drift(self) -> bool:
        return any(c.drifted for c in self.predictions)

    @property
    def target_drift(self) -> bool:
        return self.target is not None and self.target.drifted

    @property
    def drifted(self) -> bool:
        return self.dataset_drift or self.prediction_drift or self.target_drift

    @property
    def exit_code(self) -> int:
        return 1 if self.drifted else 0

    @property
    def tests(self) -> int:
        return len(self.features) + len(self.predictions) + (self.target is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "period": {"first": self.period[0], "last": self.period[1]} if self.period else None,
            "drifted": self.drifted,
            "dataset_drift": self.dataset_drift,
            "prediction_drift": self.prediction_drift,
            "target_drift": self.target_drift if self.target else None,
            "drift_share": self.share,
            "drifted_features": self.drifted_features,
            "features": [c.to_dict() for c in self.features],
            "predictions": [c.to_dict() for c in self.predictions],
            "target": self.target.to_dict() if self.target else None,
            "tests": self.tests,
            "thresholds": self.settings.model_dump(),
            "notes": self.notes,
        }


def check(model: str, current: Path, project: "Project | None" = None, out: Path | None = None) -> DriftResult:
    """Compare ``current`` (a CSV or Parquet file, a ``.jsonl`` log, or a folder of logs) with the
    reference profile of the model at the working tree (trained first if the cache lacks it).

    Writes ``drift-<model>.md`` and ``drift-<model>.json`` in ``out`` (default ``reports/``).
    Bad data raises :class:`DataError`, naming the file and the column.
    """
    from mlship.project import Project
    from mlship.train.cache import CacheEntry
    from mlship.train.trainer import train

    project = project or Project.find()
    spec = project.spec(model)
    trained = train(spec, project.cache_dir)
    entry = CacheEntry(trained.entry)
    profile = entry.profile()
    data = read_current(Path(current), profile, trained.fingerprint)
    if data.predictions is None:
        data = replace(data, predictions=predict(entry.load_model(), profile, data))
    result = detect(profile, data, spec.config.monitoring, trained.fingerprint)
    out = out or project.root / "reports"
    markdown, document = out / f"drift-{spec.name}.md", out / f"drift-{spec.name}.json"
    atomic_write_text(markdown, render(result, project.root))
    atomic_write_json(document, result.to_dict())
    result.written.extend([markdown, document])
    return result


def render(result: DriftResult, project_root: Path | None = None) -> str:
    """The Markdown report, from ``drift.md.j2`` (a project may override it in ``.mlship/templates/``)."""
    from mlship.templating import environment

    return environment(project_root).get_template("drift.md.j2").render(**_report_context(result))


# --- reading recent data ----------------------------------------------------------------


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


def predict(model: Any, profile: dict[str, Any], current: Current) -> "pd.DataFrame":
    """The model's predictions on a table's rows, as the profile records them."""
    import pandas as pd

    try:
        frame = pd.DataFrame({"prediction": model.predict(current.features)})
        wanted = [name for name in profile["predictions"] if name.startswith("proba:")]
        if wanted:
            proba = model.predict_proba(current.features)
            column = {f"proba:{label(c)}": index for index, c in enumerate(model.classes_)}
            for name in wanted:
                frame[name] = proba[:, column[name]]
    except (ValueError, TypeError) as error:
        raise DataError(f"{current.source}: the model cannot predict on these rows: {error}") from None
    return frame


# --- the statistics ---------------------------------------------------------------------


def detect(profile: dict[str, Any], current: Current, settings: Monitoring, fingerprint: str = "") -> DriftResult:
    """Measure every feature, prediction and (when present) target column, and judge them together."""
    rows = len(current.features)
    if rows < settings.min_rows:
        raise DataError(f"{current.source} has {rows:,} rows; judging drift needs at least {settings.min_rows:,} "
                        "(monitoring.min_rows in model.yaml)")
    notes = list(current.notes)
    features = [measure(name, reference, current.features[name], settings.bins, with_missing=True)
                for name, reference in profile["features"].items()]
    predictions = []
    for name, reference in profile.get("predictions", {}).items():
        if current.predictions is None or name not in current.predictions:
            continue
        values = current.predictions[name].dropna()
        if len(values) >= settings.min_rows:
            predictions.append(measure(name, reference, values, settings.bins, with_missing=False))
        elif len(values):
            notes.append(Markdown("{} is not checked: {:,} values from this model version, fewer than "
                                  "monitoring.min_rows ({:,}).").format(code(name), len(values), settings.min_rows))
    target = None
    if current.target is not None and profile.get("target") and current.target.notna().any():
        target = measure(profile["target"]["name"], profile["target"], current.target.dropna(), settings.bins,
                         with_missing=False)
    judged = judge([*features, *predictions, *([target] if target else [])], settings)
    return DriftResult(
        model=profile["model"], fingerprint=fingerprint, source=current.source, rows=rows,
        reference_rows=profile["rows"],
        settings=settings, features=judged[:len(features)],
        predictions=judged[len(features):len(features) + len(predictions)],
        target=judged[-1] if target else None, period=current.period, notes=notes,
    )


def measure(name: str, reference: dict[str, Any], values: "pd.Series", bins: int, with_missing: bool) -> ColumnDrift:
    """One column's tests and distances; ``bins`` is the number of PSI bins for a number."""
    if reference["kind"] == "date":  # profiled as days since 1970, as the model sees it (mlship.train.dates)
        from mlship.train.dates import days_since_epoch

        return _measure_numbers(name, reference, days_since_epoch(values), bins, with_missing)
    if reference["kind"] == "numeric":
        return _measure_numbers(name, reference, values, bins, with_missing)
    return _measure_categories(name, reference, values, with_missing)


def judge(columns: list[ColumnDrift], settings: Monitoring) -> list[ColumnDrift]:
    """Holm's correction over the columns' p-values, then each column's verdict."""
    adjusted = holm([c.p_value for c in columns])
    judged = []
    for column, p in zip(columns, adjusted):
        limit = settings.wasserstein if column.distance_name == "wasserstein" else settings.jensen_shannon
        large = column.psi >= settings.psi or (column.distance is not None and column.distance >= limit)
        judged.append(replace(column, adjusted_p=p, significant=p <= settings.p_value, large=large))
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


# --- the report -------------------------------------------------------------------------


def _report_context(result: DriftResult) -> dict[str, Any]:
    from mlship import __version__

    settings = result.settings
    share = f"{len(result.drifted_features)} of {len(result.features)} features drifted"
    if result.drifted_features:
        share += f" ({result.share:.0%})"
    if result.drifted:
        reasons = [share] if result.dataset_drift else []
        reasons += ["the predictions drifted"] if result.prediction_drift else []
        reasons += ["the target drifted"] if result.target_drift else []
        reasons += [] if result.dataset_drift else [share]
        icon, headline = "❌", "drift: " + ", ".join(reasons)
    else:
        icon, headline = "✅", f"no drift: {share}"
        if result.drifted_features:
            headline += f", below the {settings.drift_share:.0%} that makes the dataset drift"
    return {
        "icon": icon,
        "headline": headline,
        "model": result.model,
        "fingerprint": result.fingerprint[:12],
        "source": result.source,
        "rows": f"{result.rows:,}",
        "reference_rows": f"{result.reference_rows:,}",
        "period": result.period,
        "features": [_row(c) for c in result.features],
        "predictions": [_row(c) for c in result.predictions],
        "target": _row(result.target) if result.target else None,
        "unseen": [_unseen(c) for c in [*result.features, *result.predictions] if c.unseen],
        "out_of_range": [{"name": c.name, "share": f"{c.out_of_range:.1%}"} for c in result.features
                         if c.out_of_range and c.out_of_range >= OUT_OF_RANGE_SHOWN],
        "notes": result.notes,
        "settings": settings,
        "tests": result.tests,
        "version": __version__,
    }


def _row(c: ColumnDrift) -> dict[str, str]:
    if c.drifted:
        verdict = "❌ drifted"
    elif c.significant:
        verdict = "➖ small change"
    elif c.large:
        verdict = "➖ within noise"
    else:
        verdict = "✅"
    distance = "n/a" if c.distance is None else (f"{c.distance:.3f} sd" if c.distance_name == "wasserstein"
                                                 else f"{c.distance:.3f}")
    return {
        "name": c.name,
        "kind": "number" if c.kind == "numeric" else "category",
        "test": c.test,
        "p": _p(c.adjusted_p),
        "distance": f"{'W' if c.distance_name == 'wasserstein' else 'JS'} {distance}",
        "psi": f"{c.psi:.3f}",
        "missing": f"{c.missing[0]:.1%} → {c.missing[1]:.1%}" if c.missing else "",
        "rows": f"{c.current_rows:,}",
        "verdict": verdict,
    }


def _unseen(c: ColumnDrift) -> dict[str, Any]:
    shown = list(c.unseen.items())[:MAX_LISTED]
    listed = Markdown(", ").join(Markdown("{} ({:,})").format(code(category), count) for category, count in shown)
    if len(c.unseen) > MAX_LISTED:
        listed += Markdown(", ... ({} in all)").format(len(c.unseen))
    pooled = (f" (the reference pooled {c.reference_pooled:,} rare categories, so some of these may be rare "
              "rather than new)") if c.reference_pooled else ""
    share = sum(c.unseen.values()) / max(c.current_rows, 1)
    return {"name": c.name, "listed": listed, "share": f"{share:.1%}", "pooled": pooled}


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _listed(values: list[str]) -> str:
    shown = ", ".join(values[:MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > MAX_LISTED else "")
