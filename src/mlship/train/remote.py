"""Data files served over HTTP(S), pinned by SHA-256 in the spec (``data.url`` + ``data.sha256``).

A file is downloaded once into the cache folder, under a name made of its digest, and only
after its bytes hash to the pinned digest: a download that does not match is deleted and
is an error, so a changed or tampered file never reaches training. A file already in the
cache is checked against its name too (through the digest memo, so an unchanged copy is
not read again), and fetched anew if it does not match.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from mlship.errors import DataError
from mlship.files import CHUNK
from mlship.spec import Spec
from mlship.train.digests import DigestMemo

DOWNLOADS_DIR = "downloads"
#: Seconds to connect, and between two bytes of the answer.
TIMEOUT = (10, 60)
#: The spec fields of each role: a local path, or a URL and its digest.
ROLES = {"path": ("url", "sha256"), "test_path": ("test_url", "test_sha256")}


def local_data_files(spec: Spec, cache_dir: Path) -> dict[str, Path]:
    """The local file behind each data role the spec gives (``path``, ``test_path``), downloading pinned URLs."""
    data, files = spec.config.data, {}
    for role, (url_field, digest_field) in ROLES.items():
        if getattr(data, role):
            files[role] = spec.dir / getattr(data, role)
        elif getattr(data, url_field):
            files[role] = fetch(spec, url_field, digest_field, cache_dir)
    return files


def fetch(spec: Spec, url_field: str, digest_field: str, cache_dir: Path) -> Path:
    """The verified local copy of the file at ``data.<url_field>``, downloaded when the cache lacks it."""
    url, digest = getattr(spec.config.data, url_field), getattr(spec.config.data, digest_field)
    suffix = Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
    target = Path(cache_dir) / DOWNLOADS_DIR / f"{digest}{suffix}"
    memo = DigestMemo(cache_dir)
    if target.is_file():
        if memo.sha256(target) == digest:
            memo.save()
            return target
        target.unlink()  # damaged in the cache: fetch it again
    target.parent.mkdir(parents=True, exist_ok=True)
    got = _download(spec, url_field, url, target)
    if got != digest:
        raise DataError(f"the file at {url} has SHA-256 {got}, but {digest_field} pins {digest}: it changed since "
                        f"the spec was written (or the download was altered). It was not used; if the new file is "
                        f"the one to train on, check it and set {digest_field}: {got}",
                        spec.location("data", digest_field))
    return target


def _download(spec: Spec, url_field: str, url: str, target: Path) -> str:
    """Stream ``url`` into ``target`` and return the SHA-256 of its bytes; a file that does not match is removed."""
    import requests

    digest = hashlib.sha256()
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream, requests.get(url, stream=True, timeout=TIMEOUT) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_content(CHUNK):
                digest.update(chunk)
                stream.write(chunk)
        if digest.hexdigest() == target.name.split(".", 1)[0]:
            os.replace(temporary, target)
    except requests.RequestException as error:
        raise DataError(f"cannot download {url}: {error}; check the URL and the network (or proxy) of this "
                        "machine", spec.location("data", url_field)) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return digest.hexdigest()
