"""A rough model of how Hugging Face (pyarrow) infers features from metadata records.

Hugging Face refuses split metadata files whose inferred features differ (an integer ``bbox`` in one split
and a float one in another, a key present in one split only, an empty list typed ``null``). The validator
compares these signatures across splits to warn before ``load_dataset`` fails.
"""

from __future__ import annotations

from typing import Any

__all__ = ["kind", "merge"]

Kind = Any  # a str for scalars, ("list", Kind) or a dict of key -> Kind


def kind(value: Any) -> Kind:
    """The inferred type of one JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        inner: Kind = "null"
        for item in value:
            inner = merge(inner, kind(item))
        return ("list", inner)
    if isinstance(value, dict):
        return {key: kind(item) for key, item in value.items()}
    return type(value).__name__


def merge(a: Kind, b: Kind) -> Kind:
    """The type of a column holding values of kinds ``a`` and ``b`` (int and float widen to float)."""
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if isinstance(a, str) and isinstance(b, str) and {a, b} == {"int", "float"}:
        return "float"
    if isinstance(a, tuple) and isinstance(b, tuple):
        return ("list", merge(a[1], b[1]))
    if isinstance(a, dict) and isinstance(b, dict):
        return {key: merge(a.get(key, "null"), b.get(key, "null")) for key in {**a, **b}}
    return "mixed"
