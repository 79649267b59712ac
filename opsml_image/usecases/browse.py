"""Browse: one page of a filtered gallery, the statistics of a filter, and the lines that cannot be read.

Everything is O(page): the store counts and pages the filtered keys; statistics of a filter read at most
:data:`STATS_SAMPLE` of its images (and say so when there are more); whole-dataset statistics come from the
store's kept totals.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.colors import category_color
from opsml_image.confine import Confinement
from opsml_image.store import Filter, Key
from opsml_image.usecases.errors import Invalid, describe
from opsml_image.usecases.workspace import Workspace

__all__ = [
    "Drawn",
    "GalleryPage",
    "Picture",
    "Statistics",
    "UnreadableLine",
    "category_color",
    "category_names",
    "gallery",
    "image_path",
    "page_count",
    "picture",
    "record",
    "render_blank",
    "render_preview",
    "render_tile",
    "statistics",
    "unreadable_lines",
]

log = logging.getLogger("opsml_image.browse")

STATS_SAMPLE = 5_000
LINE_CODES = ("line.json", "line.encoding", "line.too_long", "record.type")


@dataclass(frozen=True)
class GalleryPage:
    """One page of the gallery: how many images match, the page count, this page's number and images."""

    total: int
    pages: int
    page: int
    offset: int
    items: list[ImageAnnotation]


@dataclass(frozen=True)
class Statistics:
    """What the statistics panel plots, and what it was computed on."""

    per_category: list[tuple[int, int, int]]  # (category, images, boxes)
    boxes_per_image: list[tuple[int, int]]  # (boxes in an image, images)
    box_sizes: list[tuple[float, float]]  # (w, h) of a sample of boxes
    images: int  # images the figures describe
    matching: int  # images the filter matches
    filtered: bool


#: A box as a picture draws it: ``(x, y, w, h, category)``.
BoxTuple = tuple[float, float, float, float, int]


@dataclass(frozen=True)
class Picture:
    """What a page draws one image from: its file (None when it cannot be shown, and why), the file's mtime
    (a replaced file is drawn anew by a page's cache) and its boxes. Hashable: pages cache drawings by it."""

    split: str
    file_name: str
    path: str | None
    mtime_ns: int
    boxes: tuple[BoxTuple, ...]
    root: str
    problem: str | None = None

    @property
    def key(self) -> Key:
        return (self.split, self.file_name)


@dataclass(frozen=True)
class Drawn:
    """A drawn picture: its JPEG bytes, or why it cannot be shown (paths relative to the dataset folder)."""

    jpeg: bytes | None
    problem: str | None = None


@dataclass(frozen=True)
class UnreadableLine:
    """A metadata line the dataset cannot use, as the last validation found it."""

    file: str
    line: int | None
    code: str
    message: str


def image_path(ws: Workspace, split: str, file_name: str) -> Path:
    """The image file a tile or preview may read; :class:`Invalid` (said on the tile) for one linked outside
    the dataset folder, which is never read nor sent to a browser."""
    path = ws.dataset.image_path(split, file_name)
    outside = Confinement(ws.path).outside_problem(path, f"{split}/{file_name}")
    if outside is not None:
        raise Invalid(outside.message, f"{split}/{file_name}", outside.message)
    return path


def record(ws: Workspace, split: str, file_name: str) -> ImageAnnotation | None:
    """The image's record as stored now (edits included); None when it is no longer in the dataset."""
    return ws.store.get(split, file_name)


def category_names(ws: Workspace) -> list[str]:
    """The named classes by id (``categories.json``)."""
    return ws.store.category_names()


def picture(ws: Workspace, annotation: ImageAnnotation) -> Picture:
    """What to draw the image of ``annotation`` from, with its boxes; an image linked outside the folder
    or gone has no file, and says why."""
    split, file_name = annotation.split, annotation.file_name
    boxes = tuple((b.x, b.y, b.w, b.h, b.category) for b in annotation.boxes)
    root = str(ws.path)
    try:
        path = image_path(ws, split, file_name)
    except (OSError, ValueError) as error:
        return Picture(split, file_name, None, 0, boxes, root, _relative(describe(error), root))
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        mtime_ns = 0  # drawing it says what is wrong with the file
    return Picture(split, file_name, str(path), mtime_ns, boxes, root)


