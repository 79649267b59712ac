"""Hugging Face ``datasets`` ⇄ ``ImageDataset`` folder (``datasets`` is an optional dependency).

A dataset folder is already what ``load_dataset("imagefolder", data_dir=...)`` loads
(:func:`opsml_image.registry.loaders.to_hf_dataset` adds the class names). :func:`export` writes the
same rows with ``save_to_disk`` (images embedded, ``objects.categories`` and ``categories`` as named
``ClassLabel``, a ``file_name`` column), for ``datasets.load_from_disk``.

:func:`import_dataset` takes a ``Dataset``, a ``DatasetDict`` (split names as in Hugging Face) or a
``save_to_disk`` folder with an ``image`` column and an optional ``objects`` column; :func:`decode` reads one
row and :func:`encode` writes one. Objects may be a dict of lists or a list of dicts holding ``bbox`` and
``category`` or ``categories`` (ids under a ``ClassLabel``, ids without names, or names); their other keys go
to ``Box.extra``. :class:`HfOptions` ``bbox_format`` says how boxes read:
``xywh`` (COCO, the default), ``xyxy`` (Pascal corners) or ``cxcywh`` (centre and size), all in pixels.
Images are written as files without re-encoding, named by the ``file_name`` column, else the image's own
path, else ``<row>.<format>`` (a clash gets a ``<row>_`` prefix). A ``caption`` column is the caption; other
columns whose values are JSON become record fields, the rest are counted in the warnings.

From a folder, an image stored as a path (no bytes) is read only inside the folder, relative to it: a path
leading out (absolute elsewhere, ``..``, a link), like a JSON file of the folder naming a file outside it,
is refused with the one reason of every format, whatever is there. A ``Dataset`` object's paths are the
caller's own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.confine import open_regular
from opsml_image.dataset import ImageDataset
from opsml_image.formats.base import (
    OUTSIDE,
    Confinement,
    FormatError,
    Refusals,
    Report,
    reference_problem,
    staged_folder,
    write_folder,
)
from opsml_image.formats.exportable import category_names, export_images, split_name, uniform_box_fields
from opsml_image.formats.format import Format, NotFound, files_found, option
from opsml_image.images import IMAGE_EXTENSIONS, ImageInfo, probe
from opsml_image.rules import box_outside_problem, is_finite

__all__ = [
    "BBOX_FORMATS",
    "HfOptions",
    "to_xywh",
    "encode",
    "decode",
    "import_dataset",
    "export",
    "find",
    "FORMAT",
]

BBOX_FORMATS = ("xywh", "xyxy", "cxcywh")
SAVED_MARKS = ("dataset_dict.json", "state.json")
_TAKEN = frozenset(("image", "objects", "caption", "categories", "file_name"))


@dataclass(frozen=True)
class HfOptions:
    """How ``objects.bbox`` reads on import."""

    bbox_format: Literal["xywh", "xyxy", "cxcywh"] = option(
        "xywh",
        "How objects.bbox reads: xywh, xyxy or cxcywh.",
        side="import",
        label="Boxes in objects.bbox",
        choices={
            "xywh": "x, y, width, height (COCO)",
            "xyxy": "x0, y0, x1, y1 (corners)",
            "cxcywh": "centre x, centre y, width, height",
        },
    )

    def __post_init__(self) -> None:
        if self.bbox_format not in BBOX_FORMATS:
            choices = ", ".join(BBOX_FORMATS)
            raise ValueError(f"bbox_format must be one of {choices}, got {self.bbox_format!r}")


def to_xywh(bbox: Any, bbox_format: str = "xywh") -> tuple[float, float, float, float]:
    """``[x, y, w, h]`` from a box in ``bbox_format``; a ValueError says what is wrong with it."""
    if not isinstance(bbox, list | tuple) or len(bbox) != 4:
        raise ValueError(f"a box must be 4 numbers, got {bbox!r}")
    if not all(type(v) in (int, float) and is_finite(v) for v in bbox):
        raise ValueError(f"a box must be 4 finite numbers, got {bbox!r}")
    a, b, c, d = (float(v) for v in bbox)
    if bbox_format == "xyxy":
        x, y, w, h = a, b, c - a, d - b
    elif bbox_format == "cxcywh":
        x, y, w, h = a - c / 2, b - d / 2, c, d
    else:
        x, y, w, h = a, b, c, d
    if w <= 0 or h <= 0:
        raise ValueError(f"empty or reversed box {list(bbox)} ({bbox_format})")
    return x, y, w, h


# --------------------------------------------------------------------------------------------- import


def import_dataset(
    source: Any, dest: str | Path, options: HfOptions | None = None, *, skip_invalid: bool = False
) -> Report:
    """Make a dataset folder at ``dest`` from a ``Dataset``, ``DatasetDict`` or ``save_to_disk`` folder."""
    datasets = _datasets()
    bbox_format = (options or HfOptions()).bbox_format
    label = str(source) if isinstance(source, str | Path) else type(source).__name__
    inside = None
    if isinstance(source, str | Path):
        inside = Confinement(source)
        _check_saved(label, inside)
        try:
            source = datasets.load_from_disk(str(source))
        except (FileNotFoundError, ValueError) as error:
            raise FormatError(label, None, f"not a saved Hugging Face dataset: {error}") from None
    parts = _splits(label, source, datasets)
    names = _class_names(label, parts, datasets)
    by_name: dict[str, int] = {}
    if names is None:
        by_name = {name: i for i, name in enumerate(_string_names(parts))}
        names = list(by_name) or None
    target = Path(dest)
    refusals = Refusals(label, skip_invalid)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.images.", dir=target.parent))
    splits: dict[str, list[ImageAnnotation]] = {}
    images: dict[tuple[str, str], Path] = {}
    lost: set[str] = set()
    try:
        for split, part in parts.items():
            used: set[str] = set()
            with _quiet_progress(datasets):
                rows = part.cast_column("image", datasets.Image(decode=False))
            for index, row in enumerate(rows):
                try:
                    place = (split, scratch, used, inside)
                    annotation, path = _row(row, index, place, bbox_format, (names, by_name), lost)
                except ValueError as error:
                    refusals.refuse(f"{split}[{index}]", str(error))
                    continue
                used.add(annotation.file_name)
                splits.setdefault(split, []).append(annotation)
                images[(split, annotation.file_name)] = path
        if not splits:
            raise FormatError(
                label, None, "no row could be imported" + (" (all skipped)" if refusals.skipped else "")
            )
        texts = uniform_box_fields(a for v in splits.values() for a in v)
        write_folder(target, splits, names or [], images)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = Report(path=target, skipped=refusals.skipped)
    report.images = len(images)
    report.boxes = sum(len(a.boxes) for v in splits.values() for a in v)
    report.warnings = [f"left out column {c!r} (not JSON values)" for c in sorted(lost)]
    report.warnings += [
        f"objects field {key!r} is null on some boxes or mixes types: kept as text" for key in texts
    ]
    if not names:
        report.warnings.append(
            "no class names (no ClassLabel, no string categories): categories.json not written"
        )
    return report


def _check_saved(label: str, inside: Confinement) -> None:
    """Refuse a ``save_to_disk`` folder whose JSON files name files or folders outside it (split folders in
    ``dataset_dict.json``, ``_data_files`` in ``state.json``): ``load_from_disk`` would read them."""
    folders = [""]
    marks = _saved_json(label, inside, "dataset_dict.json")
    splits = marks.get("splits") if isinstance(marks, dict) else None
    if isinstance(splits, list):
        folders += [s for s in splits if isinstance(s, str)]
    for folder in folders:
        if inside.locate(folder) is None:
            raise FormatError(label, f"split {folder!r}", OUTSIDE)
        _saved_json(label, inside, f"{folder}/dataset_info.json")
        state = _saved_json(label, inside, f"{folder}/state.json")
        files = state.get("_data_files") if isinstance(state, dict) else None
        for entry in files if isinstance(files, list) else []:
            name = entry.get("filename") if isinstance(entry, dict) else None
            if isinstance(name, str) and inside.locate(name, inside.root / folder) is None:
                raise FormatError(label, f"{folder}/state.json".lstrip("/"), OUTSIDE)


def _saved_json(label: str, inside: Confinement, relative: str) -> Any:
    """A JSON file of a saved dataset (None when it is missing or unreadable: ``datasets`` then says so)."""
    path = inside.locate(relative.lstrip("/"))
    if path is None:
        raise FormatError(label, relative.lstrip("/"), OUTSIDE)
    try:
        with open_regular(path) as handle:
            return json.loads(handle.read())
    except (OSError, ValueError):
        return None


def _datasets() -> Any:
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - a dev dependency here
        raise ImportError("Hugging Face import and export need the 'datasets' package") from error
    return datasets


def _splits(label: str, source: Any, datasets: Any) -> dict[str, Any]:
    if isinstance(source, datasets.DatasetDict):
        found = dict(source.items())
    elif isinstance(source, datasets.Dataset):
        found = {str(source.split) if source.split is not None else "train": source}
    else:
        raise FormatError(label, None, "expected a datasets.Dataset or DatasetDict")
    parts: dict[str, Any] = {}
    for name, part in found.items():
        ours = split_name(name)
        if ours is None:
            raise FormatError(label, f"split {name!r}", "is not train, validation or test")
        if ours in parts:
            raise FormatError(label, f"split {name!r}", f"is a second {ours} split")
        if "image" not in part.column_names or not isinstance(part.features["image"], datasets.Image):
            raise FormatError(label, f"split {name!r}", "needs an 'image' column of the Image feature")
        parts[ours] = part
    return dict(sorted(parts.items(), key=lambda item: ["train", "validation", "test"].index(item[0])))


def _class_names(label: str, parts: Mapping[str, Any], datasets: Any) -> list[str] | None:
    """The ClassLabel names of the object categories (or image categories); all splits must agree."""
    found: list[str] | None = None
    for split, part in parts.items():
        for column in ("objects", "categories"):
            if column not in part.features:
                continue
            names = _find_class_label(part.features[column], datasets)
            if names is None:
                continue
            if found is not None and names != found:
                raise FormatError(label, f"split {split!r} column {column!r}", "has other class names")
            found = names
    return found


def _find_class_label(feature: Any, datasets: Any) -> list[str] | None:
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    if isinstance(feature, dict):
        for key in ("category", "categories"):
            if key in feature:
                return _find_class_label(feature[key], datasets)
        return None
    inner = getattr(feature, "feature", None)
    return _find_class_label(inner, datasets) if inner is not None else None


def _string_names(parts: Mapping[str, Any]) -> list[str]:
    """String categories (objects' and the image's) in order of first appearance, read without the images."""
    names: dict[str, None] = {}
    for part in parts.values():
        columns = [c for c in ("objects", "categories") if c in part.column_names]
        for row in part.select_columns(columns):
            values = list(row.get("categories") or [])
            with contextlib.suppress(ValueError):  # a malformed row is refused when it is read
                values += [category for _, category, _ in _objects(row.get("objects"))]
            names.update((v, None) for v in values if isinstance(v, str) and v)
    return list(names)


def _row(
    row: dict[str, Any],
    index: int,
    place: tuple[str, Path, set[str], Confinement | None],
    bbox_format: str,
    classes: tuple[list[str] | None, dict[str, int]],
    lost: set[str],
) -> tuple[ImageAnnotation, Path]:
    """One row as an annotation and its image file (``place``: the split, the scratch folder the image is
    written into, the file names used, and the folder imported, when it is one)."""
    file_name, path = _write_image(row["image"], row.get("file_name"), index, place)
    info = probe(path)
    if not isinstance(info, ImageInfo):
        raise ValueError(info.message)
    annotation = decode(row, info.width, info.height, bbox_format, classes, lost)
    annotation.file_name, annotation.split = file_name, place[0]
    return annotation, path


def encode(annotation: ImageAnnotation, image: Path) -> dict[str, Any]:
    """One row for ``Dataset.from_list``: the image's record with its image file as ``image``."""
    row = annotation.to_record()
    row["image"] = str(image)
    return row


