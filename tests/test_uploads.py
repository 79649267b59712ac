"""Uploaded images: limits, refusals naming the file, safe names, unique atomic writes."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from opsml_image.uploads import safe_name, save_upload


def png(
    size: tuple[int, int] = (20, 10), color: tuple[int, int, int] = (10, 200, 30), fmt: str = "PNG"
) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def test_saves_a_valid_image(tmp_path: Path) -> None:
    data = png()
    path = save_upload(tmp_path / "train", "photo.png", data)
    assert path == tmp_path / "train" / "photo.png" and path.read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["photo.png"]  # no staging file left


def test_existing_name_gets_a_unique_suffix(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "a.jpg", png(fmt="JPEG"))
    second = save_upload(tmp_path, "a.jpg", png(color=(1, 2, 3), fmt="JPEG"))
    third = save_upload(tmp_path, "a.jpg", png(fmt="JPEG"))
    assert [first.name, second.name, third.name] == ["a.jpg", "a_1.jpg", "a_2.jpg"]
    assert first.read_bytes() != second.read_bytes()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/evil.png", "evil.png"),
        ("C:\\Users\\me\\Pictures\\cat.JPG", "cat.jpg"),
        (".hidden.png", "hidden.png"),
        ("..png.png", "png.png"),
        ("my photo (1).webp", "my photo _1_.webp"),
        ("tab\tand\nnewline.png", "tabandnewline.png"),
        ("café.png", "café.png"),
        ("x" * 300 + ".png", "x" * 146 + ".png"),
    ],
)
def test_safe_name(given: str, expected: str) -> None:
    assert safe_name(given) == expected


@pytest.mark.parametrize("name", ["notes.txt", "archive", ".png", "../", "....png"])
def test_unusable_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="file"):
        safe_name(name)


def test_refusals_name_the_file_and_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"fake\.png.*not an image"):
        save_upload(tmp_path, "fake.png", b"hello, I am text")
    with pytest.raises(ValueError, match=r"cut\.png.*corrupt or truncated"):
        save_upload(tmp_path, "cut.png", png((300, 300))[:300])
    with pytest.raises(ValueError, match=r"empty\.png.*empty"):
        save_upload(tmp_path, "empty.png", b"")
    with pytest.raises(ValueError, match=r"notes\.txt"):
        save_upload(tmp_path, "notes.txt", png())
    monkeypatch.setenv("OPSML_IMAGE_MAX_UPLOAD_BYTES", "50")
    with pytest.raises(ValueError, match=r"big\.png.*more than the 50 allowed"):
        save_upload(tmp_path, "big.png", png())
    monkeypatch.delenv("OPSML_IMAGE_MAX_UPLOAD_BYTES")
    monkeypatch.setenv("OPSML_IMAGE_MAX_PIXELS", "1000")
    with pytest.raises(ValueError, match=r"bomb\.png.*decompression bomb"):
        save_upload(tmp_path, "bomb.png", png((100, 100)))
    assert list(tmp_path.iterdir()) == []
