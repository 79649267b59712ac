"""Category colours: a stable, distinct colour per category id for boxes, labels and charts."""

from __future__ import annotations

__all__ = ["PALETTE", "category_color", "text_color", "rgb"]

#: Tableau 10 first (the most distinct), then ten more colours picked glasbey-style to stay apart from them.
PALETTE: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#1f3fbf", "#00b3b3", "#8c1aff", "#b3004d", "#7a8f00",
    "#ff5cf4", "#006b3c", "#ffb300", "#5a2d0c", "#00e676",
)  # fmt: skip


def category_color(category_id: int) -> str:
    """The ``#rrggbb`` colour of a category id: stable, cycling through :data:`PALETTE`."""
    return PALETTE[int(category_id) % len(PALETTE)]


def rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` as an ``(r, g, b)`` tuple."""
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def text_color(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (by relative luminance)."""
    r, g, b = (channel / 255 for channel in rgb(background))
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if luminance > 0.179 else "#ffffff"