def decode(
    row: Mapping[str, Any],
    width: int,
    height: int,
    bbox_format: str = "xywh",
    classes: tuple[list[str] | None, dict[str, int]] = (None, {}),
    lost: set[str] | None = None,
) -> ImageAnnotation:
    """The annotation a row holds for its ``width`` × ``height`` image (``file_name`` from its column):
    caption, image categories, objects (``classes``: the class names, and ids by name when categories are
    names) and the other JSON columns as record fields; columns that are not JSON are added to ``lost``.
    A ValueError says what is wrong with the row."""
    file_name = row.get("file_name")
    annotation = ImageAnnotation(file_name if isinstance(file_name, str) else "")
    caption = row.get("caption")
    if caption is not None:
        if not isinstance(caption, str):
            raise ValueError(f"caption must be a string, got {type(caption).__name__}")
        annotation.caption = caption
    annotation.categories = _categories(row.get("categories"), classes, "categories")
    for number, (bbox, category, extra) in enumerate(_objects(row.get("objects")), 1):
        try:
            x, y, w, h = to_xywh(bbox, bbox_format)
        except ValueError as error:
            raise ValueError(f"object {number}: {error}") from None
        outside = box_outside_problem([x, y, w, h], width, height, f"object {number} bbox")
        if outside:
            raise ValueError(outside.message)
        (category_id,) = _categories([category], classes, f"object {number} category")
        annotation.boxes.append(Box(x, y, w, h, category_id, extra))
    for key, value in row.items():
        if key in _TAKEN:
            continue
        if _is_json(value):
            annotation.extra[key] = value
        elif lost is not None:
            lost.add(key)
    return annotation


