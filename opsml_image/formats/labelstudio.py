"""Label Studio JSON (its export: a list of tasks) ⇄ ``ImageDataset`` folder.

A task reads ``{"id": 1, "data": {"image": URL}, "annotations": [{"result": [...]}]}``. :func:`encode` makes
one task of an image's annotation and :func:`decode` reads one back at the image's size (:func:`task_image`
reads which image a task names, to find it first). A result of type
``rectanglelabels`` holds one box in percent of the image: ``value.x/y/width/height`` in ``0..100`` with
``value.rectanglelabels: [name]`` and ``original_width/original_height`` in pixels; ``x_px = x / 100 · width``
(and back ``x = x_px · 100 / width``), within a few ulp both ways. ``choices`` results are image categories
and a ``textarea`` result is the caption. Rotated boxes (``value.rotation`` or ``image_rotation`` not 0) and
unlabelled rectangles are refused; other result types and ``predictions`` are counted in the warnings.
A task with several annotations imports its first one that was not cancelled (counted in the warnings);
older exports' ``completions`` are read as annotations.

Images are found from ``data.image`` inside an images folder (default: the JSON file's folder): the URL's
path (``/data/upload/3/x.jpg``, ``/data/local-files/?d=dir/x.jpg``, ``https://host/dir/x.jpg``) is tried from
its longest tail to its file name, never outside the images folder: a local path leading out (an absolute
path elsewhere, ``..``, ``file://``, a link) is refused with the one reason of every format, whatever is
there. Nothing is downloaded. ``data.file_name`` and ``data.split``, which our
export writes, name the file and split directly.

An export writes a folder: ``tasks.json``, ``label_config.xml`` (a labelling config with the class names,
whose order an import reads back) and ``images/`` (``images/<split>/`` with several splits), with
``data.image`` as a local-files URL (serve the folder with ``LOCAL_FILES_DOCUMENT_ROOT`` set to it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.formats.base import (
    OUTSIDE,
    Confinement,
    FormatError,
    Refusals,
    Report,
    find_inside,
    place_file,
    reference_problem,
    staged_folder,
    write_folder,
)
from opsml_image.formats.classes import ClassIds
from opsml_image.formats.exportable import Losses, category_names, export_images, split_name
from opsml_image.formats.format import Format, NotFound, files_found, head, option
from opsml_image.images import IMAGE_EXTENSIONS, ImageInfo, probe
from opsml_image.rules import box_outside_problem, is_finite

__all__ = [
    "LabelStudioOptions",
    "TaskImage",
    "Notes",
    "encode",
    "decode",
    "task_image",
    "label_config",
    "read_label_config",
    "export",
    "import_dataset",
    "find",
    "FORMAT",
]

TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"


@dataclass(frozen=True)
class LabelStudioOptions:
    """Where an import finds the images."""

    images: Path | None = option(
        None, "Where the images are (default: the JSON file's folder).", side="import"
    )


@dataclass
class TaskImage:
    """Which image a task names: its id, ``data.image`` URL, and the file name and split our export writes."""

    id: Any
    image: str
    file_name: str | None = None
    split: str | None = None


@dataclass
class Notes:
    """What :func:`decode` left out (counted by kind) and how many tasks declare another image size."""

    left_out: Counter[str] = field(default_factory=Counter)
    resized: int = 0


# ------------------------------------------------------------------------------------------- converters


def encode(
    annotation: ImageAnnotation,
    width: int,
    height: int,
    names: Sequence[str],
    *,
    task_id: int,
    image_url: str,
    split: str | None = None,
) -> dict[str, Any]:
    """One Label Studio task (with one annotation) for an image of ``width`` × ``height`` pixels."""
    data: dict[str, Any] = {"image": image_url, "file_name": annotation.file_name}
    if split is not None:
        data["split"] = split
    result: list[dict[str, Any]] = []
    for index, box in enumerate(annotation.boxes, 1):
        result.append(
            {
                "id": f"t{task_id}r{index}",
                "type": "rectanglelabels",
                "from_name": "label",
                "to_name": "image",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {
                    "x": box.x * 100 / width,
                    "y": box.y * 100 / height,
                    "width": box.w * 100 / width,
                    "height": box.h * 100 / height,
                    "rotation": 0,
                    "rectanglelabels": [names[box.category]],
                },
            }
        )
    if annotation.categories:
        chosen = [names[c] for c in annotation.categories]
        result.append(_result(task_id, "categories", "choices", {"choices": chosen}))
    if annotation.caption:
        result.append(_result(task_id, "caption", "textarea", {"text": [annotation.caption]}))
    annotations = [{"id": task_id, "result": result, "was_cancelled": False, "ground_truth": False}]
    return {"id": task_id, "data": data, "annotations": annotations}


def _result(task_id: int, name: str, kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"t{task_id}{name}", "type": kind, "from_name": name, "to_name": "image", "value": value}


def task_image(task: Any, source: str | Path = TASKS_FILE, index: int = 0) -> TaskImage:
    """Which image a task names; a FormatError names the task (``task <id>``, else ``item <index>``)."""
    if not isinstance(task, dict):
        raise FormatError(source, f"item {index}", "a task must be a JSON object")
    item = _item(task, index)
    data: dict[str, Any] = task["data"] if isinstance(task.get("data"), dict) else {}
    image = _image_url(data)
    if image is None:
        raise FormatError(source, item, "data.image (or one data value naming an image file) must be its URL")
    named = TaskImage(task.get("id"), image)
    for key in ("file_name", "split"):
        if key in data:
            if not isinstance(data[key], str):
                raise FormatError(source, item, f"data.{key} must be a string")
            setattr(named, key, data[key])
    return named


def decode(
    task: Any,
    width: int,
    height: int,
    classes: ClassIds | None = None,
    *,
    source: str | Path = TASKS_FILE,
    index: int = 0,
    notes: Notes | None = None,
) -> ImageAnnotation:
    """The annotation of a task's ``width`` × ``height`` image (boxes in pixels), class names to ids
    through ``classes`` (default: in order of first sight); ``file_name``/``split`` from its data.

    A FormatError names the task and the result at fault, a label ``classes`` lacks, or a box outside the
    image; ``notes`` counts what is left out (predictions, other result types, later annotations).
    """
    named = task_image(task, source, index)
    classes = classes if classes is not None else ClassIds()
    notes = notes if notes is not None else Notes()
    item = _item(task, index)
    annotations = [
        a
        for a in task.get("annotations") or task.get("completions") or ()
        if isinstance(a, dict) and not a.get("was_cancelled")
    ]
    if task.get("predictions"):
        notes.left_out["predictions (tasks)"] += 1
    if len(annotations) > 1:
        notes.left_out["annotations after the first (tasks with several)"] += 1
    read = _Read()
    for number, result in enumerate(annotations[0].get("result") or () if annotations else (), 1):
        _read_result(source, f"{item} result {number}", result, read, notes.left_out)
    unknown = [n for n in [*(r[0] for r in read.regions), *read.choices] if n not in classes.names]
    if classes.fixed and unknown:
        raise FormatError(source, item, f"label {unknown[0]!r} is not in {CONFIG_FILE}")
    annotation = ImageAnnotation(named.file_name or "", named.split or "train", caption=read.caption)
    for number, (label, x, y, w, h) in enumerate(read.regions, 1):
        pixels = [x * width / 100, y * height / 100, w * width / 100, h * height / 100]
        outside = box_outside_problem(pixels, width, height, "box")
        if outside:
            raise FormatError(source, f"{item} box {number} ({label})", outside.message)
        annotation.boxes.append(Box(pixels[0], pixels[1], pixels[2], pixels[3], _id(classes, label)))
    annotation.categories = [_id(classes, name) for name in read.choices]
    notes.resized += any(size not in (None, (width, height)) for size in read.sizes)
    return annotation


def _item(task: dict[str, Any], index: int) -> str:
    return f"task {task.get('id', f'#{index}')}"


def _id(classes: ClassIds, name: str) -> int:
    found = classes.id(name)
    assert found is not None  # checked before
    return found


@dataclass
class _Read:
    """What the results of a task hold: ``(label, x, y, w, h)`` in percent, choices, caption, sizes."""

    regions: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    caption: str | None = None
    sizes: list[tuple[int, int] | None] = field(default_factory=list)


def _image_url(data: dict[str, Any]) -> str | None:
    """``data.image``, else the one string value naming an image file (projects may call it ``$img``)."""
    if "image" in data:
        return data["image"] if isinstance(data["image"], str) and data["image"] else None
    found = [
        v
        for k, v in data.items()
        if k not in ("file_name", "split")
        and isinstance(v, str)
        and PurePosixPath(urlsplit(v).path).suffix.lower() in IMAGE_EXTENSIONS
    ]
    return found[0] if len(found) == 1 else None


def _read_result(source: str | Path, item: str, result: Any, task: _Read, left_out: Counter[str]) -> None:
    if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
        raise FormatError(source, item, "a result must be an object with a value object")
    kind, value = result.get("type"), result["value"]
    if kind == "rectanglelabels" or kind == "rectangle":
        region, size = _region(source, item, result, value)
        task.regions.append(region)
        task.sizes.append(size)
    elif kind == "choices":
        choices = value.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, str) and c for c in choices):
            raise FormatError(source, item, "value.choices must be a list of names")
        task.choices.extend(c for c in choices if c not in task.choices)
    elif kind == "textarea" and task.caption is None:
        text = value.get("text")
        if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
            raise FormatError(source, item, "value.text must be a list of strings")
        task.caption = "\n".join(text) or None
    else:
        left_out[f"{kind} results"] += 1


def _region(
    source: str | Path, item: str, result: dict[str, Any], value: dict[str, Any]
) -> tuple[tuple[str, float, float, float, float], tuple[int, int] | None]:
    """A rectangle's ``(label, x, y, w, h)`` in percent, and the image size it declares."""
    labels = value.get("rectanglelabels")
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str) or not labels[0]:
        raise FormatError(source, item, f"value.rectanglelabels must hold exactly one name, got {labels!r}")
    numbers: list[float] = []
    for key in ("x", "y", "width", "height"):
        number: Any = value.get(key)
        if type(number) not in (int, float) or not is_finite(number):
            raise FormatError(source, item, f"value.{key} must be a finite number, got {number!r}")
        numbers.append(float(number))
    x, y, width, height = numbers
    if width <= 0 or height <= 0:
        raise FormatError(source, item, "value.width and value.height must be > 0")
    for key, rotation in (
        ("value.rotation", value.get("rotation")),
        ("image_rotation", result.get("image_rotation")),
    ):
        if rotation not in (None, 0, 0.0):
            raise FormatError(source, item, f"{key} is {rotation!r}; only upright boxes can be held")
    size: tuple[Any, Any] = (result.get("original_width"), result.get("original_height"))
    original = (size[0], size[1]) if all(type(s) is int and s > 0 for s in size) else None
    return (labels[0], x, y, width, height), original


