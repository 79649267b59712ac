"""One-click fixes for safe cases, previewed before they are applied and undoable afterwards.

:func:`plan` lists the changes a fix would make (each with the image's state before and after and a
one-line summary) without touching anything; :func:`apply` stores them through the working store in
one transaction (recorded in its history); :func:`undo` restores the states from before.

Fixes:

* ``box.outside``: clip boxes to the image; a box entirely outside is removed;
* ``image.missing``: drop the records of images whose file does not exist;
* ``record.empty``: drop records that say nothing (no caption, categories or objects).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.images import ImageInfo, probe
from opsml_image.rules import BOX_DIGITS, OUTSIDE_TOLERANCE
from opsml_image.store import Filter, Key, WorkStore

__all__ = ["FIXES", "FixChange", "plan", "apply", "undo", "fixable"]

#: The codes with a fix, and what the fix does.
FIXES: dict[str, str] = {
    "box.outside": "clip boxes to the image (a box entirely outside is removed)",
    "image.missing": "remove the records of images whose file is missing",
    "record.empty": "remove records with no caption, categories or objects",
}


@dataclass(frozen=True)
class FixChange:
    """One planned change: the image, its state before and after (None = no record), and what changes.

    ``version`` is the image's version when planned: :func:`apply` refuses (``StaleEdit``) when the image
    changed since the preview.
    """

    key: Key
    before: ImageAnnotation | None
    after: ImageAnnotation | None
    summary: str
    version: int = 0
    code: str = ""


def fixable(code: str) -> bool:
    """True when :func:`plan` has a fix for ``code``."""
    return code in FIXES


def plan(store: WorkStore, code: str, limit: int | None = None) -> list[FixChange]:
    """The changes fixing ``code`` would make (nothing is changed); at most ``limit`` of them."""
    if code not in FIXES:
        raise ValueError(f"no automatic fix for {code!r}; fixable: {', '.join(FIXES)}")
    changes: list[FixChange] = []
    finder = {"box.outside": _clip_boxes, "image.missing": _drop_missing, "record.empty": _drop_empty}[code]
    for change in finder(store):
        changes.append(change)
        if limit is not None and len(changes) >= limit:
            break
    return changes


def apply(store: WorkStore, changes: Sequence[FixChange], *, user: str | None = None) -> list[int]:
    """Store the planned changes in one transaction (in the history as ``user``'s); returns their history
    ids (for :func:`undo`).

    Raises :class:`~opsml_image.store.StaleEdit` and applies nothing when an image changed since the plan.
    """
    done = store.edit_many(
        [(change.key, change.after, change.version) for change in changes],
        action=f"fix:{changes[0].code}" if changes else "fix",
        user=user,
    )
    return [change.id for change in done]


def undo(store: WorkStore, ids: Sequence[int], *, user: str | None = None) -> list[ImageAnnotation]:
    """Undo an applied fix (the history ids :func:`apply` returned), in one transaction.

    Raises :class:`~opsml_image.store.StaleEdit` and restores nothing when one of the images changed since.
    """
    return store.undo_many(ids, user=user)


def _candidates(store: WorkStore, code: str) -> Iterator[Key]:
    """The images a validation reported for ``code``; every annotated image when none was stored."""
    if store.validated():
        yield from store.issue_keys(code)
        return
    offset, page = 0, 1000
    while keys := store.keys(Filter(annotated=True), offset, page):
        yield from keys
        offset += page


def _clip_boxes(store: WorkStore) -> Iterator[FixChange]:
    for key in _candidates(store, "box.outside"):
        before = store.get(*key)
        if before is None or not before.boxes:
            continue
        info = probe(store.dataset.image_path(*key))
        if not isinstance(info, ImageInfo):
            continue
        kept, clipped, removed = [], 0, 0
        for box in before.boxes:
            inside = _fit(box, info.width, info.height)
            if inside is None:
                removed += 1
            else:
                kept.append(inside)
                clipped += inside != box
        if not clipped and not removed:
            continue
        after = replace(before, boxes=kept, dropped_boxes=0)  # saving drops malformed boxes
        size = f"{info.width}x{info.height}"
        parts = [f"clip {_boxes(clipped)} to the {size} image"] if clipped else []
        parts += [f"remove {_boxes(removed)} entirely outside the {size} image"] if removed else []
        summary = "; ".join(parts)
        yield FixChange(key, before, after, summary, store.version(*key), "box.outside")


def _drop_missing(store: WorkStore) -> Iterator[FixChange]:
    for key in store.missing_images():
        if store.dataset.image_path(*key).exists():
            continue  # the file came back since the last index
        before = store.get(*key)
        where = f" (lines {', '.join(map(str, before.lines))})" if before and before.lines else ""
        summary = f"remove the record{where} of {key[0]}/{key[1]}: the image file is missing"
        yield FixChange(key, before, None, summary, store.version(*key), "image.missing")


def _drop_empty(store: WorkStore) -> Iterator[FixChange]:
    for key in store.empty_records():
        before = store.get(*key)
        if before is None:
            continue
        summary = f"remove the empty record of {key[0]}/{key[1]}"
        if before.extra:
            summary += f" (also drops its other keys: {', '.join(sorted(before.extra))})"
        yield FixChange(key, before, None, summary, store.version(*key), "record.empty")


def _fit(box: Box, width: int, height: int) -> Box | None:
    """The box clipped to the image, with 2-decimal coordinates that stay inside once saved.

    A box already inside is returned unchanged; None when nothing of it is inside.
    """
    if (
        box.x >= 0
        and box.y >= 0
        and box.x + box.w <= width + OUTSIDE_TOLERANCE
        and box.y + box.h <= height + OUTSIDE_TOLERANCE
    ):
        return box
    clipped = box.clipped(width, height)
    if clipped is None:
        return None
    x, y = round(clipped.x, BOX_DIGITS), round(clipped.y, BOX_DIGITS)
    scale = 10**BOX_DIGITS  # rounded down, so the stored box stays inside
    w = math.floor((min(float(width), clipped.x + clipped.w) - x) * scale + 1e-6) / scale
    h = math.floor((min(float(height), clipped.y + clipped.h) - y) * scale + 1e-6) / scale
    return clipped.moved(x, y, w, h, clip=True) if w > 0 and h > 0 else None


def _boxes(n: int) -> str:
    return f"{n} box" if n == 1 else f"{n} boxes"
