"""The fingerprint that names a trained model.

It covers everything that decides what training produces: the training part of the
spec, the bytes of every data file, the model folder's Python code when an entrypoint
builds the model, the versions of Python and the libraries, and the version of the
entry format (how rows are split, what an entry records). Equal fingerprints
mean the same model and the same metrics, so a cached one can stand in for training.
Gates, the description, the version note, slices and bootstrap settings are not part of
it: changing them never retrains (except gating a metric not computed yet, which must
then be computed). A library that an entrypoint imports, other than those above, is
not covered: pin it, and change the entrypoint's code when you change the pin.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata

from mlship import __version__
from mlship.errors import DataError, display_path
from mlship.files import sha256_file, sha256_text
from mlship.spec import Spec

LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy")
#: The version of what training makes of the same inputs: the rule that splits the rows and
#: the files of a cache entry. Raise it with either, so that no older entry is ever reused.
#: 2: rows split by a digest of each row (before: a seeded train_test_split); train_digests.npy.
ENTRY_FORMAT = 2


@dataclass(frozen=True)
class Fingerprint:
    value: str
    #: The digest of each part, so a changed fingerprint can be explained.
    parts: dict


def fingerprint(spec: Spec) -> Fingerprint:
    parts = {
        "format": ENTRY_FORMAT,
        "spec": sha256_text(spec.training_config_json()),
        "data": data_digests(spec),
        "code": code_digest(spec),
        "versions": library_versions(spec),
    }
    return Fingerprint(sha256_text(json.dumps(parts, sort_keys=True)), parts)


def data_digests(spec: Spec) -> dict[str, str]:
    """SHA-256 of each data file by its path in the spec; bundled datasets are named by the library version."""
    data = spec.config.data
    if data.sklearn:
        return {f"sklearn:{data.sklearn}": "bundled with scikit-learn"}
    digests = {}
    for field in ("path", "test_path"):
        relative = getattr(data, field)
        if relative:
            file = spec.dir / relative
            if not file.is_file():
                raise DataError(
                    f"data file {display_path(file)} does not exist (paths are relative to the model folder)",
                    spec.location("data", field),
                )
            digests[relative] = sha256_file(file)
    return digests


def code_digest(spec: Spec) -> str | None:
    """The model folder's Python files, when an entrypoint (which may import its neighbours) builds the model."""
    if spec.entrypoint() is None:
        return None
    files = sorted(p for p in spec.dir.rglob("*.py") if "__pycache__" not in p.parts)
    return sha256_text(json.dumps({str(p.relative_to(spec.dir)): sha256_file(p) for p in files}))


def library_versions(spec: Spec) -> dict[str, str]:
    versions = {"mlship": __version__, "python": platform.python_version()}
    names = list(LIBRARIES)
    estimator = spec.config.model.estimator
    if estimator and not estimator.startswith("sklearn."):
        names += metadata.packages_distributions().get(estimator.split(".")[0], [])
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
