"""What one person is doing on the Annotate page, as one frozen value changed only by pure transitions.

The page keeps one :class:`AnnotateState` in its session and replaces it on every action (select a box, zoom,
pan, switch mode, choose a canvas size, record a save for undo...); nothing here reads Streamlit, the store or
the clock, so every transition is a plain function of the value and its arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from opsml_image.canvas_geometry import Viewport
from opsml_image.store import Key
from opsml_image.usecases.annotate import CanvasView, ImageView

__all__ = ["CANVAS_HEIGHTS", "FALLBACK_WIDTH", "AnnotateState", "CanvasMemo", "Mode", "PendingKey"]

#: Canvas height bounds (CSS pixels) per size setting; the width always fits the column.
CANVAS_HEIGHTS = {"Small": 420, "Medium": 560, "Large": 760}
#: The canvas column's width before the browser has said otherwise (and under AppTest): about the width at
#: 1440 px with the sidebar open (621 px with a scrollbar, 629 px without), so the common case needs no second
#: run to resize the canvas.
FALLBACK_WIDTH = 620
#: ``draw`` boxes (a drag draws one), ``edit`` boxes (select, move, resize), ``pan`` the view (drag it).
Mode = Literal["draw", "edit", "pan"]
#: A kept stale edit: ``(split, file name, kind)``, kind ``boxes``, ``caption`` or ``categories``.
PendingKey = tuple[str, str, str]
#: How many of one's edits undo can reach back.
UNDO_DEPTH = 100


@dataclass(frozen=True)
class CanvasMemo:
    """The canvas of one widget key: the board it was given when it was mounted, given again unchanged for as
    long as it lives (a changed drawing would make the canvas reload and send it back as an edit), and
    ``basis``, the image as its drawing stands: the version it was drawn from, moved on by its own saves."""

    key: str
    board: CanvasView
    basis: ImageView

    @property
    def shown(self) -> CanvasView:
        """The board to read the canvas's drawing with: its mapping, the boxes of :attr:`basis`, and those the
        canvas was given as earlier states."""
        return replace(self.board, shown=tuple(self.basis.annotation.boxes), given=self.board.shown)


@dataclass(frozen=True)
class AnnotateState:
    """Everything the Annotate page remembers for one person (see the module docstring).

    ``rev`` counts canvas generations: a change made outside the canvas (a box deleted from the list, an
    undo, a selection shown) gives the canvas a new key, so it is drawn afresh. ``undo``/``redo`` hold history
    ids of the store (``(image, id)``, newest last): the states themselves are the store's history entries.
    """

    folder: str = ""
    image: Key | None = None
    size: str = "Medium"
    width: int = FALLBACK_WIDTH
    view: Viewport | None = None
    mode: Mode = "draw"
    selected: int | None = None
    category: int | None = None
    rev: int = 0
    canvas: CanvasMemo | None = None
    undo: tuple[tuple[Key, int], ...] = ()
    redo: tuple[tuple[Key, int], ...] = ()
    pending: tuple[tuple[PendingKey, Any], ...] = ()
    sheet: bool = False  # the shortcut sheet is to open
    classes_open: bool = False  # the class dialog is open

    # ------------------------------------------------------------------ the image and the canvas

    def opened(self, key: Key, folder: str = "") -> AnnotateState:
        """On image ``key`` of ``folder``: another image starts unselected, fitted, on a new canvas; another
        folder keeps only the person's settings (its history ids, classes and kept edits are another's)."""
        if folder != self.folder:
            fresh = AnnotateState(folder, size=self.size, width=self.width, mode=self.mode, rev=self.rev)
            return fresh.opened(key, folder)
        if key == self.image:
            return self
        return replace(self, image=key, view=None, selected=None, canvas=None, rev=self.rev + 1)

    def bumped(self) -> AnnotateState:
        """A new canvas (a change was made outside it)."""
        return replace(self, rev=self.rev + 1)

    @property
    def bounds(self) -> tuple[int, int]:
        """The canvas's largest ``(width, height)``: its column's width, the size setting's height."""
        return max(200, self.width - 4), CANVAS_HEIGHTS.get(self.size, CANVAS_HEIGHTS["Medium"])

    def framed(self, image_size: tuple[int, int]) -> AnnotateState:
        """With a viewport of an image of ``image_size`` on the canvas the bounds allow: the same zoom and
        centre when it was of that image, else the whole image."""
        if self.view is None or self.view.image != image_size:
            return replace(self, view=Viewport.fitted(image_size, self.bounds))
        view = self.view.resized(self.bounds)
        return self if view is self.view else replace(self, view=view)

    def sized(self, size: str) -> AnnotateState:
        """Canvas size ``size`` (a key of :data:`CANVAS_HEIGHTS`)."""
        return replace(self, size=size if size in CANVAS_HEIGHTS else "Medium")

    def measured(self, width: int) -> AnnotateState:
        """The canvas column is ``width`` CSS pixels wide."""
        return replace(self, width=max(1, int(width)))

    def remembered(self, memo: CanvasMemo) -> AnnotateState:
        return replace(self, canvas=memo)

    # ------------------------------------------------------------------ the view

    def _viewed(self, change: Any, *args: Any) -> AnnotateState:
        return self if self.view is None else replace(self, view=change(self.view, *args))

    def zoom_step(
        self, steps: int, at: tuple[float, float] | None = None, seen: str | None = None
    ) -> AnnotateState:
        """``steps`` zoom levels in or out, around canvas point ``at`` when it is a point of the view named
        ``seen`` (:attr:`Viewport.key`; a point on an older canvas is not a point of this one)."""
        if self.view is not None and seen is not None and seen != self.view.key:
            at = None
        return self._viewed(Viewport.stepped, steps, at)

    def zoom_whole(self) -> AnnotateState:
        return self._viewed(Viewport.whole)

    def zoom_actual(self) -> AnnotateState:
        return self._viewed(Viewport.actual_size)

    def panned(self, dx: float, dy: float, seen: str | None = None) -> AnnotateState:
        """The view dragged by ``(dx, dy)`` canvas pixels on the view named ``seen`` (ignored on another)."""
        if self.view is None or (seen is not None and seen != self.view.key):
            return self
        return self._viewed(Viewport.panned, dx, dy)

    # ------------------------------------------------------------------ modes, selection, class

    def toggled(self, mode: Mode) -> AnnotateState:
        """``mode`` on, or back to drawing when it is on already."""
        return replace(self, mode="draw" if self.mode == mode else mode)

    def selecting(self, index: int | None) -> AnnotateState:
        """Box ``index`` selected (None, or the selected one again: none), shown on a new canvas."""
        chosen = None if index is None or index == self.selected else index
        return replace(self, selected=chosen, rev=self.rev + 1)

    def picked(self, category: int) -> AnnotateState:
        """The class stamped on new boxes."""
        return replace(self, category=category)

    def showing(self, sheet: bool | None = None, classes: bool | None = None) -> AnnotateState:
        """The shortcut sheet to open (or not), the class dialog open (or not); None: as it is."""
        return replace(
            self,
            sheet=self.sheet if sheet is None else sheet,
            classes_open=self.classes_open if classes is None else classes,
        )

    # ------------------------------------------------------------------ undo and redo

    def recorded(self, key: Key, change_id: int) -> AnnotateState:
        """A saved edit (history entry ``change_id``): undoable; what was undone on that image is no longer
        redone."""
        undo = (*self.undo, (key, change_id))[-UNDO_DEPTH:]
        return replace(self, undo=undo, redo=tuple(e for e in self.redo if e[0] != key))

    def target(self, key: Key, redo: bool = False) -> int | None:
        """The history entry undo (or redo) acts on for image ``key``: the newest one; None when none."""
        stack = self.redo if redo else self.undo
        return next((change for image, change in reversed(stack) if image == key), None)

    def stepped_back(self, key: Key, done: int, made: int | None, redo: bool = False) -> AnnotateState:
        """Entry ``done`` of image ``key`` was undone (``redo``: redone) by entry ``made``: it leaves its
        stack, ``made`` goes on the other one (None: nothing was made)."""
        source, other = (self.redo, self.undo) if redo else (self.undo, self.redo)
        source = tuple(e for e in source if e != (key, done))
        if made is not None:
            other = (*other, (key, made))[-UNDO_DEPTH:]
        return replace(self, undo=other, redo=source) if redo else replace(self, undo=source, redo=other)

    def forgotten(self, key: Key) -> AnnotateState:
        """Undo and redo of image ``key`` dropped (it changed under them: they can no longer apply)."""
        return replace(
            self,
            undo=tuple(e for e in self.undo if e[0] != key),
            redo=tuple(e for e in self.redo if e[0] != key),
        )

    # ------------------------------------------------------------------ stale edits kept for a redo

    def kept(self, item: PendingKey, value: Any) -> AnnotateState:
        """What a stale edit would have done, kept under ``(split, file name, kind)``."""
        rest = tuple((k, v) for k, v in self.pending if k != item)
        return replace(self, pending=(*rest, (item, value)))

    def dropped(self, item: PendingKey) -> AnnotateState:
        return replace(self, pending=tuple((k, v) for k, v in self.pending if k != item))

    def pending_of(self, key: Key) -> Mapping[str, Any]:
        """The kept edits of image ``key`` by kind."""
        return {k[2]: v for k, v in self.pending if k[:2] == key}
