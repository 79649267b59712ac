from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import xxhash

from opsml_image.registry import hashing
from opsml_image.registry.hashing import FileEntry, HashCache, hash_file, scan


def test_hash_file_streams_large_files(tmp_path: Path) -> None:
    data = os.urandom(3 * hashing.CHUNK + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert hash_file(path) == (xxhash.xxh3_128_hexdigest(data), len(data))


def test_scan_lists_every_file_sorted(tmp_path: Path) -> None:
    for rel in ["b.jpg", "a/c.png", ".hidden", "a/metadata.jsonl"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(rel.encode())
    entries = scan(tmp_path)
    assert [e.path for e in entries] == [".hidden", "a/c.png", "a/metadata.jsonl", "b.jpg"]
    assert entries[1].size == len(b"a/c.png")


def test_cache_hits_until_the_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 0)
    (tmp_path / "d").mkdir()
    image = tmp_path / "d" / "x.jpg"
    image.write_bytes(b"one")
    cache = HashCache(tmp_path / "cache.sqlite")
    [entry] = scan(tmp_path / "d")
    cache.store([(entry, "h1")])
    assert cache.lookup(scan(tmp_path / "d")) == {"x.jpg": "h1"}
    image.write_bytes(b"two")
    assert cache.lookup(scan(tmp_path / "d")) == {}
    cache.close()


def test_cache_skips_racily_clean_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.jpg").write_bytes(b"fresh")
    cache = HashCache(tmp_path / "cache.sqlite")
    cache.store([(e, "h") for e in scan(tmp_path / "d")])  # written just now: not trusted
    assert cache.lookup(scan(tmp_path / "d")) == {}
    cache.close()


def test_disabled_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``HashCache(None)`` remembers nothing a working cache would, and a registry built with
    ``hash_cache=None`` keeps no cache file and hashes (copies) every file again."""
    from opsml_image.registry import CardRegistry

    from .conftest import make_card, make_dataset

    monkeypatch.setattr(hashing, "RACY_NS", 0)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.jpg").write_bytes(b"one")
    entries = scan(tmp_path / "d")
    working = HashCache(tmp_path / "working.sqlite")
    working.store([(entries[0], "h1")])
    assert working.lookup(entries) == {"x.jpg": "h1"}  # the same calls on a cache that is on
    working.close()
    disabled = HashCache(None)
    disabled.store([(entries[0], "h1")])
    assert disabled.lookup(entries) == {}
    disabled.close()

    data = make_dataset(tmp_path / "data")
    home_cache = tmp_path / "home" / "cache"  # where the default cache lives (OPSML_IMAGE_HOME is tmp/home)
    copied: list[str] = []
    registry = CardRegistry(
        tracking_uri=f"sqlite:///{tmp_path / 'r.db'}", storage_uri=tmp_path / "s", hash_cache=None
    )
    real_put = registry.store.put_blob

    def put_blob(team: str, name: str, entry: FileEntry, *rest: Any) -> Any:
        copied.append(entry.path)
        return real_put(team, name, entry, *rest)

    monkeypatch.setattr(registry.store, "put_blob", put_blob)
    registry.register_card(make_card(data))
    first = len(copied)
    assert first == len(scan(data)) and not home_cache.exists()
    registry.register_card(make_card(data))  # unchanged files: without a cache every one is read again
    assert len(copied) == 2 * first and not home_cache.exists()
    assert registry.hash_cache.lookup(scan(data)) == {}
    registry.close()


def test_scan_follows_links_to_folders_and_refuses_loops(tmp_path: Path) -> None:
    from opsml_image.registry import RegistryError

    (tmp_path / "d" / "shared").mkdir(parents=True)
    (tmp_path / "d" / "shared" / "x.jpg").write_bytes(b"x")
    (tmp_path / "d" / "train").symlink_to(tmp_path / "d" / "shared", target_is_directory=True)
    (tmp_path / "d" / "again").symlink_to(tmp_path / "d" / "shared", target_is_directory=True)  # twice: no loop
    assert [(e.path, e.size) for e in scan(tmp_path / "d")] == [
        ("again/x.jpg", 1),
        ("shared/x.jpg", 1),
        ("train/x.jpg", 1),
    ]
    (tmp_path / "d" / "shared" / "up").symlink_to(tmp_path / "d", target_is_directory=True)
    with pytest.raises(RegistryError, match="links back to a folder above it"):
        scan(tmp_path / "d")


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_scan_refuses_links_leading_outside_the_folder(tmp_path: Path, kind: str) -> None:
    from opsml_image.registry import RegistryError

    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "shadow").write_text("root:secret")
    (tmp_path / "d").mkdir()
    target = tmp_path / "outside" / ("shadow" if kind == "file" else "")
    (tmp_path / "d" / "notes").symlink_to(target)
    with pytest.raises(RegistryError, match="notes is a link to a place outside the dataset folder"):
        scan(tmp_path / "d")


def test_scan_refuses_special_files_and_leaves_out_temp_files(tmp_path: Path) -> None:
    from opsml_image.registry import RegistryError

    (tmp_path / "a.jpg").write_bytes(b"a")
    (tmp_path / ".metadata.jsonl.6f041032-1.abcdefgh.tmp").write_bytes(b"debris")
    assert [e.path for e in scan(tmp_path)] == ["a.jpg"]
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(RegistryError, match="pipe.jpg in .* is a FIFO"):
        scan(tmp_path)
