"""``mlship init``: a model folder from a data file, the workflows, and the ``.gitignore`` entries.

What can be inferred from the data is (the target, the task, each feature's kind, a key
column for the split); everything is written as a commented ``model.yaml`` that the
user reads and edits, then checked as ``mlship validate`` checks it. Files that exist
are never overwritten: a second run adds only what is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mlship.errors import MlshipError, did_you_mean, display_path
from mlship.files import atomic_write_text
from mlship.project import MODELS_DIR
from mlship.spec import MODEL_NAME_RE, SPEC_FILE, load_spec
from mlship.train.columns import MAX_CATEGORIES, column_kind
from mlship.train.data import check_data, read_table

#: What `.gitignore` needs: everything under .mlship/ is local state (cache, BentoML home, local
#: registry, deploy state, server logs, locks) except the templates a project overrides.
GITIGNORE_ENTRIES = ("/.mlship/*", "!/.mlship/templates/", "/dist/", "/reports/pr-*", "/reports/drift-*")
#: The workflows a repository needs, from the README (the PR journey, posting for forks, release, rollback).
WORKFLOWS = ("mlship.yml", "mlship-post.yml", "mlship-release.yml", "mlship-rollback.yml")
#: Column names taken as the target when --target is not given, in this order; else the last column.
TARGET_NAMES = ("target", "label", "y", "class", "outcome")
#: An integer target with at most this many values is taken as classes.
MAX_CLASSES = 20
ESTIMATORS = {"classification": "sklearn.ensemble.HistGradientBoostingClassifier",
              "regression": "sklearn.ensemble.HistGradientBoostingRegressor"}
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_PLAIN = re.compile(r"^[A-Za-z_][\w./-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}


@dataclass
class Scaffold:
    """What ``mlship init`` wrote, and what it left as it was."""

    model: str
    spec: Path
    task: str
    target: str
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def init(root: Path, data: Path, name: str | None = None, target: str | None = None, task: str | None = None,
         mlship_repo: str | None = None, mlship_ref: str | None = None) -> Scaffold:
    """Scaffold ``models/NAME/`` in the project at ``root`` from the table ``data``, then the workflows
    and ``.gitignore``. Raises :class:`MlshipError` when the model exists or the data cannot be used."""
    root, data = root.resolve(), data.resolve()
    if mlship_repo is not None and not REPOSITORY_RE.match(mlship_repo):
        raise MlshipError(f"--mlship-repo '{mlship_repo}' is not of the form OWNER/NAME")
    if mlship_ref is not None and not SHA_RE.match(mlship_ref):
        raise MlshipError(f"--mlship-ref '{mlship_ref}' is not a full commit SHA (40 hexadecimal digits): a tag "
                          "or a branch can be moved, a commit cannot")
    name = name or re.sub(r"[^a-z0-9-]+", "-", data.stem.lower()).strip("-")
    if not MODEL_NAME_RE.match(name):
        raise MlshipError(f"'{name}' is not a valid model name: use lowercase letters, digits and '-' (give --name)")
    folder = root / MODELS_DIR / name
    if (folder / SPEC_FILE).exists():
        raise MlshipError(f"{display_path(folder / SPEC_FILE)} exists already: edit it, or give another --name")
    table = read_table(data, None)
    if len(table.columns) < 2:
        raise MlshipError(f"{display_path(data)} has {len(table.columns)} column: a model needs a target and a feature")
    target = _target(table, target, data)
    task = task or _task(table[target])
    data_path = _place_data(data, root, folder)
    result = Scaffold(name, folder / SPEC_FILE, task, target)
    atomic_write_text(result.spec, _spec_text(table, data, data_path, target, task))
    result.written.append(result.spec)
    if data_path.startswith("data/"):
        result.written.append(folder / data_path)
    _check(result)
    _write_workflows(root, result, mlship_repo, mlship_ref)
    _write_gitignore(root, result)
    return result


def _target(table, given: str | None, data: Path) -> str:
    columns = [str(c) for c in table.columns]
    if given is not None:
        if given not in columns:
            raise MlshipError(f"--target '{given}' is not a column of {display_path(data)}"
                              f"{did_you_mean(given, columns)}. Columns: {', '.join(columns)}")
        return given
    named = [c for c in columns if c.lower() in TARGET_NAMES]
    return sorted(named, key=lambda c: TARGET_NAMES.index(c.lower()))[0] if named else columns[-1]


def _task(y) -> str:
    """Regression for numbers with many values or fractions; classification for anything else."""
    import pandas as pd

    present = y.dropna()
    if pd.api.types.is_bool_dtype(present) or not pd.api.types.is_numeric_dtype(present):
        return "classification"
    whole = bool((present == present.round()).all())
    return "classification" if whole and present.nunique() <= MAX_CLASSES else "regression"


def _place_data(data: Path, root: Path, folder: Path) -> str:
    """The spec's data.path: the file where it is when inside the project, else a copy in the model folder."""
    if data.is_relative_to(root):
        return Path(os.path.relpath(data, folder)).as_posix()
    copy = folder / "data" / data.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, copy)
    return f"data/{data.name}"


