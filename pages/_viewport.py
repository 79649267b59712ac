"""A tiny browser-side helper for Annotate: the width of its column, zoom, pan and mode on the canvas, and
keys Streamlit's button shortcuts cannot name (``+``, ``-``, ``?``).

It is a Components v2 element placed in the canvas's column, given the view the canvas shows (its
:class:`~opsml_image.canvas_geometry.Viewport`: key, image size, canvas size, region) and the page's mode. It
reports the column's width as state (``width``, so the canvas is sized to fit it) and sends triggers:

- ``zoom`` ``{"step": +1 | -1, "x", "y", "view"}`` on a wheel turn over the canvas (the point in canvas pixels
  of the view named ``view``), and ``{"step"}`` on ``+``/``=`` or ``-``;
- ``pan`` ``{"dx", "dy", "view"}`` after a drag on the canvas in pan mode (the image follows the pointer
  while it moves, as far as the image goes);
- ``help`` on ``?``.

It owns the canvas's chrome: the canvas's own toolbar (its undo/redo, reset and edit toggle: a second
history beside the page's) is hidden, and its edit toggle is kept on exactly in the page's edit mode. Under
the pointer it shows the image coordinates of the point (``data-testid="annotatePointer"``). Its CSS keeps
the Annotate toolbar on one row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

if TYPE_CHECKING:  # a type only: the page's use case hands the Viewport over
    from opsml_image.usecases.annotate import Viewport

_JS = """
// One helper per page, whatever the number of mounted instances (a rerun can briefly show two): the newest
// instance's data and functions win; listeners, the sync timer and the pointer label are shared.
const vp = window.__opsmlViewport = window.__opsmlViewport || {mounts: new Map(), data: {}, acc: 0};

const STYLE = `.dc-toolbar {display: none !important;}
.dc-root[data-opsml-mode="pan"] .upper-canvas {cursor: grab !important;}
.dc-root[data-opsml-mode="pan"][data-opsml-drag] .upper-canvas {cursor: grabbing !important;}`;

const canvasRoots = () => [...document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')]
    .map((host) => host.shadowRoot && host.shadowRoot.querySelector('.dc-root')).filter(Boolean);

// hide the canvas's toolbar and keep its edit toggle as the page's mode says
const sync = () => {
    const mode = vp.data.mode || 'draw';
    for (const root of canvasRoots()) {
        const shadow = root.getRootNode();
        if (!shadow.querySelector('style[data-opsml]')) {
            const style = document.createElement('style');
            style.dataset.opsml = '1';
            style.textContent = STYLE;
            shadow.appendChild(style);
        }
        root.dataset.opsmlMode = mode;
        const edit = root.querySelector('.dc-toolbar button[aria-label="Edit"]');
        if (edit && (edit.getAttribute('aria-pressed') === 'true') !== (mode === 'edit')) edit.click();
    }
};

const upperCanvas = (event) => event.composedPath().find(
    (node) => node instanceof HTMLCanvasElement && node.classList.contains('upper-canvas'));

// a point of the canvas in canvas pixels
const at = (canvas, event) => {
    const rect = canvas.getBoundingClientRect();
    const view = vp.data.view;
    const kx = view ? view.canvas[0] / rect.width : 1, ky = view ? view.canvas[1] / rect.height : 1;
    return [(event.clientX - rect.left) * kx, (event.clientY - rect.top) * ky];
};

const onWheel = (event) => {
    const canvas = upperCanvas(event);
    if (!canvas) return;
    event.preventDefault();
    vp.acc += event.deltaMode === 0 ? event.deltaY : event.deltaY * 40;
    if (Math.abs(vp.acc) < 40) return;  // a touchpad's small deltas add up to a step
    const key = vp.data.view && vp.data.view.key;
    const now = Date.now();
    if (vp.sentFor === key && now - vp.sentAt < 1000) return;  // one step a view: the next waits for it
    const [x, y] = at(canvas, event);
    vp.sentFor = key;
    vp.sentAt = now;
    const step = vp.acc < 0 ? 1 : -1;
    vp.acc = 0;
    vp.setTriggerValue('zoom', {step, x, y, view: key});
};

const container = (root) => root.querySelector('.dc-container');

const onPointerDown = (event) => {
    const canvas = upperCanvas(event);
    if (!canvas || vp.data.mode !== 'pan' || event.button !== 0 || !vp.data.view) return;
    const root = canvas.getRootNode().querySelector('.dc-root');
    event.preventDefault();
    event.stopPropagation();
    const rect = canvas.getBoundingClientRect();  // canvas pixels per CSS pixel (it moves while dragged)
    const k = [vp.data.view.canvas[0] / rect.width, vp.data.view.canvas[1] / rect.height];
    vp.drag = {root, x: event.clientX, y: event.clientY, k, dx: 0, dy: 0, key: vp.data.view.key};
    root.dataset.opsmlDrag = '1';
    root.querySelector('.dc-scroll').style.overflow = 'hidden';
};

const onPointerMove = (event) => {
    const canvas = upperCanvas(event);
    showPointer(canvas, event);
    const drag = vp.drag;
    if (!drag) return;
    const view = vp.data.view;
    const [rx, ry, rw, rh] = view.region;
    const sx = view.canvas[0] / rw, sy = view.canvas[1] / rh;
    // the image follows the pointer as far as it goes: the region stays inside the image
    const dx = (event.clientX - drag.x) * drag.k[0], dy = (event.clientY - drag.y) * drag.k[1];
    drag.dx = Math.min(rx * sx, Math.max(-(view.image[0] - rx - rw) * sx, dx));
    drag.dy = Math.min(ry * sy, Math.max(-(view.image[1] - ry - rh) * sy, dy));
    const box = container(drag.root);
    if (box) box.style.transform = `translate(${drag.dx}px, ${drag.dy}px)`;
};

const onPointerUp = () => {
    const drag = vp.drag;
    if (!drag) return;
    vp.drag = null;
    delete drag.root.dataset.opsmlDrag;
    if (Math.abs(drag.dx) + Math.abs(drag.dy) >= 1) {
        vp.panned = drag;  // kept moved until the page shows the new view
        vp.setTriggerValue('pan', {dx: drag.dx, dy: drag.dy, view: drag.key});
    } else {
        const box = container(drag.root);
        if (box) box.style.transform = '';
    }
};

// the image coordinates under the pointer, at the canvas's bottom left corner
const showPointer = (canvas, event) => {
    const label = vp.label;
    const view = vp.data.view;
    if (!label) return;
    if (!canvas || !view || vp.drag) {
        label.style.display = 'none';
        return;
    }
    const [x, y] = at(canvas, event);
    const [rx, ry, rw, rh] = view.region;
    const ix = rx + x * rw / view.canvas[0], iy = ry + y * rh / view.canvas[1];
    const rect = canvas.getBoundingClientRect();
    label.textContent = `x ${ix.toFixed(1)} · y ${iy.toFixed(1)}`;
    label.dataset.x = String(ix);
    label.dataset.y = String(iy);
    Object.assign(label.style, {display: 'block', left: `${rect.left + 4}px`, top: `${rect.bottom - 26}px`});
};

const typing = (event) => {
    const tag = (event.composedPath()[0] || {}).tagName || '';
    return ['INPUT', 'TEXTAREA', 'SELECT'].includes(tag) || event.target.isContentEditable;
};

const onKey = (event) => {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === '+' || event.key === '=') vp.setTriggerValue('zoom', {step: 1});
    else if (event.key === '-') vp.setTriggerValue('zoom', {step: -1});
    else if (event.key === '?') vp.setTriggerValue('help', true);
};