def _objects(objects: Any) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    """``(bbox, category, other values)`` per object from a dict of lists or a list of dicts."""
    if objects is None:
        return
    rows = objects if isinstance(objects, list) else None
    if isinstance(objects, dict):
        boxes = objects.get("bbox") or []
        columns = {k: v for k, v in objects.items() if isinstance(v, list) and len(v) == len(boxes)}
        if any(len(v) != len(boxes) for v in objects.values() if isinstance(v, list)):
            raise ValueError("objects lists have different lengths")
        rows = [{k: v[i] for k, v in columns.items()} for i in range(len(boxes))]
    if rows is None:
        raise ValueError(f"objects must be a dict of lists or a list of dicts, got {type(objects).__name__}")
    for number, obj in enumerate(rows, 1):
        if not isinstance(obj, dict) or "bbox" not in obj:
            raise ValueError(f"object {number} has no bbox")
        key = "category" if "category" in obj else "categories"
        if key not in obj:
            raise ValueError(f"object {number} has no category")
        extra = {k: v for k, v in obj.items() if k not in ("bbox", key) and _is_json(v)}
        yield obj["bbox"], obj[key], extra


def _categories(values: Any, classes: tuple[list[str] | None, dict[str, int]], field: str) -> list[int]:
    """Category ids from ClassLabel ids, bare ids (no names) or names (``classes``: names, id by name)."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise ValueError(f"{field} must be a list")
    names, by_name = classes
    ids: list[int] = []
    for value in values:
        if isinstance(value, str) and value in by_name:
            ids.append(by_name[value])
        elif type(value) is int and value >= 0 and (names is None or value < len(names)) and not by_name:
            ids.append(value)
        else:
            raise ValueError(f"{field} {value!r} is not a known class")
    return ids


def _write_image(
    image: Any, file_name: Any, index: int, place: tuple[str, Path, set[str], Confinement | None]
) -> tuple[str, Path]:
    """Write a row's image into the scratch folder unchanged; its file name in the dataset and its path."""
    split, scratch, used, inside = place
    if not isinstance(image, dict) or not (image.get("bytes") or image.get("path")):
        raise ValueError("the image is empty")
    data: bytes | None = image.get("bytes")
    own_path: str | None = image.get("path")
    if data is None and own_path is not None:
        data = _read_own(own_path, inside)
    if data is None:
        raise ValueError("the image is empty")
    name = file_name if isinstance(file_name, str) and file_name else None
    if name is None:
        name = PurePosixPath(str(own_path).replace("\\", "/")).name if own_path else ""
        if PurePosixPath(name).suffix.lower() not in IMAGE_EXTENSIONS:
            name = f"{name or f'{index:06d}'}{_extension(data)}"
        if name in used:
            name = f"{index:06d}_{name}"
    problem = reference_problem(name)
    if problem:
        raise ValueError(problem)
    if name in used:
        raise ValueError(f"a second image named {name!r}")
    path = scratch / split / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return name, path


