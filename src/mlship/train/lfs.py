"""Git LFS pointers where the data should be: a checkout without ``git lfs pull`` leaves them.

A pointer is a small text file (git-lfs's docs/spec.md: the first line is always
``version https://git-lfs.github.com/spec/v1``, then ``oid sha256:…`` and ``size …``).
Read as a CSV it would train on three nonsense rows or fail with a parser error; it is
refused at once instead, naming the file and the command that fetches its content.
"""

from __future__ import annotations

from pathlib import Path

from mlship.errors import DataError, Location, display_path

VERSION_LINE = b"version https://git-lfs.github.com/spec/v1\n"
#: git-lfs itself never reads a file of this size or more as a pointer.
MAX_POINTER_BYTES = 1024


def lfs_pointer_size(path: Path) -> int | None:
    """The size of the object ``path`` points to when it is a Git LFS pointer, else None."""
    try:
        if path.stat().st_size >= MAX_POINTER_BYTES:
            return None
        content = path.read_bytes()
    except OSError:
        return None
    if not content.startswith(VERSION_LINE):
        return None
    for line in content.decode("utf-8", errors="replace").splitlines():
        key, _, value = line.partition(" ")
        if key == "size" and value.isdigit():
            return int(value)
    return 0


def refuse_lfs_pointer(path: Path, location: Location | None) -> None:
    """Raise a :class:`DataError` when ``path`` holds a Git LFS pointer instead of its content."""
    size = lfs_pointer_size(path)
    if size is not None:
        raise DataError(
            f"data file {display_path(path)} is a Git LFS pointer to {size:,} bytes, not the data itself: run "
            "`git lfs pull` (in the mlship workflows, set `lfs: true`) so the checkout holds the file's content",
            location,
        )
