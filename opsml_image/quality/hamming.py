"""Pairs of 64-bit hashes within a Hamming distance, without comparing all pairs: multi-index hashing.

Split each hash into ``m`` chunks and give chunk ``i`` a flip budget ``t_i`` with ``sum(t_i + 1) > r``:
two hashes within distance ``r`` then differ by at most ``t_i`` bits in at least one chunk ``i`` (the
generalised pigeonhole principle), so for each chunk we look up, in a table of the chunk values, every value
within ``t_i`` bits of each hash's own (one vectorised pass per flip mask), and check the full distance of
those candidates only. :func:`plan` picks ``m`` from the number of hashes and the radius with a cost
model (table passes against candidates checked); below a few thousand hashes a brute-force pass is cheaper
and is used instead. Identical hashes are searched once.

:func:`brute_pairs` is the all-pairs pass, kept as the reference (tests and ``bench/bench_quality.py``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["BITS", "Plan", "as_array", "brute_pairs", "distance", "near_pairs", "plan"]

BITS = 64
#: Chunk tables hold ``2**bits`` counts: chunks of more bits than this are not indexed.
MAX_CHUNK_BITS = 22
#: Rough costs (seconds) measured with numpy on this project's machines: a hash probed in a table that
#: fits the CPU caches (up to ``2**_CACHED_BITS`` entries) or not, a candidate pair checked, a table pass,
#: a table entry built; a pair compared and a row passed by the brute-force pass.
_PROBE, _PROBE_UNCACHED, _CANDIDATE, _PASS, _ENTRY = 8e-9, 30e-9, 25e-9, 30e-6, 3e-9
_PAIR, _ROW = 1e-9, 5e-6
_CACHED_BITS = 18


def distance(a: int, b: int) -> int:
    """The Hamming distance of two 64-bit hashes."""
    return (a ^ b).bit_count()


def as_array(hashes: Sequence[int] | np.ndarray) -> np.ndarray:
    """Hashes as a ``uint64`` array (Python ints from 0 to 2**64 - 1, or signed 64-bit values)."""
    if isinstance(hashes, np.ndarray):
        return hashes.astype(np.uint64, copy=False)
    return np.fromiter((h & 0xFFFF_FFFF_FFFF_FFFF for h in hashes), dtype=np.uint64, count=len(hashes))


@dataclass(frozen=True)
class Plan:
    """How to search: chunk widths (empty: brute force) and the bits each chunk may differ by."""

    chunks: tuple[int, ...]
    flips: tuple[int, ...]
    cost: float

    @property
    def brute(self) -> bool:
        return not self.chunks


def plan(n: int, radius: int) -> Plan:
    """The cheapest search of ``n`` distinct hashes for pairs within ``radius`` by the cost model."""
    best = Plan((), (), n * (n - 1) / 2 * _PAIR + n * _ROW)
    for m in range(2, BITS + 1):
        widths = _widths(m)
        if widths[0] > MAX_CHUNK_BITS:
            continue
        flips = _budgets(m, radius)
        cost = sum(_chunk_cost(n, b, _masks_count(b, t)) for b, t in zip(widths, flips, strict=True))
        if cost < best.cost:
            best = Plan(widths, flips, cost)
    return best


def _budgets(m: int, radius: int) -> tuple[int, ...]:
    """Flip budgets of ``m`` chunks adding up to ``radius + 1 - m`` (so ``sum(t + 1) > radius``), the
    first (widest) chunks taking the remainder."""
    total = max(0, radius + 1 - m)
    base, extra = divmod(total, m)
    return tuple(base + 1 if i < extra else base for i in range(m))


def _chunk_cost(n: int, width: int, passes: int) -> float:
    """One chunk's table and passes: each probes half the hashes and checks ``n / 2**width`` candidates
    for each of them."""
    probe = _PROBE if width <= _CACHED_BITS else _PROBE_UNCACHED
    return passes * (_PASS + n / 2 * probe + n * n / 2 ** (width + 1) * _CANDIDATE) + 2**width * _ENTRY


def near_pairs(hashes: Sequence[int] | np.ndarray, radius: int) -> np.ndarray:
    """Every pair ``(i, j)``, ``i < j``, of hashes within ``radius`` bits, as an ``(k, 2)`` int64 array
    sorted by ``i`` then ``j`` (identical hashes are pairs too)."""
    values = as_array(hashes)
    unique, inverse = np.unique(values, return_inverse=True)
    found = unique_pairs(unique, radius)
    members = _members(inverse.ravel(), len(unique))
    out: list[np.ndarray] = []
    for group in members:
        if len(group) > 1:
            out.append(_within(group))
    for a, b in found:
        out.append(_across(members[a], members[b]))
    if not out:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(out)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order]


def unique_pairs(unique: np.ndarray, radius: int) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of *distinct* hashes within ``radius`` (sorted), as :func:`near_pairs`."""
    n = len(unique)
    if n < 2 or radius < 1:  # distinct hashes are at least one bit apart
        return np.empty((0, 2), dtype=np.int64)
    chosen = plan(n, radius)
    if chosen.brute:
        return brute_pairs(unique, radius)
    found: list[np.ndarray] = []
    shift = BITS
    for width, flips in zip(chosen.chunks, chosen.flips, strict=True):
        shift -= width
        chunk = ((unique >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)
        found.extend(_chunk_pairs(unique, chunk, width, flips, radius))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack((codes // n, codes % n), axis=1)


def brute_pairs(hashes: Sequence[int] | np.ndarray, radius: int) -> np.ndarray:
    """:func:`near_pairs` by comparing every pair (one vectorised pass per hash): the reference."""
    values = as_array(hashes)
    out: list[np.ndarray] = []
    for i in range(len(values) - 1):
        close = np.flatnonzero(np.bitwise_count(values[i + 1 :] ^ values[i]) <= radius)
        if close.size:
            out.append(np.stack((np.full(close.size, i, dtype=np.int64), close + i + 1), axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def _chunk_pairs(
    unique: np.ndarray, chunk: np.ndarray, width: int, flips: int, radius: int
) -> list[np.ndarray]:
    """Pairs (as codes ``i * n + j``) whose chunk values differ by at most ``flips`` bits, checked in full.

    A pair whose chunks differ by ``mask`` is looked up from its end whose chunk has the mask's highest bit
    clear only, so each pair is met once per chunk and half the hashes are probed per mask. The hashes are
    kept in chunk order too, so a bucket's members are read side by side.
    """
    n = len(unique)
    order = np.argsort(chunk, kind="stable").astype(np.int32)
    counts = np.bincount(chunk, minlength=1 << width).astype(np.int32)
    starts = (np.cumsum(counts) - counts).astype(np.int32)
    in_order = unique[order]
    found = [_same_chunk(unique, chunk[order], order, radius)]
    clear = [np.flatnonzero((chunk >> bit) & 1 == 0) for bit in range(width)]
    values = [chunk[rows] for rows in clear]
    hashes = [unique[rows] for rows in clear]
    for mask in _masks(width, flips)[1:]:
        high = mask.bit_length() - 1
        probe = values[high] ^ mask
        hits = counts[probe]
        hit = np.flatnonzero(hits)
        if not hit.size:
            continue
        rows, own, first, many = clear[high][hit], hashes[high][hit], starts[probe[hit]], hits[hit]
        level = 0
        while True:  # the buckets' members one level at a time: buckets are small
            at = first + level
            close = np.bitwise_count(own ^ in_order[at]) <= radius
            if close.any():
                left, right = rows[close], order[at[close]]
                found.append(np.minimum(left, right).astype(np.int64) * n + np.maximum(left, right))
            level += 1
            more = many > level
            if not more.any():
                break
            rows, own, first, many = rows[more], own[more], first[more], many[more]
    return found


def _same_chunk(unique: np.ndarray, sorted_chunk: np.ndarray, order: np.ndarray, radius: int) -> np.ndarray:
    """Codes of the pairs whose chunk values are equal (runs of the sorted chunk values), checked in full."""
    n = len(unique)
    bounds = np.flatnonzero(np.diff(sorted_chunk)) + 1
    starts = np.concatenate(([0], bounds))
    sizes = np.diff(np.concatenate((starts, [len(sorted_chunk)])))
    starts, sizes = starts[sizes > 1], sizes[sizes > 1]
    if not sizes.size:
        return np.empty(0, dtype=np.int64)
    # every (a, b), a < b, inside each run: a run of s gives s - 1 + s - 2 + ... + 1 pairs
    firsts = np.repeat(starts, sizes - 1) + _ranks(sizes - 1)
    later = sizes.repeat(sizes - 1) - 1 - _ranks(sizes - 1)
    a = np.repeat(firsts, later)
    b = a + 1 + _ranks(later)
    left, right = order[a], order[b]
    close = np.bitwise_count(unique[left] ^ unique[right]) <= radius
    low, high = np.minimum(left, right)[close], np.maximum(left, right)[close]
    return low.astype(np.int64) * n + high


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """``0, 1, ..., s - 1`` for each ``s`` in ``sizes``, concatenated."""
    total = int(sizes.sum())
    return np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def _widths(m: int) -> tuple[int, ...]:
    """64 bits in ``m`` chunks as even as possible, the widest first."""
    base, extra = divmod(BITS, m)
    return tuple(base + 1 if i < extra else base for i in range(m))


def _masks_count(width: int, flips: int) -> int:
    return sum(math.comb(width, k) for k in range(min(flips, width) + 1))


@lru_cache(maxsize=64)
def _masks(width: int, flips: int) -> tuple[int, ...]:
    """Every ``width``-bit value with at most ``flips`` bits set."""
    masks = [0]
    for k in range(1, min(flips, width) + 1):
        masks.extend(sum(1 << bit for bit in bits) for bits in itertools.combinations(range(width), k))
    return tuple(masks)


def _members(inverse: np.ndarray, n: int) -> list[np.ndarray]:
    """For each distinct hash, the indexes of the hashes equal to it."""
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(n + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(n)]


def _within(group: np.ndarray) -> np.ndarray:
    left, right = np.triu_indices(len(group), k=1)
    return np.stack((group[left], group[right]), axis=1).astype(np.int64)


def _across(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    left, right = np.meshgrid(a, b, indexing="ij")
    pairs = np.stack((left.ravel(), right.ravel()), axis=1).astype(np.int64)
    return np.sort(pairs, axis=1)