const LISTENERS = [
    ['wheel', onWheel, {passive: false}],
    ['pointerdown', onPointerDown, true],
    ['pointermove', onPointerMove, true],
    ['pointerup', onPointerUp, true],
    ['keydown', onKey, false],
];

const start = () => {
    vp.running = true;
    for (const [name, handler, options] of LISTENERS) document.addEventListener(name, handler, options);
    vp.timer = setInterval(sync, 120);
    vp.label = document.createElement('div');
    vp.label.dataset.testid = 'annotatePointer';
    Object.assign(vp.label.style, {position: 'fixed', display: 'none', pointerEvents: 'none', zIndex: 1000,
                                   font: '12px monospace', padding: '2px 6px', borderRadius: '4px',
                                   background: 'rgba(0, 0, 0, 0.6)', color: '#fff'});
    document.body.appendChild(vp.label);
};

const stop = () => {
    vp.running = false;
    for (const [name, handler, options] of LISTENERS) document.removeEventListener(name, handler, options);
    clearInterval(vp.timer);
    vp.label.remove();
    vp.label = null;
};

export default function(component) {
    const { setStateValue, setTriggerValue, parentElement, data } = component;
    vp.data = data || {};
    vp.setTriggerValue = setTriggerValue;
    const panned = vp.panned;
    if (panned && !(vp.data.view && vp.data.view.key !== panned.key)) {
        const box = container(panned.root);  // the same view again (nothing to pan): put the image back
        if (box) box.style.transform = '';
    }
    vp.panned = null;
    if (!vp.running) start();
    sync();
    // called again on every data update of a mounted instance: the page keeps the cleanup returned last
    const mounted = vp.mounts.get(parentElement);
    if (mounted) return mounted;
    const root = parentElement.host || parentElement;
    const column = root.closest('[data-testid="stColumn"]') || root.parentElement;
    let last = vp.data.assumed || 0;  // the width the server drew the canvas for
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
    const cleanup = () => {
        observer.disconnect();
        vp.mounts.delete(parentElement);
        if (vp.mounts.size === 0) stop();
    };
    vp.mounts.set(parentElement, cleanup);
    return cleanup;
}
"""

#: Page-wide CSS (the component's styles are not isolated, so they reach the page): the Annotate toolbar keeps
#: one row from 1024 px, its buttons narrow and their key hints in their tooltips and the shortcut sheet.
#: Carried here rather than by ``st.html``, which loads an HTML sanitiser into every Annotate page.
_CSS = """.st-key-annotate_toolbar button kbd {display: none;}
.st-key-annotate_toolbar button {padding-left: 0.4rem; padding-right: 0.4rem;}"""

_component = st.components.v2.component("opsml_viewport", js=_JS, css=_CSS, isolate_styles=False)


def view_data(view: Viewport | None) -> dict[str, Any] | None:
    """What the helper needs of the view the canvas shows (JSON)."""
    if view is None:
        return None
    return {
        "key": view.key,
        "image": list(view.image),
        "canvas": list(view.canvas),
        "region": list(view.region),
    }


def viewport(
    key: str,
    assumed_width: int,
    view: Viewport | None,
    mode: str,
    *,
    on_width: Callable[[], None],
    on_zoom: Callable[[], None],
    on_pan: Callable[[], None],
    on_help: Callable[[], None],
) -> Any:
    """Mount the helper; its triggers and width reach the page through the callbacks, which run before the
    script (read ``st.session_state[key]``'s ``width``, ``zoom``, ``pan``, ``help``). ``assumed_width`` is
    the column width the page used: the browser reports the column's width only when it differs."""
    data = {"assumed": assumed_width, "view": view_data(view), "mode": mode}
    return _component(key=key, data=data, on_width_change=on_width, on_zoom_change=on_zoom,
                      on_pan_change=on_pan, on_help_change=on_help)  # fmt: skip
