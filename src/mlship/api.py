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


def model_names(project: Project | None = None) -> list[str]:
    return (project or Project.find()).model_names()


def load(model: str, project: Project | None = None) -> Spec:
    """The validated spec of a model given by name or folder."""
    return (project or Project.find()).spec(model)


def validate(models: Sequence[str] = (), project: Project | None = None) -> list[Spec]:
    """Validate the specs of ``models`` (default: every model), estimator and params included.

    Problems of every model are gathered into one :class:`SpecError`.
    """
    from mlship.train.fit import check_model

    project = project or Project.find()
    specs, problems = [], []
    for model in models or project.model_names():
        try:
            spec = load(model, project)
            check_model(spec)
            specs.append(spec)
        except SpecError as error:
            problems += error.problems
    if problems:
        raise SpecError(problems)
    return specs


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
