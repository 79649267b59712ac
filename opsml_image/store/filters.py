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


def _where(f: Filter, split_orders: dict[str, int]) -> tuple[str, str, list[Any], str]:
    """``(FROM, WHERE, parameters, k)`` of a filter; ``i`` is the image, ``c`` its category row.

    ``k`` is the alias whose ``(split_order, file_name)`` key orders the result: ``c`` when filtering on a
    category, else ``i``. The image is joined to its category rows only when a condition reads it, so a
    category (+ split) filter is answered from the ``image_category`` index alone.
    """
    k = "c" if f.category is not None else "i"
    conditions: list[str] = []
    params: list[Any] = []
    if f.category is not None:
        conditions.append("c.category = ?")
        params.append(f.category)
    if f.split is not None:
        conditions.append(f"{k}.split_order = ?")
        params.append(split_orders.get(f.split, -1))
    if f.annotated is not None:
        conditions.append("i.annotated = ?")
        params.append(int(f.annotated))
    if f.has_errors is not None:
        conditions.append("i.errors > 0" if f.has_errors else "i.errors = 0")
    if f.text:
        conditions.append("instr(i.search, ?) > 0")
        params.append(f.text.casefold())
    source = "image i"
    if f.category is not None:
        source = "image_category c"
        if f.annotated is not None or f.has_errors is not None or f.text:
            source += " JOIN image i ON i.split_order = c.split_order AND i.file_name = c.file_name"
    return source, " AND ".join(conditions) or "1", params, k
