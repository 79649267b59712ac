"""The link between Annotate's box list and its canvas: each row of the list wears its box's colour, and
hovering a row highlights that box on the image.

A Components v2 element in the page itself (no iframe, no bundle to fetch). It is given, per box, its
rectangle in canvas pixels and its colour; the rows are the containers keyed ``<prefix><index>``. The
highlight is a frame laid over the canvas (never drawn into it: the drawing stays the canvas's own) and
clipped to it, so a box partly outside the shown region is framed where it is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

_JS = """
// One link per page, whatever the number of mounted instances (a rerun can briefly show the old element
// beside the new one): the newest instance's data wins, and the listeners, style sheet and frame are shared.
const link = window.__opsmlBoxLink = window.__opsmlBoxLink || {instances: 0, data: null};

const canvas = () => {
    // the drawable canvas mounts in a shadow root; the last one shown is the current one
    const found = [];
    const look = (root) => {
        found.push(...root.querySelectorAll('canvas.upper-canvas'));
        for (const el of root.querySelectorAll('*')) if (el.shadowRoot) look(el.shadowRoot);
    };
    look(document);
    return found.filter((c) => c.getBoundingClientRect().width > 0).pop();
};

const hide = () => {
    link.current = null;
    if (link.frame) link.frame.style.display = 'none';
};

const show = (index) => {
    const { rows, width } = link.data || {};
    const row = rows && rows[index];
    const board = row && canvas();
    if (!board) return hide();
    const at = board.getBoundingClientRect();
    const k = at.width / (width || at.width);
    const [l, t, w, h] = row.rect;
    const left = Math.max(at.left, at.left + l * k), top = Math.max(at.top, at.top + t * k);
    const right = Math.min(at.right, at.left + (l + w) * k);
    const bottom = Math.min(at.bottom, at.top + (t + h) * k);
    if (right <= left || bottom <= top) return hide();
    link.current = index;
    Object.assign(link.frame.style, {display: 'block', left: `${left}px`, top: `${top}px`,
                                     width: `${right - left}px`, height: `${bottom - top}px`,
                                     border: `3px solid ${row.color}`});
    link.frame.dataset.box = String(index);
};

// the frame is fixed to the window: a scroll (also the one that brought the row under the pointer) moves it
const onScroll = () => { if (link.current !== null && link.current !== undefined) show(link.current); };

const onOver = (event) => {
    const prefix = (link.data && link.data.prefix) || '';
    const target = event.target instanceof Element ? event.target : null;
    const el = prefix && target && target.closest(`[class*="st-key-${prefix}"]`);
    const pattern = new RegExp(`^st-key-${prefix}(\\\\d+)$`);
    const match = el && [...el.classList].map((c) => c.match(pattern)).find(Boolean);
    if (match) show(Number(match[1]));
    else hide();
};

export default function(component) {
    const { data } = component;
    link.data = data || {};
    if (link.instances++ === 0) {
        link.style = document.createElement('style');
        document.head.appendChild(link.style);
        link.frame = document.createElement('div');
        link.frame.setAttribute('data-testid', 'boxHighlight');
        Object.assign(link.frame.style, {position: 'fixed', pointerEvents: 'none', zIndex: 1000,
                                         display: 'none', boxSizing: 'border-box',
                                         background: 'rgba(255, 235, 59, 0.25)'});
        document.body.appendChild(link.frame);
        document.addEventListener('mouseover', onOver);
        document.addEventListener('scroll', onScroll, true);
    }
    // the rows wear their boxes' colours
    const { rows = [], prefix = '' } = link.data;
    link.style.textContent = rows.map((row, i) =>
        `.st-key-${prefix}${i} {border-left: 4px solid ${row.color}; padding-left: 6px;}`).join('\\n');
    hide();
    return () => {
        if (--link.instances > 0) return;
        document.removeEventListener('mouseover', onOver);
        document.removeEventListener('scroll', onScroll, true);
        link.frame.remove();
        link.style.remove();
    };
}
"""

_component = st.components.v2.component("opsml_boxlink", js=_JS, isolate_styles=False)


def box_link(
    key: str, prefix: str, width: int, rows: Sequence[tuple[tuple[float, float, float, float], str]]
) -> Any:
    """Mount the link: ``rows`` are each box's (left, top, width, height) in the pixels of a canvas
    ``width`` wide, and its colour; the list's rows are the containers keyed ``prefix + index``."""
    boxes = [{"rect": [round(v, 1) for v in rect], "color": color} for rect, color in rows]
    data = {"prefix": prefix, "width": width, "rows": boxes}
    return _component(key=key, data=data)
