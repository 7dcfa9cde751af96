"""The Jinja2 environment every rendered file comes from (the PR comment, the model card,
the drift report, the bento's service and the Kubernetes manifests).

Templates are shipped in ``mlship/templates``; a project overrides any of them by putting
a file of the same name in ``.mlship/templates/``.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"


def environment(project_root: Path | None = None) -> jinja2.Environment:
    folders = [project_root / ".mlship" / "templates"] if project_root else []
    loader = jinja2.FileSystemLoader([*map(str, folders), str(PACKAGE_TEMPLATES)])
    return jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)
