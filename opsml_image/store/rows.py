"""The one row layout of an image (:class:`ImageRow`) and its conversions to and from annotations.

An :class:`ImageRow` is what the index builds from the metadata files and what every query reads back
(:data:`opsml_image.store.reading.ROW_SELECT`); boxes, categories, extra and lines are JSON text. Also here:
what a save stores (:func:`normalised`), ``store_image_category`` counts, and the edit history's snapshots.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.rules import is_finite
from opsml_image.store.errors import Key

__all__ = ["Key", "ImageRow", "ROW_COLUMNS", "row_of", "annotation_of", "normalised", "category_rows"]


class ImageRow(NamedTuple):
    """One image of the store: its merged annotation (JSON columns), where its records are, its state."""

    split: str
    split_order: int
    file_name: str
    caption: str | None
    search: str | None  # casefolded caption
    categories: str  # JSON list of image-level category ids
    boxes: str  # JSON [[x, y, w, h, category(, extra)], ...]
    extra: str  # JSON object: the record's other keys
    n_boxes: int
    annotated: int
    lines: str  # JSON list of source line numbers
    first_line: int | None
    last_line: int | None
    dropped: int = 0
    has_record: int = 1
    on_disk: int = 0
    version: int = 1
    dirty: int = 0
    errors: int = 0
    warnings: int = 0
    id: int | None = None

    def annotation(self) -> ImageAnnotation:
        """The row's annotation."""
        return ImageAnnotation(
            file_name=self.file_name,
            split=self.split,
            caption=self.caption,
            categories=orjson.loads(self.categories),
            boxes=boxes_of(orjson.loads(self.boxes)),
            lines=tuple(orjson.loads(self.lines)),
            extra=orjson.loads(self.extra),
            dropped_boxes=self.dropped,
        )

    def content(self) -> tuple[Any, ...]:
        """What a re-index compares to tell whether the image changed (its version is bumped if so)."""
        return self.caption, self.categories, self.boxes, self.extra, self.has_record


#: The columns of :class:`ImageRow`, in order, for ``SELECT``.
ROW_COLUMNS = ", ".join(ImageRow._fields)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def box_lists(boxes: Sequence[Box]) -> list[list[Any]]:
    """``[x, y, w, h, category]``, with the box's ``extra`` as a sixth item when it has any."""
    return [[b.x, b.y, b.w, b.h, b.category, b.extra] if b.extra else [b.x, b.y, b.w, b.h, b.category]
            for b in boxes]  # fmt: skip


def boxes_of(lists: Iterable[Sequence[Any]]) -> list[Box]:
    return [
        Box(item[0], item[1], item[2], item[3], item[4], extra=item[5] if len(item) > 5 else {})
        for item in lists
    ]


def row_of(a: ImageAnnotation, order: int, **state: Any) -> ImageRow:
    """The row of an annotation (its lines as the annotation has them); ``state`` sets the other fields."""
    lines = list(a.lines)
    return ImageRow(
        split=a.split,
        split_order=order,
        file_name=a.file_name,
        caption=a.caption,
        search=a.caption.casefold() if a.caption else None,
        categories=dumps(list(a.categories)),
        boxes=dumps(box_lists(a.boxes)),
        extra=dumps(a.extra),
        n_boxes=len(a.boxes),
        annotated=int(bool(a.boxes)),
        lines=dumps(lines),
        first_line=min(lines, default=None),
        last_line=max(lines, default=None),
        dropped=a.dropped_boxes,
        **state,
    )


def annotation_of(row: Sequence[Any]) -> ImageAnnotation:
    """The annotation of a database row selected with :data:`ROW_COLUMNS`."""
    return ImageRow(*row).annotation()


def normalised(a: ImageAnnotation, key: Key) -> ImageAnnotation:
    """What a save stores: boxes rounded to ``rules.BOX_DIGITS`` decimals (ones rounded to no size dropped),
    ids checked, repeated image categories once, an empty caption as None, the key's split and file name."""
    boxes: list[Box] = []
    for box in a.boxes:
        if type(box.category) is not int or box.category < 0:
            raise ValueError(f"box category must be an integer id >= 0, got {box.category!r}")
        if not all(is_finite(v) for v in box.as_bbox()):
            raise ValueError(f"box coordinates must be finite numbers, got {box.as_bbox()}")
        rounded = box.rounded()
        if rounded.w > 0 and rounded.h > 0:
            boxes.append(rounded)
    categories: list[int] = []
    for category in a.categories:
        if type(category) is not int or category < 0:
            raise ValueError(f"image category must be an integer id >= 0, got {category!r}")
        if category not in categories:
            categories.append(category)
    return ImageAnnotation(
        file_name=key[1],
        split=key[0],
        caption=a.caption or None,
        categories=categories,
        boxes=boxes,
        lines=a.lines,
        extra=dict(a.extra),
    )


def category_counts(box_categories: Iterable[int], tagged: Iterable[int]) -> dict[int, tuple[int, int]]:
    """``{category: (boxes of it, 1 if the image lists it as an image category)}``."""
    counts = Counter(box_categories)
    tags = set(tagged)
    return {c: (counts.get(c, 0), int(c in tags)) for c in sorted(set(counts) | tags)}


def category_rows(a: ImageAnnotation | None) -> dict[int, tuple[int, int]]:
    """The ``store_image_category`` counts of an annotation (none for no record)."""
    if a is None:
        return {}
    return category_counts((b.category for b in a.boxes), a.categories)


def row_category_rows(row: ImageRow) -> dict[int, tuple[int, int]]:
    """The same counts from a row's JSON, without building boxes."""
    if not row.n_boxes and row.categories == "[]":
        return {}
    boxes = [b[4] for b in orjson.loads(row.boxes)] if row.n_boxes else ()
    return category_counts(boxes, orjson.loads(row.categories))


def snapshot(a: ImageAnnotation | None) -> str | None:
    """The history's JSON of an image's state (None = no record)."""
    if a is None:
        return None
    return dumps(
        {"caption": a.caption, "categories": a.categories, "boxes": box_lists(a.boxes), "extra": a.extra}
    )


def from_snapshot(text: str | None, key: Key) -> ImageAnnotation | None:
    if text is None:
        return None
    data = orjson.loads(text)
    return ImageAnnotation(
        file_name=key[1],
        split=key[0],
        caption=data["caption"],
        categories=data["categories"],
        boxes=boxes_of(data["boxes"]),
        extra=data["extra"],
    )
