"""Which images a view shows (:class:`Filter`) and the SQL a filter becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Filter:
    """Which images a view shows; ``None`` means "any". All given conditions must hold.

    * ``category``: the image has a box of this category id or lists it in its image categories;
    * ``text``: case-insensitive substring of the caption;
    * ``split``: split name; ``annotated``: has at least one box;
    * ``has_errors``: the last validation (:meth:`WorkStore.set_issues`) found an error for the image.
    """

    category: int | None = None
    text: str | None = None
    split: str | None = None
    annotated: bool | None = None
    has_errors: bool | None = None


def _where(f: Filter, split_orders: dict[str, int]) -> tuple[str, str, list[Any]]:
    """``(FROM, WHERE, parameters)`` of a filter; ``i`` is the image, ``c`` its category row."""
    conditions: list[str] = []
    params: list[Any] = []
    if f.category is not None:
        source = (
            "image_category c JOIN image i ON i.split_order = c.split_order AND i.file_name = c.file_name"
        )
        conditions.append("c.category = ?")
        params.append(f.category)
    else:
        source = "image i"
    if f.split is not None:
        conditions.append(("c" if f.category is not None else "i") + ".split_order = ?")
        params.append(split_orders.get(f.split, -1))
    if f.annotated is not None:
        conditions.append("i.annotated = ?")
        params.append(int(f.annotated))
    if f.has_errors is not None:
        conditions.append("i.errors > 0" if f.has_errors else "i.errors = 0")
    if f.text:
        conditions.append("instr(i.search, ?) > 0")
        params.append(f.text.casefold())
    return source, " AND ".join(conditions) or "1", params
