"""Image probing: size from the header, truncation, non-images and decompression bombs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from opsml_image import images
from opsml_image.images import ImageInfo, is_image_file, open_image, probe
from opsml_image.rules import Problem


def write_bomb_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def code(result):
    return result.code if isinstance(result, Problem) else result


def test_probe_reads_size_and_format(tmp_path, make_image):
    assert probe(make_image(tmp_path / "a.png", size=(40, 30))) == ImageInfo(40, 30, "PNG")
    assert probe(make_image(tmp_path / "b.jpg", size=(41, 31))) == ImageInfo(41, 31, "JPEG")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d, mk: d / "missing.png", "image.missing"),
        (lambda d, mk: _write(d / "text.png", b"hello, I am text"), "image.unreadable"),
        (lambda d, mk: _truncate(mk(d / "t.png", size=(300, 200)), 0.6), "image.unreadable"),
        (lambda d, mk: _truncate(mk(d / "t.jpg", size=(300, 200)), 0.6), "image.unreadable"),
        (lambda d, mk: write_bomb_png(d / "bomb.png"), "image.too_large"),
        (lambda d, mk: _mkdir(d / "folder.png"), "file.special"),
    ],
    ids=["missing", "text-as-png", "truncated-png", "truncated-jpeg", "bomb", "folder"],
)
def test_bad_images_are_problems_not_exceptions(tmp_path, make_image, make, expected):
    path = make(tmp_path, make_image)
    result = probe(path)
    assert code(result) == expected
    assert str(path.name) in result.message


def test_a_bomb_pillow_refuses_itself_is_told_with_our_limit(tmp_path):
    result = probe(write_bomb_png(tmp_path / "bomb.png"))  # 900M pixels: Pillow raises before we see a size
    assert result.code == "image.too_large"
    assert "900,000,000 pixels, more than the 100,000,000 allowed" in result.message


def test_open_image_refuses_a_bomb_with_a_readable_error(tmp_path):
    with pytest.raises(ValueError, match="decompression bomb"):
        open_image(write_bomb_png(tmp_path / "bomb.png"))


def test_probe_notices_a_replaced_file(tmp_path, make_image):
    path = make_image(tmp_path / "a.png", size=(10, 10))
    assert probe(path).width == 10
    make_image(path, size=(20, 10))
    assert probe(path).width == 20


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_probe_of_an_image_removed_while_read_is_missing_and_not_cached(
    tmp_path, make_image, monkeypatch, suffix
):
    stat_of = make_image(tmp_path / f"other{suffix}", size=(12, 8)).stat()
    path = tmp_path / f"gone{suffix}"
    monkeypatch.setattr(images.os, "stat", lambda *a, **k: stat_of)  # the stat succeeds, the file is gone by the read
    assert code(probe(path)) == "image.missing"
    (tmp_path / f"other{suffix}").rename(path)  # back, with the size and mtime the stat said
    assert probe(path) == ImageInfo(12, 8, "PNG" if suffix == ".png" else "JPEG")


def test_image_extensions():
    assert is_image_file("a/B.JPG") and is_image_file("x.webp")
    assert not is_image_file("metadata.jsonl") and not is_image_file("notes.txt")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path