def label_config(names: Sequence[str]) -> bytes:
    """A labelling config for boxes, image categories and a caption over ``names``."""
    root = ET.Element("View")
    ET.SubElement(root, "Image", name="image", value="$image")
    rectangles = ET.SubElement(root, "RectangleLabels", name="label", toName="image")
    choices = ET.SubElement(root, "Choices", name="categories", toName="image", choice="multiple")
    for name in names:
        ET.SubElement(rectangles, "Label", value=name)
        ET.SubElement(choices, "Choice", value=name)
    ET.SubElement(root, "TextArea", name="caption", toName="image")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8") + b"\n"


def read_label_config(data: bytes, source: str | Path = CONFIG_FILE) -> list[str]:
    """The class names of a labelling config: ``RectangleLabels`` labels, then other ``Choices``."""
    try:
        root = fromstring(data)
    except (ET.ParseError, DefusedXmlException, ValueError) as error:
        raise FormatError(source, None, f"not valid XML: {error}") from None
    names: list[str] = []
    for element in [*root.iter("Label"), *root.iter("Choice")]:
        name = element.get("value", "")
        if name and name not in names:
            names.append(name)
    return names


# --------------------------------------------------------------------------------------------- export


def export(
    dataset: ImageDataset,
    dest: str | Path,
    options: LabelStudioOptions | None = None,
    *,
    split: str | None = None,
    skip_invalid: bool = False,
) -> Report:
    """Write ``dest/tasks.json``, ``dest/label_config.xml`` and ``dest/images/`` (all splits or one)."""
    target = Path(dest)
    refusals = Refusals(dataset.image_dir, skip_invalid)
    names = category_names(dataset)
    losses = Losses("Label Studio")
    nested = split is None and len(dataset.splits) > 1
    tasks: list[dict[str, Any]] = []
    files: list[tuple[Path, str]] = []
    boxes = 0
    for image in export_images(dataset, split, names, refusals):
        annotation = image.annotation
        losses.note_image(annotation, caption=True, categories=True)
        losses.note("box fields (boxes)", sum(1 for b in annotation.boxes if b.extra))
        relative = (
            f"images/{image.split}/{annotation.file_name}" if nested else f"images/{annotation.file_name}"
        )
        url = "/data/local-files/?d=" + quote(relative)
        task = encode(
            annotation,
            image.width,
            image.height,
            names,
            task_id=len(tasks) + 1,
            image_url=url,
            split=image.split,
        )
        tasks.append(task)
        files.append((image.path, relative))
        boxes += len(annotation.boxes)
    report = Report(path=target, skipped=refusals.skipped, warnings=losses.warnings())
    with staged_folder(target) as staging:
        for path, relative in files:
            place_file(path, staging / relative)
        (staging / TASKS_FILE).write_bytes(orjson.dumps(tasks, option=orjson.OPT_INDENT_2))
        (staging / CONFIG_FILE).write_bytes(label_config(names))
    report.images = len(tasks)
    report.boxes = boxes
    return report


