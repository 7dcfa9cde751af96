"""The Jinja2 environment every rendered file comes from (the PR comment, the model card,
the drift report, the bento's service and the Kubernetes manifests).

Templates are shipped in ``mlship/templates``; a project overrides any of them by putting
a file of the same name in ``.mlship/templates/``.

In a Markdown template (a name ending ``.md.j2``) everything a ``{{ … }}`` prints goes
through :func:`mlship.markdown.escape` unless it is :class:`~mlship.markdown.Markdown`
built by mlship's code. The escaping is the environment's ``finalize``, so it holds for a
project's own templates too, and for what a template computes (``~``, ``join``, a macro's
output): such text is plain ``str`` and is escaped again, which shows, but never breaks out.
Filters for templates: ``code`` (code type), ``code_block`` (a fenced block of lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from mlship.markdown import code, code_block, escape

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
MARKDOWN_SUFFIX = ".md.j2"


def environment(project_root: Path | None = None) -> jinja2.Environment:
    folders = [project_root / ".mlship" / "templates"] if project_root else []
    loader = jinja2.FileSystemLoader([*map(str, folders), str(PACKAGE_TEMPLATES)])
    env = jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize)
    env.filters.update(code=code, code_block=code_block)
    return env


@jinja2.pass_context
def _finalize(context: jinja2.runtime.Context, value: Any) -> Any:
    """What a ``{{ … }}`` prints: escaped Markdown in a Markdown template, the value elsewhere."""
    if (context.name or "").endswith(MARKDOWN_SUFFIX):
        return escape(value)
    return value
