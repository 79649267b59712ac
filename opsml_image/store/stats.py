"""Categories and statistics: the kept totals (images per split/annotated, boxes and images per category),
each image's category rows, and the figures the Browse page charts.

The totals are kept in Python inside the editing transaction (no triggers): an edit computes what it
adds and removes and applies the net change in key order (so concurrent PostgreSQL writers lock the
total rows in the same order and never deadlock on them).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.store.rows import ImageRow, row_category_rows
from opsml_image.store.schema import CATEGORY_TOTAL, IMAGE_TOTAL, Scope, bulk_insert, upsert
from opsml_image.store.tables import IMAGE, IMAGE_CATEGORY

CategoryRows = dict[int, tuple[int, int]]
"""An image's ``{category: (boxes, tagged)}``."""

_PUT_CATEGORY = sa.text(
    "INSERT INTO store_image_category (dataset, split_order, file_name, category, n_boxes, tagged) "
    "VALUES (:d, :o, :n, :c, :b, :t) ON CONFLICT (dataset, split_order, file_name, category) "
    "DO UPDATE SET n_boxes = excluded.n_boxes, tagged = excluded.tagged"
)
_DELETE_CATEGORY = IMAGE_CATEGORY.delete().where(
    IMAGE_CATEGORY.c.dataset == sa.bindparam("d"),
    IMAGE_CATEGORY.c.split_order == sa.bindparam("o"),
    IMAGE_CATEGORY.c.file_name == sa.bindparam("n"),
    IMAGE_CATEGORY.c.category == sa.bindparam("c"),
)


def bump_image_totals(conn: Connection, scope: Scope, deltas: dict[tuple[int, int], int]) -> None:
    """Add ``{(split_order, annotated): images}`` to ``store_image_total``."""
    rows = [
        {"dataset": scope.dataset, "split_order": o, "annotated": a, "n": n}
        for (o, a), n in sorted(deltas.items())
        if n
    ]
    upsert(conn, IMAGE_TOTAL, rows, ["dataset", "split_order", "annotated"], ["n"])


def set_categories(
    conn: Connection, scope: Scope, order: int, file_name: str, old: CategoryRows, new: CategoryRows
) -> None:
    """Change an image's category rows from ``old`` (what its row held: :func:`row_category_rows`) to
    ``new``, and keep ``store_category_total`` in step; only the categories that changed are written."""
    if old == new:
        return
    deltas: dict[int, list[int]] = {}
    for category, (n, _) in old.items():
        slot = deltas.setdefault(category, [0, 0])
        slot[0] -= n
        slot[1] -= 1
    for category, (n, _) in new.items():
        slot = deltas.setdefault(category, [0, 0])
        slot[0] += n
        slot[1] += 1
    totals = [
        {"dataset": scope.dataset, "category": c, "n_boxes": n, "images": i}
        for c, (n, i) in sorted(deltas.items())
        if n or i
    ]
    upsert(conn, CATEGORY_TOTAL, totals, ["dataset", "category"], ["n_boxes", "images"])
    gone = [{"d": scope.dataset, "o": order, "n": file_name, "c": c} for c in sorted(old.keys() - new.keys())]
    if gone:
        conn.execute(_DELETE_CATEGORY, gone)
    changed = [
        {"d": scope.dataset, "o": order, "n": file_name, "c": c, "b": n, "t": t}
        for c, (n, t) in sorted(new.items())
        if old.get(c) != (n, t)
    ]
    if changed:
        conn.execute(_PUT_CATEGORY, changed)


def load_totals(conn: Connection, scope: Scope, rows: Iterable[ImageRow]) -> None:
    """Replace every category row and total of the dataset with those of freshly indexed ``rows``."""
    for table in (IMAGE_CATEGORY, CATEGORY_TOTAL, IMAGE_TOTAL):
        conn.execute(table.delete().where(table.c.dataset == scope.dataset))
    add_totals(conn, scope, rows)


def add_totals(conn: Connection, scope: Scope, rows: Iterable[ImageRow]) -> None:
    """Add the category rows and the totals of newly indexed ``rows`` to the kept ones."""
    category_rows: list[tuple[int, int, str, int, int, int]] = []
    per_category: dict[int, list[int]] = {}
    images: dict[tuple[int, int], int] = {}
    for r in rows:
        slot = (r.split_order, r.annotated)
        images[slot] = images.get(slot, 0) + 1
        for category, (n, t) in row_category_rows(r).items():
            category_rows.append((scope.dataset, r.split_order, r.file_name, category, n, t))
            total = per_category.setdefault(category, [0, 0])
            total[0] += n
            total[1] += 1
    columns = ("dataset", "split_order", "file_name", "category", "n_boxes", "tagged")
    bulk_insert(conn, "store_image_category", columns, category_rows)
    totals = [
        {"dataset": scope.dataset, "category": c, "n_boxes": n, "images": i}
        for c, (n, i) in sorted(per_category.items())
    ]
    upsert(conn, CATEGORY_TOTAL, totals, ["dataset", "category"], ["n_boxes", "images"])
    bump_image_totals(conn, scope, images)


def category_counts(conn: Connection, scope: Scope) -> dict[int, int]:
    """Boxes per category id (categories without boxes are left out)."""
    found = conn.execute(
        sa.select(CATEGORY_TOTAL.c.category, CATEGORY_TOTAL.c.n_boxes)
        .where(CATEGORY_TOTAL.c.dataset == scope.dataset, CATEGORY_TOTAL.c.n_boxes > 0)
        .order_by(CATEGORY_TOTAL.c.category)
    )
    return {int(c): int(n) for c, n in found}


def boxes_per_image_hist(conn: Connection, scope: Scope) -> dict[int, int]:
    """``{number of boxes: number of images}`` (unlabeled images count as 0)."""
    found = conn.execute(
        sa.select(IMAGE.c.n_boxes, sa.func.count())
        .where(IMAGE.c.dataset == scope.dataset)
        .group_by(IMAGE.c.n_boxes)
        .order_by(IMAGE.c.n_boxes)
    )
    return {int(n): int(c) for n, c in found}


def box_sizes(conn: Connection, scope: Scope, limit: int) -> list[tuple[float, float]]:
    """A sample of box ``(w, h)`` from every k-th image, at most ``limit`` boxes."""
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(CATEGORY_TOTAL.c.n_boxes), 0)).where(
            CATEGORY_TOTAL.c.dataset == scope.dataset
        )
    ).scalar_one()
    stride = max(1, -(-int(total) // max(limit, 1)))
    found = conn.execute(
        sa.select(IMAGE.c.boxes).where(
            IMAGE.c.dataset == scope.dataset, IMAGE.c.n_boxes > 0, IMAGE.c.id % stride == 0
        )
    )
    sizes: list[tuple[float, float]] = []
    for (boxes,) in found:
        for box in orjson.loads(boxes):
            if len(sizes) >= limit:
                return sizes
            sizes.append((float(box[2]), float(box[3])))
    return sizes