# --------------------------------------------------------------------------------------------- import


def import_dataset(
    source: str | Path,
    dest: str | Path,
    options: LabelStudioOptions | None = None,
    *,
    skip_invalid: bool = False,
) -> Report:
    """Make a dataset folder at ``dest`` from a Label Studio JSON export (a file, or a folder with it), its
    images looked up in ``options.images`` (default: the JSON file's folder).

    ``label_config.xml`` beside the JSON, when present, gives the class order; without it classes are
    numbered in order of first appearance.
    """
    images = (options or LabelStudioOptions()).images
    path = Path(source)
    json_path = path / TASKS_FILE if path.is_dir() else path
    try:
        tasks = orjson.loads(json_path.read_bytes())
    except OSError as error:
        raise FormatError(json_path, None, f"cannot be read: {error.strerror}") from None
    except orjson.JSONDecodeError as error:
        raise FormatError(json_path, None, f"not valid JSON: {error}") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise FormatError(json_path, None, "a Label Studio export is a JSON list of tasks")
    beside = Confinement(json_path.parent)
    config, outside = find_inside(beside, [CONFIG_FILE])
    if outside:
        raise FormatError(json_path.parent / CONFIG_FILE, None, OUTSIDE)
    names = read_label_config(config.read_bytes(), CONFIG_FILE) if config is not None else None
    image_root = Path(images) if images is not None else json_path.parent
    inside = Confinement(image_root) if images is not None else beside
    refusals = Refusals(json_path, skip_invalid)
    classes = ClassIds(names)
    notes = Notes()
    splits: dict[str, list[ImageAnnotation]] = {}
    sources: dict[tuple[str, str], Path] = {}
    for index, raw in enumerate(tasks):
        task_notes = Notes()
        try:
            named = task_image(raw, json_path, index)
            split, file_name, image_path, info = _locate(json_path, named, inside)
            annotation = decode(
                raw, info.width, info.height, classes, source=json_path, index=index, notes=task_notes
            )
        except FormatError as error:
            refusals.refuse(error.item or f"item {index}", error.reason)
            continue
        if (split, file_name) in sources:
            refusals.refuse(f"task {named.id}", f"a second task for {file_name!r} in split {split}")
            continue
        notes.left_out.update(task_notes.left_out)
        notes.resized += task_notes.resized
        annotation.file_name, annotation.split = file_name, split
        splits.setdefault(split, []).append(annotation)
        sources[(split, file_name)] = image_path
    if names is None:
        names = _found_order(classes, [a for found in splits.values() for a in found])
    if not splits:
        raise FormatError(
            json_path, None, "no task could be imported" + (" (all skipped)" if refusals.skipped else "")
        )
    report = Report(path=Path(dest), skipped=refusals.skipped)
    report.warnings = [f"left out {what}: {n:,}" for what, n in notes.left_out.items()]
    if notes.resized:
        report.warnings.append(
            f"{notes.resized:,} tasks declare an original size other than their image's (percent kept)"
        )
    order = ["train", "validation", "test"]
    write_folder(dest, {s: splits[s] for s in sorted(splits, key=order.index)}, names, sources)
    report.images = len(sources)
    report.boxes = sum(len(a.boxes) for v in splits.values() for a in v)
    return report


