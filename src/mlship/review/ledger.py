"""The ledger: ``reports/<name>/metrics.json``, ``model_card.md`` and ``profile.json``, the record of what was approved.

The PR flow writes them and they are committed with the change, so the reviewed diff
shows them and the merge records what was approved. On the way to a release,
:func:`verify` checks that the model trained at the working tree is the one in the
ledger, by fingerprint: what was reviewed is what ships.

The three files are one unit: ``metrics.json`` records the SHA-256 of the other two and
is written last. A run killed between the files leaves a ``metrics.json`` that does not
name the card and profile beside it, which :func:`read` refuses (as it refuses a
``metrics.json`` edited by hand into another shape); running ``mlship pr`` again mends it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlship.errors import MlshipError, display_path
from mlship.files import atomic_write_json, atomic_write_text, sha256_file
from mlship.project import Project
from mlship.train.fingerprint import fingerprint

if TYPE_CHECKING:
    from mlship.review.compare import Comparison

REPORTS_DIR = "reports"
METRICS = "metrics.json"
CARD = "model_card.md"
#: The reference profile for drift checks (see :mod:`mlship.train.profile`).
PROFILE = "profile.json"


class LedgerError(MlshipError):
    """The ledger is missing or unreadable."""


@dataclass(frozen=True)
class Verification:
    name: str
    ledger_fingerprint: str
    fingerprint: str
    #: The parts of the fingerprint that differ (spec, data, code, versions).
    differing: list[str]

    @property
    def matches(self) -> bool:
        return self.ledger_fingerprint == self.fingerprint


def folder(project: Project, name: str) -> Path:
    return project.root / REPORTS_DIR / name


def write(project: Project, comparison: "Comparison") -> list[Path]:
    """Write the model's ledger files atomically; return their paths.

    The reference profile is the candidate's, copied from its cache entry.
    """
    from mlship.review.report import render_model_card
    from mlship.train.cache import PROFILE_FILE, Cache

    target = folder(project, comparison.name)
    entry = Cache(project.cache_dir).get(comparison.candidate.fingerprint)
    if entry is None:
        raise LedgerError(f"the cache lost the entry of '{comparison.name}' ({comparison.candidate.fingerprint[:12]}) "
                          "while it was compared: run again")
    atomic_write_text(target / CARD, render_model_card(comparison, project.root))
    atomic_write_text(target / PROFILE, (entry.path / PROFILE_FILE).read_text())
    document = {**ledger_document(comparison), "files": {name: sha256_file(target / name) for name in (CARD, PROFILE)}}
    atomic_write_json(target / METRICS, document)  # last: the ledger's commit point
    return [target / METRICS, target / CARD, target / PROFILE]


def ledger_document(c: "Comparison") -> dict[str, Any]:
    lineage = c.candidate_lineage
    return {
        "model": c.name,
        "fingerprint": c.candidate.fingerprint,
        "fingerprint_parts": lineage["fingerprint_parts"],
        "passed": c.passed,
        "gates_passed": c.gates_passed,
        "accepted": c.accepted.to_dict() if c.accepted else None,
        "task": c.spec.task,
        "primary_metric": c.spec.primary_metric,
        "metrics": c.candidate.metrics,
        "baseline": {"commit": c.baseline.commit, "fingerprint": c.baseline.fingerprint,
                     "metrics": c.baseline.metrics} if c.baseline else None,
        "paired": c.paired,
        "note": c.note,
        "rows": c.rows,
        "deltas": {name: delta.to_dict() for name, delta in c.deltas.items()},
        "gates": [gate.to_dict() for gate in c.gates],
        "performance": c.candidate_performance,
        "data": {"digests": lineage["data"]["digests"], "sources": lineage["data"].get("sources", []),
                 "train_rows": lineage["data"]["train_rows"], "test_rows": lineage["data"]["test_rows"]},
        "split": lineage.get("split"),
        # The commit the model was trained at, and whether its files differed from it then (a dirty tree's
        # commit does not hold what was trained): what the card's lineage must not hide.
        "git": {"commit": c.candidate.commit, "dirty": c.candidate.dirty},
        "owners": list(c.spec.config.owners),
        "versions": lineage["versions"],
    }


def _as_committed(path: Path) -> str:
    """The digest of a ledger file as it was written, with LF line endings: a checkout with
    ``core.autocrlf`` or ``eol=crlf`` in .gitattributes turns them into CRLF."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def read(project: Project, name: str) -> dict[str, Any]:
    """The model's ``metrics.json``, checked: its shape, and that the card and profile beside it
    are the ones it records."""
    path = folder(project, name) / METRICS
    if not path.is_file():
        raise LedgerError(f"no ledger for '{name}' at {display_path(path)}: run `mlship pr` on the change "
                          f"and commit {REPORTS_DIR}/{name}/ (a model that reached the branch unreviewed: "
                          f"`mlship pr --model {name}` on a new branch, see docs/getting-started.md)")
    again = f"run `mlship pr` again and commit {REPORTS_DIR}/{name}/"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise LedgerError(f"{display_path(path)} is not valid JSON ({error}): {again}") from None
    problem = _shape_problem(document)
    if problem:
        raise LedgerError(f"{display_path(path)}: {problem}: {again}")
    for file, digest in (document.get("files") or {}).items():
        other = path.parent / file
        if not other.is_file() or _as_committed(other) != digest:
            raise LedgerError(f"{display_path(path)} does not record the {file} beside it (the ledger was written "
                              f"partly, or edited): {again}")
    return document