def _spec_text(table, data: Path, data_path: str, target: str, task: str) -> str:
    y = table[target]
    what = (f"{y.nunique()} classes" if task == "classification"
            else f"numbers from {y.min():.4g} to {y.max():.4g}")
    lines = [
        f"# Written by `mlship init` from {data.name} ({len(table):,} rows, {len(table.columns)} columns).",
        "# Read every line: what could be inferred was. `mlship validate` checks the spec and the data,",
        "# `mlship train` trains and prints how each feature was treated. Reference: docs/spec-validation.md.",
        _line('description: ""', "what the model is for, for the model card"),
        _line(f"task: {task}", f"'{target}' holds {what}"),
        "data:",
        _line(f"  path: {_scalar(data_path)}", "relative to this folder"),
        f"  target: {_scalar(target)}",
        _line("  features:", "each as mlship will treat it"),
    ]
    key = None
    for column in (str(c) for c in table.columns if c != target):
        kind = column_kind(table[column])
        values = table[column]
        if kind == "identifier" and key is None and values.notna().all() and values.is_unique:
            key = column
            lines.append(_line(f"    # - {_scalar(column)}", "left out: an identifier (the split's key, below)"))
        elif kind == "identifier":
            lines.append(_line(f"    # - {_scalar(column)}",
                               f"left out: looks like an identifier ({values.nunique()} distinct values)"))
        elif kind == "ambiguous date":
            lines.append(_line(f"    # - {_scalar(column)}", f"left out: dates like {values.dropna().iloc[0]!r}; "
                                                                "write them as YYYY-MM-DD to use them"))
        else:
            lines.append(_line(f"    - {_scalar(column)}", _described(kind, values)))
    split = f"{{test_size: 0.25, seed: 0{', key: ' + _scalar(key) if key else ''}}}"
    lines += [
        _line(f"  split: {split}", "a row keeps its side as the table grows") if key else f"  split: {split}",
        "model:",
        f"  estimator: {ESTIMATORS[task]}",
        _line("  params: {}", "e.g. {max_iter: 200, learning_rate: 0.1}; checked by `mlship validate`"),
        "# evaluation:",
        _line("#   metrics: [...]", "the first is the primary metric; default: "
              + ("roc_auc, accuracy, f1" if task == "classification" else "rmse, mae, r2")),
        _line("#   slices: [column]", "metrics per value of a column"),
        _line("# gates:", "without gates every version passes: set some once you know the baseline"),
        "#   " + ("accuracy: {min: 0.8, max_drop: 0.01}" if task == "classification"
                  else "rmse: {max_relative_drop: 0.05}"),
    ]
    return "\n".join(lines) + "\n"


def _line(text: str, comment: str) -> str:
    """A line of YAML with its comment, the comments aligned."""
    return f"{text:<32}# {comment}" if len(text) < 32 else f"{text}  # {comment}"


def _described(kind: str, values) -> str:
    if kind == "number":
        missing = int(values.isna().sum())
        return "number" + (f" ({missing} missing: filled with the median)" if missing else "")
    if kind == "date":
        return "date: becomes days since 1970, year, month, weekday"
    distinct = values.nunique()
    pooled = f"; beyond {MAX_CATEGORIES} pooled" if distinct > MAX_CATEGORIES else ""
    return f"{kind}: {distinct} values, one-hot encoded{pooled}"


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: bare when that reads back as the same string, else quoted."""
    return text if _PLAIN.match(text) and text.lower() not in _YAML_WORDS else json.dumps(text)


def _check(result: Scaffold) -> None:
    """Check the written spec with its data as ``mlship validate`` does; what is wrong becomes a note."""
    result.notes += [f"fix before training: {problem}" for problem in check_data(load_spec(result.spec.parent))]


def _write_workflows(root: Path, result: Scaffold, repo: str | None, ref: str | None) -> None:
    folder = root / ".github" / "workflows"
    for name in WORKFLOWS:
        path = folder / name
        if path.exists():
            result.kept.append(path)
            continue
        text = resources.files("mlship").joinpath("templates", "init", name).read_text(encoding="utf-8")
        if repo:
            text = text.replace("OWNER/mlship", repo)
        if ref:
            text = text.replace("<full-commit-sha>", ref)
        atomic_write_text(path, text)
        result.written.append(path)
    if not (repo and ref):
        result.notes.append("in .github/workflows/mlship*.yml, replace OWNER/mlship and <full-commit-sha> with "
                            "mlship's repository and the full commit SHA of its release (or rerun with "
                            "--mlship-repo and --mlship-ref)")


def _write_gitignore(root: Path, result: Scaffold) -> None:
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [entry for entry in GITIGNORE_ENTRIES if entry not in present]
    if not missing:
        result.kept.append(path)
        return
    block = "# mlship: local state (see docs/getting-started.md)\n" + "\n".join(missing) + "\n"
    atomic_write_text(path, text + ("\n" if text and not text.endswith("\n") else "") + block)
    result.written.append(path)
