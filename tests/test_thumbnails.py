"""Thumbnails (cached on disk, bomb-safe) and boxes drawn over images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from conftest import write_image
from opsml_image.annotation import Box
from opsml_image.colors import category_color, rgb
from opsml_image.thumbnails import render_boxes, thumbnail, thumbnail_path


def test_thumbnail_is_made_once_and_cached(tmp_path: Path) -> None:
    src = write_image(tmp_path / "big.jpg", size=(1200, 600))
    cache = tmp_path / "thumbs"
    first = thumbnail(src, size=256, cache_dir=cache)
    assert first.is_relative_to(cache) and first.suffix == ".jpg"
    with Image.open(first) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (256, 128)
    stamp = first.stat().st_mtime_ns
    assert thumbnail(src, size=256, cache_dir=cache) == first and first.stat().st_mtime_ns == stamp
    assert thumbnail(src, size=64, cache_dir=cache) != first  # the size is part of the key


def test_changed_image_gets_a_new_thumbnail(tmp_path: Path) -> None:
    src = write_image(tmp_path / "a.png", size=(100, 80), color=(255, 0, 0))
    first = thumbnail(src, cache_dir=tmp_path / "t")
    write_image(src, size=(100, 80), color=(0, 0, 255))
    os.utime(src, ns=(1, 1))
    second = thumbnail(src, cache_dir=tmp_path / "t")
    assert second != first
    with Image.open(second) as thumb:
        r, g, b = thumb.convert("RGB").getpixel((10, 10))
        assert b > 200 and r < 50
        assert thumb.size == (100, 80)  # never enlarged


def test_default_cache_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    src = write_image(tmp_path / "a.png")
    assert thumbnail(src).is_relative_to(tmp_path / "home" / "thumbs")
    assert thumbnail_path(src) == thumbnail(src)


def test_transparent_and_grey_images(tmp_path: Path) -> None:
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(rgba)
    grey = tmp_path / "grey.png"
    Image.new("L", (40, 40), 128).save(grey)
    with Image.open(thumbnail(rgba, cache_dir=tmp_path / "t")) as thumb:
        assert thumb.mode == "RGB" and min(thumb.getpixel((5, 5))) > 240  # transparent becomes white
    with Image.open(thumbnail(grey, cache_dir=tmp_path / "t")) as thumb:
        assert thumb.mode == "RGB"


def test_bad_images_raise_value_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="missing.png"):
        thumbnail(tmp_path / "missing.png", cache_dir=tmp_path / "t")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="junk.jpg"):
        thumbnail(junk, cache_dir=tmp_path / "t")
    src = write_image(tmp_path / "cut.png", size=(300, 300))
    src.write_bytes(src.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.png"):
        thumbnail(src, cache_dir=tmp_path / "t")
    bomb = write_image(tmp_path / "bomb.png", size=(200, 200))
    monkeypatch.setenv("OPSML_IMAGE_MAX_PIXELS", "10000")
    with pytest.raises(ValueError, match="decompression bomb"):
        thumbnail(bomb, cache_dir=tmp_path / "t")
    assert not list((tmp_path / "t").rglob("*.jpg"))


def test_render_boxes_draws_category_colours(tmp_path: Path) -> None:
    base = Image.new("RGB", (200, 100), (255, 255, 255))
    boxes = [Box(10, 30, 50, 40, 0), Box(100, 20, 80, 60, 2)]
    drawn = render_boxes(base, boxes, ["car", "house", "tree"])
    assert drawn is not base and base.getpixel((10, 50)) == (255, 255, 255)
    assert drawn.getpixel((10, 50)) == rgb(category_color(0))  # left edge of box 0
    assert drawn.getpixel((179, 50)) == rgb(category_color(2))  # right edge of box 1
    assert drawn.getpixel((30, 50)) == (255, 255, 255)  # inside stays clear
    assert drawn.getpixel((12, 25)) == rgb(category_color(0))  # label background above the box


def test_render_boxes_scales_to_a_thumbnail() -> None:
    small = Image.new("RGB", (100, 50), (255, 255, 255))
    drawn = render_boxes(small, [Box(100, 40, 60, 40, 7)], [], scale=0.5, labels=False)
    assert drawn.getpixel((50, 30)) == rgb(category_color(7))
    assert drawn.getpixel((49, 30)) == (255, 255, 255)
