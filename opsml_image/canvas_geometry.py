"""Canvas pixels <-> image pixels for the annotation canvas (``streamlit-drawable-canvas``, ``contain`` fit).

The canvas shows a *display* image (usually the original scaled down to the canvas size, so a 4000x3000
photo is not sent to the browser at full size). With ``background_image_fit="contain"`` the canvas
frontend scales the display image by ``s = min(canvas_w / display_w, canvas_h / display_h)`` and centres it
(offsets ``(canvas_w - display_w * s) / 2`` and ``(canvas_h - display_h * s) / 2``). A :class:`Fit` holds that
mapping composed with display -> original, so boxes go to and from the original image's pixels exactly.

Zoom shows a region of the image: a :class:`Viewport` says which region (image size, canvas size, zoom,
centre) and how it changes (fit, zoom around a point, pan, 1:1); its :attr:`Viewport.fit` is the
:meth:`Fit.view` that maps that region onto the whole canvas (the display image is the crop), so a box drawn
at 4x lands on the right image pixels.

Pure functions, no Streamlit import: this is the canvas adapter of the one box type. The initial drawing is
made from :class:`~opsml_image.annotation.Box` values with :func:`initial_drawing`, and the canvas's
Fabric.js JSON becomes ``Box`` values again with :func:`boxes_from_drawing` (which honours ``scaleX``/
``scaleY`` from resizing and the object's origin, and clips to the image).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from opsml_image.annotation import Box
from opsml_image.rules import BOX_DIGITS

__all__ = [
    "ZOOMS",
    "Fit",
    "Viewport",
    "canvas_size",
    "initial_drawing",
    "outlines",
    "boxes_from_drawing",
    "clip_box",
]

_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}


@dataclass(frozen=True, slots=True)
class Fit:
    """How the original image lies on the canvas: ``canvas = image * scale + offset`` per axis."""

    image_width: int
    image_height: int
    canvas_width: int
    canvas_height: int
    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    @classmethod
    def contain(
        cls,
        image_size: tuple[int, int],
        canvas: tuple[int, int],
        display_size: tuple[int, int] | None = None,
    ) -> Fit:
        """The mapping the canvas applies with ``background_image_fit="contain"``.

        ``image_size`` is the original image's ``(width, height)``, ``canvas`` the canvas ``(width, height)``
        and ``display_size`` the size of the image actually sent as ``background_image`` (default: the
        original).
        """
        iw, ih = image_size
        cw, ch = canvas
        dw, dh = display_size or image_size
        if min(iw, ih, cw, ch, dw, dh) <= 0:
            raise ValueError(
                f"sizes must be positive: image {image_size}, canvas {canvas}, display {display_size}"
            )
        s = min(cw / dw, ch / dh)
        return cls(
            image_width=iw,
            image_height=ih,
            canvas_width=cw,
            canvas_height=ch,
            scale_x=s * dw / iw,
            scale_y=s * dh / ih,
            offset_x=(cw - dw * s) / 2,
            offset_y=(ch - dh * s) / 2,
        )

    @classmethod
    def view(
        cls, image_size: tuple[int, int], canvas: tuple[int, int], region: tuple[float, float, float, float]
    ) -> Fit:
        """The mapping when the canvas shows the image region ``(x, y, w, h)`` (a zoomed view) stretched over
        the whole canvas; the display image is that crop resized to the canvas."""
        iw, ih = image_size
        cw, ch = canvas
        x, y, w, h = region
        if min(iw, ih, cw, ch) <= 0 or w <= 0 or h <= 0:
            raise ValueError(f"sizes must be positive: image {image_size}, canvas {canvas}, region {region}")
        sx, sy = cw / w, ch / h
        return cls(iw, ih, cw, ch, sx, sy, -x * sx, -y * sy)

    @classmethod
    def from_background_fit(
        cls, image_size: tuple[int, int], canvas: tuple[int, int], fit: Mapping[str, float]
    ) -> Fit:
        """The mapping from the canvas's reported ``background_fit`` (the display image's scale, offset)."""
        iw, ih = image_size
        dw, dh = fit["natural_width"], fit["natural_height"]
        return cls(
            image_width=iw,
            image_height=ih,
            canvas_width=canvas[0],
            canvas_height=canvas[1],
            scale_x=fit["scale_x"] * dw / iw,
            scale_y=fit["scale_y"] * dh / ih,
            offset_x=fit["offset_x"],
            offset_y=fit["offset_y"],
        )

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """Image pixels -> canvas pixels."""
        return x * self.scale_x + self.offset_x, y * self.scale_y + self.offset_y

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """Canvas pixels -> image pixels."""
        return (x - self.offset_x) / self.scale_x, (y - self.offset_y) / self.scale_y

    def box_to_canvas(self, bbox: Sequence[float]) -> tuple[float, float, float, float]:
        """``[x, y, w, h]`` in image pixels -> ``(left, top, width, height)`` in canvas pixels."""
        x, y, w, h = bbox
        left, top = self.to_canvas(x, y)
        return left, top, w * self.scale_x, h * self.scale_y

    def box_to_image(
        self, left: float, top: float, width: float, height: float
    ) -> tuple[float, float, float, float]:
        """``(left, top, width, height)`` in canvas pixels -> ``(x, y, w, h)`` in image pixels."""
        x, y = self.to_image(left, top)
        return x, y, width / self.scale_x, height / self.scale_y


def canvas_size(image_size: tuple[int, int], max_width: int, max_height: int) -> tuple[int, int]:
    """The canvas ``(width, height)`` that holds the image at the largest scale within the bounds.

    The canvas takes the image's aspect ratio, so the ``contain`` fit leaves (almost) no margin. Small
    images are scaled up to the bounds too, which makes them easier to annotate.
    """
    iw, ih = image_size
    if iw <= 0 or ih <= 0:
        raise ValueError(f"image size must be positive, got {image_size}")
    s = min(max_width / iw, max_height / ih)
    return max(1, round(iw * s)), max(1, round(ih * s))


#: The zoom levels the zoom buttons, keys and the wheel step through (1 shows the whole image).
ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


@dataclass(frozen=True, slots=True)
class Viewport:
    """Which part of an image the canvas shows: the canvas is ``canvas`` CSS pixels and holds the image's
    aspect ratio; at ``zoom`` 1 it shows the whole image, at ``zoom`` z the region of 1/z of each side around
    ``center`` (image pixels). Every transition returns a new value whose region lies inside the image.

    Build one with :meth:`fitted`; :attr:`fit` is the canvas <-> image mapping of the region shown.
    """

    image: tuple[int, int]
    canvas: tuple[int, int]
    zoom: float
    center: tuple[float, float]

    @classmethod
    def fitted(cls, image: tuple[int, int], bounds: tuple[int, int]) -> Viewport:
        """The whole image on the largest canvas of its aspect ratio within ``bounds`` (width, height)."""
        iw, ih = image
        return cls(image, canvas_size(image, *bounds), 1.0, (iw / 2, ih / 2))

    def _made(self, zoom: float, center: tuple[float, float]) -> Viewport:
        """This viewport at ``zoom`` (within 1 and :attr:`max_zoom`) and ``center``, moved so that its region
        lies inside the image."""
        iw, ih = self.image
        zoom = min(max(1.0, float(zoom)), self.max_zoom)
        half_w, half_h = iw / zoom / 2, ih / zoom / 2
        cx = min(max(half_w, float(center[0])), iw - half_w)
        cy = min(max(half_h, float(center[1])), ih - half_h)
        return replace(self, zoom=zoom, center=(cx, cy))

    @property
    def max_zoom(self) -> float:
        """The largest zoom: the last of :data:`ZOOMS`, or 1:1 when that is closer still."""
        return max(ZOOMS[-1], self.actual_zoom)

    @property
    def actual_zoom(self) -> float:
        """The zoom at which one image pixel is one canvas pixel (1 for an image smaller than the canvas)."""
        return max(1.0, self.image[0] / self.canvas[0])

    @property
    def region(self) -> tuple[float, float, float, float]:
        """The image region shown, ``(x, y, w, h)`` in image pixels."""
        iw, ih = self.image
        w, h = iw / self.zoom, ih / self.zoom
        return self.center[0] - w / 2, self.center[1] - h / 2, w, h

    @property
    def fit(self) -> Fit:
        """Canvas pixels <-> image pixels for this region on this canvas."""
        return Fit.view(self.image, self.canvas, self.region)

    @property
    def key(self) -> str:
        """Names the mapping (canvas size and region): equal keys, equal mappings to within 0.001 px."""
        return "{}x{}@{:.3f},{:.3f},{:.3f}".format(*self.canvas, *self.region[:3])

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """Canvas pixels -> image pixels."""
        return self.fit.to_image(x, y)

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """Image pixels -> canvas pixels."""
        return self.fit.to_canvas(x, y)

    def zoomed(self, zoom: float, at: tuple[float, float] | None = None) -> Viewport:
        """At ``zoom``, the image point under canvas point ``at`` staying under it (the centre stays when
        ``at`` is None): exactly when zooming in; when zooming out, unless the region meets an edge."""
        if at is None:
            return self._made(zoom, self.center)
        fit = self.fit
        qx, qy = fit.to_image(*at)
        zoom = min(max(1.0, float(zoom)), self.max_zoom)
        iw, ih = self.image
        cw, ch = self.canvas
        w, h = iw / zoom, ih / zoom
        return self._made(zoom, (qx - at[0] * w / cw + w / 2, qy - at[1] * h / ch + h / 2))

    def stepped(self, steps: int, at: tuple[float, float] | None = None) -> Viewport:
        """``steps`` levels of :data:`ZOOMS` in (> 0) or out (< 0) from the level nearest this zoom."""
        levels = sorted({*ZOOMS, self.actual_zoom} if self.actual_zoom > ZOOMS[-1] else ZOOMS)
        nearest = min(range(len(levels)), key=lambda i: abs(levels[i] - self.zoom))
        return self.zoomed(levels[min(max(0, nearest + steps), len(levels) - 1)], at)

    def panned(self, dx: float, dy: float) -> Viewport:
        """The view after a drag of ``(dx, dy)`` canvas pixels: the image moves with the pointer."""
        fit = self.fit
        return self._made(self.zoom, (self.center[0] - dx / fit.scale_x, self.center[1] - dy / fit.scale_y))

    def actual_size(self) -> Viewport:
        """1:1: one image pixel a canvas pixel, around the same centre."""
        return self._made(self.actual_zoom, self.center)

    def whole(self) -> Viewport:
        """The whole image (zoom 1)."""
        return self._made(1.0, self.center)

    def resized(self, bounds: tuple[int, int]) -> Viewport:
        """The same zoom and centre on the canvas that fits ``bounds``."""
        canvas = canvas_size(self.image, *bounds)
        if canvas == self.canvas:
            return self
        return replace(self, canvas=canvas)._made(self.zoom, self.center)


def clip_box(
    x: float, y: float, w: float, h: float, width: int, height: int
) -> tuple[float, float, float, float] | None:
    """The box cut to ``[0, width] x [0, height]``, or None when nothing of it is inside.

    The same rule as :meth:`opsml_image.annotation.Box.clipped` (it is that method, on bare numbers).
    """
    clipped = Box(x, y, w, h, 0).clipped(width, height)
    return None if clipped is None else (clipped.x, clipped.y, clipped.w, clipped.h)


def initial_drawing(
    boxes: Iterable[Box],
    fit: Fit,
    label_of: Callable[[int], str],
    color_of: Callable[[int], str] | None = None,
    *,
    stroke_width: int = 2,
    fill: str = "rgba(0, 0, 0, 0)",
) -> dict[str, Any]:
    """A canvas ``initial_drawing`` of boxes in image pixels, labelled with ``label_of(category)``.

    Each box becomes a ``LabeledRect`` with ``originX="left"``, ``originY="top"`` and ``scaleX = scaleY = 1``
    (so what the canvas sends back unchanged maps back to the same image pixels); ``color_of`` gives each
    box's stroke colour (default black).
    """
    objects = []
    for box in boxes:
        left, top, width, height = fit.box_to_canvas(box.as_bbox())
        objects.append(
            {
                "type": "LabeledRect",
                "label": label_of(box.category),
                "left": left,
                "top": top,
                "width": width,
                "height": height,
                "originX": "left",
                "originY": "top",
                "scaleX": 1,
                "scaleY": 1,
                "angle": 0,
                "stroke": color_of(box.category) if color_of else "#000000",
                "strokeWidth": stroke_width,
                "strokeUniform": True,
                "fill": fill,
                "lockRotation": True,
            }
        )
    return {"objects": objects}


def outlines(
    boxes: Iterable[Box], fit: Fit, *, stroke: str = "#ff6d00", stroke_width: int = 2
) -> list[dict[str, Any]]:
    """Dashed outlines of boxes for an ``initial_drawing``: plain ``Rect`` objects the person sees but cannot
    select, which :func:`boxes_from_drawing` never reads back as boxes (it reads ``LabeledRect`` only)."""
    objects = []
    for box in boxes:
        left, top, width, height = fit.box_to_canvas(box.as_bbox())
        objects.append(
            {
                "type": "Rect",
                "left": left,
                "top": top,
                "width": width,
                "height": height,
                "originX": "left",
                "originY": "top",
                "stroke": stroke,
                "strokeWidth": stroke_width,
                "strokeDashArray": [6, 4],
                "strokeUniform": True,
                "fill": "rgba(0, 0, 0, 0)",
                "selectable": False,
                "evented": False,
            }
        )
    return objects


def boxes_from_drawing(
    json_data: Mapping[str, Any] | None,
    fit: Fit,
    category_of: Callable[[str], int],
    *,
    clip: bool = True,
    min_size: float = 1.0,
    digits: int = BOX_DIGITS,
    unchanged: Sequence[Box] = (),
    label_of: Callable[[int], str] | None = None,
    tolerance: float = 0.01,
    known: Sequence[Box] = (),
) -> list[Box]:
    """The ``LabeledRect`` boxes of a canvas's Fabric.js JSON as :class:`Box` values, in drawing order.

    Width and height are multiplied by ``scaleX``/``scaleY`` (resizing on the canvas changes the scale, not
    the size) and the object's origin is honoured. With ``clip`` each box is cut to the image; boxes smaller
    than ``min_size`` image pixels on a side (after clipping) are dropped, as a click without a drag makes.
    Coordinates are rounded to ``digits`` decimals. A box's label becomes its category with ``category_of``
    (which sees the stripped label, possibly empty, and may create a class).

    ``unchanged`` are the boxes the drawing started from (shown with ``label_of``): a box still where one
    of them was drawn (within ``tolerance`` canvas pixels, or what rounding to ``digits`` moves it at this
    scale, same label) comes back as that very box (exact
    coordinates, its ``extra``), neither clipped nor rounded, so merely showing a box never edits it. When
    the drawing holds as many boxes as it started from (one box moved, resized or relabelled: each change
    reaches the page on its own), the changed box is the same object: it keeps its identity (COCO ``id``,
    attributes...) through :meth:`Box.moved`, or all of its ``extra`` when only its label changed.

    ``known`` are earlier states of these boxes (those the canvas was first given): a box back exactly where
    one of them was comes back as that box, its mask and area included (a move taken back on the canvas).
    """
    if not json_data:
        return []
    tolerance = max(tolerance, 10.0**-digits * max(fit.scale_x, fit.scale_y))
    originals = [
        (fit.box_to_canvas(box.as_bbox()), label_of(box.category) if label_of else None, box)
        for box in unchanged
    ]
    earlier = [
        (fit.box_to_canvas(box.as_bbox()), label_of(box.category) if label_of else None, box)
        for box in known
        if box not in unchanged
    ]
    result: list[Box] = []
    changed: list[tuple[int, tuple[float, float, float, float]]] = []  # (index, canvas box) of new boxes
    for obj in json_data.get("objects") or ():
        if not isinstance(obj, Mapping) or obj.get("type") != "LabeledRect":
            continue
        try:
            width = float(obj.get("width", 0)) * float(obj.get("scaleX", 1) or 1)
            height = float(obj.get("height", 0)) * float(obj.get("scaleY", 1) or 1)
            left = float(obj.get("left", 0)) - _ORIGIN.get(obj.get("originX", "left"), 0.0) * width
            top = float(obj.get("top", 0)) - _ORIGIN.get(obj.get("originY", "top"), 0.0) * height
        except (TypeError, ValueError):
            continue
        if width < 0:  # a negative scale flips the box
            left, width = left + width, -width
        if height < 0:
            top, height = top + height, -height
        label = str(obj.get("label") or "").strip()
        original = _same(originals, (left, top, width, height), label, tolerance)
        if original is None:
            original = _same(earlier, (left, top, width, height), label, tolerance)
        if original is not None:
            result.append(original)
            continue
        x, y, w, h = fit.box_to_image(left, top, width, height)
        if clip:
            clipped = clip_box(x, y, w, h, fit.image_width, fit.image_height)
            if clipped is None:
                continue
            x, y, w, h = clipped
        x0, y0 = round(x, digits), round(y, digits)
        x1, y1 = round(x + w, digits), round(y + h, digits)
        if clip:  # rounding must not push a clipped box over the edge
            x1, y1 = min(x1, float(fit.image_width)), min(y1, float(fit.image_height))
        x, y, w, h = x0, y0, round(x1 - x0, digits), round(y1 - y0, digits)
        if w < min_size or h < min_size:
            continue
        changed.append((len(result), (left, top, width, height)))
        result.append(Box(x, y, w, h, category_of(label)))
    if changed and len(result) == len(unchanged):
        for index, canvas_box in changed:
            made, (original_box, _, original) = result[index], originals[index]
            if not all(abs(a - b) <= tolerance for a, b in zip(original_box, canvas_box, strict=True)):
                original = original.moved(made.x, made.y, made.w, made.h)  # else relabelled only
            result[index] = replace(original, category=made.category)
    return result


def _same(
    originals: list[tuple[tuple[float, float, float, float], str | None, Box]],
    box: tuple[float, float, float, float],
    label: str,
    tolerance: float,
) -> Box | None:
    for canvas_box, original_label, original in originals:
        if original_label in (None, label) and all(
            abs(a - b) <= tolerance for a, b in zip(canvas_box, box, strict=True)
        ):
            return original
    return None
