"""CVAT for images 1.1 XML ⇄ ``ImageDataset`` folder.

One ``annotations.xml`` holds every image::

    <annotations>
      <version>1.1</version>
      <meta><task><labels><label><name>car</name><attributes>…</attributes></label>…</labels></task></meta>
      <image id="0" name="a.jpg" width="640" height="480" subset="Train">
        <box label="car" occluded="0" xtl="10.5" ytl="20" xbr="30" ybr="40" z_order="0">
          <attribute name="model">sedan</attribute>
        </box>
        <tag label="daytime"/>
      </image>
    </annotations>

Boxes are corner pixels from the top-left: ``[x, y, w, h] = [xtl, ytl, xbr - xtl, ybr - ytl]``.
:func:`decode` reads the document into one :class:`~opsml_image.annotation.ImageAnnotation` an image and
:func:`encode` writes it back. The label order in ``<meta>`` gives the category ids (without ``<meta>``
labels: box labels, then tags, in order of first appearance); ``<tag>`` labels are image categories. Per box
``occluded`` (bool), ``z_order`` (int), ``group_id`` (int, when present) and every ``<attribute>`` go to
``Box.extra``; attributes are typed by their declared ``input_type`` (``checkbox`` → bool, ``number`` → int or
float, others text). Every imported box carries the same keys (absent attributes are null), so each
``objects`` column keeps one type. ``subset`` names the split (``default`` → train). An export writes
``annotations.xml`` and the images under ``images/`` (``images/<Subset>/`` with several splits), as CVAT's
own export does. Rotated boxes cannot be held and are refused; polygons, points, tracks and other shapes are
counted in the report's warnings and left out. XML is parsed with ``defusedxml``.

With subsets an export also writes one ``<split>.xml`` a split (its images with ``subset="<split>"``), the
layout of datumaro's CVAT format, which reads one file a subset named by it and keeps only the images whose
``subset`` is the file's stem (so it reads none of the combined file). An import takes ``annotations.xml``,
else every ``*.xml`` of the folder, each as its split; an image without ``subset`` in a file other than
``annotations.xml`` is in the file's subset (``val.xml`` → validation).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
    split_name,
    uniform_box_fields,
)
from opsml_image.formats.format import Format, NotFound, files_found, head, option
from opsml_image.images import ImageInfo, probe
from opsml_image.rules import OUTSIDE_TOLERANCE, file_name_problem

__all__ = [
    "CvatOptions",
    "CvatLabel",
    "CvatImage",
    "CvatDocument",
    "encode",
    "decode",
    "export",
    "import_dataset",
    "find",
    "detect",
    "FORMAT",
]

ANNOTATIONS_FILE = "annotations.xml"
_SUBSETS = {"train": "Train", "validation": "Validation", "test": "Test"}
_RESERVED = frozenset(("occluded", "z_order", "group_id", "bbox", "categories"))
_BOX_ATTRIBUTES = frozenset(
    ("label", "xtl", "ytl", "xbr", "ybr", "occluded", "z_order", "source", "rotation")
)
_INT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class CvatOptions:
    """Where an import finds the images."""

    images: Path | None = option(
        None, "Where the images are (default: images/ beside the file, else its folder).", side="import"
    )


@dataclass
class CvatLabel:
    """A declared label and its attributes' ``input_type`` by attribute name."""

    name: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class CvatImage:
    """An ``<image>``: id, declared size, subset, and its annotation (``file_name`` is its name, boxes with
    the index of their label as category, ``<tag>`` labels as image categories)."""

    id: int
    width: int
    height: int
    subset: str | None
    annotation: ImageAnnotation


@dataclass
class CvatDocument:
    """A parsed ``annotations.xml``: labels (declared in ``<meta>``, else as found: ``declared`` False),
    images, and counts of elements left out."""

    labels: list[CvatLabel] = field(default_factory=list)
    images: list[CvatImage] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    declared: bool = True
    version: str = "1.1"


# ------------------------------------------------------------------------------------------------ XML


