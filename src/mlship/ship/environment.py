"""The runtime environment a bento's image is built with, pinned to the environment that tested it.

A bento lists its Python packages, and BentoML's Dockerfile picks a base image and installs uv to
install them. Left to defaults, a build next month resolves other versions of most packages, on
another Python patch release, with another uv. Here every one is pinned: the packages to the
versions installed now (the model was trained and the service tested with them), the base image to
this interpreter's exact Python release, and uv to the version installed beside mlship.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Any, Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: BentoML writes its own pin (``bentoml==<version>``) into the bento's requirements.
BENTOML = "bentoml"
#: The Dockerfile template the bento is built with (see :data:`DOCKERFILE_TEMPLATE`).
DOCKERFILE_TEMPLATE_FILE = "Dockerfile.template"
#: Extends BentoML's own template: installs the pinned uv right after the base image, so BentoML's
#: ``command -v uv || pip install uv`` finds it and installs no other version.
DOCKERFILE_TEMPLATE = """{% extends bento_base_template %}
{% block SETUP_BENTO_BASE_IMAGE %}
{{ super() }}
RUN pip install --no-cache-dir uv==UV_VERSION
{% endblock %}
"""


def pinned_closure(roots: Iterable[str]) -> list[str]:
    """``name==version`` for each installed distribution ``roots`` need, transitively, as installed here.

    Requirements whose environment markers do not hold here (another platform or Python, an extra
    not asked for) are left out, as pip would. BentoML itself is left out: it pins itself.
    """
    found: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset()) for root in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        distribution = metadata.distribution(name)
        found[distribution.metadata["Name"]] = distribution.version
        for line in distribution.requires or ():
            requirement = Requirement(line)
            if _applies(requirement, extras):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return [f"{name}=={version}" for name, version in sorted(found.items(), key=lambda item: item[0].lower())
            if canonicalize_name(name) != BENTOML]


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""}))


def base_image() -> str:
    """The official Python image of this interpreter's exact release, on Debian bookworm (slim)."""
    return f"python:{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}-slim-bookworm"


def docker_options() -> dict[str, Any]:
    """The bento's ``docker`` build options: the pinned base image and the template that pins uv."""
    return {"base_image": base_image(), "dockerfile_template": DOCKERFILE_TEMPLATE_FILE}


def dockerfile_template() -> str:
    return DOCKERFILE_TEMPLATE.replace("UV_VERSION", metadata.version("uv"))
