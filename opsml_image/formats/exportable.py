"""What the VOC, CVAT, Label Studio and Hugging Face modules share: the images an export writes, what a
format cannot hold, one type per box field, and split names read from other tools.

:func:`export_images` walks a dataset (or one split) and yields each image with its merged annotation, its
file and its size; an image that cannot be written whole (missing or unreadable file, malformed boxes in the
metadata, a category id without a name, a box reaching outside the image) is refused through
:class:`~opsml_image.formats.base.Refusals`. An image that is a link leading outside the dataset folder
stops the export whatever ``skip_invalid`` says (:func:`refuse_links_out`): remove the link.
:class:`Losses` counts what the target format has no place for, for :attr:`Report.warnings`.
:func:`uniform_box_fields` makes imported box fields safe for Hugging Face.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsml_image.annotation import ImageAnnotation
from opsml_image.confine import survey
from opsml_image.dataset import SPLIT_ALIASES, ImageDataset
from opsml_image.formats.base import FormatError, Refusals, readable_annotations
from opsml_image.images import ImageInfo, is_image_file, probe
from opsml_image.rules import box_outside_problem

__all__ = [
    "ExportImage",
    "export_images",
    "refuse_links_out",
    "category_names",
    "Losses",
    "split_name",
    "number_text",
    "uniform_box_fields",
]


@dataclass(frozen=True, slots=True)
class ExportImage:
    """One image to export: its split, merged annotation, file on disk and size in pixels."""

    split: str
    annotation: ImageAnnotation
    path: Path
    width: int
    height: int

    @property
    def item(self) -> str:
        """How messages name this image: ``<split>/<file_name>``."""
        return f"{self.split}/{self.annotation.file_name}"


def category_names(dataset: ImageDataset) -> list[str]:
    """The dataset's category names, or a FormatError naming ``categories.json`` when it is invalid."""
    try:
        return dataset.category_names()
    except ValueError as error:
        raise FormatError(dataset.image_dir / "categories.json", None, str(error)) from None


def export_images(
    dataset: ImageDataset, split: str | None, names: list[str], refusals: Refusals
) -> Iterator[ExportImage]:
    """Every image of ``split`` (all splits when None) that can be exported whole; refuse the others."""
    try:
        parts = [dataset.split(split)] if split is not None else list(dataset.splits.values())
    except KeyError as error:
        raise refusals.error(None, str(error.args[0])) from None
    refuse_links_out(dataset, split)
    for part in parts:
        for view in readable_annotations(part, refusals):
            file_name = view.file_name
            item = f"{part.name}/{file_name}"
            if view.dropped_boxes:
                refusals.refuse(item, f"{view.dropped_boxes} malformed box(es) in {part.metadata_label}")
                continue
            unknown = sorted({b.category for b in view.boxes if b.category >= len(names)})
            if unknown:
                refusals.refuse(item, f"category id {unknown[0]} has no name in categories.json")
                continue
            path = part.directory / file_name
            info = probe(path)
            if not isinstance(info, ImageInfo):
                refusals.refuse(item, f"image missing or unreadable ({info.message})")
                continue
            outside = next(
                (
                    problem
                    for number, box in enumerate(view.boxes, 1)
                    if (
                        problem := box_outside_problem(
                            box.as_bbox(), info.width, info.height, f"box {number}"
                        )
                    )
                ),
                None,
            )
            if outside is not None:
                refusals.refuse(item, outside.message)
                continue
            yield ExportImage(part.name, view, path, info.width, info.height)


def refuse_links_out(dataset: ImageDataset, split: str | None) -> None:
    """Stop with a FormatError at an image of ``split`` (all when None) that is a link leading outside the
    dataset folder: no export copies a file from out there, whatever ``skip_invalid`` says."""
    root = dataset.image_dir
    chosen = [split] if split is not None else list(dataset.splits)
    folders = [dataset.split(name).directory.resolve() for name in chosen if name in dataset.splits]
    for relative, problem in survey(root).problems.items():
        path = (root / relative).parent.resolve() / Path(relative).name
        if (
            problem.code == "file.outside"
            and is_image_file(relative)
            and any(f in path.parents for f in folders)
        ):
            raise FormatError(root, relative, f"{problem.message}; remove the link to export")


class Losses:
    """Counts of what a format cannot hold, turned into one warning each."""

    def __init__(self, format_name: str) -> None:
        self.format_name = format_name
        self.counts: Counter[str] = Counter()

    def note(self, what: str, count: int = 1) -> None:
        if count:
            self.counts[what] += count

    def note_image(self, annotation: ImageAnnotation, *, caption: bool, categories: bool) -> None:
        """Count the image-level fields the format cannot hold (``caption``/``categories``: it can)."""
        if annotation.caption and not caption:
            self.note("captions (images)")
        if annotation.categories and not categories:
            self.note("image categories (images)")
        for key in annotation.extra:
            self.note(f"record field {key!r} (images)")

    def warnings(self) -> list[str]:
        return [f"{self.format_name} cannot hold {what}: {n:,} left out" for what, n in self.counts.items()]


def split_name(value: str) -> str | None:
    """Our split name for another tool's subset name (``Train``, ``val``, ``default`` …), or None."""
    key = value.strip().lower()
    if key in ("", "default"):
        return "train"
    return SPLIT_ALIASES.get(key)


def number_text(value: float) -> str:
    """A coordinate as text: an integer without a point, else the shortest exact float (``12.25``)."""
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def uniform_box_fields(annotations: Iterable[ImageAnnotation]) -> list[str]:
    """Give every box the same fields, each of one JSON type and never null; returns the fields made text.

    Hugging Face infers one type per ``objects`` column, and pyarrow's JSON reader (``imagefolder`` uses it)
    corrupts lists whose first values in a block are null (apache/arrow#51305: ``[null, 1]`` reads
    ``[1, 0]``). So a field holding ints and floats becomes float; a field missing (or null) on some boxes,
    or holding other mixes, becomes text, ``""`` where it was missing (``true``/``false`` for booleans); a
    field null everywhere is dropped. Boxes are changed in place (their ``extra`` dicts).
    """
    boxes = [box for annotation in annotations for box in annotation.boxes]
    kinds: dict[str, set[type]] = {}
    sparse: set[str] = set()
    for box in boxes:
        for key, value in box.extra.items():
            kinds.setdefault(key, set())
            if value is None:
                sparse.add(key)
            else:
                kinds[key].add(type(value))
    sparse |= {key for key in kinds if any(key not in box.extra for box in boxes)}
    empty = {key for key, found in kinds.items() if not found}
    numeric = {key for key, found in kinds.items() if found == {int, float} and key not in sparse}
    text = sorted(
        key for key, found in kinds.items() if (len(found) > 1 or key in sparse) and key not in empty
    )
    text = [key for key in text if key not in numeric]
    for box in boxes:
        for key in empty:
            box.extra.pop(key, None)
        for key in numeric:
            box.extra[key] = float(box.extra[key])
        for key in text:
            value = box.extra.get(key)
            box.extra[key] = "" if value is None else _as_text(value)
    return text


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