def _read_own(own_path: str, inside: Confinement | None) -> bytes:
    """The bytes of an image stored as a path: inside the imported folder only (relative to it)."""
    path = inside.locate(own_path) if inside is not None else Path(own_path)
    if path is None:
        raise ValueError(OUTSIDE)
    try:
        with open_regular(path) as handle:
            return handle.read()
    except OSError as error:
        raise ValueError(f"image file {own_path} cannot be read: {error.strerror or error}") from None


def _extension(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            fmt = (opened.format or "").lower()
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"the image is not readable: {error}") from None
    return {"jpeg": ".jpg", "tiff": ".tif"}.get(fmt, f".{fmt}")


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return is_finite(value)
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


# --------------------------------------------------------------------------------------------- export


def export(
    dataset: ImageDataset,
    dest: str | Path,
    options: HfOptions | None = None,
    *,
    split: str | None = None,
    skip_invalid: bool = False,
) -> Report:
    """Write the dataset (or one split) with ``save_to_disk`` at ``dest`` (``load_from_disk`` reads it)."""
    datasets = _datasets()
    target = Path(dest)
    refusals = Refusals(dataset.image_dir, skip_invalid)
    names = category_names(dataset)
    rows: dict[str, list[dict[str, Any]]] = {}
    for image in export_images(dataset, split, names, refusals):
        rows.setdefault(image.split, []).append(encode(image.annotation, image.path))
    if not rows:
        raise FormatError(
            dataset.image_dir, None, "no image to export" + (" (all skipped)" if refusals.skipped else "")
        )
    with _quiet_progress(datasets):
        features = _features(rows, names, datasets)
        parts = {name: _to_dataset(records, features, datasets) for name, records in rows.items()}
        with staged_folder(target) as staging:
            datasets.DatasetDict(parts).save_to_disk(str(staging))
    report = Report(path=target, skipped=refusals.skipped)
    report.images = sum(len(r) for r in rows.values())
    report.boxes = sum(len(r.get("objects", {}).get("bbox", [])) for v in rows.values() for r in v)
    return report


