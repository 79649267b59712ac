"""Category colours: stable, distinct, cycling; readable label text."""

from __future__ import annotations

import re

from opsml_image.colors import PALETTE, category_color, rgb, text_color


def test_colors_are_stable_hex_and_distinct() -> None:
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in PALETTE)
    assert len(set(PALETTE)) == len(PALETTE) >= 10
    assert [category_color(i) for i in range(len(PALETTE))] == list(PALETTE)
    assert category_color(0) == "#4e79a7"  # Tableau 10 first
    assert category_color(3) == category_color(3)


def test_colors_cycle_for_many_categories() -> None:
    n = len(PALETTE)
    assert category_color(n) == category_color(0) and category_color(2 * n + 5) == category_color(5)


def test_neighbouring_ids_differ_clearly() -> None:
    for i in range(len(PALETTE) - 1):
        a, b = rgb(category_color(i)), rgb(category_color(i + 1))
        assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) > 60


def test_text_color_contrasts() -> None:
    assert rgb("#ff8000") == (255, 128, 0)
    assert text_color("#ffffff") == "#000000" and text_color("#000000") == "#ffffff"
    assert text_color("#edc948") == "#000000" and text_color("#1f3fbf") == "#ffffff"
