"""The ``mlship`` command: parses arguments, makes one library call, renders the result.

Only click and the light error module are imported at start; everything else is
imported inside the command that needs it, so ``mlship --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import click

from mlship import __version__
from mlship.errors import MlshipError, SpecError

EXIT_GATE_FAILED = 1


class _Group(click.Group):
    """Catches :class:`MlshipError` once for every command: message on stderr, exit code 2.

    Ctrl-C exits 130, as shells expect of SIGINT, never click's 1, which means a gate failed.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.exceptions.Abort):
            click.secho("interrupted", fg="red", err=True)
            ctx.exit(130)
        except MlshipError as error:
            if ctx.params.get("traceback"):
                raise
            _report(error)
            ctx.exit(error.exit_code)


def _report(error: MlshipError) -> None:
    """``error: ...`` on stderr for each problem, and an annotation of each inside GitHub Actions."""
    problems = error.problems if isinstance(error, SpecError) else [error]
    for problem in problems:
        click.secho(f"error: {problem}", fg="red", err=True)
    if isinstance(error, SpecError) and os.environ.get("GITHUB_ACTIONS") == "true":
        from mlship.github.actions import annotation

        for problem in error.problems:
            click.echo(annotation(problem))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlship")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error, for bug reports.")
@click.option("-C", "--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Project folder. Default: the nearest folder at or above the current one holding models/.")
@click.pass_context
def cli(ctx: click.Context, traceback: bool, project_dir: Path | None) -> None:
    """GitOps CI/CD for machine-learning models.

    Models live in models/<name>/model.yaml. Exit codes: 0 ok, 1 a gate failed,
    2 bad input or configuration.
    """
    ctx.obj = project_dir


def _project(ctx: click.Context):
    from mlship.project import Project

    return Project.find(ctx.obj)


def _models(ctx: click.Context, models: tuple[str, ...]) -> list[str]:
    names = list(models) or _project(ctx).model_names()
    if not names:
        raise MlshipError(f"no models found under {_project(ctx).models_dir}: "
                          "create models/<name>/model.yaml (see the README)")
    return names


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--name", help="The model's name (its folder under models/). Default: from the data file's name.")
@click.option("--target", help="The column to predict. Default: a column named target, label, y, class or "
                               "outcome, else the last column.")
@click.option("--task", type=click.Choice(["classification", "regression"]),
              help="Default: regression for a numeric target with fractions or many values, else classification.")
@click.option("--mlship-repo", metavar="OWNER/NAME", help="mlship's repository, for the workflows' `uses:`.")
@click.option("--mlship-ref", metavar="SHA", help="The full commit SHA of the mlship release the workflows run.")
@click.pass_context
def init(ctx: click.Context, data: Path, name: str | None, target: str | None, task: str | None,
         mlship_repo: str | None, mlship_ref: str | None) -> None:
    """Start a model from a data file: models/NAME/model.yaml, the workflows, .gitignore.

    The task, the target and each feature's kind are inferred and written, with comments,
    into a spec to read and edit; a data file outside the project is copied into the model
    folder. Workflows and .gitignore entries that exist are kept. Then `mlship pr --dry-run`
    on a branch shows the first comment.

    Example: mlship init data/wine.csv --target quality
    """
    from mlship import api, ui

    made = api.init(data, ctx.obj, name, target, task, mlship_repo, mlship_ref)
    click.echo(ui.scaffolded(made))


@cli.command()
@click.argument("models", nargs=-1)
@click.pass_context
def validate(ctx: click.Context, models: tuple[str, ...]) -> None:
    """Check model specs: schema, data source, metrics, gates, estimator and params.

    MODELS are names under models/ or folder paths; default: every model.

    Example: mlship validate churn
    """
    from mlship import api, ui

    for spec in api.validate(_models(ctx, models), _project(ctx)):
        click.echo(ui.validated(spec))


