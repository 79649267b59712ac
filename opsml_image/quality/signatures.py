"""What the quality check keeps of an image file: its content hash, its perceptual hash and its size.

Both hashes come from one read of the file. The content hash is the registry's (xxh3-128 of the bytes, as
:func:`opsml_image.registry.hashing.hash_bytes`; computed here with ``xxhash`` itself, so the registry may
call this package): "the same bytes" means here what it means to a card's manifest. The perceptual hash is
the 64-bit DCT hash of ``imagehash.phash``: re-encoding, resizing or a slight crop moves it by a few bits,
while different images are some 20 or more bits apart. JPEGs are decoded at reduced size first
(``Image.draft``), which the 32x32 hash input does not notice.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xxhash
from PIL import Image, UnidentifiedImageError

from opsml_image.confine import SpecialFileError, open_regular
from opsml_image.images import MAX_PIXELS, refused_bomb, too_many_pixels

__all__ = ["Signature", "Unreadable", "signature", "perceptual_hash"]

#: The decoded size a JPEG is reduced to at most before hashing (imagehash resizes it to 32x32).
_DRAFT = (128, 128)


@dataclass(frozen=True, slots=True)
class Signature:
    """An image file's content hash (hex), 64-bit perceptual hash (0 to 2**64 - 1) and size in pixels."""

    content: str
    phash: int
    width: int
    height: int


class Unreadable(ValueError):
    """The file is missing, not a regular file, not an image, corrupt, or a decompression bomb."""


def signature(path: str | Path) -> Signature:
    """The signature of the image at ``path`` (one read); :class:`Unreadable` saying why when it has none."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Unreadable(f"image not found: {path}") from None
    except (SpecialFileError, OSError) as error:
        raise Unreadable(f"cannot read {path}: {error}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise Unreadable(too_many_pixels(path, width, height))
                phash = perceptual_hash(image)
    except Image.DecompressionBombError as error:
        raise Unreadable(refused_bomb(path, error)) from None
    except UnidentifiedImageError as error:
        raise Unreadable(f"{path} is not a readable image: {error}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        if isinstance(error, Unreadable):
            raise
        raise Unreadable(f"{path} is corrupt or truncated: {error}") from None
    return Signature(xxhash.xxh3_128_hexdigest(data), phash, width, height)


def perceptual_hash(image: Image.Image) -> int:
    """The 64-bit perceptual hash of an image as an int (its bits in row order, the first the highest)."""
    import imagehash  # loaded with scipy on first use: the app's pages never pay for it otherwise

    if image.format == "JPEG":
        image.draft("L", _DRAFT)  # the luma only: the hash reads grey levels
    bits = imagehash.phash(image).hash.ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")
