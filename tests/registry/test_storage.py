from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from opsml_image.registry import DatasetChangedError, IntegrityError, StorageError
from opsml_image.registry.hashing import hash_bytes, scan
from opsml_image.registry.storage import ArtifactStore


def _entry(folder: Path, name: str, data: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return next(e for e in scan(folder) if e.path == name)


def _round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(5000)
    entry = _entry(tmp_path / "src", "a.jpg", data)
    seen: list[int] = []
    ref = store.put_blob("vision", "signs", entry, None, seen.append)
    assert ref.digest == hash_bytes(data) and ref.size == len(data) and sum(seen) == len(data)
    assert store.existing_blobs("vision", "signs") in ({ref.digest: len(data)}, {ref.digest: None})
    out = tmp_path / "out" / "a.jpg"
    store.get_blob("vision", "signs", ref.digest, ref.size, out, lambda n: None)
    assert out.read_bytes() == data
    assert store.read_blob("vision", "signs", ref.digest) == data


def test_local_round_trip_and_layout(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "storage")
    _round_trip(store, tmp_path)
    blobs = list((tmp_path / "storage" / "vision" / "signs" / "blobs").rglob("*"))
    assert [p.name for p in blobs if p.is_file()] == [hash_bytes((tmp_path / "src" / "a.jpg").read_bytes())]


def test_s3_round_trip(s3_storage: tuple[str, dict], tmp_path: Path) -> None:
    uri, options = s3_storage
    store = ArtifactStore(uri, options)
    _round_trip(store, tmp_path)
    assert store.full_uri(store.version_dir("vision", "signs", "1.0.0")).startswith("s3://")


@pytest.mark.parametrize("durable", [True, False])
def test_durable_local_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool) -> None:
    """``durable=True`` flushes each blob's bytes (all of them written) and then its folder's entry (the
    blob renamed into place) as it stores the blob; without it neither happens and ``settle`` syncs instead."""
    from opsml_image.registry import storage

    events: list[tuple[str, str, int]] = []  # (what, path, bytes on disk when it happened)
    real_fdatasync, real_fsync_dir = os.fdatasync, storage.fsync_dir

    def fdatasync(fd: int) -> None:
        events.append(("data", os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))
        real_fdatasync(fd)

    def fsync_dir(folder: str) -> None:
        names = os.listdir(folder)
        events.append(("folder", str(folder), sum(os.path.getsize(os.path.join(folder, n)) for n in names)))
        real_fsync_dir(folder)

    synced: list[str] = []
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(storage, "fsync_dir", fsync_dir)
    monkeypatch.setattr(storage, "sync_filesystem", lambda path: synced.append(str(path)))
    store = ArtifactStore(tmp_path / "storage", durable=durable)
    _round_trip(store, tmp_path)
    store.settle()
    digest = hash_bytes((tmp_path / "src" / "a.jpg").read_bytes())
    blob = Path(store.blob_path("vision", "signs", digest))
    if not durable:
        assert events == [] and synced == [store.root]
        return
    assert synced == []  # each blob was put on disk already
    assert [what for what, _, _ in events] == ["data", "folder"]
    (_, path, size), (_, folder, folder_bytes) = events
    assert Path(path).parent == blob.parent.parent and size == 5000  # the whole temp file, before its rename
    assert Path(folder) == blob.parent and folder_bytes == 5000  # the blob's folder, once it is in there


def test_changed_file_is_caught(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "storage")
    entry = _entry(tmp_path / "src", "a.jpg", b"new bytes")
    with pytest.raises(DatasetChangedError, match="changed during registration"):
        store.put_blob("vision", "signs", entry, hash_bytes(b"old bytes"), lambda n: None)
    assert set(store.existing_blobs("vision", "signs")) == {
        hash_bytes(b"new bytes")
    }  # its own hash: harmless


def test_vanished_file_is_caught(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "storage")
    entry = _entry(tmp_path / "src", "a.jpg", b"x")
    (tmp_path / "src" / "a.jpg").unlink()
    with pytest.raises(DatasetChangedError, match="vanished"):
        store.put_blob("vision", "signs", entry, None, lambda n: None)


