"""Hand-made images for the quality tests: textured scenes (random ellipses on a background), their
re-encoded, resized and cropped copies, and a dataset folder with duplicates planted across splits."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = (320, 240)


def scene(
    seed: int, size: tuple[int, int] = SIZE, moved: int | None = None, patch: bool = False
) -> Image.Image:
    """A scene of 12 ellipses; ``moved``: that ellipse shifted by half the width; ``patch``: a white
    rectangle added in the middle (a distinct but similar image)."""
    r = random.Random(seed)
    image = Image.new("RGB", size, tuple(r.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for k in range(12):
        x0, y0 = r.randrange(size[0]), r.randrange(size[1])
        w, h = r.randrange(20, 120), r.randrange(20, 120)
        color = tuple(r.randrange(256) for _ in range(3))
        if k == moved:
            x0 = (x0 + size[0] // 2) % size[0]
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=color)
    if patch:
        x, y = size[0] // 3, size[1] // 3
        draw.rectangle((x, y, x + 80, y + 60), fill=(255, 255, 255))
    return image


def reencoded(image: Image.Image, quality: int = 60) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def resized(image: Image.Image, factor: float = 0.5) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)))


def cropped(image: Image.Image, fraction: float = 0.02) -> Image.Image:
    dx, dy = round(image.width * fraction), round(image.height * fraction)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def save(image: Image.Image, path: Path, old: bool = True) -> Path:
    """Write ``image`` (format from the extension); ``old``: dated an hour back, so the signature cache
    keeps it (a file modified just now is hashed again next time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    if old:
        past = path.stat().st_mtime - 3600
        os.utime(path, (past, past))
    return path


def copy(source: Path, path: Path) -> Path:
    """The very bytes of ``source`` at ``path``, dated an hour back."""
    path.write_bytes(source.read_bytes())
    past = path.stat().st_mtime - 3600
    os.utime(path, (past, past))
    return path


def write_metadata(folder: Path, records: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


BOX = {"bbox": [[10.0, 10.0, 100.0, 80.0]], "categories": [0]}


def planted(root: Path) -> Path:
    """A dataset with splits: train holds scenes 0-5; validation a re-encoded JPEG of scene 0, a
    resized copy of scene 1 and scene 6; test a 2%-cropped copy of scene 2, the very bytes of scene 3 and
    scene 7; train also holds a second copy of scene 4's bytes. Every image has one box of class 0."""
    train = [save(scene(i), root / "train" / f"scene_{i}.png") for i in range(6)]
    copy(train[4], root / "train" / "scene_4_copy.png")
    save(reencoded(scene(0)), root / "validation" / "from_0.jpg")
    save(resized(scene(1)), root / "validation" / "from_1.png")
    save(scene(6), root / "validation" / "scene_6.png")
    save(cropped(scene(2)), root / "test" / "from_2.png")
    copy(train[3], root / "test" / "from_3.png")
    save(scene(7), root / "test" / "scene_7.png")
    for split in ("train", "validation", "test"):
        names = sorted(p.name for p in (root / split).iterdir() if p.suffix in (".png", ".jpg"))
        write_metadata(root / split, [{"file_name": name, "objects": BOX} for name in names])
    (root / "categories.json").write_text(json.dumps(["car", "tree"]))
    return root
