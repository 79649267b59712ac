"""Pascal VOC XML ⇄ ``ImageDataset`` folder.

Layout (as the VOC devkit ships it)::

    Annotations/<id>.xml         one <annotation> per image
    JPEGImages/<file_name>       the images (any format; the name is ``<filename>`` in the XML)
    ImageSets/Main/<split>.txt   the ids of each split: train.txt, val.txt (→ validation), test.txt
    labelmap.txt                 the class order (datumaro/CVAT ``name:color:parts:actions`` lines; optional)

``<id>`` is the image's file name without its extension (sub-folders kept), so ``a.jpg`` and ``a.png`` in one
dataset collide and are refused. Coordinates follow the devkit: pixels are numbered from 1 and ``xmax`` /
``ymax`` name the last pixel *inside* the box. A box ``[x, y, w, h]`` (top-left origin, pixel edges) is
written ``xmin = x + 1, ymin = y + 1, xmax = x + w, ymax = y + h``; the 10-pixel box at the image corner
``[0, 0, 10, 10]`` is ``1 1 10 10``. Integral values are written as integers, others as exact decimals
(supervision and datumaro read decimals).

:func:`encode` writes one image's XML and :func:`decode` reads one back (class names to ids through a
:class:`~opsml_image.formats.classes.ClassIds`). Per object ``pose`` (text), ``truncated``, ``difficult`` and
``occluded`` (flags 0/1, kept as booleans) go to ``Box.extra``; other scalar box fields travel as datumaro
``<attributes>``. Every imported box carries ``pose``/``truncated``/``difficult`` (devkit defaults when
absent), so each ``objects`` column keeps one type.
VOC has no captions, image categories or record fields: an export counts them in the report's warnings.
Without ``labelmap.txt`` the classes are numbered in alphabetical order. XML is parsed with ``defusedxml``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from PIL import Image

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.formats.base import (
    OUTSIDE,
    Confinement,
    FormatError,
    Refusals,
    Report,
    find_inside,
    finite_number,
    place_file,
    reference_problem,
    staged_folder,
    write_folder,
)
from opsml_image.formats.classes import ClassIds
from opsml_image.formats.exportable import (
    Losses,
    category_names,
    export_images,
    number_text,
    uniform_box_fields,
)
from opsml_image.formats.format import Format, NoOptions, NotFound, files_found
from opsml_image.images import IMAGE_EXTENSIONS, ImageInfo, probe
from opsml_image.rules import OUTSIDE_TOLERANCE

__all__ = ["VocImage", "encode", "decode", "export", "import_dataset", "find", "FORMAT"]

_FLAGS = ("truncated", "difficult", "occluded")
_DEFAULTS: dict[str, Any] = {"pose": "Unspecified", "truncated": False, "difficult": False}
_SPLIT_FILES = {"train": "train", "validation": "val", "test": "test"}
_KNOWN_TOP = frozenset(("folder", "filename", "path", "size", "segmented", "object", "source", "owner"))
_KNOWN_OBJECT = frozenset(("name", "pose", "bndbox", "attributes", *_FLAGS))
_INT = re.compile(r"^[+-]?\d+$")


@dataclass
class VocImage:
    """One parsed ``<annotation>``: the image's annotation (``file_name`` is ``<filename>``, boxes in pixels),
    its declared size (0 when absent), the elements left out and whether it has segmentation masks."""

    annotation: ImageAnnotation
    width: int
    height: int
    ignored: list[str] = field(default_factory=list)
    segmented: bool = False


# ------------------------------------------------------------------------------------------------ XML


def encode(
    annotation: ImageAnnotation, width: int, height: int, names: Sequence[str], depth: int = 3
) -> bytes:
    """The VOC ``<annotation>`` of one image (devkit 1-based coordinates, see the module docstring)."""
    root = ET.Element("annotation")
    _text(root, "folder", "JPEGImages")
    _text(root, "filename", PurePosixPath(annotation.file_name).name)
    size = ET.SubElement(root, "size")
    for tag, count in (("width", width), ("height", height), ("depth", depth)):
        _text(size, tag, str(count))
    _text(root, "segmented", "0")
    for box in annotation.boxes:
        obj = ET.SubElement(root, "object")
        _text(obj, "name", names[box.category])
        extra = {**_DEFAULTS, **{k: v for k, v in box.extra.items() if v is not None and v != ""}}
        _text(obj, "pose", str(extra.pop("pose")))
        for flag in _FLAGS:
            if flag in extra:
                _text(obj, flag, "1" if extra.pop(flag) else "0")
        bndbox = ET.SubElement(obj, "bndbox")
        corners = (box.x + 1, box.y + 1, box.x + box.w, box.y + box.h)
        for tag, corner in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            _text(bndbox, tag, number_text(corner))
        scalars = {k: v for k, v in extra.items() if isinstance(v, str | int | float | bool)}
        if scalars:
            attributes = ET.SubElement(obj, "attributes")
            for key, value in scalars.items():
                attribute = ET.SubElement(attributes, "attribute")
                _text(attribute, "name", key)
                _text(attribute, "value", _value_text(value))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def decode(data: bytes, classes: ClassIds | None = None, source: str | Path = "<xml>") -> VocImage:
    """Parse one VOC ``<annotation>``, class names to ids through ``classes`` (default: in order of first
    sight); a FormatError names ``source`` and the element at fault (a class ``classes`` lacks too)."""
    classes = classes if classes is not None else ClassIds()
    try:
        root = fromstring(data)
    except (ET.ParseError, DefusedXmlException, ValueError) as error:
        raise FormatError(source, None, f"not valid XML: {error}") from None
    if root.tag != "annotation":
        raise FormatError(source, root.tag, "the root element must be <annotation>")
    filename = (root.findtext("filename") or "").strip()
    size = root.find("size")
    width = _int_text(source, size, "width") if size is not None else 0
    height = _int_text(source, size, "height") if size is not None else 0
    segmented = (root.findtext("segmented") or "0").strip() == "1"
    image = VocImage(ImageAnnotation(filename), width, height, segmented=segmented)
    image.ignored = [child.tag for child in root if child.tag not in _KNOWN_TOP]
    for index, element in enumerate(root.findall("object"), 1):
        image.annotation.boxes.append(_object(source, f"object {index}", element, image.ignored, classes))
    return image


def _object(source: str | Path, item: str, element: ET.Element, ignored: list[str], classes: ClassIds) -> Box:
    name = (element.findtext("name") or "").strip()
    if not name:
        raise FormatError(source, item, "<name> is missing or empty")
    item = f"{item} ({name})"
    bndbox = element.find("bndbox")
    if bndbox is None:
        raise FormatError(source, item, "<bndbox> is missing")
    xmin, ymin, xmax, ymax = (_float_text(source, item, bndbox, t) for t in ("xmin", "ymin", "xmax", "ymax"))
    x, y, w, h = xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1
    if w <= 0 or h <= 0:
        raise FormatError(
            source, item, f"empty or reversed box: xmin {xmin}, xmax {xmax}, ymin {ymin}, ymax {ymax}"
        )
    extra: dict[str, Any] = {"pose": (element.findtext("pose") or "").strip() or _DEFAULTS["pose"]}
    for flag in _FLAGS:
        text = element.findtext(flag)
        if text is not None:
            extra[flag] = _flag(source, f"{item} <{flag}>", text)
    for attribute in element.findall("attributes/attribute"):
        key = (attribute.findtext("name") or "").strip()
        if not key or key in extra or key in ("bbox", "categories"):
            raise FormatError(source, f"{item} <attribute>", f"attribute name {key!r} is empty or taken")
        extra[key] = _parse_value(attribute.findtext("value") or "")
    ignored.extend(f"object/{child.tag}" for child in element if child.tag not in _KNOWN_OBJECT)
    category = classes.id(name)
    if category is None:
        raise FormatError(source, item, "class is not in labelmap.txt")
    return Box(x, y, w, h, category, extra)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _value_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, str | int) else repr(float(value))


def _parse_value(text: str) -> str | int | float | bool:
    """An attribute value back to bool / int / float when it reads as one (else the text)."""
    stripped = text.strip()
    if stripped in ("true", "false"):
        return stripped == "true"
    if _INT.match(stripped):
        return int(stripped)
    try:
        number = float(stripped)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text


def _flag(source: str | Path, item: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("0", "1", "true", "false"):
        return value in ("1", "true")
    raise FormatError(source, item, f"must be 0 or 1, got {text!r}")


def _int_text(source: str | Path, parent: ET.Element, tag: str) -> int:
    text = parent.findtext(tag)
    try:
        return int(float(text)) if text is not None and text.strip() else 0
    except ValueError:
        raise FormatError(source, f"<size><{tag}>", f"must be a number, got {text!r}") from None


def _float_text(source: str | Path, item: str, parent: ET.Element, tag: str) -> float:
    text = parent.findtext(tag)
    if text is None:
        raise FormatError(source, item, f"<bndbox> has no <{tag}>")
    return finite_number(text, source, item, f"<{tag}>")


# --------------------------------------------------------------------------------------------- export


def export(
    dataset: ImageDataset,
    dest: str | Path,
    options: NoOptions | None = None,
    *,
    split: str | None = None,
    skip_invalid: bool = False,
) -> Report:
    """Write the dataset (or one split) as a VOC folder at ``dest`` (which must not exist or be empty)."""
    target = Path(dest)
    refusals = Refusals(dataset.image_dir, skip_invalid)
    names = category_names(dataset)
    losses = Losses("Pascal VOC")
    planned: list[tuple[str, str, str, Path, bytes]] = []
    ids: dict[str, str] = {}
    narrow = 0
    for image in export_images(dataset, split, names, refusals):
        voc_id = str(PurePosixPath(image.annotation.file_name).with_suffix(""))
        if voc_id in ids:
            refusals.refuse(image.item, f"same VOC id {voc_id!r} as {ids[voc_id]} (one XML per file stem)")
            continue
        ids[voc_id] = image.item
        losses.note_image(image.annotation, caption=False, categories=False)
        for box in image.annotation.boxes:
            for key, value in box.extra.items():
                if value is not None and not isinstance(value, str | int | float | bool):
                    losses.note(f"box field {key!r} (non-scalar values)")
        narrow += sum(1 for b in image.annotation.boxes if b.w < 1 or b.h < 1)
        xml = encode(image.annotation, image.width, image.height, names, _depth(image.path))
        planned.append((image.split, voc_id, image.annotation.file_name, image.path, xml))
    report = Report(path=target, skipped=refusals.skipped, warnings=losses.warnings())
    if narrow:
        report.warnings.append(
            f"{narrow:,} boxes narrower than 1 px have xmax < xmin in the devkit convention; readers that "
            "reorder corners will misread them"
        )
    with staged_folder(target) as staging:
        lists: dict[str, list[str]] = {}
        for split_name, voc_id, file_name, path, xml in planned:
            place_file(path, staging / "JPEGImages" / file_name)
            xml_path = staging / "Annotations" / f"{voc_id}.xml"
            xml_path.parent.mkdir(parents=True, exist_ok=True)
            xml_path.write_bytes(xml)
            lists.setdefault(_SPLIT_FILES[split_name], []).append(voc_id)
            report.images += 1
        report.boxes = sum(xml.count(b"<object>") for *_, xml in planned)
        main = staging / "ImageSets" / "Main"
        main.mkdir(parents=True)
        for voc_split, members in lists.items():
            (main / f"{voc_split}.txt").write_text("".join(f"{m}\n" for m in members), encoding="utf-8")
        (staging / "labelmap.txt").write_text(
            "# label:color_rgb:parts:actions\n" + "".join(f"{name}:::\n" for name in names), encoding="utf-8"
        )
    return report


def _depth(path: Path) -> int:
    try:
        with Image.open(path) as image:
            return len(image.getbands())
    except (OSError, ValueError):
        return 3


# --------------------------------------------------------------------------------------------- import


def import_dataset(
    source: str | Path, dest: str | Path, options: NoOptions | None = None, *, skip_invalid: bool = False
) -> Report:
    """Make a dataset folder at ``dest`` from a VOC folder (``Annotations/``, ``JPEGImages/``, ...)."""
    root = Path(source)
    inside = Confinement(root)
    found, outside = find_inside(inside, ["Annotations"], folder=True)
    if found is None:
        reason = OUTSIDE if outside else "no Annotations/ folder: not a Pascal VOC folder"
        raise FormatError(root, "Annotations/" if outside else None, reason)
    refusals = Refusals(root, skip_invalid)
    labelmap = _read_labelmap(root, inside)
    classes = ClassIds(labelmap)
    members, unlisted = _split_members(root, inside, refusals)
    report = Report(path=Path(dest))
    parsed: dict[str, list[tuple[VocImage, str, Path]]] = {}
    ignored: dict[str, int] = {}
    resized = segmented = 0
    for split, item, voc_id in members:
        rel = f"Annotations/{voc_id}.xml"
        xml_path = inside.locate(rel)
        if xml_path is None:
            refusals.refuse(rel, OUTSIDE)
            continue
        try:
            image = decode(xml_path.read_bytes(), classes, rel)
            file_name, image_path = _find_image(inside, voc_id, image.annotation.file_name)
            info = _checked(rel, image, image_path, classes.names)
        except FileNotFoundError:
            refusals.refuse(item, f"no {rel}")
            continue
        except OSError as error:
            refusals.refuse(rel, f"cannot be read: {error.strerror}")
            continue
        except FormatError as error:
            refusals.refuse(f"{error.source}: {error.item}" if error.item else error.source, error.reason)
            continue
        resized += bool(image.width and (image.width, image.height) != (info.width, info.height))
        segmented += image.segmented
        for tag in image.ignored:
            ignored[tag] = ignored.get(tag, 0) + 1
        parsed.setdefault(split, []).append((image, file_name, image_path))
    names = labelmap if labelmap is not None else _alphabetical(parsed, classes)
    splits, sources = _annotations(parsed)
    texts = uniform_box_fields(a for v in splits.values() for a in v)
    if not splits:
        raise FormatError(
            root, None, "no image could be imported" + (" (all skipped)" if refusals.skipped else "")
        )
    report.skipped = refusals.skipped
    report.images = sum(len(v) for v in splits.values())
    report.boxes = sum(len(a.boxes) for v in splits.values() for a in v)
    report.warnings = [f"ignored <{tag}> in {n:,} files" for tag, n in ignored.items()]
    report.warnings += [
        f"box field {key!r} is missing on some boxes or mixes types: kept as text" for key in texts
    ]
    if unlisted:
        report.warnings.append(
            f"{unlisted:,} annotation files are in no ImageSets/Main list and were not read"
        )
    if resized:
        report.warnings.append(
            f"{resized:,} files declare a <size> other than their image's; boxes checked against the image"
        )
    if segmented:
        report.warnings.append(f"{segmented:,} images have segmentation masks, which are not imported")
    write_folder(dest, splits, names, sources)
    return report


def _read_labelmap(root: Path, inside: Confinement) -> list[str] | None:
    """Class names from a datumaro ``labelmap.txt`` (``background`` left out), or None without one."""
    path = root / "labelmap.txt"
    located = inside.locate("labelmap.txt")
    if located is None:
        raise FormatError(path, None, OUTSIDE)
    try:
        lines = located.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(path, None, f"cannot be read: {error}") from None
    names: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name = line.split(":", 1)[0].strip()
        if not name:
            raise FormatError(path, f"line {number}", "empty label name")
        if name in names:
            raise FormatError(path, f"line {number}", f"label {name!r} listed twice")
        if name != "background":
            names.append(name)
    return names


def _split_members(
    root: Path, inside: Confinement, refusals: Refusals
) -> tuple[list[tuple[str, str, str]], int]:
    """``(split, item, id)`` from ImageSets/Main (else all annotation files, as train); the unlisted count."""
    every = sorted(
        p.relative_to(root / "Annotations").with_suffix("").as_posix()
        for p in (root / "Annotations").rglob("*.xml")
    )
    files = {ours: f"ImageSets/Main/{theirs}.txt" for ours, theirs in _SPLIT_FILES.items()}
    if not _list_file(inside, files["train"]) and not _list_file(inside, files["validation"]):
        files["train"] = "ImageSets/Main/trainval.txt"
    files = {k: v for k, v in files.items() if _list_file(inside, v)}
    if not files:
        return [("train", f"Annotations/{i}.xml", i) for i in every], 0
    members: list[tuple[str, str, str]] = []
    seen: dict[str, str] = {}
    for split, relative in files.items():
        path = _list_file(inside, relative)
        if path is None:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise FormatError(root / relative, None, f"cannot be read as UTF-8 text: {error}") from None
        for number, line in enumerate(lines, 1):
            voc_id = line.split()[0] if line.split() else ""
            if not voc_id:
                continue
            item = f"{relative} line {number}"
            problem = reference_problem(voc_id)
            if problem:
                refusals.refuse(item, problem if problem == OUTSIDE else f"id {voc_id!r}: {problem}")
                continue
            if voc_id in seen:
                refusals.refuse(item, f"id {voc_id!r} is listed already ({seen[voc_id]})")
                continue
            seen[voc_id] = item
            members.append((split, item, voc_id))
    return members, len(set(every) - set(seen))


def _list_file(inside: Confinement, relative: str) -> Path | None:
    """A split list of ImageSets/Main when it is a file; one leading out of the folder is refused."""
    path, outside = find_inside(inside, [relative])
    if path is None and outside:
        raise FormatError(inside.root / relative, None, OUTSIDE)
    return path


def _find_image(inside: Confinement, voc_id: str, filename: str) -> tuple[str, Path]:
    """The image's file name relative to JPEGImages/ and its path (``<filename>`` first, then ``<id>.*``).

    A ``<filename>`` leading out of the VOC folder gets the one outside reason, whatever is there."""
    folder = PurePosixPath(voc_id).parent
    candidates = [str(folder / filename)] if filename else []
    candidates += [f"{voc_id}{ext}" for ext in sorted(IMAGE_EXTENSIONS)]
    for name in candidates:
        name = name.removeprefix("./")
        problem = reference_problem(name)
        if problem:
            raise FormatError(f"Annotations/{voc_id}.xml", "<filename>", problem)
        found, outside = find_inside(inside, [f"JPEGImages/{name}"])
        if outside:
            raise FormatError(f"Annotations/{voc_id}.xml", "<filename>", OUTSIDE)
        if found is not None:
            return name, found
    raise FormatError(
        f"Annotations/{voc_id}.xml", "<filename>", f"no image {filename or voc_id!r} in JPEGImages/"
    )


def _alphabetical(parsed: Mapping[str, list[tuple[VocImage, str, Path]]], classes: ClassIds) -> list[str]:
    """Without a labelmap: the classes of the images kept, in alphabetical order (their ids renumbered)."""
    kept = [image.annotation for images in parsed.values() for image, *_ in images]
    return classes.renumber(kept, sorted({classes.names[b.category] for a in kept for b in a.boxes}))


def _checked(rel: str, image: VocImage, path: Path, names: Sequence[str]) -> ImageInfo:
    """The image's size after checking it is readable and holds every box."""
    info = probe(path)
    if not isinstance(info, ImageInfo):
        raise FormatError(rel, "<filename>", info.message)
    for index, box in enumerate(image.annotation.boxes, 1):
        eps = OUTSIDE_TOLERANCE
        if (
            box.x < -eps
            or box.y < -eps
            or box.x + box.w > info.width + eps
            or box.y + box.h > info.height + eps
        ):
            item = f"object {index} ({names[box.category]})"
            raise FormatError(rel, item, f"box lies outside the {info.width}x{info.height} image")
    return info


