"""Image files: which files are images, and their size read from the header (cached, bomb-safe).

Only regular files are opened: a FIFO, socket, device or folder named as an image is ``file.special``.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from opsml_image import config
from opsml_image.confine import SpecialFileError, open_regular, special_problem
from opsml_image.rules import Problem

__all__ = [
    "IMAGE_EXTENSIONS",
    "max_pixels",
    "ImageInfo",
    "is_image_file",
    "open_image",
    "probe",
    "refused_bomb",
    "too_many_pixels",
]

#: Extensions Hugging Face ``imagefolder`` treats as images (lower case).
IMAGE_EXTENSIONS = frozenset(
    [
        ".bmp",
        ".gif",
        ".ico",
        ".jpeg",
        ".jpg",
        ".png",
        ".tif",
        ".tiff",
        ".webp",
        ".avif",
        ".jp2",
        ".j2k",
        ".pbm",
        ".pgm",
        ".ppm",
        ".pnm",
        ".tga",
        ".jfif",
    ]
)


def max_pixels() -> int:
    """The most pixels an image may declare (``OPSML_IMAGE_MAX_PIXELS``); more is a decompression bomb."""
    return config.settings().max_pixels


def __getattr__(name: str) -> int:
    """``MAX_PIXELS``, the former constant, read when used: prefer :func:`max_pixels`."""
    if name == "MAX_PIXELS":
        return max_pixels()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header of an image file says."""

    width: int
    height: int
    format: str


def is_image_file(name: str | Path) -> bool:
    """True when the name ends in an image extension."""
    return os.path.splitext(str(name))[1].lower() in IMAGE_EXTENSIONS


def too_many_pixels(subject: str | Path, width: int, height: int) -> str:
    """Why an image over :func:`max_pixels` is refused, naming ``subject``."""
    return _over_limit(subject, f"{width}x{height} = {width * height:,}")


def refused_bomb(subject: str | Path, error: Image.DecompressionBombError) -> str:
    """Pillow's own bomb refusal (it stops before the size is known) told with our limit when it applies."""
    match = re.search(r"\((\d+) pixels\)", str(error))
    if match and int(match.group(1)) > max_pixels():
        return _over_limit(subject, f"{int(match.group(1)):,}")
    return f"{subject} is refused by Pillow as a possible decompression bomb: {error}"


def _over_limit(subject: str | Path, pixels: str) -> str:
    """The one wording of a refusal over :func:`max_pixels` (``pixels`` as the image declares them)."""
    return (
        f"{subject} declares {pixels} pixels, more than the {max_pixels():,} allowed "
        "(possible decompression bomb)"
    )


def probe(path: str | Path) -> ImageInfo | Problem:
    """Read an image's size from its header and check the file is complete; a Problem when it is not.

    The result is cached per (path, size, modification time, pixel limit), so an unchanged file is read once.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Problem("image.missing", "file_name", f"image not found: {path}")
    except OSError as error:
        return Problem("image.unreadable", "file_name", f"cannot read {path}: {error.strerror}")
    special = special_problem(path, st.st_mode)
    if special:
        return special
    try:
        return _probe(str(path), st.st_size, st.st_mtime_ns, max_pixels())
    except FileNotFoundError:  # removed between the stat and the read: not cached, a later call looks again
        return Problem("image.missing", "file_name", f"image not found: {path}")


@lru_cache(maxsize=262_144)
def _probe(path: str, size: int, mtime_ns: int, limit: int) -> ImageInfo | Problem:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with open_regular(path) as handle, Image.open(handle) as image:
                width, height, fmt = image.width, image.height, image.format or "?"
                if width * height > limit:
                    return Problem("image.too_large", "file_name", too_many_pixels(path, width, height))
                if fmt == "PNG":
                    image.verify()  # walks every chunk and its CRC: finds truncation without decoding
    except FileNotFoundError:
        raise
    except SpecialFileError as error:  # swapped for a FIFO or device since the stat
        return Problem("file.special", "file_name", str(error))
    except Image.DecompressionBombError as error:
        return Problem("image.too_large", "file_name", refused_bomb(path, error))
    except UnidentifiedImageError as error:
        return Problem("image.unreadable", "file_name", f"{path} is not a readable image: {error}")
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return Problem("image.unreadable", "file_name", f"{path} is corrupt or truncated: {error}")
    if fmt == "JPEG" and not _jpeg_is_complete(path, size):
        return Problem(
            "image.unreadable", "file_name", f"{path} is a truncated JPEG (no end-of-image marker)"
        )
    return ImageInfo(width, height, fmt)


def _jpeg_is_complete(path: str, size: int) -> bool:
    """A complete JPEG ends with the EOI marker FFD9 (some writers pad a few bytes after it)."""
    with open_regular(path) as handle:
        handle.seek(max(0, size - 64))
        return b"\xff\xd9" in handle.read()


def open_image(path: str | Path) -> Image.Image:
    """Open and decode an image fully, refusing bombs and corrupt files with a ValueError naming the file."""
    info = probe(path)
    if isinstance(info, Problem):
        raise ValueError(info.message)
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            image.load()
            return image.copy() if image.mode in ("RGB", "RGBA", "L") else image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{path} is corrupt or truncated: {error}") from error
