"""Thumbnails for the gallery (made once, cached on disk) and boxes drawn over an image.

A thumbnail is keyed by the image's resolved path, the requested size, its ``mtime_ns`` and its size in
bytes, so an edited image gets a new thumbnail and an unchanged one is never decoded twice. The header
is checked with :func:`opsml_image.images.probe` first (missing, corrupt and bomb images raise
``ValueError`` before any decoding), and JPEGs are decoded at reduced scale with ``Image.draft``.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from opsml_image import config
from opsml_image.annotation import Box
from opsml_image.atomic import atomic_writer
from opsml_image.colors import category_color, text_color
from opsml_image.images import ImageInfo, probe

__all__ = ["thumbnail", "thumbnail_path", "render_boxes", "to_rgb"]

_QUALITY = 85


def thumbnail_path(image_path: str | Path, size: int = 256, cache_dir: Path | None = None) -> Path:
    """Where the thumbnail of ``image_path`` at ``size`` is cached (whether or not it exists yet)."""
    path = Path(image_path).resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{size}\0{stat.st_mtime_ns}\0{stat.st_size}".encode()).hexdigest()[:32]
    root = Path(cache_dir) if cache_dir is not None else config.home() / "thumbs"
    return root / key[:2] / f"{key}.jpg"


def thumbnail(image_path: str | Path, size: int = 256, cache_dir: Path | None = None) -> Path:
    """The path of a JPEG thumbnail (longest side ``size`` px, never enlarged), generated on first use.

    Raises ``ValueError`` naming the file when it is missing, not an image, corrupt or a decompression bomb.
    Cache: ``cache_dir`` or ``<home>/thumbs/``; files are written atomically, so concurrent callers are safe.
    """
    if size < 1:
        raise ValueError(f"thumbnail size must be >= 1, got {size}")
    info = probe(image_path)
    if not isinstance(info, ImageInfo):
        raise ValueError(info.message)
    out = thumbnail_path(image_path, size, cache_dir)
    if out.exists():
        return out
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(image_path) as image:
                if image.format == "JPEG":
                    image.draft("RGB", (size, size))  # decode at 1/2, 1/4 or 1/8 scale: much faster
                image.thumbnail((size, size), Image.Resampling.LANCZOS)
                small = to_rgb(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{image_path} is corrupt or truncated: {error}") from error
    with atomic_writer(out) as handle:
        small.save(handle, format="JPEG", quality=_QUALITY, optimize=True)
    return out


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as RGB; transparency is composed over white, palette and grey images are converted."""
    if image.mode == "RGB":
        return image.copy()
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.point(lambda v: v / 256).convert("RGB")
    return image.convert("RGB")


def render_boxes(
    image: Image.Image,
    boxes: Sequence[Box],
    names: Sequence[str] = (),
    scale: float = 1.0,
    *,
    labels: bool = True,
) -> Image.Image:
    """A copy of ``image`` (as RGB) with ``boxes`` drawn in per-category colours, labelled with their names.

    ``boxes`` are in original image pixels; ``scale`` maps them onto ``image`` (e.g. thumbnail width /
    original width). ``names[id]`` labels a box (its id when the name is unknown).
    """
    canvas = to_rgb(image)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(min(canvas.size) / 150))
    font = _font(max(10, min(18, round(min(canvas.size) / 22))))
    for box in boxes:
        color = category_color(box.category)
        x0, y0 = box.x * scale, box.y * scale
        x1, y1 = (box.x + box.w) * scale, (box.y + box.h) * scale
        # Pillow's rectangle includes its end pixel; a box [x, x + w) covers pixels x .. x + w - 1
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=color, width=width)
        if labels:
            label = names[box.category] if 0 <= box.category < len(names) else str(box.category)
            left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
            w, h = right - left + 6, bottom - top + 4
            ty = y0 - h if y0 - h >= 0 else y0  # above the box, or inside when at the top edge
            tx = min(max(0.0, x0), max(0.0, canvas.width - w))
            draw.rectangle((tx, ty, tx + w, ty + h), fill=color)
            draw.text((tx + 3 - left, ty + 2 - top), label, fill=text_color(color), font=font)
    return canvas


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow built without FreeType
        return ImageFont.load_default()
