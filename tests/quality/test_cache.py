"""Signatures are computed once per image file and kept under the app home, keyed by folder, path, size and
mtime: an unchanged file is not read again, a changed one is; files outside the folder are not read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsml_image.quality import SignatureCache, signature
from opsml_image.quality.signatures import Unreadable
from opsml_image.registry.hashing import hash_file
from quality.scenes import save, scene


@pytest.fixture
def cache(tmp_path: Path):
    found = SignatureCache(tmp_path / "home" / "quality.db")
    yield found
    found.close()


def files(root: Path) -> list[tuple[tuple[str, str], Path]]:
    return [(("train", p.name), p) for p in sorted(root.glob("*.png"))]


def test_the_content_hash_is_the_registrys(tmp_path: Path):
    path = save(scene(0), tmp_path / "a.png")
    assert signature(path).content == hash_file(path)[0]
    assert (signature(path).width, signature(path).height) == (320, 240)


def test_hashed_once_and_again_when_the_file_changes(tmp_path: Path, cache: SignatureCache):
    root = tmp_path / "ds"
    for i in range(3):
        save(scene(i), root / f"{i}.png")
    first = cache.sign(root, files(root))
    assert (first.hashed, len(first.signatures)) == (3, 3)
    again = cache.sign(root, files(root))
    assert (again.hashed, again.signatures) == (0, first.signatures)
    save(scene(9), root / "1.png")  # replaced: another size and mtime
    changed = cache.sign(root, files(root))
    assert changed.hashed == 1
    assert changed.signatures[("train", "1.png")] == signature(root / "1.png")
    assert changed.signatures[("train", "1.png")] != first.signatures[("train", "1.png")]


def test_a_file_touched_just_now_is_not_remembered(tmp_path: Path, cache: SignatureCache):
    root = tmp_path / "ds"
    save(scene(0), root / "new.png", old=False)
    assert cache.sign(root, files(root)).hashed == 1
    assert cache.sign(root, files(root)).hashed == 1  # within the racy window: hashed again


def test_a_same_size_rewrite_with_a_new_mtime_is_hashed_again(tmp_path: Path, cache: SignatureCache):
    root = tmp_path / "ds"
    path = save(scene(0), root / "a.png")
    cache.sign(root, files(root))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))
    assert cache.sign(root, files(root)).hashed == 1


def test_the_cache_is_per_folder(tmp_path: Path, cache: SignatureCache):
    for name in ("one", "two"):
        save(scene(0), tmp_path / name / "a.png")
    assert cache.sign(tmp_path / "one", files(tmp_path / "one")).hashed == 1
    assert cache.sign(tmp_path / "two", files(tmp_path / "two")).hashed == 1
    assert cache.forget(tmp_path / "one") == 1
    assert cache.sign(tmp_path / "two", files(tmp_path / "two")).hashed == 0


def test_unreadable_missing_and_outside_files_are_listed_not_signed(tmp_path: Path, cache: SignatureCache):
    root = tmp_path / "ds"
    save(scene(0), root / "good.png")
    (root / "broken.png").write_bytes(b"not an image")
    secret = save(scene(1), tmp_path / "elsewhere" / "secret.png")
    (root / "link.png").symlink_to(secret)
    items = [*files(root), (("train", "gone.png"), root / "gone.png")]
    signed = cache.sign(root, items)
    assert list(signed.signatures) == [("train", "good.png")]
    why = signed.unreadable
    assert (
        "not a readable image" in why[("train", "broken.png")]
        and str(root) not in why[("train", "broken.png")]
    )
    assert "outside" in why[("train", "link.png")]
    assert "gone.png" in why[("train", "gone.png")]


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from opsml_image.quality import signatures

    path = save(scene(0), tmp_path / "a.png")
    monkeypatch.setattr(signatures, "MAX_PIXELS", 1000)
    with pytest.raises(Unreadable, match="decompression bomb"):
        signatures.signature(path)
