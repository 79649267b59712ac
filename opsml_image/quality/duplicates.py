"""Duplicate and near-duplicate images, grouped, and the groups that leak across splits.

Two images are linked when they have the same bytes (content hash) or perceptual hashes within ``near``
bits (:func:`opsml_image.quality.hamming.unique_pairs`, never all pairs); a group is a connected set of
linked images, so a chain of small steps is one group. A group in two or more splits is ``leakage``: an
evaluation split holds (nearly) an image the model trains on. Otherwise it is ``duplicate.exact`` when all
its images have the same bytes, else ``duplicate.near``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from opsml_image.quality.findings import Finding, Key, Kind, sort_keys
from opsml_image.quality.hamming import as_array, unique_pairs
from opsml_image.quality.signatures import Signature

__all__ = ["DEFAULT_NEAR", "duplicate_findings", "groups"]

#: The default near-duplicate threshold: perceptual hashes at most this many bits apart (of 64).
#: Re-encoding and resizing move a hash by 0-2 bits, a crop of a few per cent by up to about 10; distinct
#: images are some 20 or more bits apart.
DEFAULT_NEAR = 10


class _Groups:
    """Union-find over ``n`` items, with the largest perceptual distance of the links that joined each."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.spread: dict[int, int] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(self, a: int, b: int, distance: int = 0) -> None:
        ra, rb = self.find(a), self.find(b)
        spread = max(self.spread.get(ra, 0), self.spread.get(rb, 0), distance)
        if ra != rb:
            self.parent[rb] = ra
            self.spread.pop(rb, None)
        if spread:
            self.spread[ra] = spread


def groups(signatures: Mapping[Key, Signature], near: int | None) -> list[tuple[list[Key], int]]:
    """Groups of two or more linked images (keys in store order), each with the largest perceptual
    distance of its links (0 for same bytes or equal hashes); ``near=None`` links same bytes only."""
    keys = sort_keys(signatures)
    found = _Groups(len(keys))
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        found.join(first.setdefault(signatures[key].content, i), i)
    if near is not None and len(keys) > 1:
        unique, inverse = np.unique(as_array([signatures[key].phash for key in keys]), return_inverse=True)
        inverse = inverse.ravel()
        representative = np.full(len(unique), -1, dtype=np.int64)
        for i, u in enumerate(inverse.tolist()):
            if representative[u] < 0:
                representative[u] = i
            else:
                found.join(int(representative[u]), i)
        pairs = unique_pairs(unique, near)
        if len(pairs):
            spreads = np.bitwise_count(unique[pairs[:, 0]] ^ unique[pairs[:, 1]]).tolist()
            for (a, b), spread in zip(representative[pairs].tolist(), spreads, strict=True):
                found.join(a, b, spread)
    members: dict[int, list[Key]] = {}
    for i, key in enumerate(keys):
        members.setdefault(found.find(i), []).append(key)
    return [(group, found.spread.get(root, 0)) for root, group in members.items() if len(group) > 1]


def duplicate_findings(signatures: Mapping[Key, Signature], near: int | None) -> list[Finding]:
    """One finding per group of :func:`groups`: ``leakage`` across splits, else a duplicate kind."""
    found = []
    for keys, spread in groups(signatures, near):
        same = len({signatures[key].content for key in keys}) == 1
        splits = list(dict.fromkeys(split for split, _ in keys))
        what = (
            f"{len(keys)} identical images (same bytes)"
            if same
            else f"{len(keys)} near-identical images (perceptual hashes within {spread} of 64 bits)"
        )
        if len(splits) > 1:
            counts = ", ".join(f"{sum(1 for s, _ in keys if s == split)} in {split}" for split in splits)
            found.append(Finding.of(Kind.LEAKAGE, keys, f"{what} across splits: {counts}"))
        else:
            found.append(
                Finding.of(Kind.DUPLICATE if same else Kind.NEAR_DUPLICATE, keys, f"{what} in {splits[0]}")
            )
    return found