@cli.command()
@click.argument("models", nargs=-1)
@click.option("--no-cache", is_flag=True, help="Train even when the cache holds this fingerprint (the entry is replaced).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of the summary.")
@click.pass_context
def train(ctx: click.Context, models: tuple[str, ...], no_cache: bool, as_json: bool) -> None:
    """Train and evaluate models at the working tree; check their gates.

    A model whose fingerprint (spec, data, code, library versions) is cached is not
    trained again. MODELS are names or folders; default: every model. A model that
    cannot be trained does not stop the others: each error is printed. Exits 2 when a
    model could not be trained, else 1 when a gate fails.

    Example: mlship train churn --no-cache
    """
    from mlship import api, ui

    project, names = _project(ctx), _models(ctx, models)
    results, errors = [], []
    for name in names:
        try:
            result = api.train(name, project, use_cache=not no_cache)
        except MlshipError as error:
            if ctx.parent is not None and ctx.parent.params.get("traceback"):
                raise
            _report(error)
            errors.append(name)
            continue
        results.append(result)
        if not as_json:
            click.echo(ui.train_summary(result))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        click.echo(ui.train_footer(results, errors))
    if errors:
        ctx.exit(2)
    if not all(r.passed for r in results):
        ctx.exit(EXIT_GATE_FAILED)


@cli.command()
@click.option("--base", metavar="REF", help="Branch or commit to compare with. Default: the PR's base branch "
              "in GitHub Actions ($GITHUB_BASE_REF), else origin/main or main.")
@click.option("--json", "as_json", is_flag=True, help="Print the touched model names as a JSON list, for a workflow matrix.")
@click.pass_context
def changed(ctx: click.Context, base: str | None, as_json: bool) -> None:
    """List the models a change touches since its merge-base with REF.

    A model is touched when its folder, a data file it reads, or a pinned version of
    mlship or a fingerprinted library changed. A spec that does not validate counts as
    touched; its problems are printed as warnings.

    Example: mlship changed --base origin/main --json
    """
    from mlship import ui
    from mlship.review import changes

    project = _project(ctx)
    result = changes.changed_models(project, base or changes.default_base(project))
    for model in result.touched:
        for problem in model.problems:
            click.secho(f"warning: {problem}", fg="yellow", err=True)
    click.echo(json.dumps(result.names) if as_json else ui.changes(result))


@cli.command()
@click.option("--base", metavar="REF", help="Branch or commit to compare with. Default: the PR's base branch "
              "in GitHub Actions ($GITHUB_BASE_REF), else origin/main or main.")
@click.option("--dry-run", is_flag=True, help="Print the comment instead of posting it.")
@click.option("--json", "as_json", is_flag=True, help="Print the machine-readable result instead of the comment.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for pr-comment.md and pr-result.json. Default: reports/.")
@click.option("--repo", metavar="OWNER/NAME", help="Repository to post to. Default: $GITHUB_REPOSITORY.")
@click.option("--pr", "pr_number", type=int, help="Pull request number. Default: from the event payload.")
@click.option("--sha", help="Commit to set the verdict on. Default: the pull request's head.")
@click.option("--verdict", type=click.Choice(["auto", "check", "status"]), default="auto", show_default=True,
              help="A check run with the report, a commit status, or a check run where the token allows it.")
@click.option("--status-per-model", is_flag=True,
              help="Also set a commit status per model (context mlship/<model>), beside the overall verdict.")
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Compare only this touched model (repeatable): one job of a matrix, which fills the cache.")
@click.option("--handoff", type=click.Path(file_okay=False, path_type=Path),
              help="Write the comment and pr.json to this folder for `mlship comment --handoff` to post, "
                   "instead of posting (so no token is needed here). A fork PR always does this, by default "
                   "to reports/pr-handoff/.")
@click.option("--key", default="report", show_default=True, callback=lambda _c, _p, value: _key(value),
              help="Which sticky comment, and the verdict's name (mlship, else \"mlship (KEY)\"): give each "
                   "project of a repository its own.")
