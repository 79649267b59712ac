"""Suspicious boxes of one image: the same class twice on one object, two classes on one object, tiny boxes,
extreme aspect ratios, boxes covering the whole image; and the one safe fix, dropping duplicate boxes.

Boxes are COCO ``[x, y, w, h]`` in image pixels. Rules that need the image's size (a fraction of it) are
skipped when it is unknown. Messages number boxes from 1, as Annotate's box list does; a finding's
``boxes`` are 0-based indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from opsml_image.annotation import Box
from opsml_image.quality.findings import Finding, Key, Kind

__all__ = ["BoxRules", "box_findings", "duplicate_boxes", "iou", "overlaps"]

#: Above this many boxes in an image the pairwise overlaps are computed with numpy.
_VECTOR_FROM = 40


@dataclass(frozen=True)
class BoxRules:
    """The thresholds of the box rules."""

    #: ``box.duplicate``: two boxes of one class overlapping at least this much (intersection over union).
    same_iou: float = 0.85
    #: ``box.conflict``: two boxes of different classes overlapping at least this much.
    conflict_iou: float = 0.85
    #: ``box.tiny``: a side shorter than this many pixels...
    min_side: float = 4.0
    #: ... or an area below this fraction of the image.
    min_area: float = 1e-5
    #: ``box.aspect``: the longer side over the shorter above this.
    max_aspect: float = 10.0
    #: ``box.whole_image``: covering at least this fraction of the image.
    whole: float = 0.95


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0.0 when they do not overlap)."""
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a.w * a.h + b.w * b.h - inter)


def overlaps(boxes: Sequence[Box], threshold: float) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, iou)``, ``i < j``, of boxes overlapping at least ``threshold``, in index order."""
    if len(boxes) < 2:
        return []
    if len(boxes) < _VECTOR_FROM:
        found = []
        for i, a in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                value = iou(a, boxes[j])
                if value >= threshold and value > 0:
                    found.append((i, j, value))
        return found
    xywh = np.array([(b.x, b.y, b.w, b.h) for b in boxes], dtype=np.float64)
    x0, y0 = xywh[:, 0], xywh[:, 1]
    x1, y1 = x0 + xywh[:, 2], y0 + xywh[:, 3]
    w = np.clip(np.minimum.outer(x1, x1) - np.maximum.outer(x0, x0), 0, None)
    h = np.clip(np.minimum.outer(y1, y1) - np.maximum.outer(y0, y0), 0, None)
    inter = w * h
    area = xywh[:, 2] * xywh[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = inter / (area[:, None] + area[None, :] - inter)
    rows, cols = np.nonzero(np.triu((values >= threshold) & (inter > 0), k=1))
    return [(int(i), int(j), float(values[i, j])) for i, j in zip(rows, cols, strict=True)]


def duplicate_boxes(boxes: Sequence[Box], same_iou: float) -> list[int]:
    """The boxes the "drop duplicate boxes" fix removes: each box of the same class as an earlier kept box
    it overlaps at least ``same_iou`` (the first of a pile is kept)."""
    dropped: set[int] = set()
    for i, j, _ in overlaps(boxes, same_iou):
        if i not in dropped and boxes[i].category == boxes[j].category:
            dropped.add(j)
    return sorted(dropped)


def box_findings(
    key: Key,
    boxes: Sequence[Box],
    size: tuple[int, int] | None,
    rules: BoxRules = BoxRules(),  # noqa: B008 - frozen
    names: Sequence[str] = (),
) -> list[Finding]:
    """Every suspicious box of the image ``key`` (``size``: its width and height, None when unknown)."""
    found = []
    name = _namer(names)
    lowest = min(rules.same_iou, rules.conflict_iou)
    for i, j, value in overlaps(boxes, lowest):
        a, b = boxes[i].category, boxes[j].category
        if a == b and value >= rules.same_iou:
            message = f"two {name(a)} boxes on one object (IoU {value:.2f}): boxes {i + 1} and {j + 1}"
            found.append(Finding.of(Kind.BOX_DUPLICATE, [key], message, (i, j)))
        elif a != b and value >= rules.conflict_iou:
            message = f"{name(a)} and {name(b)} on one object (IoU {value:.2f}): boxes {i + 1} and {j + 1}"
            found.append(Finding.of(Kind.BOX_CONFLICT, [key], message, (i, j)))
    area = size[0] * size[1] if size and size[0] > 0 and size[1] > 0 else None
    for i, box in enumerate(boxes):
        found.extend(_single(key, i, box, area, size, rules, name(box.category)))
    return found


def _single(
    key: Key, i: int, box: Box, area: int | None, size: tuple[int, int] | None, rules: BoxRules, name: str
) -> list[Finding]:
    found = []
    label = f"box {i + 1} ({name}, {box.w:g}x{box.h:g} px)"
    short = min(box.w, box.h)
    if short < rules.min_side:
        found.append(Finding.of(Kind.BOX_TINY, [key], f"{label}: a side under {rules.min_side:g} px", (i,)))
    elif area is not None and box.w * box.h < rules.min_area * area:
        share = box.w * box.h / area
        found.append(Finding.of(Kind.BOX_TINY, [key], f"{label}: {share:.4%} of the image", (i,)))
    if short > 0 and max(box.w, box.h) / short > rules.max_aspect:
        ratio = max(box.w, box.h) / short
        found.append(Finding.of(Kind.BOX_ASPECT, [key], f"{label}: aspect ratio {ratio:.1f} to 1", (i,)))
    if area is not None and size is not None:
        w = min(box.x + box.w, size[0]) - max(box.x, 0.0)
        h = min(box.y + box.h, size[1]) - max(box.y, 0.0)
        covered = max(0.0, w) * max(0.0, h) / area
        if covered >= rules.whole:
            message = f"{label}: covers {covered:.0%} of the {size[0]}x{size[1]} image"
            found.append(Finding.of(Kind.BOX_WHOLE_IMAGE, [key], message, (i,)))
    return found


def _namer(names: Sequence[str]) -> Callable[[int], str]:
    def name(category: int) -> str:
        return repr(names[category]) if 0 <= category < len(names) else f"#{category}"

    return name
