"""The library's face: every command of the ``mlship`` CLI is one call here.

Functions return data and print nothing. Each calls down into one journey (``train``,
``review``, ``ship``, ``monitor``); nothing below imports this module. Heavy libraries
(scikit-learn, pandas) are imported only when a model really has to be trained, so a
cache hit stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from mlship.errors import SpecError
from mlship.project import Project
from mlship.review.gates import TrainResult, judge_trained
from mlship.spec import Spec
from mlship.train import trainer

if TYPE_CHECKING:
    from mlship.github.actions import RunContext
    from mlship.review.acceptance import Acceptance
    from mlship.review.pr import Publication
    from mlship.review.result import PrResult
    from mlship.scaffold import Scaffold


def model_names(project: Project | None = None) -> list[str]:
    return (project or Project.find()).model_names()


def load(model: str, project: Project | None = None) -> Spec:
    """The validated spec of a model given by name or folder."""
    return (project or Project.find()).spec(model)


def validate(models: Sequence[str] = (), project: Project | None = None) -> list[Spec]:
    """Check everything ``train`` will of ``models`` (default: every model), without training:
    the spec, the estimator and each of its params against the estimator's own constraints, the
    data files, their columns, the target and the feature types, the split.

    Every problem of every model is gathered into one :class:`SpecError`.
    """
    from mlship.train.data import check_data
    from mlship.train.fit import model_problems

    project = project or Project.find()
    specs, problems = [], []
    for model in models or project.model_names():
        try:
            spec, found = load(model, project), []
        except SpecError as error:
            spec, found = error.spec, list(error.problems)
        if spec is not None:
            failed = {str(p.location.field or "").split(".")[0].split("[")[0] for p in found}
            if "model" not in failed:
                found += model_problems(spec)
            if "data" not in failed:
                found += check_data(spec, project.cache_dir)
        if found:
            problems += found
        else:
            specs.append(spec)
    if problems:
        raise SpecError(problems)
    return specs


def init(data: Path, project_dir: Path | None = None, name: str | None = None, target: str | None = None,
         task: str | None = None, mlship_repo: str | None = None, mlship_ref: str | None = None) -> "Scaffold":
    """Scaffold ``models/NAME/model.yaml`` from a data file, the workflows and ``.gitignore`` (see
    :mod:`mlship.scaffold`). The project is ``project_dir``, else the current folder."""
    from mlship import scaffold

    root = project_dir or Project.find().root
    return scaffold.init(Path(root), Path(data), name, target, task, mlship_repo, mlship_ref)


def train(model: str, project: Project | None = None, use_cache: bool = True) -> TrainResult:
    """Train and evaluate a model at the working tree, or load it from the cache by fingerprint."""
    project = project or Project.find()
    spec = project.spec(model)
    return judge_trained(spec, trainer.train(spec, project.cache_dir, use_cache))


def pr(project: Project | None = None, base: str | None = None, out: Path | None = None,
       run_url: str | None = None, only: Sequence[str] = (),
       acceptances: Sequence["Acceptance"] = ()) -> "PrResult":
    """The PR flow: compare every touched model (or those in ``only``) with its baseline, write the
    ledger and the comment (see :func:`mlship.review.pr.run`)."""
    from mlship.review import pr as flow

    return flow.run(project or Project.find(), base, out, run_url, only, acceptances)


def acceptances(context: "RunContext", token: str) -> list["Acceptance"]:
    """The maintainers' ``/mlship accept`` commands on the run's pull request (see :mod:`mlship.review.acceptance`)."""
    from mlship.github.client import GitHub
    from mlship.review.acceptance import read_acceptances

    return read_acceptances(GitHub(token), context.repository, context.pr_number)


def check_publishable(context: "RunContext", token: str | None, handoff_only: bool = False) -> None:
    """Fail before any training when the result could not be published."""
    from mlship.review import pr as flow

    flow.check_publishable(context, token, handoff_only)


def publish(result: "PrResult", context: "RunContext", token: str | None, handoff: Path,
            key: str = "report", verdict: str = "auto", handoff_only: bool = False,
            per_model: bool = False) -> "Publication":
    """Post the comment and the verdict, or hand them off (see :func:`mlship.review.pr.publish`)."""
    from mlship.review import pr as flow

    return flow.publish(result, context, token, handoff, key, verdict, handoff_only, per_model)
