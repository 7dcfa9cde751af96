"""The PR flow: compare every touched model with its baseline, write the ledger and the
comment, then post them (or hand them off to a trusted workflow for a fork PR)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from mlship import git
from mlship.errors import MlshipError, SpecError, display_path
from mlship.files import atomic_write_json, atomic_write_text
from mlship.github.actions import RunContext
from mlship.markdown import Markdown, code
from mlship.project import Project
from mlship.review import ledger
from mlship.review.acceptance import Acceptance, acceptance_for
from mlship.review.changes import TouchedModel, changed_models, default_base
from mlship.review.report import MAX_COMMENT, render_comment, verdict_line
from mlship.review.result import PrResult


def run(project: Project, base: str | None = None, out: Path | None = None, run_url: str | None = None,
        only: Sequence[str] = (), acceptances: Sequence[Acceptance] = ()) -> PrResult:
    """Compare every touched model (or those in ``only``) with its baseline, write the ledger and the comment.

    A model that fails its gates passes as accepted when ``acceptances`` (read from the pull
    request by :func:`mlship.review.acceptance.read_acceptances`) accept its fingerprint.

    Writes ``reports/<name>/metrics.json`` and ``model_card.md`` for each compared model, and the
    comment to ``pr-comment.md`` (plus ``pr-comment.full.md`` when the comment had to be shortened)
    and the result to ``pr-result.json`` in ``out`` (default ``reports/``).
    """
    changes = changed_models(project, base or default_base(project))
    if only:
        changes.touched[:] = [model for model in changes.touched if model.name in only] + _first_versions(
            project, [name for name in only if name not in changes.names], changes.names)
    result = PrResult(changes.base, changes.merge_base, [], {}, changes.removed)
    for model in changes.touched:
        if model.problems:
            result.errors[model.name] = [str(problem) for problem in model.problems]
            result.problems += model.problems
    evaluable = [model.name for model in changes.touched if not model.problems]
    if evaluable:
        from mlship.review.compare import Checkout, compare_model

        repo = git.toplevel(project.root)
        with git.worktree(repo, changes.merge_base) as checkout:
            base_checkout = Checkout(changes.merge_base, checkout, repo)
            for name in evaluable:
                try:
                    comparison = compare_model(project, name, base_checkout)
                except MlshipError as error:
                    result.errors[name] = str(error).splitlines()
                    if isinstance(error, SpecError):
                        result.problems += error.problems
                    continue
                if not comparison.gates_passed:
                    comparison = replace(comparison, accepted=acceptance_for(acceptances, name,
                                                                             comparison.candidate.fingerprint))
                result.comparisons.append(comparison)
                result.written += ledger.write(project, comparison)
    out = out or project.root / ledger.REPORTS_DIR
    full_path = out / "pr-comment.full.md"
    hint = Markdown("The full report is in {} beside this comment's file, and in the workflow run's artifacts.").format(
        code(full_path.name))
    full = render_comment(result, project.root, run_url, hint, limit=sys.maxsize)
    result.comment = full if len(full) <= MAX_COMMENT else render_comment(result, project.root, run_url, hint)
    atomic_write_text(out / "pr-comment.md", result.comment)
    result.written.append(out / "pr-comment.md")
    if full != result.comment:
        atomic_write_text(full_path, full)
        result.written.append(full_path)
    else:
        full_path.unlink(missing_ok=True)
    atomic_write_json(out / "pr-result.json", result.to_dict())
    result.written.append(out / "pr-result.json")
    return result


@dataclass(frozen=True)
class Publication:
    """How a PR result reached GitHub."""

    #: "posted", or "handoff" for a fork PR (a trusted workflow posts it later).
    mode: str
    #: "created", "updated" or "unchanged"; None for a hand-off.
    comment: str | None = None
    comment_url: str = ""
    #: "check run" or "commit status"; None for a hand-off.
    verdict: str | None = None
    written: list[Path] = field(default_factory=list)


def _first_versions(project: Project, untouched: Sequence[str], touched: Sequence[str]) -> list[TouchedModel]:
    """Models named with ``--model`` that the change does not touch: allowed when they have no ledger
    yet (committed without review), so that their first version is reviewed like any other."""
    refused = [name for name in untouched if (ledger.folder(project, name) / ledger.METRICS).is_file()
               or name not in project.model_names()]
    if refused:
        raise MlshipError(f"--model {', '.join(sorted(refused))}: not touched by this change "
                          f"(touched: {', '.join(touched) or 'none'}); only a model without a ledger yet "
                          "can be reviewed untouched, for its first version")
    return [TouchedModel(name, [f"no ledger yet ({ledger.REPORTS_DIR}/{name}/): this review approves its first "
                                "version"]) for name in untouched]


def check_publishable(context: RunContext, token: str | None, handoff_only: bool = False) -> None:
    """Fail before any training when the result could not be published."""
    missing = [flag for flag, value in (("--repo", context.repository), ("--pr", context.pr_number),
                                        ("--sha", context.head_sha)) if not value]
    if missing:
        raise MlshipError(f"cannot post without {', '.join(missing)}: run on a pull_request event in GitHub "
                          "Actions, pass them, or use --dry-run")
    if not (context.is_fork or handoff_only) and not token:
        raise MlshipError("cannot post without a token: set GITHUB_TOKEN (in a workflow step: "
                          "`env: GITHUB_TOKEN: ${{ github.token }}`), or use --dry-run")


def publish(result: PrResult, context: RunContext, token: str | None, handoff: Path,
            key: str = "report", verdict: str = "auto", handoff_only: bool = False,
            per_model: bool = False) -> Publication:
    """Post the comment and the verdict, or write them to ``handoff`` for a later step to post:
    always for a fork PR (its token is read-only), and when ``handoff_only`` (so that the step
    that runs the models' code holds no token).

    Both the comment and the verdict are attempted; if either fails, the error names it and
    says where the report is kept.
    """
    from mlship.github.client import GitHub, GitHubError
    from mlship.github.publish import (Handoff, post_sticky, publish_model_statuses, publish_verdict, verdict_context,
                                       write_handoff)

    check_publishable(context, token, handoff_only)
    if context.is_fork or handoff_only:
        written = write_handoff(handoff, Handoff(context.repository, context.pr_number, context.head_sha,
                                                 result.passed, key, result.comment,
                                                 result.model_verdicts() if per_model else None))
        return Publication("handoff", written=written)
    client = GitHub(token)
    failures, posted, made = [], None, None
    try:
        posted = post_sticky(client, context.repository, context.pr_number, result.comment, key)
    except GitHubError as error:
        failures.append(f"the comment was not posted: {error}")
    icon, headline = verdict_line(result)
    try:
        made = publish_verdict(client, context.repository, context.head_sha, result.passed, f"{icon} {headline}",
                               result.comment, context.run_url, verdict_context(key), kind=verdict)
        if per_model:
            publish_model_statuses(client, context.repository, context.head_sha, result.model_verdicts(),
                                   context.run_url)
    except GitHubError as error:
        failures.append(f"the verdict was not set: {error}")
    if failures:
        kept = ", ".join(display_path(p) for p in result.written if p.name.startswith("pr-comment"))
        raise MlshipError("; ".join(failures) + f". The report is kept in {kept}")
    return Publication("posted", posted.action, posted.url, made)
