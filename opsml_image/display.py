"""Pixels as the browser receives them: the annotation canvas's background and the gallery's tiles.

The canvas background is decoded at reduced size where the format allows (JPEG ``draft``: 1/2, 1/4, 1/8),
so a 4000x3000 photo shown on an 800 px canvas is not decoded at full size; a zoomed view crops first.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from opsml_image.annotation import Box
from opsml_image.confine import open_regular
from opsml_image.images import ImageInfo, probe
from opsml_image.rules import Problem
from opsml_image.thumbnails import render_boxes, thumbnail, to_rgb

__all__ = ["blank_tile", "canvas_background", "preview", "tile"]

TILE_BACKGROUND = (240, 242, 246)


def canvas_background(
    path: str | Path, region: tuple[float, float, float, float], size: tuple[int, int], quality: int = 88
) -> bytes:
    """JPEG bytes of the image region ``(x, y, w, h)`` (image pixels) resized to exactly ``size``."""
    info = probe(path)
    if isinstance(info, Problem):
        raise ValueError(info.message)
    x, y, w, h = region
    width, height = size
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            # the scale the region needs; draft may pick a reduced JPEG decode at least that large
            need = (max(1, round(info.width * width / w)), max(1, round(info.height * height / h)))
            image.draft("RGB", need)
            factor = image.size[0] / info.width
            box = (x * factor, y * factor, (x + w) * factor, (y + h) * factor)
            shown = to_rgb(image).resize(size, Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    except (OSError, SyntaxError) as error:
        raise ValueError(f"{path} is corrupt or truncated: {error}") from error
    buffer = io.BytesIO()
    shown.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def preview(
    path: str | Path, boxes: Sequence[Box], names: Sequence[str], longest: int = 1024, quality: int = 88
) -> bytes:
    """JPEG bytes of the image with its boxes drawn and labelled, its longest side at most ``longest`` px
    (a JPEG is decoded at reduced size when that is enough). ``ValueError`` naming the file when it cannot."""
    info = probe(path)
    if isinstance(info, Problem):
        raise ValueError(info.message)
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            image.draft("RGB", (longest, longest))
            shown = to_rgb(image)
    except (OSError, SyntaxError) as error:
        raise ValueError(f"{path} is corrupt or truncated: {error}") from error
    shown.thumbnail((longest, longest), Image.Resampling.BILINEAR, reducing_gap=2.0)
    shown = render_boxes(shown, list(boxes), list(names), shown.width / info.width)
    buffer = io.BytesIO()
    shown.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def tile(
    path: str | Path,
    boxes: Sequence[Box],
    names: Sequence[str],
    frame: tuple[int, int],
    thumb_size: int = 256,
) -> bytes:
    """JPEG bytes of the image's thumbnail with its boxes drawn, letterboxed to ``frame`` so a gallery's
    rows line up whatever the image shapes."""
    with Image.open(thumbnail(Path(path), size=thumb_size)) as thumb:
        thumb.load()
        image = thumb.convert("RGB")
    if boxes:
        info = probe(path)
        width = info.width if isinstance(info, ImageInfo) else image.width
        image = render_boxes(image, list(boxes), list(names), image.width / width)
    image.thumbnail(frame)
    framed = Image.new("RGB", frame, TILE_BACKGROUND)
    framed.paste(image, ((frame[0] - image.width) // 2, (frame[1] - image.height) // 2))
    buffer = io.BytesIO()
    framed.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def blank_tile(frame: tuple[int, int]) -> bytes:
    """JPEG bytes of an empty tile (an image that cannot be shown; its reason is said beside it)."""
    buffer = io.BytesIO()
    Image.new("RGB", frame, TILE_BACKGROUND).save(buffer, format="JPEG")
    return buffer.getvalue()