def test_disk_full_leaves_no_partial_blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opsml_image.registry import storage

    def full(handle: object, data: memoryview) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "_write_all", full)
    store = ArtifactStore(tmp_path / "storage")
    entry = _entry(tmp_path / "src", "a.jpg", b"x" * 100)
    with pytest.raises(StorageError, match="No space left"):
        store.put_blob("vision", "signs", entry, None, lambda n: None)
    leftovers = [p for p in (tmp_path / "storage").rglob("*") if p.is_file()]
    assert leftovers == []


def test_corrupt_blob_is_refused_on_read(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "storage")
    entry = _entry(tmp_path / "src", "a.jpg", b"payload")
    ref = store.put_blob("vision", "signs", entry, None, lambda n: None)
    Path(store.blob_path("vision", "signs", ref.digest)).write_bytes(b"PAYLOAD")
    out = tmp_path / "out" / "a.jpg"
    with pytest.raises(IntegrityError, match="does not match its hash"):
        store.get_blob("vision", "signs", ref.digest, ref.size, out, lambda n: None)
    assert not out.exists() and list(out.parent.iterdir()) == []
    with pytest.raises(IntegrityError):
        store.read_blob("vision", "signs", ref.digest)


def test_missing_blob_is_a_storage_error(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "storage")
    with pytest.raises(StorageError, match="missing"):
        store.get_blob("vision", "signs", "0" * 32, 1, tmp_path / "x", lambda n: None)


def test_version_folder_is_rewritten_from_scratch(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "storage")
    store.write_version("vision", "signs", "1.0.0", {"manifest.json": b"a", "files/stale.txt": b"old"})
    uri = store.write_version("vision", "signs", "1.0.0", {"manifest.json": b"b"})
    assert sorted(p.name for p in Path(uri).rglob("*") if p.is_file()) == ["manifest.json"]
    assert (Path(uri) / "manifest.json").read_bytes() == b"b"


class FailingMemoryFS(MemoryFileSystem):
    """An in-memory filesystem whose writes fail after ``budget`` successful ones."""

    budget = 1_000_000

    def pipe_file(self, path, value, mode="overwrite", **kwargs):  # type: ignore[no-untyped-def]
        if self.budget <= 0:
            raise OSError("simulated storage outage")
        self.budget -= 1
        return super().pipe_file(path, value, mode=mode, **kwargs)


def test_remote_storage_failure_is_a_storage_error(tmp_path: Path) -> None:
    fs = FailingMemoryFS()
    fs.budget = 0
    store = ArtifactStore(f"memory://t-{uuid.uuid4().hex}", fs=fs)
    entry = _entry(tmp_path / "src", "a.jpg", b"x")
    with pytest.raises(StorageError, match="simulated storage outage"):
        store.put_blob("vision", "signs", entry, None, lambda n: None)
    assert store.existing_blobs("vision", "signs") == {}


def test_unknown_protocol_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot open storage"):
        ArtifactStore("nosuchproto://bucket/x")


def test_streamed_round_trip_above_the_in_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsml_image.registry import storage

    monkeypatch.setattr(storage, "IN_MEMORY_LIMIT", 1000)  # stream every file through open handles
    store = ArtifactStore(f"memory://stream-{uuid.uuid4().hex}", fs=MemoryFileSystem())
    _round_trip(store, tmp_path)
    assert [p for p in store.fs.find(store.root) if "/tmp/" in p] == []  # the upload's temp file is gone
    entry = _entry(tmp_path / "src2", "b.jpg", os.urandom(3000))
    ref = store.put_blob("vision", "signs", entry, None, lambda n: None)
    store.fs.pipe_file(store.blob_path("vision", "signs", ref.digest), b"y" * ref.size)
    with pytest.raises(IntegrityError, match="does not match its hash"):
        store.get_blob("vision", "signs", ref.digest, ref.size, tmp_path / "out2" / "b.jpg", lambda n: None)
    assert list((tmp_path / "out2").iterdir()) == []