def _found_order(classes: ClassIds, annotations: list[ImageAnnotation]) -> list[str]:
    """Without a labelling config: each kept task's box labels then choices, in order of first appearance
    (ids renumbered)."""
    order = dict.fromkeys(
        classes.names[i] for a in annotations for i in [*(b.category for b in a.boxes), *a.categories]
    )
    return classes.renumber(annotations, list(order))


def _locate(source: Path, task: TaskImage, inside: Confinement) -> tuple[str, str, Path, ImageInfo]:
    """The task's split, file name, image file (looked up only inside the images folder) and size."""
    image_root = inside.root
    item = f"task {task.id}"
    split = split_name(task.split or "")
    if split is None:
        raise FormatError(source, item, f"data.split {task.split!r} is not train, validation or test")
    local = _local_path(task.image)
    if local is not None and inside.locate(local) is None:
        raise FormatError(source, item, OUTSIDE)
    candidates = _candidates(task.image)
    found, leads_out = find_inside(inside, candidates)
    if found is None:
        reason = OUTSIDE if leads_out else f"image {task.image!r} not found in {image_root}"
        raise FormatError(source, item, reason)
    relative = next(c for c in candidates if inside.locate(c) == found)
    file_name = task.file_name or relative
    problem = reference_problem(file_name)
    if problem:
        raise FormatError(source, item, problem)
    info = probe(found)
    if not isinstance(info, ImageInfo):
        raise FormatError(source, item, info.message)
    return split, file_name, found, info