def encode(document: CvatDocument, task_name: str = "opsml-image") -> bytes:
    """The ``annotations.xml`` text of a document (coordinates exact, attributes typed by their label)."""
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    ET.SubElement(task, "name").text = task_name
    ET.SubElement(task, "size").text = str(len(document.images))
    ET.SubElement(task, "mode").text = "annotation"
    subsets = list(dict.fromkeys(i.subset for i in document.images if i.subset))
    if subsets:
        ET.SubElement(task, "subsets").text = "\n".join(subsets)
    labels = ET.SubElement(task, "labels")
    for label in document.labels:
        element = ET.SubElement(labels, "label")
        ET.SubElement(element, "name").text = label.name
        ET.SubElement(element, "type").text = "any"
        attributes = ET.SubElement(element, "attributes")
        for name, input_type in label.attributes.items():
            _declare(attributes, name, input_type, document, document.labels.index(label))
    for image in document.images:
        annotation = image.annotation
        node = ET.SubElement(
            root,
            "image",
            id=str(image.id),
            name=annotation.file_name,
            width=str(image.width),
            height=str(image.height),
        )
        if image.subset:
            node.set("subset", image.subset)
        for box in annotation.boxes:
            extra = dict(box.extra)
            values = {
                "label": document.labels[box.category].name,
                "source": "manual",
                "occluded": "1" if extra.pop("occluded", False) else "0",
                "xtl": number_text(box.x),
                "ytl": number_text(box.y),
                "xbr": number_text(box.x + box.w),
                "ybr": number_text(box.y + box.h),
                "z_order": str(int(extra.pop("z_order", 0) or 0)),
            }
            group = extra.pop("group_id", None)
            if group is not None:
                values["group_id"] = str(int(group))
            element = ET.SubElement(node, "box", values)
            for name, value in extra.items():
                if value is not None and value != "":
                    ET.SubElement(element, "attribute", name=name).text = _value_text(value)
        for tag in annotation.categories:
            ET.SubElement(node, "tag", label=document.labels[tag].name, source="manual")
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _declare(parent: ET.Element, name: str, input_type: str, document: CvatDocument, label: int) -> None:
    attribute = ET.SubElement(parent, "attribute")
    ET.SubElement(attribute, "name").text = name
    ET.SubElement(attribute, "mutable").text = "False"
    ET.SubElement(attribute, "input_type").text = input_type
    if input_type == "checkbox":
        default, values = "false", "false"
    elif input_type == "number":
        numbers = [
            int(b.extra[name])
            for image in document.images
            for b in image.annotation.boxes
            if b.category == label and b.extra.get(name) is not None
        ] or [0]
        default, values = str(min(numbers)), f"{min(numbers)}\n{max(numbers)}\n1"
    else:
        default, values = "", ""
    ET.SubElement(attribute, "default_value").text = default
    ET.SubElement(attribute, "values").text = values


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def decode(
    data: bytes, source: str | Path = ANNOTATIONS_FILE, refusals: Refusals | None = None
) -> CvatDocument:
    """Parse ``annotations.xml``; a bad image raises a FormatError naming it (or is skipped via refusals)."""
    try:
        root = fromstring(data)
    except (ET.ParseError, DefusedXmlException, ValueError) as error:
        raise FormatError(source, None, f"not valid XML: {error}") from None
    if root.tag != "annotations":
        raise FormatError(source, root.tag, "the root element must be <annotations>")
    version = (root.findtext("version") or "").strip()
    if version and version != "1.1":
        raise FormatError(source, "<version>", f"CVAT for images 1.1 expected, got {version!r}")
    document = CvatDocument(labels=_labels(source, root), version=version)
    document.declared = bool(document.labels)
    declared = {label.name: label for label in document.labels}
    classes = ClassIds(list(declared) if declared else None)
    for element in root:
        if element.tag in ("version", "meta"):
            continue
        if element.tag != "image":
            document.ignored[f"<{element.tag}>"] += 1
            continue
        try:
            document.images.append(_image(source, element, (declared, classes), document.ignored))
        except FormatError as error:
            if refusals is None:
                raise
            refusals.refuse(error.item or "?", error.reason)
    if not declared:
        document.labels = [CvatLabel(name) for name in classes.names]
    return document


