"""Drift: does recent data still look like the data the model was trained on?

Recent data (a CSV or Parquet table, or the service's prediction logs, read by
:mod:`mlship.monitor.current`) is compared, column by column, with a reference profile
(:mod:`mlship.monitor.reference`: the working tree's model, or the version a stage serves)
by the tests of :mod:`mlship.monitor.statistics`.

The data drifts on any of four grounds: a **major shift** of one feature (a drifted
feature whose PSI reaches ``major_psi``, the industry's usual line for a major shift, or
with ``major_out_of_range`` of its values outside the training range); many minor shifts
(at least ``drift_share`` of the features drift); a drifted prediction; a drifted target.
The share rule alone let one feature moving far off pass while the model's answers on it
were nonsense; a single minor shift still passes, as most are harmless. Features are
listed by their permutation importance to the model (recorded at training), so a reader
sees first the shifts that matter.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlship.errors import DataError
from mlship.files import atomic_write_json, atomic_write_text
from mlship.markdown import Markdown, code
from mlship.monitor.current import Current, read_current
from mlship.monitor.drift_report import render
from mlship.monitor.result import DriftResult
from mlship.monitor.statistics import judge, measure
from mlship.spec import Monitoring
from mlship.train.profile import label

if TYPE_CHECKING:
    import pandas as pd

    from mlship.monitor.reference import Reference
    from mlship.project import Project


def check(model: str, current: Path, project: "Project | None" = None, out: Path | None = None,
          stage: str | None = None, version: str | None = None) -> DriftResult:
    """Compare ``current`` (a CSV or Parquet file, a ``.jsonl`` log, or a folder of logs) with a
    reference profile: the version ``stage`` serves, or ``version``, or by default the model at
    the working tree (trained first if the cache lacks it).

    Writes ``drift-<model>.md`` and ``drift-<model>.json`` in ``out`` (default ``reports/``).
    Bad data raises :class:`DataError`, naming the file and the column.
    """
    from mlship.monitor import reference as references
    from mlship.project import Project

    project = project or Project.find()
    if stage is not None or version is not None:
        reference = references.released(project, model, stage, version)
    else:
        reference = references.working_tree(project, model)
    result = judge_against(reference, Path(current))
    out = out or project.root / "reports"
    markdown, document = out / f"drift-{reference.model}.md", out / f"drift-{reference.model}.json"
    atomic_write_text(markdown, render(result, project.root))
    atomic_write_json(document, result.to_dict())
    result.written.extend([markdown, document])
    return result


def judge_against(reference: "Reference", current: Path) -> DriftResult:
    """Read ``current``, predict its rows when it is a table (the log carries its predictions), and detect."""
    profile = reference.profile
    data = read_current(current, profile, reference.fingerprint)
    if data.predictions is None:
        data = replace(data, predictions=predict(reference.load_model(), profile, data))
    return replace(detect(profile, data, reference.settings, reference.fingerprint), reference=reference.label)


def predict(model: Any, profile: dict[str, Any], current: Current) -> "pd.DataFrame":
    """The model's predictions on a table's rows, as the profile records them.

    The model runs over the rows once: where the profile wants probabilities and the
    estimator's ``predict`` is the argmax of its ``predict_proba`` (:data:`ARGMAX_CLASSIFIERS`),
    the labels are taken from the probabilities instead of predicting again.
    """
    import numpy as np
    import pandas as pd

    wanted = [name for name in profile["predictions"] if name.startswith("proba:")]
    try:
        if not wanted:
            return pd.DataFrame({"prediction": model.predict(current.features)})
        proba = model.predict_proba(current.features)
        classes = np.asarray(model.classes_)
        labels = classes[proba.argmax(axis=1)] if predicts_argmax(model) else model.predict(current.features)
    except (ValueError, TypeError) as error:
        raise DataError(f"{current.source}: the model cannot predict on these rows: {error}") from None
    frame = pd.DataFrame({"prediction": labels})
    column = {f"proba:{label(c)}": index for index, c in enumerate(classes)}
    for name in wanted:
        frame[name] = proba[:, column[name]]
    return frame


#: scikit-learn classifiers whose ``predict`` is ``classes_[argmax(predict_proba)]``: the forests and
#: trees compute it so; the others take the argmax of the scores that ``predict_proba`` maps monotonically.
ARGMAX_CLASSIFIERS = frozenset({
    "sklearn.ensemble.HistGradientBoostingClassifier", "sklearn.ensemble.RandomForestClassifier",
    "sklearn.ensemble.ExtraTreesClassifier", "sklearn.ensemble.GradientBoostingClassifier",
    "sklearn.tree.DecisionTreeClassifier", "sklearn.tree.ExtraTreeClassifier",
    "sklearn.linear_model.LogisticRegression",
})


def predicts_argmax(model: Any) -> bool:
    """Whether ``model`` (or a Pipeline's last step) is one of :data:`ARGMAX_CLASSIFIERS`."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    kind = type(final)
    package = ".".join(kind.__module__.split(".")[:2])  # sklearn.ensemble._forest -> sklearn.ensemble
    return f"{package}.{kind.__qualname__}" in ARGMAX_CLASSIFIERS


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
    recorded = profile.get("importance") or {}
    importance = {name: float(value) for name, value in recorded.get("features", {}).items()}
    return DriftResult(
        model=profile["model"], fingerprint=fingerprint, source=current.source, rows=rows,
        reference_rows=profile["rows"],
        settings=settings, features=judged[:len(features)],
        predictions=judged[len(features):len(features) + len(predictions)],
        target=judged[-1] if target else None, period=current.period, notes=notes, importance=importance,
        importance_metric=str(recorded.get("metric", "")),
    )