def _local_path(url: str) -> str | None:
    """The path on this machine an image URL names outright, when it may lead out of the images folder:
    a ``file://`` URL, an absolute path other than Label Studio's ``/data/...`` URLs, a path going up with
    ``..`` (also as local-files ``?d=``); None for the rest, which are looked up by their tails."""
    parts = urlsplit(url)
    local = parse_qs(parts.query).get("d") if parts.path.startswith("/data/local-files") else None
    if local:
        path = local[0]
    elif parts.scheme == "file":
        path = unquote(parts.path)
    elif parts.scheme or parts.netloc or parts.path.startswith("/data/"):
        return None
    else:
        path = unquote(parts.path)
    absolute = path.startswith(("/", "\\"))
    return path if absolute or ".." in path.replace("\\", "/").split("/") else None


def _candidates(url: str) -> list[str]:
    """Relative paths an image URL may name, longest first (``/data/upload/3/x.jpg`` → ... ``x.jpg``)."""
    parts = urlsplit(url)
    local = parse_qs(parts.query).get("d")
    path = local[0] if local else unquote(parts.path)
    pieces = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", "", ".", "..")]
    return ["/".join(pieces[i:]) for i in range(len(pieces))]


# ------------------------------------------------------------------------------------------- registry


def find(root: Path) -> Path:
    """The Label Studio export of an unpacked upload: ``tasks.json``, else its one JSON file."""
    found = files_found(root, TASKS_FILE)
    if not found:
        found = files_found(root, "*.json")
        if len(found) > 1:
            names = ", ".join(p.relative_to(root).as_posix() for p in found[:5])
            raise NotFound(f"Several JSON files ({names}): name the Label Studio export tasks.json.")
    if not found:
        raise NotFound("No Label Studio JSON export in the upload.")
    return found[0]


def detect(path: Path) -> bool:
    """Whether ``path`` is (or holds) ``tasks.json`` or a JSON list of tasks with ``data``."""
    if path.is_dir() and files_found(path, TASKS_FILE):
        return True
    files = [path] if path.is_file() else files_found(path, "*.json") if path.is_dir() else []
    return any(_looks_like_tasks(head(file)) for file in files)


def _looks_like_tasks(data: bytes) -> bool:
    return data.lstrip().startswith(b"[") and b'"data"' in data


FORMAT = Format(
    key="labelstudio",
    label="Label Studio JSON",
    takes="The Label Studio JSON export (tasks.json, or the one JSON file) with its images, loose or in a "
    "zip; label_config.xml beside it gives the class order. Nothing is downloaded from image URLs.",
    reads="A Label Studio JSON export, or a folder with tasks.json.",
    writes="Write Label Studio tasks.json, label_config.xml and images/ (local-files URLs).",
    find=find,
    detect=detect,
    export=export,
    import_dataset=import_dataset,
    options=LabelStudioOptions,
    loose=(".json", ".xml"),
)
