"""Conversions between :class:`~opsml_image.annotation.ImageAnnotation` and the store's rows and JSON.

``image`` rows (selected with :data:`_ROW`) to annotations and annotations to their columns; what a save
stores (:func:`_normalised`); ``image_category`` counts; the snapshots of the edit history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.rules import is_finite

Key = tuple[str, str]
"""An image's key: ``(split, file_name)``."""

_ROW = (
    "id, split, file_name, caption, categories, boxes, extra, lines, dropped, has_record, on_disk, "
    "version, dirty, errors, warnings"
)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _box_lists(boxes: Sequence[Box]) -> list[list[Any]]:
    """``[x, y, w, h, category]``, with the box's ``extra`` as a sixth item when it has any."""
    return [[b.x, b.y, b.w, b.h, b.category, b.extra] if b.extra else [b.x, b.y, b.w, b.h, b.category]
            for b in boxes]  # fmt: skip


def _boxes(lists: Iterable[Sequence[Any]]) -> list[Box]:
    return [Box(*item[:5], extra=item[5] if len(item) > 5 else {}) for item in lists]


def _boxes_json(boxes: Sequence[Box]) -> str:
    return _dumps(_box_lists(boxes))


def _columns(a: ImageAnnotation) -> tuple[Any, ...]:
    """``caption, search, categories, boxes, extra, n_boxes, annotated`` of an annotation."""
    return (
        a.caption,
        a.caption.casefold() if a.caption else None,
        _dumps(list(a.categories)),
        _boxes_json(a.boxes),
        _dumps(a.extra),
        len(a.boxes),
        int(bool(a.boxes)),
    )


def _decoded(
    file_name: str,
    split: str,
    caption: str | None,
    categories: str,
    boxes: str,
    lines: str,
    extra: str,
    dropped: int,
) -> ImageAnnotation:
    """An annotation from its stored columns (JSON text for categories, boxes, lines and extra)."""
    return ImageAnnotation(
        file_name=file_name,
        split=split,
        caption=caption,
        categories=orjson.loads(categories),
        boxes=_boxes(orjson.loads(boxes)),
        lines=tuple(orjson.loads(lines)),
        extra=orjson.loads(extra),
        dropped_boxes=dropped,
    )


def _annotation(row: tuple[Any, ...]) -> ImageAnnotation:
    """An annotation from an ``image`` row selected with ``_ROW``."""
    return _decoded(row[2], row[1], row[3], row[4], row[5], row[7], row[6], row[8])


def _normalised(a: ImageAnnotation, key: Key) -> ImageAnnotation:
    """What a save stores: boxes rounded to 2 decimals (ones rounded to no size dropped), ids checked,
    repeated image categories once, an empty caption as None, the key's split and file name."""
    boxes: list[Box] = []
    for box in a.boxes:
        if type(box.category) is not int or box.category < 0:
            raise ValueError(f"box category must be an integer id >= 0, got {box.category!r}")
        if not all(is_finite(v) for v in box.as_bbox()):
            raise ValueError(f"box coordinates must be finite numbers, got {box.as_bbox()}")
        rounded = box.rounded(2)
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


def _category_counts(box_categories: Iterable[int], tagged: Iterable[int]) -> dict[int, tuple[int, int]]:
    counts = Counter(box_categories)
    tags = set(tagged)
    return {c: (counts.get(c, 0), int(c in tags)) for c in sorted(set(counts) | tags)}


def _category_rows(a: ImageAnnotation) -> dict[int, tuple[int, int]]:
    return _category_counts((b.category for b in a.boxes), a.categories)


def _snapshot(a: ImageAnnotation | None) -> str | None:
    if a is None:
        return None
    boxes = _box_lists(a.boxes)
    return _dumps({"caption": a.caption, "categories": a.categories, "boxes": boxes, "extra": a.extra})


def _from_snapshot(text: str | None, key: Key) -> ImageAnnotation | None:
    if text is None:
        return None
    data = orjson.loads(text)
    return ImageAnnotation(
        file_name=key[1],
        split=key[0],
        caption=data["caption"],
        categories=data["categories"],
        boxes=_boxes(data["boxes"]),
        extra=data["extra"],
    )
