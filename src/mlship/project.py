"""Where a project's models and cache live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlship.errors import ProjectError, did_you_mean
from mlship.spec import SPEC_FILE, Spec, load_spec

MODELS_DIR = "models"
CACHE_ENV = "MLSHIP_CACHE_DIR"


@dataclass(frozen=True)
class Project:
    root: Path
    #: A cache folder other than the project's own: a baseline checkout shares its project's cache.
    shared_cache: Path | None = None

    @classmethod
    def find(cls, start: Path | None = None) -> "Project":
        """The nearest folder at or above ``start`` holding ``models/`` (else ``start`` itself)."""
        start = Path(start or Path.cwd()).resolve()
        for folder in (start, *start.parents):
            if (folder / MODELS_DIR).is_dir():
                return cls(folder)
        return cls(start)

    @property
    def models_dir(self) -> Path:
        return self.root / MODELS_DIR

    @property
    def cache_dir(self) -> Path:
        """``$MLSHIP_CACHE_DIR``, or ``.mlship/cache`` in the project."""
        if self.shared_cache is not None:
            return self.shared_cache
        configured = os.environ.get(CACHE_ENV)
        return Path(configured).resolve() if configured else self.root / ".mlship" / "cache"

    def model_names(self) -> list[str]:
        if not self.models_dir.is_dir():
            return []
        return sorted(p.name for p in self.models_dir.iterdir() if (p / SPEC_FILE).is_file())

    def model_dir(self, model: str) -> Path:
        """Resolve a model given by name (``churn``) or by folder path (``models/churn``)."""
        as_path = Path(model)
        if (as_path / SPEC_FILE).is_file():
            return as_path.resolve()
        by_name = self.models_dir / model
        if (by_name / SPEC_FILE).is_file():
            return by_name
        names = self.model_names()
        known = f"Models here: {', '.join(names)}" if names else f"no model folders under {self.models_dir}"
        raise ProjectError(f"no model '{model}'{did_you_mean(model, names)}. {known}")

    def spec(self, model: str) -> Spec:
        """The validated spec of a model given by name or folder."""
        return load_spec(self.model_dir(model))
