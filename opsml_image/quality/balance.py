"""Class balance: boxes and images per class per split, classes missing from a split, and images without
boxes in a split where most images have them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opsml_image.annotation import Box
from opsml_image.quality.findings import Finding, Key, Kind, sort_keys

__all__ = ["Balance", "ClassCount", "SplitCount", "balance", "balance_findings", "MOST"]

#: A split where at least this share of the images has boxes expects boxes on every image.
MOST = 0.9


@dataclass(frozen=True)
class ClassCount:
    """One class in one split: its boxes and the images with at least one of them."""

    split: str
    category: int
    boxes: int
    images: int


@dataclass(frozen=True)
class SplitCount:
    """One split: its images and those with at least one box."""

    split: str
    images: int
    boxed: int


@dataclass(frozen=True)
class Balance:
    """Per split and per class per split counts, splits and classes in store order."""

    splits: list[SplitCount]
    classes: list[ClassCount]

    def boxes(self, split: str, category: int) -> int:
        return next((c.boxes for c in self.classes if (c.split, c.category) == (split, category)), 0)


def balance(images: Mapping[Key, Sequence[Box]]) -> Balance:
    """The counts of every image's boxes (an image without boxes counts as an image of its split)."""
    per_split: Counter[str] = Counter()
    boxed: Counter[str] = Counter()
    boxes: Counter[tuple[str, int]] = Counter()
    holders: Counter[tuple[str, int]] = Counter()
    for key in sort_keys(images):
        split, found = key[0], images[key]
        per_split[split] += 1
        boxed[split] += bool(found)
        for category, n in Counter(box.category for box in found).items():
            boxes[split, category] += n
            holders[split, category] += 1
    splits = [SplitCount(split, n, boxed[split]) for split, n in per_split.items()]
    order = {split: i for i, split in enumerate(per_split)}
    classes = [
        ClassCount(split, category, n, holders[split, category])
        for (split, category), n in sorted(boxes.items(), key=lambda item: (order[item[0][0]], item[0][1]))
    ]
    return Balance(splits, classes)


def balance_findings(
    counted: Balance, images: Mapping[Key, Sequence[Box]], names: Sequence[str] = (), most: float = MOST
) -> list[Finding]:
    """``class.missing`` for a class with boxes in one split and none in another that has boxes, and
    ``image.unboxed`` for each image without boxes in a split where at least ``most`` of them have some."""
    found = []
    boxed_splits = [s.split for s in counted.splits if s.boxed]
    totals: Counter[int] = Counter()
    for c in counted.classes:
        totals[c.category] += c.boxes
    if len(boxed_splits) > 1:
        for category in sorted(totals):
            having = [(c.split, c.boxes) for c in counted.classes if c.category == category]
            present = ", ".join(f"{n:,} in {split}" for split, n in having)
            for name in boxed_splits:
                if counted.boxes(name, category) == 0:
                    message = f"{_name(category, names)} has no box in {name} (boxes: {present})"
                    found.append(Finding.of(Kind.CLASS_MISSING, (), message))
    for split in counted.splits:
        share = split.boxed / split.images if split.images else 0.0
        if split.boxed == split.images or share < most:
            continue
        for key in sort_keys(key for key in images if key[0] == split.split and not images[key]):
            message = f"{key[0]}/{key[1]} has no box, while {share:.0%} of {split.split}'s images have some"
            found.append(Finding.of(Kind.IMAGE_UNBOXED, [key], message))
    return found


def _name(category: int, names: Sequence[str]) -> str:
    return repr(names[category]) if 0 <= category < len(names) else f"class #{category}"
