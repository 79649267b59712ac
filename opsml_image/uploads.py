"""Images uploaded in the browser: checked, renamed safely, written atomically into a split folder.

An upload is refused with a ``ValueError`` naming the file and the reason when it is too big
(``OPSML_IMAGE_MAX_UPLOAD_BYTES``, default 20 MB), not an image type, not decodable (corrupt or
truncated) or a decompression bomb (more than :func:`opsml_image.images.max_pixels` pixels). The file is
written to a hidden staging file with :func:`opsml_image.atomic.atomic_writer` and published with a
hard link, which never overwrites: an existing name gets a ``_1``, ``_2``... suffix instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
import uuid
import warnings
from io import BytesIO
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from opsml_image import config, images
from opsml_image.atomic import atomic_writer

__all__ = ["save_upload", "safe_name", "check_image_bytes", "max_upload_bytes"]

_UNSAFE = re.compile(r"[^\w.\- ]+")
_MAX_NAME = 150


def max_upload_bytes() -> int:
    """The largest upload accepted, in bytes (``OPSML_IMAGE_MAX_UPLOAD_BYTES``, default 20 MB)."""
    return config.settings().max_upload_bytes


def safe_name(name: str) -> str:
    """A plain file name from a browser upload: no folders, not hidden, safe characters, an image extension.

    Raises ``ValueError`` when nothing usable is left or the extension is not an image type.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    stem, ext = os.path.splitext(base)
    if not stem and ext:  # ".png" is a hidden file named png, not an extension
        stem, ext = ext, ""
    stem = _UNSAFE.sub("_", stem).strip(" .")
    stem = stem.lstrip(".-") or ""
    ext = ext.lower()
    if not images.is_image_file(f"x{ext}"):
        raise ValueError(f"{name!r} is not an image file type ({ext or 'no extension'}); allowed: "
                         f"{', '.join(sorted(images.IMAGE_EXTENSIONS))}")  # fmt: skip
    if not stem:
        raise ValueError(f"{name!r} has no usable file name")
    return stem[: _MAX_NAME - len(ext)] + ext


def check_image_bytes(name: str, data: bytes) -> images.ImageInfo:
    """Check that ``data`` is a whole image within the limits (else ``ValueError`` naming ``name``)."""
    limit = max_upload_bytes()
    if len(data) > limit:
        raise ValueError(f"{name}: {len(data):,} bytes is more than the {limit:,} allowed")
    if not data:
        raise ValueError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as image:
                width, height, fmt = image.width, image.height, image.format or "?"
                if width * height > images.max_pixels():
                    raise ValueError(images.too_many_pixels(name, width, height))
                image.load()  # decode every pixel: finds truncated and corrupt files
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not an image (unknown or unsupported format)") from None
    except Image.DecompressionBombError as error:
        raise ValueError(images.refused_bomb(name, error)) from None
    except (OSError, SyntaxError, EOFError) as error:
        raise ValueError(f"{name}: corrupt or truncated image: {error}") from None
    return images.ImageInfo(width, height, fmt)


def save_upload(dest_dir: Path, name: str, data: bytes) -> Path:
    """Check and write one uploaded image into ``dest_dir``; returns the path written (a unique name).

    Raises ``ValueError`` naming the file and the reason when the upload is refused; nothing is written then.
    """
    clean = safe_name(name)
    check_image_bytes(name, data)
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".upload-{uuid.uuid4().hex}{Path(clean).suffix}"
    with atomic_writer(staging) as handle:
        handle.write(data)
    try:
        stem, ext = os.path.splitext(clean)
        for n in range(10_000):
            target = folder / (clean if n == 0 else f"{stem}_{n}{ext}")
            try:
                os.link(staging, target)  # atomic and never overwrites an existing file
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system: rename (a tiny race on the name remains)
                if target.exists():
                    continue
                os.replace(staging, target)
            return target
        raise ValueError(f"{name}: too many files named like {clean} in {folder}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