def _annotations(
    parsed: Mapping[str, list[tuple[VocImage, str, Path]]],
) -> tuple[dict[str, list[ImageAnnotation]], dict[tuple[str, str], Path]]:
    """ImageAnnotations per split with every box carrying the same extra keys, and the image files."""
    keys: dict[str, None] = dict.fromkeys(_DEFAULTS)
    for images in parsed.values():
        for image, *_ in images:
            for box in image.annotation.boxes:
                keys.update(dict.fromkeys(box.extra))
    splits: dict[str, list[ImageAnnotation]] = {}
    sources: dict[tuple[str, str], Path] = {}
    for split in sorted(parsed, key=list(_SPLIT_FILES).index):
        for image, file_name, path in parsed[split]:
            boxes = [
                replace(b, extra={k: b.extra.get(k, _default(k)) for k in keys})
                for b in image.annotation.boxes
            ]
            splits.setdefault(split, []).append(ImageAnnotation(file_name, split, boxes=boxes))
            sources[(split, file_name)] = path
    return splits, sources


def _default(key: str) -> Any:
    return False if key in _FLAGS else _DEFAULTS.get(key)


# ------------------------------------------------------------------------------------------- registry


def find(root: Path) -> Path:
    """The VOC folder of an unpacked upload: the one holding ``Annotations/``."""
    folders = files_found(root, "Annotations", folder=True)
    if not folders:
        raise NotFound("No Annotations/ folder in the zip: not a Pascal VOC folder.")
    return folders[0].parent


FORMAT = Format(
    key="voc",
    label="Pascal VOC XML",
    takes="A zip of the Pascal VOC folder: Annotations/*.xml, JPEGImages/ and optionally "
    "ImageSets/Main/train.txt, val.txt, test.txt and labelmap.txt.",
    reads="A Pascal VOC folder (Annotations/, JPEGImages/).",
    writes="Write Pascal VOC: Annotations/*.xml, JPEGImages/, ImageSets/Main/<split>.txt, labelmap.txt.",
    find=find,
    export=export,
    import_dataset=import_dataset,
    options=NoOptions,
)