def _features(rows: Mapping[str, list[dict[str, Any]]], names: list[str], datasets: Any) -> Any:
    """The features of every row of every split (``Dataset.from_list`` takes the columns of the first
    row only, so a split whose first record lacks a caption would lose them all): each column's type is
    inferred from all its values (null where a row lacks it), ``image`` an ``Image``, categories named
    ``ClassLabel``s."""
    keys = dict.fromkeys(key for records in rows.values() for row in records for key in row if key != "image")
    every = [row for records in rows.values() for row in records]
    inferred = datasets.Dataset.from_dict({key: [row.get(key) for row in every] for key in keys}).features
    features = datasets.Features({**inferred, "image": datasets.Image()})
    if names:
        label = datasets.List(datasets.ClassLabel(names=names))
        if "objects" in features and "categories" in features["objects"]:
            features["objects"] = {**features["objects"], "categories": label}
        if "categories" in features:
            features["categories"] = label
    return features


def _to_dataset(records: list[dict[str, Any]], features: Any, datasets: Any) -> Any:
    columns = {key: [row.get(key) for row in records] for key in features}
    return datasets.Dataset.from_dict(columns, features=features)


@contextlib.contextmanager
def _quiet_progress(datasets: Any) -> Iterator[None]:
    enabled = datasets.utils.logging.is_progress_bar_enabled()
    datasets.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            datasets.utils.logging.enable_progress_bar()


# ------------------------------------------------------------------------------------------- registry


def find(root: Path) -> Path:
    """The ``save_to_disk`` folder of an unpacked upload (the one holding ``dataset_dict.json`` or
    ``state.json``)."""
    marks = files_found(root, SAVED_MARKS[0]) or files_found(root, SAVED_MARKS[1])
    if not marks:
        raise NotFound("No Hugging Face save_to_disk folder (dataset_dict.json or state.json) in the zip.")
    return marks[0].parent


FORMAT = Format(
    key="hf",
    label="Hugging Face datasets",
    takes="A zip of a folder written by datasets' save_to_disk (an image column, optionally objects with "
    "bbox in COCO x, y, w, h pixels and categories).",
    reads="A Hugging Face dataset saved with save_to_disk.",
    writes="Write a Hugging Face dataset with save_to_disk (datasets.load_from_disk reads it).",
    find=find,
    export=export,
    import_dataset=import_dataset,
    options=HfOptions,
    available=lambda: importlib.util.find_spec("datasets") is not None,
)
