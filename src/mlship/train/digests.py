"""Data file digests remembered by the file's stat, so an unchanged file is not read again.

Hashing a data file costs about 0.7 s per GB, on every fingerprint (every cache hit). Like
git's index and DVC's state database, the memo keeps each file's SHA-256 beside the stat
that held when it was read: resolved path, size, ``mtime_ns``, ``ctime_ns``, inode and
device. Any change to one of them (an edit, a ``touch``, a checkout, a copy, a ``chmod``)
makes the file be read again. ``ctime`` cannot be set back by hand, so an edit followed by
restoring the old modification time is still seen.

A file modified within :data:`RACY_SECONDS` of being hashed is not remembered: a second
write within the filesystem's timestamp granularity could leave the stat unchanged (git's
"racily clean" entries). The memo is one JSON file in the model cache; a damaged or missing
memo reads as empty, and concurrent runs at worst lose each other's entries.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mlship.files import atomic_write_json, sha256_file

MEMO_FILE = ".file-digests.json"
#: A file modified more recently than this, when it is hashed, is not remembered.
RACY_SECONDS = 2.0
#: The most files remembered; the oldest entries go first.
MAX_ENTRIES = 4096


class DigestMemo:
    """SHA-256 of files, remembered in ``folder``/.file-digests.json by their stat."""

    def __init__(self, folder: Path):
        self.file = Path(folder) / MEMO_FILE
        self._entries: dict[str, list] | None = None
        self._changed = False

    def sha256(self, path: Path) -> str:
        """The SHA-256 of ``path``'s bytes, read only when its stat differs from the remembered one."""
        path = Path(path).resolve()
        key, stat = str(path), _stat_key(path)
        remembered = self._load().get(key)
        if remembered is not None and remembered[:-1] == stat:
            return remembered[-1]
        started = time.time_ns()
        digest = sha256_file(path)
        after = _stat_key(path)
        if after == stat and started - stat[1] > RACY_SECONDS * 1e9 and started - stat[2] > RACY_SECONDS * 1e9:
            entries = self._load()
            entries.pop(key, None)
            entries[key] = [*stat, digest]
            self._changed = True
        return digest

    def save(self) -> None:
        """Write the memo when it gained entries; a memo that cannot be written is only a lost speed-up."""
        if not self._changed or self._entries is None:
            return
        kept = dict(list(self._entries.items())[-MAX_ENTRIES:])
        try:
            atomic_write_json(self.file, kept)
        except OSError:
            return
        self._changed = False

    def _load(self) -> dict[str, list]:
        if self._entries is None:
            try:
                entries = json.loads(self.file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                entries = {}
            self._entries = {key: value for key, value in entries.items()
                             if isinstance(value, list) and len(value) == 6} if isinstance(entries, dict) else {}
        return self._entries


def _stat_key(path: Path) -> list:
    """What must stay equal for a remembered digest to hold: size, mtime_ns, ctime_ns, inode, device."""
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]
