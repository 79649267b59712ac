"""COCO detection JSON ⇄ dataset folder, keeping everything COCO holds so COCO → ours → COCO is the identity.

COCO boxes are ``[x, y, w, h]`` in pixels from the top-left corner, as here, so boxes pass unchanged.
Where each COCO value is kept in the dataset folder:

* categories: dense ids ``0..N-1`` in the order of the COCO ids, names in ``categories.json``; the full COCO
  category entries (``id``, ``supercategory``, other keys), in dense order, in the sidecar ``coco_meta.json``
  at the dataset root. A dataset made here exports COCO ids from 1 (never 0: datumaro/CVAT read 0 as
  background); categories added after an import get ids after the largest COCO id.
* ``info``, ``licenses`` and other top-level keys: in ``coco_meta.json`` under ``splits.<split>``.
* images: ``id``, ``width``, ``height``, ``license``, ``coco_url``, ``date_captured``... as extra keys of the
  image's record in ``metadata.jsonl``; ``caption`` is the record's caption, and ``categories`` (an
  extension: image-level labels by COCO id) its image categories.
* annotations: ``id``, ``area``, ``iscrowd``, ``attributes``... as per-box values inside ``objects``;
  polygon ``segmentation`` as ``objects.segmentation`` and RLE masks as ``objects.segmentation_rle`` (one type
  per column, so Hugging Face ``imagefolder`` still loads the folder).

An export writes the JSON only (:class:`CocoOptions` ``layout="json"``: one file for one split, else
``<split>.json`` in a folder) or Roboflow's layout (``layout="roboflow"``: ``<split>/_annotations.coco.json``
with the split's images beside it, the Import / Export page's download).

Import takes one file (a flat dataset) or several split files (``train.json``, ``val.json``... or Roboflow's
``train/_annotations.coco.json``: the split comes from the file or folder name), unifies their categories by
COCO id into one root ``categories.json`` (one id with two names is an error) and refuses anything it cannot
keep (see :mod:`opsml_image.formats.base`). A results file (a list of predictions with ``score``) is refused.

The pure dict conversions :func:`encode` and :func:`decode` live in :mod:`opsml_image.formats.coco_convert`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from opsml_image.annotation import ImageAnnotation
from opsml_image.atomic import atomic_write_bytes
from opsml_image.categories import CATEGORIES_FILE
from opsml_image.dataset import SPLIT_ALIASES, ImageDataset
from opsml_image.formats.base import (
    OUTSIDE,
    Confinement,
    FormatError,
    Refusals,
    Report,
    find_inside,
    image_size,
    paused_gc,
    place_file,
    readable_annotations,
    staged_folder,
    write_folder,
)
from opsml_image.formats.coco_convert import CocoCategories, decode, encode, read_categories
from opsml_image.formats.format import Format, NotFound, files_found, head, option

__all__ = [
    "SIDECAR",
    "ROBOFLOW_FILE",
    "CocoOptions",
    "CocoCategories",
    "read_categories",
    "decode",
    "encode",
    "to_json_bytes",
    "export",
    "import_dataset",
    "split_of",
    "find",
    "detect",
    "FORMAT",
]

#: The sidecar at the dataset root keeping COCO categories, ``info`` and ``licenses``.
SIDECAR = "coco_meta.json"
#: The annotation file of a split in Roboflow's layout.
ROBOFLOW_FILE = "_annotations.coco.json"


@dataclass(frozen=True)
class CocoOptions:
    """Where an import finds the images; whether an export writes the JSON alone or with the images."""

    images: Path | None = option(
        None, "Where the images are, when DEST is a new folder (default: beside the JSON).", side="import"
    )
    layout: Literal["json", "roboflow"] = option(
        "json",
        "json: the COCO JSON (one split: the file; else <split>.json in a folder); roboflow: "
        "<split>/_annotations.coco.json with the images beside it.",
        side="export",
        label="Layout",
        choices={
            "roboflow": "With the images (Roboflow: <split>/_annotations.coco.json)",
            "json": "COCO JSON only",
        },
    )


def read_meta(root: Path) -> dict[str, Any]:
    """The sidecar ``coco_meta.json`` of a dataset folder (empty when there is none)."""
    path = root / SIDECAR
    try:
        meta = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as error:
        raise FormatError(path, None, f"not valid JSON: {error}") from None
    if not isinstance(meta, dict):
        raise FormatError(path, None, "must be a JSON object")
    return meta


def _split_meta(meta: Mapping[str, Any], split: str) -> dict[str, Any]:
    if not meta:
        return {}
    part = dict((meta.get("splits") or {}).get(split) or {})
    part["categories"] = meta.get("categories") or []
    return part


def to_json_bytes(dataset: ImageDataset, split: str | None = None, *, skip_invalid: bool = False) -> bytes:
    """The COCO JSON of one split, encoded (what :func:`export` writes; the app offers it as a download)."""
    with paused_gc():
        data, _ = _split_coco(dataset, split, Refusals(dataset.image_dir, skip_invalid))
        return orjson.dumps(data)


def _split_coco(dataset: ImageDataset, split: str | None, refusals: Refusals) -> tuple[dict[str, Any], int]:
    part = dataset.split(split)
    try:
        names = dataset.category_names()
    except ValueError as error:
        raise FormatError(dataset.image_dir, None, str(error)) from None
    meta = _split_meta(read_meta(dataset.image_dir), part.name)

    def size(annotation: ImageAnnotation) -> tuple[int, int] | str:
        return image_size(annotation, part.directory / annotation.file_name)

    annotations = readable_annotations(part, refusals)
    data = encode(annotations, names, meta, size=size, refusals=refusals)
    return data, len(data["annotations"])


def export(
    dataset: ImageDataset,
    dest: str | Path,
    options: CocoOptions | None = None,
    *,
    split: str | None = None,
    skip_invalid: bool = False,
) -> Report:
    """Write one split as a COCO JSON file, or every split as ``<split>.json`` in the folder ``dest``; with
    ``layout="roboflow"``, ``dest/<split>/_annotations.coco.json`` and the images beside it.

    ``dest`` ending in ``.json`` needs one split (``split``, or the dataset's only one).
    """
    with paused_gc():
        if options is not None and options.layout == "roboflow":
            return _export_roboflow(dataset, Path(dest), split, skip_invalid)
        return _export(dataset, dest, split, skip_invalid)


def _export(dataset: ImageDataset, dest: str | Path, split: str | None, skip_invalid: bool) -> Report:
    target = Path(dest)
    refusals = Refusals(dataset.image_dir, skip_invalid)
    report = Report(path=target)
    if split is None and len(dataset.splits) > 1 and target.suffix.lower() == ".json":
        choices = ", ".join(dataset.splits)
        raise FormatError(target, None, f"choose a split: {choices} (or give a folder for one file a split)")
    if split is not None or len(dataset.splits) == 1:
        if split is not None and split not in dataset.splits:
            raise FormatError(
                dataset.image_dir, None, f"no split {split!r}; it has {', '.join(dataset.splits)}"
            )
        data, boxes = _split_coco(dataset, split, refusals)
        atomic_write_bytes(target, orjson.dumps(data))
        report.images, report.boxes = len(data["images"]), boxes
    else:
        with staged_folder(target) as staging:
            for name in dataset.splits:
                data, boxes = _split_coco(dataset, name, refusals)
                atomic_write_bytes(staging / f"{name}.json", orjson.dumps(data))
                report.images += len(data["images"])
                report.boxes += boxes
    report.skipped, report.warnings = refusals.skipped, refusals.warnings
    return report


def _export_roboflow(dataset: ImageDataset, target: Path, split: str | None, skip_invalid: bool) -> Report:
    """Roboflow's layout: a folder a split holding ``_annotations.coco.json`` and the split's images; an
    image missing, or a link leading outside the dataset folder, is refused (or skipped and left out)."""
    if split is not None and split not in dataset.splits:
        raise FormatError(dataset.image_dir, None, f"no split {split!r}; it has {', '.join(dataset.splits)}")
    confined = Confinement(dataset.image_dir)
    report = Report(path=target)
    with staged_folder(target) as staging:
        for name in [split] if split is not None else list(dataset.splits):
            converted = Refusals(dataset.image_dir, skip_invalid)
            files = Refusals(dataset.split(name).directory, skip_invalid)
            data, _ = _split_coco(dataset, name, converted)
            missing: set[object] = set()
            for image in data["images"]:
                path = dataset.image_path(name, image["file_name"])
                problem = confined.outside_problem(path, image["file_name"])
                if problem is not None or not path.is_file():
                    files.refuse(image["file_name"], problem.message if problem else "image file not found")
                    missing.add(image["id"])
                    continue
                place_file(path, staging / name / image["file_name"])
            if missing:
                data["images"] = [i for i in data["images"] if i["id"] not in missing]
                data["annotations"] = [a for a in data["annotations"] if a["image_id"] not in missing]
            atomic_write_bytes(staging / name / ROBOFLOW_FILE, orjson.dumps(data))
            report.images += len(data["images"])
            report.boxes += len(data["annotations"])
            report.skipped += converted.skipped + files.skipped
            report.warnings += [w for w in converted.warnings if w not in report.warnings]
    return report


def split_of(path: Path) -> str | None:
    """The split a COCO file is for, from its name (``instances_val2017.json``) or folder (``valid/``)."""
    for text in (path.stem, path.parent.name):
        for token in re.split(r"[^a-z]+", text.lower()):
            if token in SPLIT_ALIASES:
                return SPLIT_ALIASES[token]
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise FormatError(path, None, "file not found") from None
    except orjson.JSONDecodeError as error:
        raise FormatError(path, None, f"not valid JSON: {error}") from None
    if isinstance(data, list):
        if data and isinstance(data[0], dict) and "score" in data[0]:
            raise FormatError(
                path,
                None,
                "a COCO results file (a list of predictions with 'score'), not a dataset; "
                "import the ground-truth annotations file",
            )
        raise FormatError(path, None, "a JSON list, not a COCO detection file (an object with 'images')")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise FormatError(path, None, "not a COCO detection file: no 'images' list")
    return data


def import_dataset(
    source: str | Path | Sequence[str | Path],
    dest: str | Path,
    options: CocoOptions | None = None,
    *,
    skip_invalid: bool = False,
) -> Report:
    """Make a dataset folder at ``dest`` from one COCO file (flat) or several split files (split folders).

    When ``dest`` is a folder that already holds the images (and ``options.images`` is not another folder),
    the metadata is written into it (into ``dest/<split>/`` for several files), as ``import coco FILE
    IMAGE_DIR`` always did. Otherwise images are looked up in ``options.images`` (else beside each JSON file,
    or in an ``images/`` folder there) and hard-linked (or copied) into a new folder ``dest``. Everything is
    read and checked before anything is written.
    """
    with paused_gc():
        return _import(source, dest, (options or CocoOptions()).images, skip_invalid)


def _import(
    source: str | Path | Sequence[str | Path], dest: str | Path, images: str | Path | None, skip_invalid: bool
) -> Report:
    paths = [Path(source)] if isinstance(source, str | Path) else [Path(p) for p in source]
    target = Path(dest)
    splits = _split_names(paths)
    loaded = [(path, _load(path)) for path in paths]
    categories = read_categories((str(path), data) for path, data in loaded)
    in_place = _is_images_folder(target, images)
    source_files = None if in_place or images is None else Confinement(images)
    found: dict[str, list[ImageAnnotation]] = {}
    files: dict[tuple[str, str], Path] = {}
    meta: dict[str, Any] = {"categories": categories.entries, "splits": {}}
    report = Report(path=target)
    for (path, data), split in zip(loaded, splits, strict=True):
        refusals = Refusals(path, skip_invalid)
        key = _folder_for(target, split) if in_place and len(paths) > 1 else split
        annotations = decode(data, categories, split=split, source=str(path), refusals=refusals)
        roots = (
            [target / key if len(paths) > 1 else target]
            if in_place
            else _image_roots(path, images, split, len(paths) > 1)
        )
        inside = Confinement(target) if in_place else source_files or Confinement(path.parent)
        found[key] = _with_files(annotations, roots, inside, (key, files), refusals, in_place)
        _warn_outside(found[key], refusals)
        top = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
        meta["splits"][split] = top
        report.skipped += refusals.skipped
        report.warnings += [w for w in refusals.warnings if w not in report.warnings]
    sidecar = {SIDECAR: orjson.dumps(meta, option=orjson.OPT_INDENT_2)}
    write_folder(target, found, categories.names, None if in_place else files, sidecar, in_place=in_place)
    report.images = sum(len(a) for a in found.values())
    report.boxes = sum(len(x.boxes) for a in found.values() for x in a)
    return report


def _split_names(paths: Sequence[Path]) -> list[str]:
    if len(paths) == 1:
        return ["train"]
    names: list[str] = []
    for path in paths:
        split = split_of(path)
        if split is None:
            raise FormatError(path, None, "cannot tell its split (name it train/val/test, e.g. val.json)")
        if split in names:
            raise FormatError(path, None, f"a second file for split {split!r}")
        names.append(split)
    return names


def _is_images_folder(target: Path, images: str | Path | None) -> bool:
    if not target.is_dir() or not any(target.iterdir()):
        return False
    if images is not None and Path(images).resolve() != target.resolve():
        raise FormatError(target, None, "already exists and is not empty; choose a new destination")
    _refuse_split_folder(target)
    return True


def _refuse_split_folder(target: Path) -> None:
    """Importing one split file into ``ds/validation`` would give that split its own category ids."""
    parent = target.resolve().parent
    if SPLIT_ALIASES.get(target.name.lower()) is None:
        return
    siblings = [
        p.name for p in parent.iterdir() if p.is_dir() and p.name.lower() in SPLIT_ALIASES and p != target
    ]
    if siblings or (parent / CATEGORIES_FILE).exists():
        raise FormatError(
            target,
            None,
            f"is a split folder of {parent}: import every split file at once into the dataset folder "
            f"(import coco train.json val.json {parent}) so the splits share one categories.json",
        )


def _folder_for(root: Path, split: str) -> str:
    """The existing folder of a split in an images folder (``val/`` for validation), else the split name."""
    inside = Confinement(root)
    for child in sorted(root.iterdir()):
        if (
            SPLIT_ALIASES.get(child.name.lower()) == split
            and find_inside(inside, [child.name], folder=True)[0]
        ):
            return child.name
    return split


def _image_roots(path: Path, images: str | Path | None, split: str, several: bool) -> list[Path]:
    """Where a COCO file's images are looked up: ``images`` (its split folder first), else beside the file."""
    if images is None:
        return [path.parent, path.parent / "images"]
    root = Path(images)
    folder = _folder_for(root, split) if several and root.is_dir() else None
    return [root / folder, root] if folder else [root]


def _with_files(
    annotations: list[ImageAnnotation],
    roots: Sequence[Path],
    inside: Confinement,
    into: tuple[str, dict[tuple[str, str], Path]],
    refusals: Refusals,
    in_place: bool,
) -> list[ImageAnnotation]:
    """The annotations whose image is a file in one of ``roots`` inside the source (``into``: the split
    key and the files found, by split and file name)."""
    key, files = into
    kept: list[ImageAnnotation] = []
    for annotation in annotations:
        found, outside = find_inside(inside, (r.absolute() / annotation.file_name for r in roots))
        if found is None:
            where = " or ".join(str(r) for r in roots)
            boxes = f" with {len(annotation.boxes)} boxes" if annotation.boxes else ""
            refusals.refuse(
                f"image id {annotation.extra['id']!r} ({annotation.file_name}){boxes}",
                OUTSIDE if outside else f"not found in {where}",
            )
            continue
        if not in_place:
            files[(key, annotation.file_name)] = found
        kept.append(annotation)
    return kept


def _warn_outside(annotations: Iterable[ImageAnnotation], refusals: Refusals) -> None:
    outside = 0
    for annotation in annotations:
        width, height = annotation.extra.get("width"), annotation.extra.get("height")
        if type(width) is int and type(height) is int:
            outside += sum(
                b.x < 0 or b.y < 0 or b.x + b.w > width or b.y + b.h > height for b in annotation.boxes
            )
    if outside:
        refusals.warn(f"{outside:,} boxes lie partly outside their image (kept; validate lists them)")


# ------------------------------------------------------------------------------------------- registry


def find(root: Path) -> Path | list[Path]:
    """The COCO JSON file(s) of an unpacked upload: one file, or every JSON file (one a split)."""
    files = files_found(root, "*.json")
    if not files:
        raise NotFound("No COCO JSON file in the upload.")
    return files[0] if len(files) == 1 else files


def detect(path: Path) -> bool:
    """Whether ``path`` is (or holds) a JSON object with an ``images`` list near its start."""
    files = [path] if path.is_file() else files_found(path, "*.json") if path.is_dir() else []
    return any(_looks_like_coco(head(file)) for file in files)


def _looks_like_coco(data: bytes) -> bool:
    return data.lstrip().startswith(b"{") and re.search(rb'"images"\s*:\s*\[', data) is not None


def _one_file(options: CocoOptions, splits: int) -> str | None:
    return ".json" if options.layout == "json" and splits == 1 else None


FORMAT = Format(
    key="coco",
    label="COCO JSON",
    takes="COCO JSON file(s) with their images (loose files or a zip). Several split files need split names "
    "(train.json, val.json) or Roboflow folders (train/_annotations.coco.json); images sit beside each "
    "file or in an images/ folder next to it.",
    reads="A COCO JSON file, or one file a split (train.json val.json ...).",
    writes="Write COCO detection JSON: one split to a .json file, or every split into a new folder "
    "(--layout roboflow: <split>/_annotations.coco.json with the images).",
    find=find,
    detect=detect,
    export=export,
    import_dataset=import_dataset,
    options=CocoOptions,
    download=CocoOptions(layout="roboflow"),
    loose=(".json",),
    many=True,
    export_dest="The COCO JSON file (one split) or a new folder (<split>.json).",
    import_dest="The folder holding the images (metadata goes there), or a new dataset folder.",
    one_file=_one_file,
)
