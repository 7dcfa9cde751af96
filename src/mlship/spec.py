"""Model specs: ``models/<name>/model.yaml``, parsed and validated.

The schema is a set of strict pydantic models. YAML is composed into nodes first, so
every problem, whether pydantic's or one of the semantic checks below, is reported
with the file, the line and the dotted field, and says what is allowed.

Validation here needs no scikit-learn: checks that import the estimator live in
:func:`mlship.train.fit.check_model`, which runs only when a model is about to train.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from mlship import yaml_limits
from mlship.errors import Location, Problem, SpecError, did_you_mean, display_path
from mlship.metrics import CATALOGUE, DEFAULT_METRICS, metrics_for

SPEC_FILE = "model.yaml"

#: scikit-learn's bundled datasets (no download needed) and the task each suits.
SKLEARN_DATASETS = {
    "breast_cancer": "classification",
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "diabetes": "regression",
}

#: GTO's artifact-name pattern, so that every model name is a valid registry name.
MODEL_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
ESTIMATOR_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
ENTRYPOINT_RE = re.compile(r"^(?P<file>[^:]+\.py):(?P<function>[A-Za-z_]\w*)$")

Task = Literal["classification", "regression"]
MetricName = Literal[tuple(CATALOGUE)]  # type: ignore[valid-type]
SklearnDataset = Literal[tuple(SKLEARN_DATASETS)]  # type: ignore[valid-type]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, values: Any) -> Any:
        """A key left empty (``evaluation:`` with its lines commented out) takes its default."""
        if not isinstance(values, dict):
            return values
        optional = {name for name, field in cls.model_fields.items() if not field.is_required()}
        return {key: value for key, value in values.items() if not (value is None and key in optional)}


class Split(_Section):
    """Which rows are held out: those whose digest (of ``key``'s value, else of the row) mixed with ``seed``
    falls below ``test_size``. See :mod:`mlship.train.split`."""

    test_size: float = Field(0.25, gt=0, lt=1)
    seed: int = 0
    key: str | None = None
    #: Accepted so that older specs load; the hash split does not stratify.
    stratify: bool = True


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: The fields of a pinned remote file (see mlship.train.remote); left out of the training config when unset,
#: so that the fingerprints of specs without them stay as they were.
REMOTE_FIELDS = ("url", "sha256", "test_url", "test_sha256")


class Data(_Section):
    path: str | None = None
    sklearn: SklearnDataset | None = None
    #: A file served over HTTP(S), pinned by its SHA-256: downloaded once into the cache and verified.
    url: str | None = None
    sha256: Sha256 | None = None
    test_path: str | None = None
    test_url: str | None = None
    test_sha256: Sha256 | None = None
    target: str | None = None
    features: list[str] | None = None
    categorical: list[str] = []
    split: Split = Split()


class ModelConfig(_Section):
    estimator: str | None = None
    entrypoint: str | None = None
    params: dict[str, Any] = {}
    preprocess: bool = True


class Bootstrap(_Section):
    resamples: int = Field(1000, ge=100, le=100_000)
    confidence: float = Field(0.95, ge=0.5, lt=1)
    seed: int = 0


class SliceBy(_Section):
    """A slice column; a numeric one with many values is cut into ``bins`` quantile bins."""

    column: str
    bins: int | None = Field(None, ge=2, le=20)


def _slice_by_name(value: Any) -> Any:
    """``slices: [region]`` is short for ``slices: [{column: region}]``."""
    return {"column": value} if isinstance(value, str) else value


class Evaluation(_Section):
    metrics: list[MetricName] = []
    slices: list[Annotated[SliceBy, BeforeValidator(_slice_by_name)]] = []
    positive_class: str | int | bool | None = None
    bootstrap: Bootstrap = Bootstrap()
    min_slice_size: int = Field(30, ge=1)
    #: Fewest rows of each class a slice needs for a metric that compares classes (ROC AUC, F1, ...).
    min_slice_class_size: int = Field(10, ge=1)
    #: Train each version this many times, with shifted seeds, so that a change's interval includes
    #: the variation between training seeds (1: one training, as without the setting).
    seeds: int = Field(1, ge=1, le=20)


class Gate(_Section):
    min: float | None = None
    max: float | None = None
    max_drop: float | None = Field(None, ge=0)
    max_relative_drop: float | None = Field(None, ge=0)
    slice_max_drop: float | None = Field(None, ge=0)

    def rules(self) -> dict[str, float]:
        """The bounds that are set, by rule name."""
        return {rule: bound for rule, bound in self.model_dump().items() if bound is not None}


class Monitoring(_Section):
    """Thresholds of ``mlship drift``. A column drifts when its change is both significant and large."""

    #: Family-wise significance level over all of a run's tests (Holm's correction).
    p_value: float = Field(0.05, gt=0, lt=1)
    #: The dataset drifts when at least this share of its features drift,
    drift_share: float = Field(0.5, gt=0, le=1)
    #: or when one feature drifts with a PSI of at least this (a major shift),
    major_psi: float = Field(0.25, gt=0)
    #: or with at least this share of its values outside the training range.
    major_out_of_range: float = Field(0.1, gt=0, le=1)
    #: A change is large when its population stability index reaches this,
    psi: float = Field(0.2, gt=0)
    #: or, for numbers, when the Wasserstein distance reaches this many reference standard deviations,
    wasserstein: float = Field(0.1, gt=0)
    #: or, for categories, when the Jensen-Shannon distance (base 2, from 0 to 1) reaches this.
    jensen_shannon: float = Field(0.1, gt=0, le=1)
    #: Quantile bins of a number's reference for the PSI.
    bins: int = Field(10, ge=2, le=50)
    #: Fewer rows of current data than this cannot be judged (exit code 2).
    min_rows: int = Field(100, ge=1)


class Serving(_Section):
    """How the packaged service runs: its processes and threads, and the largest request it takes.

    Not part of the fingerprint: it changes the service, not the model."""

    #: Worker processes; each loads the model.
    workers: int = Field(1, ge=1, le=64)
    #: Predictions each worker runs at once. Default: the usable CPUs (affinity and cgroup quota) / workers.
    threads: int | None = Field(None, ge=1, le=256)
    #: The most records one request may carry, and its largest body in bytes: beyond them, 413.
    max_rows: int = Field(10_000, ge=1, le=10_000_000)
    max_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=2**31)


class ModelSpec(_Section):
    description: str = ""
    #: Who answers for the model (GitHub logins or teams), named in the model card.
    owners: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    #: What the model is for, and what it must not be used for: the model card's first questions.
    intended_use: str = ""
    limitations: str = ""
    task: Task
    data: Data
    model: ModelConfig
    evaluation: Evaluation = Evaluation()
    gates: dict[MetricName, Gate] = {}
    monitoring: Monitoring = Monitoring()
    serving: Serving = Serving()
    version: str | None = None


FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Spec:
    """A validated spec, with the folder it lives in and the line of every field."""

    name: str
    dir: Path
    config: ModelSpec
    lines: dict[FieldPath, int]

    @property
    def file(self) -> Path:
        return self.dir / SPEC_FILE

    def location(self, *field: str | int) -> Location:
        """The location of ``field``, or of its nearest parent written in the file."""
        return Location(self.file, _line_of(self.lines, field), _dotted(field))

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def target(self) -> str:
        return self.config.data.target or "target"

    @property
    def metrics(self) -> list[str]:
        """The metrics to compute: the configured ones (or the task's defaults), then any gated ones."""
        chosen = list(self.config.evaluation.metrics) or DEFAULT_METRICS[self.task]
        return chosen + [m for m in self.config.gates if m not in chosen]

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]

    def data_files(self) -> list[Path]:
        data = self.config.data
        return [self.dir / p for p in (data.path, data.test_path) if p]

    def entrypoint(self) -> tuple[Path, str] | None:
        """The entrypoint's file and function name, if the model is built by one."""
        if not self.config.model.entrypoint:
            return None
        match = ENTRYPOINT_RE.match(self.config.model.entrypoint)
        assert match, "validated at load"
        return self.dir / match["file"], match["function"]

    def training_config(self) -> dict[str, Any]:
        """What determines the trained model and its metrics.

        Gates, notes, slices and bootstrap settings do not: they are applied to the
        cached predictions when models are compared. Nor do monitoring thresholds, which
        apply to the reference profile when drift is checked.
        """
        config = self.config.model_dump(mode="json", include={"task", "data", "model"})
        for key in REMOTE_FIELDS:
            if config["data"][key] is None:
                del config["data"][key]
        evaluation = self.config.evaluation
        config["evaluation"] = {"metrics": self.metrics, "positive_class": evaluation.positive_class}
        if evaluation.seeds > 1:  # only then, so that the fingerprints of specs without it stay as they were
            config["evaluation"]["seeds"] = evaluation.seeds
        return config

    def training_config_json(self) -> str:
        return json.dumps(self.training_config(), sort_keys=True, separators=(",", ":"))


def load_spec(model_dir: Path) -> Spec:
    """Read and validate ``model_dir/model.yaml``; raise :class:`SpecError` listing every problem."""
    model_dir = Path(model_dir)
    file = model_dir / SPEC_FILE
    if not file.is_file():
        raise SpecError([Problem(Location(file), f"no {SPEC_FILE} here; a model is a folder with a {SPEC_FILE}")])
    raw, lines = _parse_yaml(file)
    problems = _check_name(model_dir, file)
    try:
        config = ModelSpec.model_validate(raw)
    except ValidationError as error:
        problems += [_problem_from_pydantic(e, file, lines) for e in error.errors()]
        raise SpecError(problems) from None
    spec = Spec(model_dir.name, model_dir, config, lines)
    problems += _semantic_problems(spec)
    if problems:
        error = SpecError(problems)
        error.spec = spec  # the schema held: `mlship validate` goes on to check what these problems leave sound
        raise error
    return spec


def _parse_yaml(file: Path) -> tuple[Any, dict[FieldPath, int]]:
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SpecError([Problem(Location(file), f"not UTF-8 text ({error.reason})")]) from None
    yaml_limits.check(text, file)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError([Problem(Location(file, 1), "the file is empty; see the spec reference in docs/spec.md")])
        lines: dict[FieldPath, int] = {}
        _record_lines(node, (), lines, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise SpecError([Problem(Location(file, line), f"invalid YAML: {error.problem or error.context}")]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SpecError([Problem(Location(file, 1), "expected a mapping of keys (task, data, model, ...) at the top")])
    return data, lines


def _record_lines(node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], file: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                raise SpecError([Problem(Location(file, line, _dotted(path) or None),
                                         "a key must be a plain name, not a list or a mapping")])
            key = key_node.value
            if key in seen:
                line = key_node.start_mark.line + 1
                raise SpecError([Problem(Location(file, line, _dotted(path + (key,))), "duplicate key; keep one")])
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _record_lines(value_node, path + (key,), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _record_lines(item, path + (index,), lines, file)


def _written_part(field: FieldPath, lines: dict[FieldPath, int]) -> FieldPath:
    """The longest leading part of ``field`` that the file spells out (drops pydantic's union tags)."""
    for end in range(len(field), 0, -1):
        if field[:end] in lines:
            return field[:end]
    return field


def _line_of(lines: dict[FieldPath, int], field: FieldPath) -> int | None:
    return lines.get(_written_part(field, lines))


def _dotted(field: FieldPath) -> str:
    text = ""
    for part in field:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _check_name(model_dir: Path, file: Path) -> list[Problem]:
    name = model_dir.resolve().name
    if MODEL_NAME_RE.match(name):
        return []
    suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return [
        Problem(
            Location(file),
            f"the model folder name '{name}' is not a valid model name: use lowercase letters, digits and '-', "
            f"starting and ending with a letter or digit (rename the folder, for example to '{suggestion}')",
        )
    ]


def _problem_from_pydantic(error: dict[str, Any], file: Path, lines: dict[FieldPath, int]) -> Problem:
    kind = error["type"]
    # pydantic marks a dict key's own error with "[key]"; the key an extra_forbidden names is the last part.
    named = error["loc"][-1:] if kind == "extra_forbidden" else ()
    loc: FieldPath = tuple(part for part in error["loc"][:len(error["loc"]) - len(named)] if part != "[key]") + named
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        message = f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), allowed)}. Allowed here: {', '.join(allowed)}"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        message = f"'{value}' is not allowed{did_you_mean(str(value), allowed)}. Allowed: {', '.join(allowed)}"
    else:
        loc = _written_part(loc, lines)
        message = f"{error['msg'][0].lower()}{error['msg'][1:]} (got {value!r})"
        if kind == "string_type" and isinstance(value, (int, float)):
            message += "; put it in quotes"
    return Problem(Location(file, _line_of(lines, loc), _dotted(loc)), message)


def _allowed_keys(path: FieldPath) -> list[str]:
    """The keys a section at ``path`` accepts, found by walking the schema."""
    section: type[BaseModel] = ModelSpec
    expect_key = False
    for part in path:
        if expect_key:
            expect_key = False
            continue
        annotation = section.model_fields[str(part)].annotation
        for candidate in (annotation, *typing.get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                section = candidate
            elif typing.get_origin(candidate) is dict:
                section, expect_key = typing.get_args(candidate)[1], True
    return list(section.model_fields)


def _remote_problems(spec: Spec) -> list[Problem]:
    """A remote file needs an http(s) URL naming a .csv or .parquet file, and the SHA-256 that pins it."""
    data, problems = spec.config.data, []
    for url_field, digest_field in (("url", "sha256"), ("test_url", "test_sha256")):
        url, digest = getattr(data, url_field), getattr(data, digest_field)
        if url is None:
            if digest is not None:
                problems.append(Problem(spec.location("data", digest_field), f"{digest_field} goes with {url_field}"))
            continue
        if not re.match(r"^https?://[^/\s]+/", url):
            problems.append(Problem(spec.location("data", url_field), f"'{url}' is not an http:// or https:// URL"))
        elif Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower() not in (".csv", ".parquet", ".pq"):
            problems.append(Problem(spec.location("data", url_field),
                                    f"'{url}' does not name a .csv or .parquet file (its path must end in one)"))
        if digest is None:
            problems.append(Problem(spec.location("data", url_field),
                                    f"a downloaded file is never trusted without its digest: add {digest_field}: "
                                    f"<the file's SHA-256, 64 lowercase hex digits> (e.g. from `sha256sum`)"))
    if data.test_url and data.test_path:
        problems.append(Problem(spec.location("data", "test_url"), "give test_path or test_url, not both"))
    if data.test_url and data.sklearn:
        problems.append(Problem(spec.location("data", "test_url"),
                                "test_url goes with path or url, not with a bundled dataset"))
    return problems


def _semantic_problems(spec: Spec) -> list[Problem]:
    """Checks that span fields, and the files a spec refers to."""
    config, problems = spec.config, []

    def add(message: str, *field: str | int) -> None:
        problems.append(Problem(spec.location(*field), message))

    data = config.data
    if [bool(data.path), bool(data.sklearn), bool(data.url)].count(True) != 1:
        add("give exactly one data source: 'path' (a CSV or Parquet file), 'url' (a file served over HTTP(S), "
            "with its sha256) or 'sklearn' (a bundled dataset)", "data")
    problems += _remote_problems(spec)
    if data.sklearn:
        suited = SKLEARN_DATASETS[data.sklearn]
        if suited != config.task:
            add(f"'{data.sklearn}' is a {suited} dataset but task is {config.task}", "data", "sklearn")
        if data.test_path:
            add("test_path goes with path, not with a bundled dataset", "data", "test_path")
    elif not data.target and (data.path or data.url):
        add(f"required with '{'path' if data.path else 'url'}': the name of the column to predict", "data", "target")
    for index, column in enumerate(data.features or []):
        if column == spec.target:
            add(f"'{column}' is the target: a model given the answer as a feature learns nothing useful; "
                "remove it from features", "data", "features", index)
    for key in ("path", "test_path"):
        value = getattr(data, key)
        if value and Path(value).suffix.lower() not in (".csv", ".parquet", ".pq"):
            add(f"'{value}' is not a .csv or .parquet file", "data", key)

    model = config.model
    if bool(model.estimator) == bool(model.entrypoint):
        add("give exactly one of 'estimator' (a dotted class path) or 'entrypoint' (file.py:function)", "model")
    if model.estimator and not ESTIMATOR_RE.match(model.estimator):
        add(f"'{model.estimator}' is not a dotted class path like sklearn.linear_model.LogisticRegression",
            "model", "estimator")
    if model.entrypoint:
        match = ENTRYPOINT_RE.match(model.entrypoint)
        if not match:
            add(f"'{model.entrypoint}' is not of the form file.py:function", "model", "entrypoint")
        elif not (spec.dir / match["file"]).is_file():
            add(f"'{match['file']}' does not exist in {display_path(spec.dir)}", "model", "entrypoint")

    allowed = metrics_for(config.task)
    for index, metric in enumerate(config.evaluation.metrics):
        if metric not in allowed:
            add(f"'{metric}' is not a {config.task} metric. Allowed: {', '.join(allowed)}", "evaluation", "metrics", index)
    for metric, gate in config.gates.items():
        if metric not in allowed:
            add(f"'{metric}' is not a {config.task} metric. Allowed: {', '.join(allowed)}", "gates", metric)
        if not gate.rules():
            add(f"a gate needs at least one of {', '.join(Gate.model_fields)}", "gates", metric)
        elif gate.min is not None and gate.max is not None and gate.min > gate.max:
            add(f"min {gate.min} is above max {gate.max}", "gates", metric)
    if config.evaluation.positive_class is not None and config.task != "classification":
        add("positive_class is for classification only", "evaluation", "positive_class")

    if config.version is not None and not SEMVER_RE.match(config.version):
        add(f"'{config.version}' is not a semantic version like 1.2.0", "version")
    return problems
