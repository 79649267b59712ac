"""What a quality check finds: one :class:`Finding` type for every kind, the kinds with their severity and
meaning, and the counts by kind a data card records (:func:`summary`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from opsml_image.dataset import SPLIT_ORDER

__all__ = ["Key", "Kind", "KINDS", "Severity", "Finding", "count_kinds", "sort_keys", "matches"]

#: An image: ``(split, file_name)``.
Key = tuple[str, str]
Severity = Literal["error", "warning", "info"]


class Kind(StrEnum):
    """What a finding is about (``family.detail``; a family name selects all its kinds in :func:`matches`)."""

    LEAKAGE = "leakage"
    DUPLICATE = "duplicate.exact"
    NEAR_DUPLICATE = "duplicate.near"
    BOX_DUPLICATE = "box.duplicate"
    BOX_CONFLICT = "box.conflict"
    BOX_TINY = "box.tiny"
    BOX_ASPECT = "box.aspect"
    BOX_WHOLE_IMAGE = "box.whole_image"
    CLASS_MISSING = "class.missing"
    IMAGE_UNBOXED = "image.unboxed"


#: Every kind (in the order pages and reports show them): its severity and what it means.
KINDS: dict[str, tuple[Severity, str]] = {
    Kind.LEAKAGE.value: (
        "error",
        "the same or a near-identical image in two splits (evaluation sees training data)",
    ),
    Kind.DUPLICATE.value: ("warning", "images with the same bytes in one split"),
    Kind.NEAR_DUPLICATE.value: (
        "warning",
        "near-identical images in one split (re-encoded, resized, cropped)",
    ),
    Kind.BOX_DUPLICATE.value: ("warning", "the same class boxed twice on one object"),
    Kind.BOX_CONFLICT.value: ("warning", "two classes on one object"),
    Kind.BOX_TINY.value: ("warning", "a box too small to be an object"),
    Kind.BOX_ASPECT.value: ("info", "a box of extreme aspect ratio"),
    Kind.BOX_WHOLE_IMAGE.value: ("info", "a box covering the whole image"),
    Kind.CLASS_MISSING.value: ("warning", "a class with boxes in one split and none in another"),
    Kind.IMAGE_UNBOXED.value: ("info", "an image without boxes in a split where most images have them"),
}


@dataclass(frozen=True)
class Finding:
    """One thing a quality check found.

    ``keys`` are the images concerned (a duplicate group, or the one image of a box finding; none for a
    split-level finding); ``boxes`` are indexes into the first image's boxes (merged order, as the store
    and Annotate number them from 0); ``message`` says it in one sentence.
    """

    kind: str
    severity: Severity
    keys: tuple[Key, ...]
    message: str
    boxes: tuple[int, ...] = ()

    @classmethod
    def of(cls, kind: Kind, keys: Iterable[Key], message: str, boxes: Iterable[int] = ()) -> Finding:
        """A finding of ``kind`` with its usual severity."""
        return cls(kind.value, KINDS[kind][0], tuple(keys), message, tuple(boxes))

    def to_dict(self) -> dict[str, Any]:
        """As JSON: kind, severity, images as ``{"split", "file_name"}``, box indexes, message."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "images": [{"split": split, "file_name": name} for split, name in self.keys],
            "boxes": list(self.boxes),
            "message": self.message,
        }


def count_kinds(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings counted by kind, every known kind present (0 when none), others after them."""
    counts = Counter(f.kind for f in findings)
    return {kind: counts.pop(kind, 0) for kind in KINDS} | dict(sorted(counts.items()))


def sort_keys(keys: Iterable[Key]) -> list[Key]:
    """Keys in the store's order: split order (train, validation, test, others), then file name."""
    return sorted(keys, key=lambda key: (SPLIT_ORDER.get(key[0], 9), key[0], key[1]))


def matches(kind: str, wanted: str) -> bool:
    """True when ``kind`` is ``wanted`` or of the family ``wanted`` (``"box"`` matches ``"box.tiny"``)."""
    return kind == wanted or kind.startswith(wanted + ".")
