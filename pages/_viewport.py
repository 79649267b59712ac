"""A tiny browser-side helper for Annotate: the width of its column, wheel zoom over the canvas, and keys
Streamlit's button shortcuts cannot name (``+``, ``-``, ``?``).

It is a Components v2 element placed in the canvas's column: it reports that column's width as state
(``width``, so the canvas is sized to fit it) and sends a trigger ``zoom`` (``{"step": +1 | -1, "x", "y"}``
in canvas pixels) on a wheel turn over the canvas, ``+``/``=`` or ``-``, and ``help`` on ``?``. Its CSS keeps
the Annotate toolbar on one row.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_JS = """
export default function(component) {
    const { setStateValue, setTriggerValue, parentElement, data } = component;
    const assumed = (data && data.assumed) || 0;  // the width the server drew the canvas for
    const root = parentElement.host || parentElement;  // an isolated component mounts in a shadow root
    const column = root.closest('[data-testid="stColumn"]') || root.parentElement;
    let last = assumed;
    const measure = () => {
        // a narrower column at once (the canvas, 4 px under the width used, must fit); a wider one only when
        // it matters: a width close to the one used must not cost a rerun and a second canvas
        const width = Math.floor(column.getBoundingClientRect().width);
        if (width > 0 && (width < last - 4 || width > last + 12)) {
            last = width;
            setStateValue('width', width);
        }
    };
    const observer = new ResizeObserver(measure);
    observer.observe(column);
    measure();
    const canvasUnder = (event) => event.composedPath().find(
        (node) => node instanceof HTMLCanvasElement && node.classList.contains('upper-canvas'));
    const onWheel = (event) => {
        const canvas = canvasUnder(event);
        if (!canvas) return;
        event.preventDefault();
        const rect = canvas.getBoundingClientRect();
        setTriggerValue('zoom', {step: event.deltaY < 0 ? 1 : -1,
                                 x: event.clientX - rect.left, y: event.clientY - rect.top});
    };
    const typing = (event) => {
        const tag = (event.composedPath()[0] || {}).tagName || '';
        return ['INPUT', 'TEXTAREA', 'SELECT'].includes(tag) || event.target.isContentEditable;
    };
    const onKey = (event) => {
        if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
        if (event.key === '+' || event.key === '=') setTriggerValue('zoom', {step: 1});
        else if (event.key === '-') setTriggerValue('zoom', {step: -1});
        else if (event.key === '?') setTriggerValue('help', true);
    };
    document.addEventListener('wheel', onWheel, {passive: false});
    document.addEventListener('keydown', onKey);
    return () => {
        observer.disconnect();
        document.removeEventListener('wheel', onWheel);
        document.removeEventListener('keydown', onKey);
    };
}
"""

#: Page-wide CSS (the component's styles are not isolated, so they reach the page): the Annotate toolbar keeps
#: one row, its buttons' key hints being in their tooltips and the shortcut sheet. Carried here rather than by
#: ``st.html``, which loads an HTML sanitiser into every Annotate page.
_CSS = ".st-key-annotate_toolbar button kbd {display: none;}"

_component = st.components.v2.component("opsml_viewport", js=_JS, css=_CSS, isolate_styles=False)


def viewport(key: str, assumed_width: int) -> Any:
    """Mount the helper; returns its result (``.width``, ``.zoom``, ``.help``; None before the browser
    reports, and always None under AppTest). ``assumed_width`` is the column width the page used: the browser
    reports the column's width only when it differs."""
    return _component(key=key, data={"assumed": assumed_width}, on_width_change=lambda: None,
                      on_zoom_change=lambda: None, on_help_change=lambda: None)  # fmt: skip
