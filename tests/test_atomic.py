"""Atomic replacement: the old file survives any failure, the new one keeps the old permissions."""

from __future__ import annotations

import os

import pytest

from opsml_image import atomic
from opsml_image.atomic import atomic_write_bytes, atomic_writer
from opsml_image.categories import read_names, write_names


def test_replace_keeps_permissions_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    atomic_write_bytes(path, b"new")
    assert path.read_text() == "new" and (path.stat().st_mode & 0o777) == 0o640
    assert os.listdir(tmp_path) == ["f.txt"]


def test_exception_keeps_the_old_content(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_writer(path) as handle:
        handle.write(b"half")
        raise KeyboardInterrupt
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_category_names_round_trip_and_checks(tmp_path):
    assert read_names(tmp_path) == []
    write_names(tmp_path, ["cat", " dog "])
    assert read_names(tmp_path) == ["cat", "dog"]
    with pytest.raises(ValueError):
        write_names(tmp_path, ["cat", "cat"])
    (tmp_path / "categories.json").write_text("{oops")
    assert read_names(tmp_path).code == "categories_file.invalid"


def test_sync_filesystem_uses_syncfs_and_falls_back_to_sync(tmp_path, monkeypatch):
    import ctypes

    (tmp_path / "blob").write_bytes(b"x" * 4096)
    calls = []
    monkeypatch.setattr(atomic.os, "sync", lambda: calls.append("sync"))
    atomic.sync_filesystem(tmp_path)  # Linux: syncfs on the folder's filesystem, no global sync
    assert calls == []

    def no_libc(*args, **kwargs):
        raise OSError("no libc here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    atomic.sync_filesystem(tmp_path)
    assert calls == ["sync"]


def test_temp_names_carry_host_and_pid_and_are_told_apart(tmp_path):
    with atomic_writer(tmp_path / "metadata.jsonl") as handle:
        [name] = [n for n in os.listdir(tmp_path) if n != "metadata.jsonl"]
        handle.write(b"x")
    assert name.startswith(f".metadata.jsonl.{atomic._HOST}-{os.getpid()}.") and atomic.is_temp_name(name)
    assert not atomic.is_temp_name("metadata.jsonl") and not atomic.is_temp_name("a.tmp")
    assert atomic.remove_stale_temps(tmp_path) == [] and os.listdir(tmp_path) == ["metadata.jsonl"]