def _labels(source: str | Path, root: ET.Element) -> list[CvatLabel]:
    labels: list[CvatLabel] = []
    for element in root.findall("meta//labels/label"):
        if element.find("parent") is not None and (element.findtext("parent") or "").strip():
            continue  # a skeleton's point label
        name = (element.findtext("name") or "").strip()
        if not name or any(label.name == name for label in labels):
            raise FormatError(source, f"<meta> label {name!r}", "label names must be non-empty and unique")
        attributes = {
            (a.findtext("name") or "").strip(): (a.findtext("input_type") or "text").strip()
            for a in element.findall("attributes/attribute")
        }
        labels.append(CvatLabel(name, attributes))
    return labels


def _image(
    source: str | Path,
    element: ET.Element,
    labels: tuple[dict[str, CvatLabel], ClassIds],
    ignored: Counter[str],
) -> CvatImage:
    name = element.get("name", "")
    item = f"image {element.get('id', '?')} ({name})"
    problem = reference_problem(name)
    if problem:
        raise FormatError(source, item, problem)
    image = CvatImage(
        _int(source, item, element, "id"),
        _int(source, item, element, "width"),
        _int(source, item, element, "height"),
        element.get("subset"),
        ImageAnnotation(name),
    )
    boxes, tags = image.annotation.boxes, image.annotation.categories
    for child in element:
        if child.tag == "box":
            boxes.append(_box(source, f"{item} box {len(boxes) + 1}", child, labels, ignored))
        elif child.tag == "tag":
            tag = labels[1].id(child.get("label", ""))
            if tag is None:
                label = child.get("label", "")
                raise FormatError(source, f"{item} tag", f"label {label!r} is not declared in <meta>")
            if child.findall("attribute"):
                ignored["tag <attribute>"] += len(child.findall("attribute"))
            if tag not in tags:
                tags.append(tag)
        else:
            ignored[f"<{child.tag}>"] += 1
    return image


def _box(
    source: str | Path,
    item: str,
    element: ET.Element,
    labels: tuple[dict[str, CvatLabel], ClassIds],
    ignored: Counter[str],
) -> Box:
    declared, classes = labels
    label = element.get("label", "")
    category = classes.id(label) if label else None
    if category is None:
        raise FormatError(source, item, f"label {label!r} is not declared in <meta>")
    item = f"{item} ({label})"
    xtl, ytl, xbr, ybr = (_float(source, item, element, key) for key in ("xtl", "ytl", "xbr", "ybr"))
    if xbr <= xtl or ybr <= ytl:
        raise FormatError(source, item, f"empty or reversed box: xtl {xtl}, xbr {xbr}, ytl {ytl}, ybr {ybr}")
    if _float(source, item, element, "rotation", "0") % 360:
        raise FormatError(
            source, item, f"rotated by {element.get('rotation')}°; only upright boxes can be held"
        )
    extra: dict[str, Any] = {
        "occluded": element.get("occluded", "0").strip() == "1",
        "z_order": int(_float(source, item, element, "z_order", "0")),
    }
    if element.get("group_id") is not None:
        extra["group_id"] = int(_float(source, item, element, "group_id"))
    ignored.update(
        f"box attribute {key!r}" for key in element.attrib if key not in _BOX_ATTRIBUTES | {"group_id"}
    )
    types = declared[label].attributes if label in declared else {}
    for attribute in element.findall("attribute"):
        key = attribute.get("name", "")
        if not key or key in _RESERVED or key in extra:
            raise FormatError(
                source, f"{item} attribute", f"attribute name {key!r} is empty, reserved or repeated"
            )
        extra[key] = _typed(source, f"{item} attribute {key!r}", attribute.text or "", types.get(key, "text"))
    return Box(xtl, ytl, xbr - xtl, ybr - ytl, category, extra)


def _typed(source: str | Path, item: str, text: str, input_type: str) -> Any:
    if input_type == "checkbox":
        if text.strip().lower() not in ("true", "false"):
            raise FormatError(source, item, f"checkbox value must be true or false, got {text!r}")
        return text.strip().lower() == "true"
    if input_type == "number":
        if _INT.match(text.strip()):
            return int(text)
        return finite_number(text, source, item, "number value")
    return text


