"""YOLO (Ultralytics, Roboflow) layout ⇄ dataset folder.

YOLO keeps one text file an image. Each line reads ``class cx cy w h``: the box centre and size normalised to
``[0, 1]`` by the image size. ``data.yaml`` names the classes (``names``, a list or ``{id: name}``) and the
image folders of the splits (``train``, ``val``, ``test``).

* Export writes the Ultralytics layout ``images/<split>/``, ``labels/<split>/`` and a ``data.yaml`` without a
  ``path`` key (Ultralytics then resolves the folders beside the yaml). Coordinates get 12 decimals, so a
  round trip is exact to far below 1e-4 px on a 4000 px image and no valid box becomes empty. Images whose
  stems collide (``same.jpg``, ``same.png`` would share ``same.txt``) are renamed (``same_png.png``) with a
  warning. YOLO cannot hold captions, image categories or per-box values: each loss is a warning.
* Import reads the Ultralytics layout and Roboflow's (``train/images`` and ``train/labels`` side by side,
  ``../train/images`` in ``data.yaml``). As in Ultralytics, an image's label file is its path with the last
  ``images`` folder replaced by ``labels`` and the suffix by ``.txt`` (else a ``.txt`` beside the image).
  A label file with no image, two images sharing a label file, or label files none of which match an image
  are errors, not silent drops.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.atomic import atomic_write_bytes
from opsml_image.categories import read_names
from opsml_image.dataset import ImageDataset
from opsml_image.formats.base import (
    OUTSIDE,
    Confinement,
    FormatError,
    Refusals,
    Report,
    find_inside,
    image_size,
    place_file,
    readable_annotations,
    staged_folder,
    write_folder,
)
from opsml_image.formats.exportable import refuse_links_out
from opsml_image.formats.format import Format, NoOptions, NotFound, files_found
from opsml_image.images import ImageInfo, is_image_file, probe
from opsml_image.rules import Problem

__all__ = ["encode", "decode", "export", "import_dataset", "label_path", "DIGITS", "find", "FORMAT"]

#: Decimals written for normalised coordinates (1e-12 of 4000 px is 4e-9 px).
DIGITS = 12
CONFIG_FILES = ("data.yaml", "data.yml", "dataset.yaml")
_TO_YOLO = {"train": "train", "validation": "val", "test": "test"}
_FROM_YOLO = {"train": "train", "val": "validation", "valid": "validation", "test": "test"}
#: How far past an image edge a normalised coordinate may reach and still be clamped (float slop).
_SLOP = 1e-9
_OUTSIDE = "box reaches outside the image (YOLO coordinates lie in 0..1)"


def _number(value: float) -> str:
    text = f"{value:.{DIGITS}f}".rstrip("0").rstrip(".")
    if text in ("0", "-0") and value != 0:
        return repr(value)
    return "0" if text == "-0" else text


def encode(
    annotation: ImageAnnotation,
    width: int,
    height: int,
    classes: int | None = None,
    refuse: Callable[[Box, str, str], None] | None = None,
) -> str:
    """The label file of a ``width`` × ``height`` image: a line ``class cx cy w h`` a box, normalised, with
    up to 12 decimals (trailing zeros dropped).

    A box that cannot be written (reaching outside the image, or a class not below ``classes``) raises a
    ValueError, or with ``refuse`` is left out and passed to it (the box, where it is, why).
    """
    lines = []
    for box in annotation.boxes:
        if classes is not None and box.category >= classes:
            where, reason = f"box {box.as_bbox()}", f"category {box.category} has no name"
        else:
            line = _line(box, width, height)
            if line is not None:
                lines.append(f"{line}\n")
                continue
            where, reason = f"box {box.as_bbox()} in {width}x{height}", _OUTSIDE
        if refuse is None:
            raise ValueError(f"{where}: {reason}")
        refuse(box, where, reason)
    return "".join(lines)


def _line(box: Box, width: int, height: int) -> str | None:
    """One label line, None when the box reaches outside the image."""
    x0, y0 = box.x / width, box.y / height
    x1, y1 = (box.x + box.w) / width, (box.y + box.h) / height
    if x0 < -_SLOP or y0 < -_SLOP or x1 > 1 + _SLOP or y1 > 1 + _SLOP:
        return None
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)
    values = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
    return " ".join([str(box.category), *map(_number, values)])


def decode(
    text: str,
    width: int,
    height: int,
    file_name: str = "",
    split: str = "train",
    *,
    classes: int | None = None,
    refuse: Callable[[int, str], None] | None = None,
) -> ImageAnnotation:
    """The annotation of a ``width`` × ``height`` image from its label file, boxes in pixels.

    A bad line (or a class not below ``classes``) raises a ValueError naming its line number, or with
    ``refuse`` is left out and passed to it (the line number, what is wrong).
    """
    annotation = ImageAnnotation(file_name=file_name, split=split)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            box = _box(line, width, height)
            if classes is not None and box.category >= classes:
                raise ValueError(f"class {box.category} is not in names (0..{classes - 1})")
        except ValueError as error:
            if refuse is None:
                raise ValueError(f"line {number}: {error}") from None
            refuse(number, str(error))
            continue
        annotation.boxes.append(box)
    return annotation


def _box(line: str, width: int, height: int) -> Box:
    """A box in pixels from one label line; a ValueError names what is wrong."""
    parts = line.split()
    if len(parts) != 5:
        if len(parts) > 6 and len(parts) % 2 == 1:
            raise ValueError(f"a segmentation polygon ({(len(parts) - 1) // 2} points), not a box")
        raise ValueError(f"expected 'class cx cy w h', got {line.strip()!r}")
    try:
        category = int(parts[0])
        cx, cy, w, h = (float(p) for p in parts[1:])
    except ValueError:
        raise ValueError(f"expected an integer class and 4 numbers, got {line.strip()!r}") from None
    if category < 0:
        raise ValueError(f"class {category} is negative")
    if not all(map(math.isfinite, (cx, cy, w, h))) or w <= 0 or h <= 0:
        raise ValueError(f"width and height must be finite numbers > 0, got {line.strip()!r}")
    x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if x0 < -1e-6 or y0 < -1e-6 or x1 > 1 + 1e-6 or y1 > 1 + 1e-6:
        raise ValueError(
            f"the box reaches outside the image (coordinates must lie in 0..1): {line.strip()!r}"
        )
    x0, y0, x1, y1 = max(0.0, x0) * width, max(0.0, y0) * height, min(1.0, x1) * width, min(1.0, y1) * height
    return Box(*_rounded(x0, y0, x1 - x0, y1 - y0), category=category)


def _rounded(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    """Round float noise away (6 decimals: 1e-6 px), unless that would empty a tiny box."""
    rw, rh = round(w, 6), round(h, 6)
    return round(x, 6), round(y, 6), (rw if rw > 0 else w), (rh if rh > 0 else h)


# ------------------------------------------------------------------------------------------------ export


def export(
    dataset: ImageDataset,
    dest: str | Path,
    options: NoOptions | None = None,
    *,
    split: str | None = None,
    skip_invalid: bool = False,
) -> Report:
    """Write the dataset (or one split) in the Ultralytics layout under the new folder ``dest``."""
    refusals = Refusals(dataset.image_dir, skip_invalid)
    names = _names(dataset)
    try:
        parts = [dataset.split(split)] if split is not None else list(dataset.splits.values())
    except KeyError as error:
        raise refusals.error(None, str(error.args[0])) from None
    refuse_links_out(dataset, split)
    target = Path(dest)
    report = Report(path=target)
    losses = _Losses()
    config: dict[str, Any] = {}
    with staged_folder(target) as staging:
        for part in parts:
            yolo_split = _TO_YOLO[part.name]
            config[yolo_split] = f"images/{yolo_split}"
            annotations = readable_annotations(part, refusals)
            renamed = _unique_labels(yolo_split, [a.file_name for a in annotations])
            for annotation in annotations:
                text = _label_text(annotation, part.directory / annotation.file_name, names, refusals)
                if text is None:
                    continue
                file_name = renamed.get(annotation.file_name, annotation.file_name)
                image = staging / "images" / yolo_split / file_name
                place_file(part.directory / annotation.file_name, image)
                label = label_path(image)
                label.parent.mkdir(parents=True, exist_ok=True)
                label.write_text(text)
                losses.add(annotation)
                report.images += 1
                report.boxes += text.count("\n")
            for old, new in renamed.items():
                refusals.warn(
                    f"{part.name}/{old} written as {new}: its label file would collide with another"
                )
        config["nc"] = len(names)
        config["names"] = dict(enumerate(names))
        data = yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode()
        atomic_write_bytes(staging / "data.yaml", data)
    report.skipped = refusals.skipped
    report.warnings = _names_warning(dataset, names) + refusals.warnings + losses.warnings()
    return report


def _names(dataset: ImageDataset) -> list[str]:
    names = read_names(dataset.image_dir)
    if isinstance(names, Problem):
        raise FormatError(dataset.image_dir / "categories.json", None, names.message)
    if not names:
        top = max((c for c in dataset.stats().category_counts), default=-1)
        return [str(i) for i in range(top + 1)]
    return names


def _names_warning(dataset: ImageDataset, names: list[str]) -> list[str]:
    if names and not (dataset.image_dir / "categories.json").exists():
        return ["no categories.json: classes are named by their ids"]
    return []


def _unique_labels(yolo_split: str, file_names: list[str]) -> dict[str, str]:
    """New names for images whose label files would collide (``same.png`` → ``same_png.png``).

    Label paths follow :func:`label_path` and are compared without case, as a case-insensitive disk would.
    """

    def key(name: str) -> str:
        return label_path(Path("images", yolo_split, name)).as_posix().casefold()

    taken = {key(n) for n in file_names}
    seen: set[str] = set()
    renamed: dict[str, str] = {}
    for name in file_names:
        if key(name) not in seen:
            seen.add(key(name))
            continue
        path = PurePosixPath(name)
        base = f"{path.with_suffix('')}_{path.suffix.lstrip('.')}"
        candidate, n = base + path.suffix, 1
        while key(candidate) in taken:
            n += 1
            candidate = f"{base}{n}{path.suffix}"
        taken.add(key(candidate))
        seen.add(key(candidate))
        renamed[name] = candidate
    return renamed


def _label_text(annotation: ImageAnnotation, path: Path, names: list[str], refusals: Refusals) -> str | None:
    """The image's label file, its unwritable boxes refused; None when the image itself is refused."""
    item = f"{annotation.split}/{annotation.file_name}"
    if annotation.dropped_boxes:
        refusals.refuse(f"{item} ({annotation.dropped_boxes} boxes)", "malformed box in metadata.jsonl")
    size = image_size(annotation, path)
    if isinstance(size, str):
        refusals.refuse(item, size)
        return None
    return encode(
        annotation, *size, len(names), lambda box, where, reason: refusals.refuse(f"{item} {where}", reason)
    )


