"""Which images a view shows (:class:`Filter`) and the portable SQL a filter becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opsml_image.store.schema import Scope


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


@dataclass(frozen=True)
class Where:
    """A filter as SQL: ``FROM source WHERE condition`` with ``params``; ``k`` is the alias whose
    ``(split_order, file_name)`` orders the result (``c`` on a category filter, else ``i``); ``columns``
    are the index columns the result is ordered by (the key, led by ``dataset`` when it is not constrained).
    """

    source: str
    condition: str
    params: dict[str, Any]
    k: str
    columns: tuple[str, ...]

    def order(self, direction: str = "ASC") -> str:
        """``ORDER BY`` terms in key order (``DESC``: reversed)."""
        return ", ".join(f"{column} {direction}" for column in self.columns)

    def compared(self, op: str) -> str:
        """A condition comparing the key with the bound ``:o`` (split order) and ``:n`` (file name)."""
        values = (":dataset", ":o", ":n")[-len(self.columns) :]
        return f"({', '.join(self.columns)}) {op} ({', '.join(values)})"


def where(f: Filter, scope: Scope, sole: bool = False) -> Where:
    """The SQL of a filter; ``i`` is the image, ``c`` its category row.

    The image is joined to its category rows only when a condition reads it, so a category (+ split)
    filter is answered from the ``store_image_category`` index alone. ``sole``: the database holds this
    dataset only (as the transaction sees it), so an unfiltered view walks the key index without a
    condition on ``dataset`` (three times faster for a deep page than checking it on every entry).
    """
    k = "c" if f.category is not None else "i"
    if sole and f == Filter():
        return Where(
            "store_image i",
            "1 = 1",
            {"dataset": scope.dataset},
            k,
            ("i.dataset", "i.split_order", "i.file_name"),
        )
    conditions = [f"{k}.dataset = :dataset"]
    params: dict[str, Any] = {"dataset": scope.dataset}
    if f.category is not None:
        conditions.append("c.category = :category")
        params["category"] = f.category
    if f.split is not None:
        conditions.append(f"{k}.split_order = :split_order")
        params["split_order"] = scope.orders.get(f.split, -1)
    if f.annotated is not None:
        conditions.append("i.annotated = :annotated")
        params["annotated"] = int(f.annotated)
    if f.has_errors is not None:
        conditions.append("i.errors > 0" if f.has_errors else "i.errors = 0")
    if f.text:
        conditions.append("i.search LIKE :text ESCAPE '!'")
        escaped = f.text.casefold().replace("!", "!!").replace("%", "!%").replace("_", "!_")
        params["text"] = f"%{escaped}%"
    source = "store_image i"
    if f.category is not None:
        source = "store_image_category c"
        if f.annotated is not None or f.has_errors is not None or f.text:
            source += (
                " JOIN store_image i ON i.dataset = c.dataset AND i.split_order = c.split_order "
                "AND i.file_name = c.file_name"
            )
    return Where(source, " AND ".join(conditions), params, k, (f"{k}.split_order", f"{k}.file_name"))