@click.pass_context
def pr(ctx: click.Context, base: str | None, dry_run: bool, as_json: bool, out: Path | None, repo: str | None,
       pr_number: int | None, sha: str | None, verdict: str, status_per_model: bool, models: tuple[str, ...],
       handoff: Path | None, key: str) -> None:
    """Run the pull-request flow for every model the change touches.

    Each touched model is trained (or loaded from the cache), its baseline at the
    merge-base likewise, and both are scored on the same held-out rows; then gates are
    checked, reports/<name>/ is written for committing, and the comment is posted (one
    sticky comment) with the verdict as a check run or commit status. On a fork PR,
    whose token is read-only, the comment goes to the hand-off folder instead. The
    token comes from $GITHUB_TOKEN. A model that failed passes when someone with write
    access commented "/mlship accept MODEL@FINGERPRINT: why" on the pull request. Exits
    1 when a gate fails, 2 when a model cannot be evaluated or the result cannot be posted.

    Example: mlship pr --base main --dry-run
    """
    from mlship import api
    from mlship.github.actions import RunContext, annotation, set_outputs, write_step_summary

    project = _project(ctx)
    context = RunContext.from_env().overridden(repository=repo, pr_number=pr_number, head_sha=sha)
    token = os.environ.get("GITHUB_TOKEN")
    accepted = []
    if not dry_run:
        api.check_publishable(context, token, handoff_only=handoff is not None)
        if token and not (context.is_fork or handoff is not None):  # a run that posts: no hand-off
            accepted = _acceptances(context, token)
    result = api.pr(project, base, out, run_url=context.run_url, only=models, acceptances=accepted)
    write_step_summary(result.comment)
    outputs = {"passed": str(result.passed).lower(), "fork": str(context.is_fork).lower(),
               "models": json.dumps([c.name for c in result.comparisons] + list(result.errors)),
               "report-path": str(next(p for p in result.written if p.name == "pr-comment.md"))}
    if context.in_actions:
        for problem in result.problems:
            click.echo(annotation(problem))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif dry_run:
        click.echo(result.comment)
    for path in result.written:
        click.echo(f"wrote {_shown(path)}", err=True)
    if not dry_run:
        folder = handoff or project.root / "reports" / "pr-handoff"
        published = api.publish(result, context, token, folder, key=key, verdict=verdict,
                                handoff_only=handoff is not None, per_model=status_per_model)
        click.echo(_published(published, context), err=True)
        if published.mode == "handoff":
            outputs["handoff-path"] = str(folder)
    set_outputs(outputs)
    ctx.exit(result.exit_code)


def _key(value: str) -> str:
    from mlship.github.publish import KEY_RE

    if not KEY_RE.fullmatch(value):
        raise click.BadParameter(f"{value!r}: use lowercase letters, digits, '-' or '_'")
    return value


def _acceptances(context, token: str) -> list:
    """The maintainers' acceptances on the pull request; none, with a warning, when GitHub cannot be read
    (the verdict then stands as the gates give it, and posting reports the problem)."""
    from mlship import api
    from mlship.github.client import GitHubError

    try:
        return api.acceptances(context, token)
    except GitHubError as error:
        click.secho(f"warning: the pull request's comments could not be read for /mlship accept ({error}); "
                    "judging by the gates alone", fg="yellow", err=True)
        return []


def _published(published, context) -> str:
    if published.mode == "handoff":
        where = ", ".join(_shown(p) for p in published.written)
        why = "its token is read-only, so " if context.is_fork else ""
        return f"pull request #{context.pr_number}: {why}the comment was written to {where} for `mlship comment --handoff`"
    return f"comment {published.comment} ({published.comment_url}); verdict set as a {published.verdict}"


@cli.command()
@click.option("--pr", "pr_number", type=int, help="Pull request number. Default: from the event payload.")
@click.option("--body-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The Markdown to post.")
@click.option("--key", default="report", show_default=True, callback=lambda _c, _p, value: _key(value),
              help="Which sticky comment: one comment is kept per key.")
@click.option("--repo", metavar="OWNER/NAME", help="Repository. Default: $GITHUB_REPOSITORY.")
@click.option("--handoff", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Post a hand-off folder left by `mlship pr` (comment.md and pr.json, validated) and set its "
                   "verdict, instead of --pr and --body-file.")
@click.option("--verdict", type=click.Choice(["auto", "check", "status"]), default="auto", show_default=True,
              help="With --handoff: a check run, a commit status, or a check run where the token allows it.")
@click.option("--sha", metavar="COMMIT",
              help="With --handoff: set the verdict on this commit, which must be the pull request's head: the "
                   "commit that put the ledger on top of the hand-off's.")
@click.option("--author", metavar="LOGIN", envvar="MLSHIP_AUTHOR",
              help="The login the token writes as (e.g. my-app[bot]), when GET /user cannot tell: by default the "
                   "bot that wrote the oldest marked comment is taken. Default: $MLSHIP_AUTHOR.")