@dataclass
class _Losses:
    """What YOLO has no place for, counted over the exported images."""

    captions: int = 0
    image_categories: int = 0
    box_keys: dict[str, None] = field(default_factory=dict)

    def add(self, annotation: ImageAnnotation) -> None:
        self.captions += bool(annotation.caption)
        self.image_categories += bool(annotation.categories)
        for box in annotation.boxes:
            self.box_keys.update(dict.fromkeys(box.extra))

    def warnings(self) -> list[str]:
        found = []
        if self.captions:
            found.append(f"{self.captions:,} captions not written: YOLO has no captions")
        if self.image_categories:
            found.append(f"{self.image_categories:,} images' image categories not written: YOLO has none")
        if self.box_keys:
            found.append(
                f"per-box values not written (YOLO keeps class and box only): {', '.join(self.box_keys)}"
            )
        return found


# ------------------------------------------------------------------------------------------------ import


def label_path(image: Path) -> Path:
    """The Ultralytics label file of an image: the last ``images`` folder → ``labels``, suffix → ``.txt``."""
    parts = image.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            return Path(*parts[:i], "labels", *parts[i + 1 :]).with_suffix(".txt")
    return image.with_suffix(".txt")


def import_dataset(
    source: str | Path, dest: str | Path, options: NoOptions | None = None, *, skip_invalid: bool = False
) -> Report:
    """Make a dataset folder at the new ``dest`` from a YOLO folder (or its ``data.yaml``)."""
    config_path = _config_path(Path(source))
    root = config_path.parent
    config = _read_config(config_path)
    names = _class_names(config, config_path)
    refusals = Refusals(config_path, skip_invalid)
    inside = Confinement(root)
    splits: dict[str, list[ImageAnnotation]] = {}
    files: dict[tuple[str, str], Path] = {}
    labels_used: set[Path] = set()
    for key, split in _FROM_YOLO.items():
        if config.get(key) is None:
            continue
        if split in splits:
            raise refusals.error(key, f"a second entry for split {split!r}")
        folders = _split_folders(config, key, inside, config_path)
        splits[split] = _read_split(split, folders, (names, inside), files, labels_used, refusals)
    if not splits:
        raise refusals.error(None, "names no split folders (train, val or test)")
    _check_some_matched(root, labels_used, refusals)
    if not names and any(a.boxes for found in splits.values() for a in found):
        raise refusals.error("names", "missing: data.yaml must name the classes")
    report = Report(path=Path(dest), skipped=refusals.skipped)
    write_folder(dest, splits, names, files)
    report.images = sum(len(found) for found in splits.values())
    report.boxes = sum(len(a.boxes) for found in splits.values() for a in found)
    return report