def render_tile(shown: Picture, names: Sequence[str], frame: tuple[int, int]) -> Drawn:
    """The gallery tile of ``shown``: its thumbnail with the boxes, letterboxed to ``frame``."""
    from opsml_image.display import tile

    return _drawn(shown, lambda path: tile(path, _boxes(shown), names, frame, thumb_size=max(frame)))


def render_preview(shown: Picture, names: Sequence[str]) -> Drawn:
    """The large preview of ``shown`` with its boxes labelled."""
    from opsml_image.display import preview

    return _drawn(shown, lambda path: preview(path, _boxes(shown), names))


def render_blank(frame: tuple[int, int]) -> bytes:
    """An empty tile for an image that cannot be shown (its reason is said beside it)."""
    from opsml_image.display import blank_tile

    return blank_tile(frame)


def _boxes(shown: Picture) -> list[Box]:
    return [Box(*b) for b in shown.boxes]


def _drawn(shown: Picture, draw: Callable[[str], bytes]) -> Drawn:
    """``draw(path)``, or the reason the file cannot be drawn: an image file is untrusted data, and
    whatever decoding it raises is that one image's problem (logged), never the page's."""
    if shown.path is None:
        return Drawn(None, shown.problem or "the image cannot be shown")
    try:
        return Drawn(draw(shown.path))
    except Exception as error:  # noqa: BLE001 - see above
        if not isinstance(error, OSError | ValueError):
            log.warning("drawing %s failed", shown.path, exc_info=True)
        return Drawn(None, _relative(describe(error), shown.root))


def _relative(text: str, root: str) -> str:
    """``text`` with paths inside the dataset folder ``root`` relative to it (no server path on screen)."""
    return text.replace(f"{root}/", "").replace(root, ".")


def page_count(ws: Workspace, f: Filter, per_page: int) -> int:
    """How many gallery pages the images matching ``f`` fill (0 when none match)."""
    return math.ceil(ws.store.count(f) / per_page)


def gallery(ws: Workspace, f: Filter, page: int, per_page: int) -> GalleryPage:
    """Page ``page`` (1-based, clamped) of the images matching ``f``."""
    total = ws.store.count(f)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    offset = (page - 1) * per_page
    items = ws.store.page(f, offset, per_page) if total else []
    return GalleryPage(total, pages, page, offset, items)


def statistics(ws: Workspace, f: Filter, box_sample: int = 5_000) -> Statistics:
    """The statistics of the images matching ``f``: from the store's totals for the whole dataset, from
    (at most :data:`STATS_SAMPLE` of) the matching images otherwise."""
    if f == Filter():
        boxes = ws.store.category_counts()
        ids = sorted(set(range(len(ws.store.category_names()))) | set(boxes))
        per_category = [(c, ws.store.count(Filter(category=c)), int(boxes.get(c, 0))) for c in ids]
        hist = sorted(ws.store.boxes_per_image_hist().items())
        total = ws.store.count(f)
        return Statistics(per_category, hist, ws.store.box_sizes(box_sample), total, total, False)
    matching = ws.store.count(f)
    images = Counter[int]()
    boxes_by = Counter[int]()
    per_image = Counter[int]()
    sizes: list[tuple[float, float]] = []
    seen = 0
    while seen < min(matching, STATS_SAMPLE):
        chunk = ws.store.page(f, seen, min(500, STATS_SAMPLE - seen))
        if not chunk:
            break
        for a in chunk:
            per_image[len(a.boxes)] += 1
            for c in {b.category for b in a.boxes} | set(a.categories):
                images[c] += 1
            for b in a.boxes:
                boxes_by[b.category] += 1
                if len(sizes) < box_sample:
                    sizes.append((b.w, b.h))
        seen += len(chunk)
    per_category = [(c, images[c], boxes_by[c]) for c in sorted(set(images) | set(boxes_by))]
    return Statistics(per_category, sorted(per_image.items()), sizes, seen, matching, True)


def unreadable_lines(ws: Workspace, limit: int = 200) -> list[UnreadableLine]:
    """Metadata lines that are not records (broken JSON, bad encoding, too long, not an object), with their
    file and line number, from the last validation."""
    found: list[UnreadableLine] = []
    for code in LINE_CODES:
        for issue in ws.store.issues(code, 0, limit - len(found)):
            found.append(UnreadableLine(issue.file, issue.line, issue.code, issue.message))
        if len(found) >= limit:
            break
    return found
