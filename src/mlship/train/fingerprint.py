"""The fingerprint that names a trained model.

It covers everything that decides what training produces: the training part of the
spec, the bytes of every data file, the model folder's Python code when an entrypoint
builds the model, the versions of the libraries, Python's minor version (3.11: a patch
release such as 3.11.9 does not change what scikit-learn computes, and runner images move
patch releases under a pinned "3.11"), and the version of the entry format (how rows are
split, what an entry records). Equal fingerprints mean the same model and the same
metrics, so a cached one can stand in for training. Gates, the description, the version
note, slices and bootstrap settings are not part of it: changing them never retrains
(except gating a metric not computed yet, which must then be computed).

The libraries are scikit-learn and its stack, the estimator's own distribution, and every
distribution the model folder's ``requirements.txt`` names (the setup action installs that
file): the installed version of each. A library an entrypoint imports without naming it
there is not covered.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from mlship import __version__
from mlship.errors import DataError, display_path
from mlship.files import sha256_file, sha256_text
from mlship.spec import Spec
from mlship.train.digests import DigestMemo
from mlship.train.lfs import refuse_lfs_pointer

LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy")
#: The model folder's own dependencies, installed by the setup action before training.
REQUIREMENTS_FILE = "requirements.txt"
#: The version of what training makes of the same inputs: the rule that splits the rows and
#: the files of a cache entry. Raise it with either, so that no older entry is ever reused.
#: 2: rows split by a digest of each row (before: a seeded train_test_split); train_digests.npy.
#: 3: date columns become numbers and identifier-like columns are refused (before: one-hot encoded).
ENTRY_FORMAT = 3


@dataclass(frozen=True)
class Fingerprint:
    value: str
    #: The digest of each part, so a changed fingerprint can be explained.
    parts: dict


def fingerprint(spec: Spec, cache_dir: Path | None = None) -> Fingerprint:
    """The fingerprint of ``spec``'s model; with ``cache_dir``, data digests are remembered there by
    each file's stat (:mod:`mlship.train.digests`), so an unchanged data file is not read again."""
    memo = DigestMemo(cache_dir) if cache_dir is not None else None
    parts = {
        "format": ENTRY_FORMAT,
        "spec": sha256_text(spec.training_config_json()),
        "data": data_digests(spec, memo),
        "code": code_digest(spec),
        "versions": library_versions(spec),
    }
    if memo is not None:
        memo.save()
    return Fingerprint(sha256_text(json.dumps(parts, sort_keys=True)), parts)


def data_digests(spec: Spec, memo: DigestMemo | None = None) -> dict[str, str]:
    """SHA-256 of each data file by its path in the spec (a pinned URL by the digest the spec pins: the file is
    verified against it when it is downloaded); bundled datasets are named by the library version."""
    data = spec.config.data
    if data.sklearn:
        return {f"sklearn:{data.sklearn}": "bundled with scikit-learn"}
    digests = {getattr(data, url): getattr(data, sha) for url, sha in (("url", "sha256"), ("test_url", "test_sha256"))
               if getattr(data, url)}
    for field in ("path", "test_path"):
        relative = getattr(data, field)
        if relative:
            file = spec.dir / relative
            if not file.is_file():
                raise DataError(
                    f"data file {display_path(file)} does not exist (paths are relative to the model folder)",
                    spec.location("data", field),
                )
            refuse_lfs_pointer(file, spec.location("data", field))
            digests[relative] = memo.sha256(file) if memo is not None else sha256_file(file)
    return digests


def data_sources(spec: Spec, digests: dict[str, str]) -> list[dict[str, str]]:
    """Where each data role (``path``, ``test_path``) came from, for the lineage, the ledger and the model card:
    a file in the repository with its SHA-256, a pinned URL with its SHA-256, or a bundled dataset."""
    data = spec.config.data
    if data.sklearn:
        return [{"role": "path", "kind": "sklearn", "dataset": data.sklearn}]
    sources = []
    for role, url_field, digest_field in (("path", "url", "sha256"), ("test_path", "test_url", "test_sha256")):
        relative, url = getattr(data, role), getattr(data, url_field)
        if relative:
            sources.append({"role": role, "kind": "file", "path": relative, "sha256": digests[relative]})
        elif url:
            sources.append({"role": role, "kind": "url", "url": url, "sha256": getattr(data, digest_field)})
    return sources


def code_digest(spec: Spec) -> str | None:
    """The model folder's Python files, when an entrypoint (which may import its neighbours) builds the model."""
    if spec.entrypoint() is None:
        return None
    files = sorted(p for p in spec.dir.rglob("*.py") if "__pycache__" not in p.parts)
    return sha256_text(json.dumps({str(p.relative_to(spec.dir)): sha256_file(p) for p in files}))


def python_version() -> str:
    """Python's major.minor: what a model's results depend on, unlike the patch release."""
    return ".".join(platform.python_version_tuple()[:2])


def requirement_names(spec: Spec) -> list[str]:
    """The distributions the model folder's requirements.txt names (options and comments skipped)."""
    file = spec.dir / REQUIREMENTS_FILE
    if not file.is_file():
        return []
    names = []
    for line in file.read_text(encoding="utf-8").splitlines():
        try:  # options (-r, --index-url), paths and bare URLs name no distribution
            names.append(canonical(Requirement(line.split(" #", 1)[0].strip()).name))
        except InvalidRequirement:
            continue
    return names


def canonical(name: str) -> str:
    """A distribution name as the index compares them (PEP 503): LightGBM, lightgbm and light_gbm are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def library_versions(spec: Spec) -> dict[str, str]:
    versions = {"mlship": __version__, "python": python_version()}
    names = list(LIBRARIES)
    estimator = spec.config.model.estimator
    if estimator and not estimator.startswith("sklearn."):
        names += metadata.packages_distributions().get(estimator.split(".")[0], [])
    names += [name for name in requirement_names(spec) if name not in map(canonical, names)]
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