def _int(source: str | Path, item: str, element: ET.Element, key: str) -> int:
    text = element.get(key)
    if text is None or not _INT.match(text.strip()):
        raise FormatError(source, item, f"attribute {key!r} must be an integer, got {text!r}")
    return int(text)


def _float(source: str | Path, item: str, element: ET.Element, key: str, default: str | None = None) -> float:
    return finite_number(element.get(key, default), source, item, f"attribute {key!r}")


# --------------------------------------------------------------------------------------------- export


def export(
    dataset: ImageDataset,
    dest: str | Path,
    options: CvatOptions | None = None,
    *,
    split: str | None = None,
    skip_invalid: bool = False,
) -> Report:
    """Write ``dest/annotations.xml`` and ``dest/images/`` for the dataset (or one split); with subsets
    also ``dest/<split>.xml`` a split (datumaro's layout)."""
    target = Path(dest)
    refusals = Refusals(dataset.image_dir, skip_invalid)
    names = category_names(dataset)
    losses = Losses("CVAT for images")
    chosen = [split] if split is not None else list(dataset.splits)
    nested = len(chosen) > 1
    document = CvatDocument(labels=[CvatLabel(name) for name in names])
    files: list[tuple[Path, str]] = []
    for image in export_images(dataset, split, names, refusals):
        annotation = image.annotation
        losses.note_image(annotation, caption=False, categories=True)
        subset = _SUBSETS[image.split] if nested or image.split != "train" else None
        written = ImageAnnotation(annotation.file_name, image.split)
        for box in annotation.boxes:
            extra: dict[str, Any] = {}
            for key, value in box.extra.items():
                if value is None or isinstance(value, str | int | float | bool):
                    extra[key] = value
                else:
                    losses.note(f"box field {key!r} (non-scalar values)")
            written.boxes.append(replace(box, extra=extra))
        written.categories = [c for c in annotation.categories if c < len(names)]
        document.images.append(CvatImage(len(document.images), image.width, image.height, subset, written))
        folder = f"images/{subset}/" if nested and subset else "images/"
        files.append((image.path, folder + annotation.file_name))
    for index, label in enumerate(document.labels):
        label.attributes = _input_types(document, index)
    report = Report(path=target, skipped=refusals.skipped, warnings=losses.warnings())
    xml = encode(document, dataset.image_dir.name)
    with staged_folder(target) as staging:
        for path, relative in files:
            place_file(path, staging / relative)
        (staging / ANNOTATIONS_FILE).write_bytes(xml)
        for name, part in _per_split(document).items():
            (staging / f"{name}.xml").write_bytes(encode(part, dataset.image_dir.name))
    report.images = len(document.images)
    report.boxes = sum(len(i.annotation.boxes) for i in document.images)
    return report


def _per_split(document: CvatDocument) -> dict[str, CvatDocument]:
    """One document a split, its images' ``subset`` the split's name (datumaro keeps only the images whose
    subset is the file's stem); none when no image has a subset (datumaro then reads annotations.xml)."""
    if not any(image.subset for image in document.images):
        return {}
    parts: dict[str, CvatDocument] = {}
    for image in document.images:
        split = image.annotation.split
        part = parts.setdefault(split, CvatDocument(labels=document.labels))
        part.images.append(replace(image, subset=split))
    return parts


def _input_types(document: CvatDocument, label: int) -> dict[str, str]:
    """Each attribute of a label's boxes: checkbox (all bool), number (all int), else text."""
    kinds: dict[str, set[str]] = {}
    for image in document.images:
        for box in image.annotation.boxes:
            if box.category != label:
                continue
            for key, value in box.extra.items():
                if key in _RESERVED or value is None or value == "":
                    continue
                kind = (
                    "checkbox" if isinstance(value, bool) else "number" if isinstance(value, int) else "text"
                )
                kinds.setdefault(key, set()).add(kind)
    return {key: found.pop() if len(found) == 1 else "text" for key, found in kinds.items()}


# --------------------------------------------------------------------------------------------- import


