"""The errors mlship reports to its users.

Every error a user can fix is an :class:`MlshipError`; the CLI catches it once, prints
its message and exits with :attr:`MlshipError.exit_code`. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class Location:
    """Where in a spec file a problem is: the file, the 1-based line, the field path."""

    file: Path
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        text = display_path(self.file)
        if self.line is not None:
            text += f":{self.line}"
        if self.field:
            text += f": {self.field}"
        return text


@dataclass(frozen=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class MlshipError(Exception):
    """A problem with the user's input or configuration (exit code 2)."""

    exit_code = 2


class SpecError(MlshipError):
    """One or more problems in a ``model.yaml``, each with its file, line and field."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        #: The spec as parsed, when it met the schema and only checks across fields failed (else None).
        self.spec = None
        super().__init__("\n".join(str(p) for p in self.problems))


class DataError(MlshipError):
    """The data a spec points at cannot be used as it is."""

    def __init__(self, message: str, location: Location | None = None):
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class TrainingError(MlshipError):
    """The estimator failed to fit or predict on valid data."""


class ProjectError(MlshipError):
    """The project layout or a model name does not resolve."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for a near miss, or an empty string."""
    matches = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def display_path(path: Path) -> str:
    """A path relative to the working directory where it lies below it, else absolute."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