#: The fields later steps rely on, and what each must be.
_FIELDS: dict[str, tuple[type, ...]] = {"fingerprint": (str,), "fingerprint_parts": (dict,), "passed": (bool,),
                                        "metrics": (dict,), "primary_metric": (str,)}


def _shape_problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "it must hold a JSON object"
    for key, kinds in _FIELDS.items():
        if not isinstance(document.get(key), kinds):
            wanted = "an object" if kinds == (dict,) else kinds[0].__name__
            return f"'{key}' must be {wanted}, got {document.get(key)!r}"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in document["metrics"].values()):
        return "'metrics' must map each metric to a number"
    files = document.get("files", {})
    if not (isinstance(files, dict) and set(files) <= {CARD, PROFILE}
            and all(isinstance(v, str) for v in files.values())):
        return f"'files' must map {CARD} and {PROFILE} to their SHA-256"
    return None


def verify(project: Project, name: str) -> Verification:
    """Compare the fingerprint of the model at the working tree with the ledger's.

    Each differing part is named with what differs in it (``versions: scikit-learn 1.5.2
    approved, 1.6.1 here``), so the message says what to reinstall or retrain.
    """
    recorded = read(project, name)
    current = fingerprint(project.spec(name), project.cache_dir)
    parts = recorded.get("fingerprint_parts", {})
    differing = [describe_difference(key, parts.get(key), current.parts[key])
                 for key in sorted(current.parts) if parts.get(key) != current.parts[key]]
    return Verification(name, recorded["fingerprint"], current.value, differing)


def describe_difference(part: str, approved: Any, here: Any) -> str:
    """One differing fingerprint part, with the entries that differ when it is a mapping (versions, data)."""
    if not (isinstance(approved, dict) and isinstance(here, dict)):
        return part
    keys = sorted(set(approved) | set(here))
    changes = [f"{key} {approved.get(key, 'absent')} approved, {here.get(key, 'absent')} here"
               for key in keys if approved.get(key) != here.get(key)]
    return f"{part} ({'; '.join(changes)})"


def fix_for(verification: Verification) -> str:
    """What to do about a mismatch: reinstall what was approved, or review the change again."""
    if all(part.startswith("versions") for part in verification.differing):
        return ("Install the approved versions (those marked 'approved' above), or run `mlship pr` with these "
                f"and commit {REPORTS_DIR}/{verification.name}/ to have them reviewed.")
    return f"Run `mlship pr` and commit {REPORTS_DIR}/{verification.name}/."