@click.pass_context
def comment(ctx: click.Context, pr_number: int | None, body_file: Path | None, key: str, repo: str | None,
            handoff: Path | None, verdict: str, sha: str | None, author: str | None) -> None:
    """Create or update the sticky comment on a pull request.

    The comment carries a hidden marker for KEY; a second call updates it in place and
    an unchanged body writes nothing. With --handoff, posts what `mlship pr --handoff`
    (or a fork PR's run) left, after checking every field, and sets the verdict.
    The token comes from $GITHUB_TOKEN.

    Example: mlship comment --pr 12 --body-file reports/pr-comment.md
    """
    from mlship.github.actions import RunContext
    from mlship.github.client import GitHub
    from mlship.github.publish import (check_handoff_is_for, post_sticky, publish_model_statuses, publish_verdict,
                                read_handoff, verdict_context)

    context = RunContext.from_env().overridden(repository=repo, pr_number=pr_number)
    client = GitHub(os.environ.get("GITHUB_TOKEN", ""))
    if handoff is not None:
        result = read_handoff(handoff)
        if sha:
            result = dataclasses.replace(result, head_sha=sha)
        if context.repository and result.repository != context.repository:
            raise MlshipError(f"the hand-off is for {result.repository}, but this run is in {context.repository}")
        check_handoff_is_for(client, result, context.workflow_run_head_sha)
        posted = post_sticky(client, result.repository, result.pr_number, result.body, result.key, author)
        title = "✅ mlship: gates passed" if result.passed else "❌ mlship: gates failed"
        made = publish_verdict(client, result.repository, result.head_sha, result.passed, title, result.body,
                               context.run_url, verdict_context(result.key), kind=verdict)
        if result.models is not None:
            publish_model_statuses(client, result.repository, result.head_sha, result.models, context.run_url)
        click.echo(f"comment {posted.action} on #{result.pr_number} ({posted.url}); verdict set as a {made}")
        return
    if body_file is None or not context.pr_number or not context.repository:
        raise MlshipError("give --body-file, and --pr and --repo unless the event payload has them "
                          "(or --handoff DIR)")
    posted = post_sticky(client, context.repository, context.pr_number, body_file.read_text(encoding="utf-8"), key,
                         author)
    click.echo(f"comment {posted.action} on #{context.pr_number} ({posted.url})")


@cli.group()
def ledger() -> None:
    """The approved record of each model, in reports/<name>/."""


@ledger.command("verify")
@click.argument("model")
@click.pass_context
def ledger_verify(ctx: click.Context, model: str) -> None:
    """Check that MODEL at the working tree is what its ledger approved.

    Compares the fingerprint of the spec, data, code and library versions here with
    reports/MODEL/metrics.json. Exits 0 on a match, 1 on a mismatch, naming what differs.

    Example: mlship ledger verify churn
    """
    from mlship.review import ledger as ledger_module

    verification = ledger_module.verify(_project(ctx), model)
    if verification.matches:
        click.echo(f"✅ {model}: the working tree matches the ledger (fingerprint {verification.fingerprint[:12]})")
        return
    click.echo(f"❌ {model}: the working tree does not match the ledger: fingerprint "
               f"{verification.fingerprint[:12]} here, {verification.ledger_fingerprint[:12]} approved; "
               f"differs in: {', '.join(verification.differing) or 'unknown parts'}. "
               f"{ledger_module.fix_for(verification)}")
    ctx.exit(EXIT_GATE_FAILED)


@cli.command()
@click.argument("model")
@click.option("--allow-failed", is_flag=True, help="Package even when the ledger records failed gates.")
@click.pass_context
def package(ctx: click.Context, model: str, allow_failed: bool) -> None:
    """Package MODEL with BentoML: a bento and an archive in dist/ with its SHA-256.

    MODEL at the working tree must match its ledger (reports/MODEL/); the model comes
    from the cache by fingerprint (trained when missing) and is saved in the project's
    BentoML store (.mlship/bentoml, or $BENTOML_HOME) as MODEL:<fingerprint>. The
    generated service serves exactly that model. Packaging again reuses the model, the
    bento and the archive. Exits 2 when the ledger does not match, or records failed
    gates (unless --allow-failed).

    Example: mlship package churn
    """
    from mlship.github.actions import set_outputs
    from mlship.ship import packaging

    made = packaging.package(_project(ctx), model, allow_failed=allow_failed)
    set_outputs({"archive": _shown(made.archive), "sha256": made.sha256, "bento": made.bento_tag})
    how = "from cache" if made.cache_hit else "trained"
    click.echo(f"📦 {made.name}: packaged (model {how}, fingerprint {made.fingerprint[:12]})")
    click.echo(f"   model    {made.model_tag} ({'saved' if made.model_saved else 'already in the store'})")
    click.echo(f"   bento    {made.bento_tag} ({'built' if made.bento_built else 'already in the store'})")
    click.echo(f"   archive  {_shown(made.archive)} ({'exported' if made.exported else 'unchanged'})")
    click.echo(f"   sha256   {made.sha256}")
    click.echo(f"   store    {_shown(made.store)}")


