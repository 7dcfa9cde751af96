"""Data digests remembered by stat: a cache hit does not read an unchanged data file, any change is seen.

Reads are observed by wrapping the hash function the memo calls: a file is "read" when its
bytes are hashed for the fingerprint (pandas reads the table only when training).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from mlship.train import digests
from mlship.train.digests import MEMO_FILE

from test_cache import churn_model

DATA = "models/churn/data/train.csv"


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The resolved paths hashed by the memo, in order; files count as settled at once (no racy window)."""
    seen: list[str] = []
    real = digests.sha256_file

    def spy(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(digests, "sha256_file", spy)
    monkeypatch.setattr(digests, "RACY_SECONDS", 0.0)
    return seen


def data_reads(factory, hashed: list[str]) -> int:
    return hashed.count(str((factory.root / DATA).resolve()))


def train_json(run_cli) -> dict:
    result = run_cli("train", "churn", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0]


def test_a_cache_hit_does_not_read_an_unchanged_data_file_again(factory, run_cli, hashed):
    churn_model(factory)
    first = train_json(run_cli)
    assert data_reads(factory, hashed) == 1

    second = train_json(run_cli)
    third = train_json(run_cli)

    assert second["cache_hit"] and third["cache_hit"]
    assert second["fingerprint"] == first["fingerprint"]
    assert data_reads(factory, hashed) == 1  # three runs, one read


def rewrite_in_place_keeping_size_and_mtime(path) -> None:
    """Change a digit of the last row's first value, then set the modification time back: only ctime shows it."""
    before = os.stat(path)
    content = bytearray(path.read_bytes())
    first_of_last_row = content.rstrip(b"\n").rindex(b"\n") + 1
    content[first_of_last_row] = ord("1") if content[first_of_last_row] != ord("1") else ord("2")
    with open(path, "r+b") as stream:
        stream.write(content)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


def touch(path) -> None:
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000_000))


def replace_by_a_copy(path) -> None:
    shutil.copy2(path, path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)


def append_a_row(path) -> None:
    with open(path, "a") as stream:
        stream.write(path.read_text().splitlines()[-1] + "\n")


@pytest.mark.parametrize("change, retrains", [
    (touch, False),
    (replace_by_a_copy, False),
    (append_a_row, True),
    (rewrite_in_place_keeping_size_and_mtime, True),
], ids=lambda value: getattr(value, "__name__", str(value)))
def test_any_change_to_a_data_files_stat_reads_it_again(factory, run_cli, hashed, change, retrains):
    churn_model(factory)
    first = train_json(run_cli)
    change(factory.root / DATA)

    second = train_json(run_cli)

    assert data_reads(factory, hashed) == 2
    assert second["cache_hit"] is not retrains
    assert (second["fingerprint"] != first["fingerprint"]) is retrains


def test_a_file_modified_just_before_it_is_hashed_is_not_remembered(factory, run_cli, monkeypatch):
    """A second write in the same timestamp tick would leave the stat unchanged: such a file is read every time."""
    churn_model(factory)  # written just now
    train_json(run_cli)
    memo = factory.project.cache_dir / MEMO_FILE
    assert not memo.exists() or str((factory.root / DATA).resolve()) not in json.loads(memo.read_text())


def test_a_damaged_memo_is_ignored_and_rewritten(factory, run_cli, hashed):
    churn_model(factory)
    first = train_json(run_cli)
    memo = factory.project.cache_dir / MEMO_FILE
    memo.write_text("{not json")

    second = train_json(run_cli)

    assert second["cache_hit"] and second["fingerprint"] == first["fingerprint"]
    assert data_reads(factory, hashed) == 2
    assert str((factory.root / DATA).resolve()) in json.loads(memo.read_text())
