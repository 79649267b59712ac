"""The Browse gallery as one element: a responsive grid of tiles (image with its boxes, name elided with the
whole name on hover, a caption, Preview and Annotate), drawn by a small component of our own.

One element instead of a column, a container, an image, two texts and two buttons per tile: Streamlit's
browser side renders a 48-tile page in a fraction of the time, and the tiles travel with the page (no request
per image). Text is set with ``textContent`` (never parsed as HTML or Markdown). A click on a tile's image or
its Preview button asks for the preview; Annotate asks to open the image there; a click with a modifier key
on the image follows its link to Annotate (a new tab, as links do).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

__all__ = ["Action", "Tile", "gallery"]

_HTML = '<div class="gallery" data-testid="galleryGrid"></div>'

_CSS = """
.gallery {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(var(--tile-w, 256px), 1fr));
    gap: 0.75rem;
    font-family: var(--st-font, sans-serif);
    color: var(--st-text-color, #31333f);
}
.tile {
    margin: 0;
    padding: 0.5rem;
    border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2));
    border-radius: 0.5rem;
    min-width: 0;
}
.tile a.shot { display: block; cursor: zoom-in; }
.tile img { display: block; width: 100%; height: auto; aspect-ratio: var(--tile-ratio, 4 / 3); }
.tile .name {
    margin-top: 0.35rem;
    font-size: 0.875rem;
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
}
.tile .caption {
    font-size: 0.8rem;
    opacity: 0.65;
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
}
.tile .actions { display: flex; gap: 0.25rem; margin-top: 0.25rem; }
.tile button {
    flex: 1;
    font: inherit;
    font-size: 0.85rem;
    padding: 0.2rem 0.4rem;
    border: none;
    border-radius: 0.4rem;
    background: transparent;
    color: inherit;
    cursor: pointer;
}
.tile button:hover { background: var(--st-secondary-background-color, #f0f2f6); }
.tile button:focus-visible { outline: 2px solid var(--st-primary-color, #ff4b4b); }
"""

_JS = """
export default function (component) {
    const { data, setTriggerValue, parentElement } = component;
    const grid = parentElement.querySelector('.gallery');
    if (!grid || !data) return;
    grid.style.setProperty('--tile-w', `${data.width}px`);
    grid.style.setProperty('--tile-ratio', `${data.width} / ${data.height}`);
    const act = (kind, tile) => setTriggerValue('action', { kind, split: tile.split, file: tile.file });
    const element = (tag, className, text) => {
        const node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined) node.textContent = text;
        return node;
    };
    grid.replaceChildren(...data.tiles.map((tile) => {
        const figure = element('figure', 'tile');
        figure.dataset.testid = 'galleryTile';
        const shot = element('a', 'shot');
        shot.href = tile.href;
        shot.title = `Preview ${tile.name}`;
        shot.onclick = (event) => {
            const modified = event.ctrlKey || event.metaKey || event.shiftKey || event.altKey;
            if (event.button !== 0 || modified) return;
            event.preventDefault();
            act('preview', tile);
        };
        const image = element('img');
        image.src = tile.src;
        image.alt = tile.name;
        image.width = data.width;
        image.height = data.height;
        shot.append(image);
        const name = element('div', 'name', tile.name);
        name.title = tile.name;
        const caption = element('div', 'caption', tile.caption);
        caption.title = tile.caption;
        const actions = element('div', 'actions');
        for (const [kind, label] of [['preview', 'Preview'], ['annotate', 'Annotate']]) {
            const button = element('button', kind, label);
            button.type = 'button';
            button.title = `${label} ${tile.name}`;
            button.onclick = () => act(kind, tile);
            actions.append(button);
        }
        figure.append(shot, name, caption, actions);
        return figure;
    }));
}
"""

_COMPONENT = st.components.v2.component("opsml_image.gallery", html=_HTML, css=_CSS, js=_JS)


@dataclass(frozen=True)
class Tile:
    """One image of the gallery: its key, its rendered JPEG, a caption and its Annotate link."""

    split: str
    file_name: str
    jpeg: bytes
    caption: str
    href: str


@dataclass(frozen=True)
class Action:
    """What the person asked for on a tile: ``"preview"`` or ``"annotate"``."""

    kind: str
    split: str
    file_name: str


def gallery(tiles: Sequence[Tile], frame: tuple[int, int], key: str) -> Action | None:
    """Show the tiles (each ``frame`` pixels at most, in as many columns as fit); the action of this run."""
    data = {
        "width": frame[0],
        "height": frame[1],
        "tiles": [
            {
                "split": t.split,
                "file": t.file_name,
                "name": f"{t.split}/{t.file_name}",
                "caption": t.caption,
                "href": t.href,
                "src": "data:image/jpeg;base64," + base64.b64encode(t.jpeg).decode("ascii"),
            }
            for t in tiles
        ],
    }
    result = _COMPONENT(data=data, key=key, on_action_change=lambda: None)
    return _action(getattr(result, "action", None) if result is not None else None, tiles)


def _action(value: Any, tiles: Sequence[Tile]) -> Action | None:
    """The trigger value as an :class:`Action` on one of ``tiles`` (None when absent or not on this page)."""
    if not isinstance(value, dict) or value.get("kind") not in ("preview", "annotate"):
        return None
    shown = {(t.split, t.file_name) for t in tiles}
    key = (value.get("split"), value.get("file"))
    if key not in shown:
        return None
    return Action(str(value["kind"]), str(key[0]), str(key[1]))