def _backend_options(command):
    """The options choosing the registry backend, which :func:`_backend` turns into one."""
    for option in reversed([
        click.option("--backend", "kind", type=click.Choice(["local", "github"]), default="local",
                     show_default=True, help="Where release artifacts are kept: the local registry folder, or the "
                     "GitHub release of each version tag (token from $GITHUB_TOKEN)."),
        click.option("--registry", "folder", type=click.Path(file_okay=False, path_type=Path),
                     help="The local registry folder. Default: $MLSHIP_REGISTRY_DIR, else .mlship/registry."),
        click.option("--repo", metavar="OWNER/NAME",
                     help="With --backend github: the repository. Default: $GITHUB_REPOSITORY."),
    ]):
        command = option(command)
    return command


def _backend(project, kind: str, folder: Path | None, repo: str | None):
    from mlship.ship import releases

    return releases.backend(project, kind, folder, repo, os.environ.get("GITHUB_TOKEN"))


@cli.command()
@click.argument("model")
@_backend_options
@click.option("--push", is_flag=True, help="Fetch the model's tags from the remote first, then push the new tag.")
@click.option("--remote", default="origin", show_default=True, help="The git remote to fetch tags from and push to.")
@click.option("--allow-failed", is_flag=True, help="Release even when the ledger records failed gates.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the summary.")
@click.pass_context
def release(ctx: click.Context, model: str, kind: str, folder: Path | None, repo: str | None, push: bool,
            remote: str, allow_failed: bool, as_json: bool) -> None:
    """Register MODEL's approved model as a version: the annotated git tag MODEL@vX.Y.Z.

    The model is packaged first (it must match its ledger), and the commit must hold its
    folder, data and ledger. The version is the spec's `version:`, else a patch bump of
    the highest (v0.1.0 first). The archive, metrics.json, model_card.md and their
    SHA256SUMS are stored in the backend. A fingerprint released before makes no new
    version: its version is reported and any artifact missing from the backend is stored.
    Tags are never moved or reused; push the tag with `git push origin TAG`, or --push.
    The `gto` CLI reads the same tags.

    Example: mlship release churn --push
    """
    from mlship import ui
    from mlship.github.actions import set_outputs
    from mlship.ship import releases

    project = _project(ctx)
    result = releases.release(project, model, _backend(project, kind, folder, repo), push=push, remote=remote,
                              allow_failed=allow_failed)
    set_outputs({"version": str(result.version.version), "tag": result.version.tag,
                 "created": str(result.created).lower(), "fingerprint": result.version.fingerprint or ""})
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else ui.released(result, remote))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the model names as a JSON list, for a workflow matrix.")
@click.pass_context
def unreleased(ctx: click.Context, as_json: bool) -> None:
    """List the models whose committed ledger has no version yet: what a release run releases.

    A model is listed when no version tag records the fingerprint its ledger
    (reports/MODEL/metrics.json) approved, whichever earlier runs were skipped or
    cancelled. A ledger recording failed gates is not listed; it is named in a warning.

    Example: mlship unreleased --json
    """
    from mlship.ship import releases

    pending = releases.unreleased(_project(ctx))
    for name in pending.failed:
        click.secho(f"warning: {name}: its ledger records failed gates, so it is not released", fg="yellow", err=True)
    click.echo(json.dumps(pending.models) if as_json else "\n".join(pending.models) or "nothing to release")


@cli.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the versions, stages and events as JSON.")
@click.pass_context
def history(ctx: click.Context, model: str, as_json: bool) -> None:
    """Show MODEL's versions and stage assignments in time order, from the git tags.

    Each event shows its date, tag, commit and tagger, and for a version the
    fingerprint and metrics recorded in its tag. Tags written by `gto` are read too.
    Fetch tags first (`git fetch --tags`) to see the shared registry.

    Example: mlship history churn --json
    """
    from mlship import ui
    from mlship.ship import registry

    found = registry.read(_project(ctx), model)
    click.echo(json.dumps(found.to_dict(), indent=2) if as_json else ui.history(found))