def _config_path(source: Path) -> Path:
    if source.is_file():
        return source
    inside, outside = Confinement(source), False
    for name in CONFIG_FILES:
        found, leads_out = find_inside(inside, [name])
        if found is not None:
            return source / name
        outside = outside or leads_out
    if outside:
        raise FormatError(source, None, f"data.yaml: {OUTSIDE}")
    raise FormatError(source, None, "no data.yaml (the YOLO file naming the classes and split folders)")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise FormatError(path, None, f"cannot read it: {error}") from None
    if not isinstance(config, dict):
        raise FormatError(path, None, "must be a YAML mapping with names and split folders")
    return config


def _class_names(config: dict[str, Any], path: Path) -> list[str]:
    names = config.get("names") or []
    if isinstance(names, dict):
        if not all(type(k) is int for k in names) or sorted(names) != list(range(len(names))):
            raise FormatError(path, "names", f"class ids must be 0..{len(names) - 1}, got {sorted(names)}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not all(isinstance(n, str | int) and str(n).strip() for n in names):
        raise FormatError(path, "names", "must be a list (or {id: name} mapping) of non-empty names")
    result = [str(n).strip() for n in names]
    if len(set(result)) != len(result):
        raise FormatError(path, "names", "lists a name twice")
    count = config.get("nc")
    if count is not None and count != len(result):
        raise FormatError(path, "nc", f"is {count} but names lists {len(result)} classes")
    return result


def _split_folders(config: dict[str, Any], key: str, inside: Confinement, path: Path) -> list[Path]:
    """The image folders of a split entry, resolved as Ultralytics does (``path`` key, ``../`` fallback).

    Only folders inside the YOLO folder are looked at: an entry that leads out gets the one answer "lies
    outside" whether or not anything is there; "not found" is for an entry that stays inside.
    """
    root = inside.root
    base = Path(str(config["path"])) if isinstance(config.get("path"), str) else Path()
    entries = config[key] if isinstance(config[key], list) else [config[key]]
    folders = []
    for entry in entries:
        if not isinstance(entry, str):
            raise FormatError(path, key, f"must be a folder path, got {entry!r}")
        candidates = [str(root.absolute() / base / entry), entry]
        if entry.startswith("../"):
            candidates += [str(root.absolute() / base / entry[3:]), entry[3:]]
        found, outside = find_inside(inside, candidates, folder=not entry.endswith(".txt"))
        if found is None and outside:
            raise FormatError(path, key, f"folder {entry!r} lies outside the YOLO folder {root}")
        if entry.endswith(".txt"):
            raise FormatError(path, key, f"{entry!r}: image list files are not read; name the image folder")
        if found is None:
            raise FormatError(path, key, f"folder {entry!r} not found (looked in {root / base})")
        folders.append(found)
    return folders


def _read_split(
    split: str,
    folders: list[Path],
    known: tuple[list[str], Confinement],
    files: dict[tuple[str, str], Path],
    labels_used: set[Path],
    refusals: Refusals,
) -> list[ImageAnnotation]:
    """The annotations of one split's images (``known``: the class names and the YOLO folder); the label
    files read are added to ``labels_used``. An image or label file leading outside the folder is refused."""
    names, inside = known
    annotations: list[ImageAnnotation] = []
    before = set(labels_used)
    label_dirs: set[Path] = set()
    owners: dict[Path, Path] = {}
    for folder in folders:
        for found in _images(folder):
            relative = found.relative_to(folder).as_posix()
            if (split, relative) in files:
                refusals.refuse(f"{split}/{relative}", "a second image with this name in the split")
                continue
            image = inside.locate(found)
            label, outside = _label_for(found, inside)
            if labels := inside.locate(_label_of(found, inside).parent):
                label_dirs.add(labels)
            if label is not None:
                label_dirs.add(label.parent)
            if outside is not None:
                labels_used.add(outside)  # refused with its image, not again as a label without one
            if image is None or outside is not None:
                refusals.refuse(f"{split}/{relative}", OUTSIDE)
                continue
            if label is not None and label in owners:
                refusals.refuse(f"{found} and {owners[label]}", f"both would use the label file {label.name}")
                continue
            annotation = _annotation(split, relative, image, label, names, refusals)
            if annotation is None:
                continue
            if label is not None:
                owners[label] = found
                labels_used.add(label)
            files[(split, relative)] = image
            annotations.append(annotation)
    _check_orphans(split, label_dirs, labels_used, labels_used - before, refusals)
    return annotations


def _label_of(image: Path, inside: Confinement) -> Path:
    """The Ultralytics label file of an image found in the YOLO folder, relative to the folder
    (:func:`label_path` of the image's path below it: an ``images`` folder above does not count)."""
    return label_path(Path(os.path.relpath(image, inside.real_root)))


def _label_for(image: Path, inside: Confinement) -> tuple[Path | None, Path | None]:
    """An image's label file (:func:`_label_of`, else a ``.txt`` beside it), None when it has none; and,
    having none, the one of the two that leads out of the YOLO folder (a link), if one does."""
    candidates = [
        _label_of(image, inside),
        Path(os.path.relpath(image, inside.real_root)).with_suffix(".txt"),
    ]
    label, outside = find_inside(inside, candidates)
    if label is not None or not outside:
        return label, None
    return None, next(Path(inside.real_root, c) for c in candidates if inside.locate(c) is None)


def _images(folder: Path) -> Iterator[Path]:
    """The files below ``folder`` named as images, sorted. Folders that are links are not entered; a link
    is listed by its name, whatever it leads to, and is never looked through here."""
    found: list[Path] = []
    pending = [folder]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif is_image_file(entry.name):
                found.append(Path(entry.path))
    return iter(sorted(found))


def _annotation(
    split: str, relative: str, image: Path, label: Path | None, names: list[str], refusals: Refusals
) -> ImageAnnotation | None:
    info = probe(image)
    if not isinstance(info, ImageInfo):
        refusals.refuse(f"{split}/{relative}", info.message)
        return None
    if label is None:
        return ImageAnnotation(file_name=relative, split=split)
    try:
        text = label.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        refusals.refuse(str(label), f"cannot read it: {error}")
        return None
    return decode(
        text,
        info.width,
        info.height,
        relative,
        split,
        classes=len(names) or None,
        refuse=lambda number, reason: refusals.refuse(f"{label}:{number}", reason),
    )


def _check_orphans(
    split: str, label_dirs: Iterable[Path], used: set[Path], used_here: set[Path], refusals: Refusals
) -> None:
    orphans = sorted(p for d in label_dirs if d.is_dir() for p in d.glob("*.txt") if p not in used)
    if orphans and not used_here:
        where = orphans[0].parent
        raise refusals.error(split, f"{len(orphans)} label files in {where} but none matched an image")
    for orphan in orphans:
        refusals.refuse(str(orphan), "no image for this label file")


def _check_some_matched(root: Path, labels_used: set[Path], refusals: Refusals) -> None:
    """Label files somewhere in the folder, yet no image got one: the layout was not understood."""
    if labels_used:
        return
    labels = [p for p in root.rglob("*.txt") if p.parent != root]
    if labels:
        raise refusals.error(
            None,
            f"{len(labels)} label files (e.g. {labels[0].relative_to(root)}) but none matched an image; "
            "labels belong in a 'labels' folder beside 'images', with the image's stem",
        )


# ------------------------------------------------------------------------------------------- registry


def find(root: Path) -> Path:
    """The ``data.yaml`` of an unpacked upload (the shallowest one)."""
    configs = [p for name in CONFIG_FILES for p in files_found(root, name)]
    if not configs:
        raise NotFound("No data.yaml in the zip (the YOLO file naming the classes and split folders).")
    return min(configs, key=lambda p: len(p.parts))


FORMAT = Format(
    key="yolo",
    label="YOLO (Ultralytics / Roboflow)",
    takes="A zip of the YOLO folder: data.yaml with the class names and split folders, images/ and "
    "labels/ (Ultralytics) or train/images and train/labels (Roboflow).",
    reads="A YOLO folder with data.yaml (Ultralytics or Roboflow).",
    writes="Write the Ultralytics YOLO layout: images/<split>, labels/<split>, data.yaml.",
    find=find,
    export=export,
    import_dataset=import_dataset,
    options=NoOptions,
)