def import_dataset(
    source: str | Path, dest: str | Path, options: CvatOptions | None = None, *, skip_invalid: bool = False
) -> Report:
    """Make a dataset folder at ``dest`` from ``annotations.xml`` (or a folder holding it, else all the
    folder's ``*.xml``, one a subset as datumaro writes them) and its images.

    Images are looked up in ``options.images`` (default: the ``images/`` folder beside the XML, else its
    folder), under ``<subset>/<name>`` first, then ``<name>``; never outside that folder (the XML's folder
    by default). An image without ``subset`` in a file other than ``annotations.xml`` is in the subset the
    file is named by.
    """
    images = (options or CvatOptions()).images
    path = Path(source)
    xml_paths = _xml_files(path)
    xml_path = xml_paths[0] if len(xml_paths) == 1 else path
    inside = Confinement(images if images is not None else xml_paths[0].parent)
    image_root = Path(images) if images is not None else _default_images(inside)
    refusals = Refusals(xml_path, skip_invalid)
    document, unversioned = _read_all(xml_paths, refusals)
    names = [label.name for label in document.labels]
    keys: dict[str, None] = {"occluded": None, "z_order": None}
    for image in document.images:
        for box in image.annotation.boxes:
            keys.update(dict.fromkeys(box.extra))
    splits: dict[str, list[ImageAnnotation]] = {}
    sources: dict[tuple[str, str], Path] = {}
    resized = 0
    for image in document.images:
        name = image.annotation.file_name
        item = f"image {image.id} ({name})"
        split = split_name(image.subset or "")
        if split is None:
            refusals.refuse(item, f"subset {image.subset!r} is not train, validation or test")
            continue
        if (split, name) in sources:
            refusals.refuse(item, f"a second image named {name!r} in split {split}")
            continue
        candidates = [name]
        for folder in dict.fromkeys((_SUBSETS.get(split, ""), image.subset or "")):
            if folder and "/" not in folder and not file_name_problem(folder):
                candidates.insert(0, f"{folder}/{name}")
        found, leads_out = find_inside(inside, candidates, image_root)
        if found is None and leads_out:
            refusals.refuse(item, OUTSIDE)
            continue
        info = probe(found) if found is not None else None
        if found is None or not isinstance(info, ImageInfo):
            refusals.refuse(item, f"image not found or unreadable in {image_root}")
            continue
        outside = [b for b in image.annotation.boxes if not _inside(b, info)]
        if outside:
            label = names[outside[0].category]
            refusals.refuse(item, f"a {label} box lies outside the {info.width}x{info.height} image")
            continue
        resized += (image.width, image.height) != (info.width, info.height)
        boxes = [
            replace(b, extra={k: b.extra.get(k, _default(k)) for k in keys}) for b in image.annotation.boxes
        ]
        categories = list(image.annotation.categories)
        splits.setdefault(split, []).append(ImageAnnotation(name, split, categories=categories, boxes=boxes))
        sources[(split, name)] = found
    if not splits:
        raise FormatError(
            xml_path, None, "no image could be imported" + (" (all skipped)" if refusals.skipped else "")
        )
    order = list(_SUBSETS)
    texts = uniform_box_fields(a for v in splits.values() for a in v)
    report = Report(path=Path(dest), skipped=refusals.skipped)
    report.warnings = [f"left out {what}: {n:,}" for what, n in document.ignored.items()]
    report.warnings += [
        f"attribute {key!r} is missing on some boxes or mixes types: kept as text" for key in texts
    ]
    if unversioned:
        files = f"{unversioned:,} file{'s' if unversioned != 1 else ''}"
        report.warnings.append(f"{files} without <version>: read as CVAT for images 1.1")
    if resized:
        report.warnings.append(
            f"{resized:,} images declare a size other than their file's; boxes checked against the file"
        )
    write_folder(dest, {s: splits[s] for s in sorted(splits, key=order.index)}, names, sources)
    report.images = len(sources)
    report.boxes = sum(len(a.boxes) for v in splits.values() for a in v)
    return report