def _target_options(command):
    """The options choosing the deploy target, which :func:`_target` turns into one."""
    for option in reversed([
        click.option("--target", "target_kind", type=click.Choice(["local", "kubernetes"]), default="local",
                     show_default=True, help="local: serve on 127.0.0.1 with bentoml serve. kubernetes: write "
                     "deploy/STAGE/MODEL.yaml for Argo CD or Flux."),
        click.option("--port", type=click.IntRange(1, 65535),
                     help="local: the new server's port. Default: a free one (the old server keeps its port "
                          "until the new one is ready)."),
        click.option("--ready-timeout", type=click.FloatRange(min=1), default=120, show_default=True,
                     help="local: seconds the new server has to answer /readyz."),
        click.option("--prediction-log", type=click.Path(file_okay=False, path_type=Path),
                     help="local: the folder where the service logs sampled inputs and predictions as JSONL, "
                          "for `mlship drift`."),
        click.option("--log-rate", type=click.FloatRange(0, 1),
                     help="local: the share of records logged with --prediction-log."),
        click.option("--image-registry", metavar="HOST/OWNER",
                     help="kubernetes: where the image is pushed, e.g. ghcr.io/acme. Default: $MLSHIP_IMAGE_REGISTRY."),
        click.option("--build-image", is_flag=True,
                     help="kubernetes: build the image with bentoml containerize (needs a Docker daemon)."),
        click.option("--push-image", is_flag=True, help="kubernetes: build the image and push it."),
    ]):
        command = option(command)
    return command


def _target(project, target_kind: str, port: int | None, ready_timeout: float, prediction_log: Path | None,
            log_rate: float | None, image_registry: str | None, build_image: bool, push_image: bool):
    from mlship.ship import deploy

    if target_kind == "local":
        return deploy.LocalTarget(project, port, ready_timeout, prediction_log, log_rate)
    return deploy.KubernetesTarget(project, image_registry, build_image, push_image)


def _interruptible(command):
    """Run ``command`` so that SIGTERM, SIGHUP and Ctrl-C stop what it started, then exit 128 + the signal
    (130 for Ctrl-C, 143 for SIGTERM), never 1, which means a failed gate."""
    import functools

    @functools.wraps(command)
    def run(*args, **kwargs):
        from mlship.ship import serving

        try:
            with serving.interruptible():
                return command(*args, **kwargs)
        except serving.Interrupted as interrupted:
            click.secho(f"interrupted by {interrupted}: stopped what this command had started", fg="yellow",
                        err=True)
            sys.exit(interrupted.exit_code)

    return run


@cli.command("deploy")
@click.argument("model")
@click.option("--stage", help="The stage to deploy to, e.g. prod or staging. Required unless --status.")
@click.option("--status", is_flag=True, help="Show each stage's version, local server (pid, port) and whether it "
              "answers /readyz, instead of deploying.")
@click.option("--version", "version", metavar="VERSION", help="The version to deploy, e.g. v0.2.0. Default: the latest.")
@_backend_options
@_target_options
@click.option("--push", is_flag=True, help="Fetch the model's tags from the remote first, then push the new tag.")
@click.option("--remote", default="origin", show_default=True, help="The git remote to fetch tags from and push to.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the summary.")
@click.pass_context
@_interruptible
def deploy_command(ctx: click.Context, model: str, stage: str | None, status: bool, version: str | None, kind: str,
                   folder: Path | None, repo: str | None, push: bool, remote: str, as_json: bool,
                   **target_options) -> None:
    """Deploy a released version of MODEL to STAGE, then record it as the tag MODEL#STAGE#N.

    The version's archive is fetched from the registry backend and its SHA-256 checked.
    With the local target the new server must answer /readyz and serve the version's
    fingerprint before it replaces the old one; if it fails, the old one keeps serving, no
    tag is made, and the exit code is 2. Deploying the stage's current version again
    changes nothing.

    Example: mlship deploy churn --stage prod
    """
    from mlship import ui
    from mlship.ship import deploy

    project = _project(ctx)
    if status:
        rows = deploy.status_local(project, model)
        click.echo(json.dumps(rows, indent=2) if as_json else ui.deploy_status(model, rows))
        return
    if not stage:
        raise click.UsageError("give --stage (or --status)")
    result = deploy.deploy(project, model, stage, _backend(project, kind, folder, repo),
                           _target(project, **target_options), version=version, push=push, remote=remote)
    _deployed_outputs(result)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else ui.deployed(result, remote))


@cli.command()
@click.argument("model")
@click.option("--stage", required=True, help="The stage to roll back, e.g. prod.")
@click.option("--to", "to", metavar="VERSION",
              help="The version to go back to. Default: the one assigned to STAGE before the current one.")
