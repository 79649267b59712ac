"""Multi-index hashing finds exactly the pairs a brute-force pass finds, and does not compare all pairs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opsml_image.quality import hamming

MASK = (1 << 64) - 1


@st.composite
def hash_sets(draw: st.DrawFn) -> tuple[list[int], int]:
    """Random 64-bit hashes, a share of them copies of others with a few bits flipped, and a radius."""
    base = draw(st.lists(st.integers(0, MASK), min_size=1, max_size=300))
    copies = draw(
        st.lists(
            st.tuples(st.integers(0, len(base) - 1), st.lists(st.integers(0, 63), max_size=12)),
            max_size=len(base),
        )
    )
    hashes = list(base)
    for source, bits in copies:
        flipped = base[source]
        for bit in bits:
            flipped ^= 1 << bit
        hashes.append(flipped)
    return hashes, draw(st.integers(0, 16))


@settings(max_examples=150, deadline=None)
@given(hash_sets())
def test_near_pairs_equal_brute_force(case: tuple[list[int], int]):
    hashes, radius = case
    assert np.array_equal(hamming.near_pairs(hashes, radius), hamming.brute_pairs(hashes, radius))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 10))
def test_the_index_itself_equals_brute_force_on_thousands(seed: int, radius: int):
    """Sizes where the plan chooses chunk tables, not the brute-force pass."""
    rng = np.random.default_rng(seed)
    n = 6_000
    values = rng.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2)
    near = rng.integers(0, n, size=n // 4)
    flips = np.zeros(len(near), dtype=np.uint64)
    for _ in range(radius // 2 + 1):
        flips |= np.uint64(1) << rng.integers(0, 64, size=len(near)).astype(np.uint64)
    values[rng.integers(0, n, size=len(near))] = values[near] ^ flips
    assert not hamming.plan(len(np.unique(values)), radius).brute
    assert np.array_equal(hamming.near_pairs(values, radius), hamming.brute_pairs(values, radius))


def test_identical_hashes_are_pairs_at_radius_zero():
    pairs = hamming.near_pairs([5, 7, 5, 5], 0)
    assert pairs.tolist() == [[0, 2], [0, 3], [2, 3]]
    assert hamming.near_pairs([5, 7, 5, 5], 1).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]


def test_hashes_at_the_radius_are_pairs_and_one_bit_further_are_not():
    a = 0x0123_4567_89AB_CDEF
    at = a ^ 0b1111  # 4 bits apart
    beyond = a ^ (0b11111 << 40)  # 5 bits apart
    assert hamming.distance(a, at) == 4 and hamming.distance(a, beyond) == 5
    assert hamming.near_pairs([a, at, beyond], 4).tolist() == [[0, 1]]


def test_signed_and_unsigned_hashes_are_the_same_bits():
    assert hamming.as_array([MASK, 1]).tolist() == hamming.as_array([-1, 1]).tolist()


def test_large_sets_are_searched_with_tables_not_all_pairs():
    for radius in (4, 8, 10):
        chosen = hamming.plan(100_000, radius)
        assert not chosen.brute, radius
        assert chosen.cost < 100_000**2 / 2 * 1e-9  # cheaper than the pass over 5e9 pairs