def _xml_files(path: Path) -> list[Path]:
    """The XML files to read: ``path``, its ``annotations.xml``, else its ``*.xml`` (one a subset)."""
    if not path.is_dir():
        return [path]
    if (path / ANNOTATIONS_FILE).is_file():
        return [path / ANNOTATIONS_FILE]
    found = sorted(p for p in path.glob("*.xml") if p.is_file())
    if not found:
        raise FormatError(path, None, "holds no annotations.xml and no other XML file")
    return found


def _read_all(paths: list[Path], refusals: Refusals) -> tuple[CvatDocument, int]:
    """The documents of ``paths`` as one (labels joined by name, ids renumbered, an image without subset in
    ``<subset>.xml`` given that subset) and how many files lack ``<version>``."""
    merged = CvatDocument()
    unversioned = 0
    for xml_path in paths:
        try:
            data = xml_path.read_bytes()
        except OSError as error:
            raise FormatError(xml_path, None, f"cannot be read: {error.strerror}") from None
        document = decode(data, xml_path, refusals)
        unversioned += not document.version
        own = [label.name for label in document.labels]
        if not document.declared:
            own = _found_order(document)
            document.labels = [CvatLabel(name) for name in own]
        merged.declared = merged.declared and document.declared
        known = {label.name: i for i, label in enumerate(merged.labels)}
        for label in document.labels:
            if label.name in known:
                merged.labels[known[label.name]].attributes.update(label.attributes)
            else:
                known[label.name] = len(merged.labels)
                merged.labels.append(CvatLabel(label.name, dict(label.attributes)))
        ids = {i: known[name] for i, name in enumerate(own)}
        default = None if xml_path.name == ANNOTATIONS_FILE else xml_path.stem
        for image in document.images:
            annotation = image.annotation
            annotation.boxes = [replace(b, category=ids[b.category]) for b in annotation.boxes]
            annotation.categories = [ids[c] for c in annotation.categories]
            merged.images.append(replace(image, subset=image.subset or default))
        merged.ignored.update(document.ignored)
    return merged, unversioned


def _found_order(document: CvatDocument) -> list[str]:
    """Without ``<meta>`` labels: box labels, then tags, in order of first appearance (ids renumbered)."""
    names = [label.name for label in document.labels]
    annotations = [image.annotation for image in document.images]
    order = dict.fromkeys(
        [names[b.category] for a in annotations for b in a.boxes]
        + [names[c] for a in annotations for c in a.categories]
    )
    return ClassIds(names).renumber(annotations, list(order))


def _default_images(inside: Confinement) -> Path:
    """``images/`` beside the XML (also when it leads out: its images are then refused), else the folder."""
    found, outside = find_inside(inside, ["images"], folder=True)
    return inside.root / "images" if found is not None or outside else inside.root


def _inside(box: Box, info: ImageInfo, eps: float = OUTSIDE_TOLERANCE) -> bool:
    return (
        box.x >= -eps
        and box.y >= -eps
        and box.x + box.w <= info.width + eps
        and box.y + box.h <= info.height + eps
    )


def _default(key: str) -> Any:
    return {"occluded": False, "z_order": 0}.get(key)


# ------------------------------------------------------------------------------------------- registry


def find(root: Path) -> Path:
    """The ``annotations.xml`` of an unpacked upload (else its only other XML file)."""
    found = files_found(root, ANNOTATIONS_FILE) or files_found(root, "*.xml")
    if not found:
        raise NotFound("No annotations.xml (CVAT for images 1.1) in the upload.")
    return found[0]


def detect(path: Path) -> bool:
    """Whether ``path`` is (or holds) an XML file whose root is ``<annotations>``."""
    files = [path] if path.is_file() else files_found(path, "*.xml") if path.is_dir() else []
    return any(re.search(rb"<annotations[\s>]", head(file, 4096)) for file in files)


FORMAT = Format(
    key="cvat",
    label="CVAT for images 1.1 XML",
    takes="annotations.xml (CVAT for images 1.1) with its images, loose or in a zip (images beside the "
    "XML or in images/, or images/<Subset>/).",
    reads="annotations.xml, or the folder holding it.",
    writes="Write CVAT for images 1.1: annotations.xml and images/ (subsets as splits).",
    find=find,
    detect=detect,
    export=export,
    import_dataset=import_dataset,
    options=CvatOptions,
    loose=(".xml",),
)