@_backend_options
@_target_options
@click.option("--push", is_flag=True, help="Fetch the model's tags from the remote first, then push the new tag.")
@click.option("--remote", default="origin", show_default=True, help="The git remote to fetch tags from and push to.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the summary.")
@click.pass_context
@_interruptible
def rollback(ctx: click.Context, model: str, stage: str, to: str | None, kind: str, folder: Path | None,
             repo: str | None, push: bool, remote: str, as_json: bool, **target_options) -> None:
    """Put STAGE back on the version it had before (or --to VERSION), as a new assignment.

    The version's stored archive must match the digest in its tag. Rollback is a deploy:
    a new tag MODEL#STAGE#N records it, so the history keeps every step. Exits 2 when
    there is no earlier version or the digest does not match.

    Example: mlship rollback churn --stage prod
    """
    from mlship import ui
    from mlship.ship import deploy

    project = _project(ctx)
    result = deploy.rollback(project, model, stage, _backend(project, kind, folder, repo),
                             _target(project, **target_options), to=to, push=push, remote=remote)
    _deployed_outputs(result)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else ui.deployed(result, remote))


def _deployed_outputs(result) -> None:
    from mlship.github.actions import set_outputs

    landed = result.landed
    set_outputs({"version": str(result.version.version), "assignment": result.assignment.tag,
                 "changed": str(landed.changed).lower(), "url": landed.url or "",
                 "manifest": _shown(landed.manifest) if landed.manifest else "", "image": landed.image or ""})


@cli.command()
@click.argument("model")
@click.option("--stage", help="Serve the version in this stage.")
@click.option("--version", "version", metavar="VERSION", help="Serve this version. Default: the latest.")
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True,
              help="The port on 127.0.0.1 to serve on.")
@_backend_options
@click.pass_context
@_interruptible
def serve(ctx: click.Context, model: str, stage: str | None, version: str | None, port: int, kind: str,
          folder: Path | None, repo: str | None) -> None:
    """Serve a released version of MODEL on 127.0.0.1 in the foreground (Ctrl-C stops it).

    The archive is fetched and checked as for a deploy; nothing is tagged. SIGINT,
    SIGTERM or SIGHUP stop the whole server (exit 130, 143, 129).
    POST /predict and /predict_proba take {"records": [...]}; POST /metadata tells
    the version.

    Example: mlship serve churn --stage prod
    """
    import functools

    from mlship.ship import deploy

    if stage and version:
        raise click.UsageError("give --stage or --version, not both")
    project = _project(ctx)
    notify = functools.partial(click.secho, fg="yellow", err=True)
    ctx.exit(deploy.serve(project, model, _backend(project, kind, folder, repo), stage, version, port, notify))


@cli.command()
@click.argument("model")
@click.option("--stage", required=True, help="The stage whose local server to stop.")
@click.pass_context
@_interruptible
def stop(ctx: click.Context, model: str, stage: str) -> None:
    """Stop the local server `mlship deploy` started for MODEL's STAGE. Tags are not changed.

    Processes of the stage that a killed deploy or server left are found and stopped too.

    Example: mlship stop churn --stage prod
    """
    from mlship.ship import deploy

    stopped = deploy.stop_local(_project(ctx), model, stage)
    if stopped.state is None:
        click.echo(f"{model}: no local server of {stage} to stop")
    else:
        click.echo(f"⏹️  {model} {stopped.state.version} in {stage}: stopped ({stopped.state.server.url})")
    for note in stopped.notes:
        click.echo(f"   {note}")


@cli.command()
@click.argument("model")
@click.option("--current", required=True, type=click.Path(exists=True, path_type=Path),
              help="Recent data: a CSV or Parquet file, a .jsonl prediction log, or a folder of logs.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where drift-MODEL.md and drift-MODEL.json go. Default: reports/.")
@click.option("--stage", help="Compare with the version this stage serves (its released profile), not the working "
                              "tree's model.")
@click.option("--version", "version", metavar="V", help="Compare with this released version's profile.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the report.")
@click.option("--issue", is_flag=True, help="Open or update the GitHub issue that tracks MODEL's drift (token "
                                            "from $GITHUB_TOKEN, needs issues write).")
@click.option("--repo", metavar="OWNER/NAME", help="With --issue: the repository. Default: $GITHUB_REPOSITORY.")
@click.option("--author", metavar="LOGIN", envvar="MLSHIP_AUTHOR",
              help="With --issue: the login the token writes as (e.g. my-app[bot]), when GET /user cannot tell: by "
                   "default the bot that opened the oldest marked issue is taken. Default: $MLSHIP_AUTHOR.")
@click.pass_context
def drift(ctx: click.Context, model: str, current: Path, out: Path | None, stage: str | None, version: str | None,
          as_json: bool, issue: bool, repo: str | None, author: str | None) -> None:
    """Compare recent data with MODEL's reference profile; exit 1 on drift.

    The reference is the profile saved at training: of the model at the working tree,
    or with --stage/--version of a released version (reports/MODEL/profile.json at its
    tag, checked against the metrics.json there). A
    column drifts when its change is significant (Kolmogorov-Smirnov for numbers,
    chi-square for categories, and the share of missing values, Holm-corrected across
    all columns) and large (PSI, a normalised Wasserstein distance, or Jensen-Shannon);
    unseen categories are listed, and the predictions are checked too. The data drifts
    on a major shift of one feature (PSI >= monitoring.major_psi, or
    monitoring.major_out_of_range of its values outside the training range) or when
    the share of drifted features reaches monitoring.drift_share; the
    thresholds come from the spec's monitoring: section. Exits 0 without drift, 1 with
    dataset, prediction or target drift, 2 on empty, malformed or mismatched data.

    Example: mlship drift churn --stage prod --current logs/
    """
    from mlship.github.actions import RunContext, set_outputs, write_step_summary
    from mlship.monitor import drift as drifting

    project = _project(ctx)
    if stage and version:
        raise click.UsageError("give --stage or --version, not both")
    result = drifting.check(model, current, project, out, stage, version)
    report = drifting.render(result, project.root)
    write_step_summary(report)
    set_outputs({"drifted": str(result.drifted).lower(), "report-path": _shown(result.written[0]),
                 "drifted-features": json.dumps(result.drifted_features)})
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else report)
    for path in result.written:
        click.echo(f"wrote {_shown(path)}", err=True)
    if issue:
        from mlship.github.client import GitHub
        from mlship.monitor.drift_issues import report_drift

        context = RunContext.from_env().overridden(repository=repo)
        if not context.repository:
            raise MlshipError("--issue needs the repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
        outcome = report_drift(GitHub(os.environ.get("GITHUB_TOKEN", "")), context.repository, result.model,
                               result.drifted, report, context.run_url, author)
        where = f" #{outcome.number} ({outcome.url})" if outcome.number else ""
        click.echo(f"drift issue: {outcome.action}{where}", err=True)
        set_outputs({"issue-action": outcome.action, "issue": str(outcome.number or "")})
    ctx.exit(result.exit_code)


@cli.command()
@click.argument("model")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The new data, in the format of the file the spec reads (CSV or Parquet).")
@click.option("--note", help="Why the model is retrained (for example the drift report's verdict); goes into the "
                             "commit and the pull request.")
@click.option("--push", is_flag=True, help="Push the new branch to the remote, and open a pull request when "
                                           "$GITHUB_TOKEN is set.")
@click.option("--remote", default="origin", show_default=True, help="The git remote to push the branch to.")
@click.option("--repo", metavar="OWNER/NAME", help="The repository of the pull request. Default: $GITHUB_REPOSITORY.")
@click.option("--base", metavar="BRANCH", help="The pull request's base branch. Default: the current branch.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the summary.")
@click.pass_context
def retrain(ctx: click.Context, model: str, data: Path, note: str | None, push: bool, remote: str,
            repo: str | None, base: str | None, as_json: bool) -> None:
    """Put new data in place of MODEL's data file on a new branch, ready for the PR flow.

    The branch mlship/retrain-MODEL-<digest> is made from HEAD in a temporary worktree
    (your checkout is not touched): the spec's data file is replaced, its `version:`
    bumped if it pins one, and the change committed. With --push the branch is pushed
    and, with $GITHUB_TOKEN, a pull request opened, which then runs the normal PR flow.
    A pull request opened with an Actions GITHUB_TOKEN starts no workflow: use a PAT or
    a GitHub App token for the PR flow to run on it.

    Example: mlship retrain churn --data exports/churn-2026-11.csv --push
    """
    from mlship import ui
    from mlship.github.actions import RunContext
    from mlship.github.client import GitHub
    from mlship.monitor import retrain as retraining

    token = os.environ.get("GITHUB_TOKEN")
    client = GitHub(token) if push and token else None
    repo = repo or (RunContext.from_env().repository if client else None)
    result = retraining.retrain(_project(ctx), model, data, note, push=push, remote=remote, client=client,
                                repo=repo, base=base)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else ui.retrained(result))


def _shown(path: Path) -> str:
    from mlship.errors import display_path

    return display_path(path)


def main() -> None:
    cli(prog_name="mlship")


if __name__ == "__main__":
    sys.exit(main())
