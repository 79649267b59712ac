"""Annotate one image: what the page shows of it and every edit it makes.

Each edit takes the view the editor read (:class:`ImageView`, with its version) and returns an
:class:`Outcome`; a conflict with someone else's save is an outcome (``stale``), never an exception, and so is
an edit the review rule refuses (someone else's lease, a submitted or approved image:
:func:`opsml_image.usecases.review.edit_refusal`). Boxes come from the canvas through
:mod:`opsml_image.canvas_geometry` (the canvas adapter of :class:`~opsml_image.annotation.Box`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from opsml_image import rules
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.auth import LOCAL_ADMIN, Action, Forbidden, User
from opsml_image.canvas_geometry import Fit, Viewport, boxes_from_drawing, initial_drawing, outlines
from opsml_image.colors import category_color
from opsml_image.confine import Confinement
from opsml_image.images import ImageInfo, probe
from opsml_image.review import EditRefused, SaveNote
from opsml_image.store import Key, StaleEdit, StillIndexing
from opsml_image.usecases import review
from opsml_image.usecases.access import check
from opsml_image.usecases.workspace import Workspace, describe

__all__ = [
    "BoxProblem",
    "canvas_background",
    "category_color",
    "CanvasView",
    "ClassInfo",
    "ImageView",
    "Outcome",
    "add_boxes",
    "add_class",
    "apply_drawing",
    "box_problems",
    "canvas_view",
    "classes",
    "clip_box",
    "copy_previous_boxes",
    "delete_box",
    "entry_of",
    "label_of",
    "name_class",
    "open_image",
    "relabel_box",
    "restore",
    "undo",
    "set_caption",
    "set_image_categories",
    "with_outlines",
]

BOX_FILL = "rgba(255, 255, 255, 0.08)"
SELECTED_FILL = "rgba(255, 235, 59, 0.25)"
#: Seconds an edit made during a folder's first index waits for it to end (about 5 s at 100k images) before
#: it is refused.
INDEX_WAIT = 20.0


@dataclass(frozen=True)
class Outcome:
    """What an edit did: ``saved``, ``unchanged``, ``stale`` (someone saved first) or ``refused``."""

    status: Literal["saved", "unchanged", "stale", "refused"]
    message: str
    new_classes: tuple[str, ...] = ()
    before: ImageAnnotation | None = None  # the states around a saved edit, for undo and redo
    after: ImageAnnotation | None = None
    version: int | None = None  # the image's version after a saved edit
    added: tuple[Box, ...] = ()  # the new boxes of a drawing that was not saved (kept for a redo)

    @property
    def saved(self) -> bool:
        return self.status == "saved"


@dataclass(frozen=True)
class ClassInfo:
    """A class the page offers: its id, its name (the id itself when ``categories.json`` names none)."""

    id: int
    name: str
    named: bool


@dataclass(frozen=True)
class BoxProblem:
    """What is wrong with one box and whether a one-click fix exists."""

    index: int
    message: str
    fixable: bool


@dataclass(frozen=True)
class ImageView:
    """One image as the Annotate page shows it."""

    key: Key
    annotation: ImageAnnotation
    version: int
    size: tuple[int, int] | None
    problem: str | None
    errors: int
    dropped: int


@dataclass(frozen=True)
class CanvasView:
    """What the canvas is given: its size, the image region it shows, the mapping and the initial boxes
    (``shown``: the boxes its drawing is read against; ``given``: earlier states of them the canvas was first
    given, a box moved back onto one of them being that very box)."""

    fit: Fit
    region: tuple[float, float, float, float]
    size: tuple[int, int]
    drawing: dict[str, Any]
    shown: tuple[Box, ...] = field(default=())
    zoom: float = 1.0
    given: tuple[Box, ...] = field(default=())


# ------------------------------------------------------------------------------------------ reading


def classes(ws: Workspace) -> list[ClassInfo]:
    """Named classes by id, then ids used by boxes without a name (a seed-format folder has only ids)."""
    names = ws.store.category_names()
    found = [ClassInfo(i, name, True) for i, name in enumerate(names)]
    used = sorted(c for c in ws.store.category_counts() if c >= len(names))
    return found + [ClassInfo(c, str(c), False) for c in used]


def label_of(category: int, names: Sequence[str]) -> str:
    """A category's label: its name, or its id (``"3"``) when ``categories.json`` names none."""
    return names[category] if 0 <= category < len(names) else str(category)


def open_image(ws: Workspace, key: Key) -> ImageView | None:
    """The image's annotation, version, size and stored problems; None when the store has no such image
    (or the dataset no such split)."""
    try:
        annotation = ws.store.get(*key)
    except KeyError:  # no such split
        return None
    if annotation is None:
        return None
    path = ws.dataset.image_path(*key)
    outside = Confinement(ws.path).outside_problem(path, f"{key[0]}/{key[1]}")
    info = outside or probe(path)  # an image linked outside the folder is never read nor sent
    facts = ws.store.image_info(*key) or {}
    size = (info.width, info.height) if isinstance(info, ImageInfo) else None
    return ImageView(
        key,
        annotation,
        int(facts.get("version", ws.store.version(*key))),
        size,
        None if isinstance(info, ImageInfo) else info.message,
        int(facts.get("errors", 0)),
        int(facts.get("dropped", 0)),
    )


def box_problems(view: ImageView) -> list[BoxProblem]:
    """Each box's own problem (outside the image by how many pixels), with whether clipping fixes it."""
    if view.size is None:
        return []
    width, height = view.size
    found = []
    for i, box in enumerate(view.annotation.boxes):
        problem = rules.box_outside_problem(box.as_bbox(), width, height, f"objects.bbox[{i}]")
        if problem is None:
            continue
        over = max(-box.x, -box.y, box.x + box.w - width, box.y + box.h - height)
        fixable = box.clipped(width, height) is not None
        found.append(BoxProblem(i, f"outside the image by {over:.0f} px", fixable))
    return found


def canvas_view(
    view: ImageView, names: Sequence[str], frame: Viewport | tuple[int, int], selected: int | None = None
) -> CanvasView:
    """The canvas for an image: what ``frame`` shows (a :class:`Viewport`, or the whole image within
    ``(width, height)`` bounds); the ``selected`` box is drawn thicker and filled."""
    if view.size is None:
        raise ValueError(view.problem or "the image cannot be read")
    shown_view = frame if isinstance(frame, Viewport) else Viewport.fitted(view.size, frame)
    fit = shown_view.fit
    shown = tuple(view.annotation.boxes)
    drawing = initial_drawing(
        shown, fit, lambda c: label_of(c, names), category_color, stroke_width=2, fill=BOX_FILL
    )
    if selected is not None and 0 <= selected < len(shown):
        drawing["objects"][selected].update(strokeWidth=5, fill=SELECTED_FILL)
    return CanvasView(fit, shown_view.region, shown_view.canvas, drawing, shown, shown_view.zoom)


def with_outlines(canvas: CanvasView, boxes: Sequence[Box]) -> CanvasView:
    """The canvas with ``boxes`` drawn as dashed outlines besides its own (a stale drawing's boxes kept for
    a redo): seen on the image, never read back as boxes."""
    objects = [dict(o) for o in canvas.drawing["objects"]] + outlines(boxes, canvas.fit)
    return dataclasses.replace(canvas, drawing={**canvas.drawing, "objects": objects})


# ------------------------------------------------------------------------------------------ editing


def _save(
    ws: Workspace,
    view: ImageView,
    edited: ImageAnnotation,
    what: str,
    new_classes: Sequence[str] = (),
    *,
    user: User | None,
) -> Outcome:
    """Save ``edited`` over ``view`` (the version the editor read), if the role and the review rule allow.

    One transaction (:func:`_store`): the review rule checked on the image's review item (locked), the image,
    its history and issues, and its review status; a refusal, a stale version or any failure stores none
    of them."""
    try:
        author = check(user, Action.ANNOTATE)
    except Forbidden as error:
        return Outcome("refused", f"Not saved: {error}")
    if edited == view.annotation:
        return Outcome("unchanged", "Nothing changed.")
    try:
        version, note = _store(ws, view.key, edited, view.version, user, author)
    except EditRefused as error:
        return Outcome("refused", f"Not saved: {error}.")
    except StaleEdit as error:
        return Outcome("stale", _stale_message(ws, error, author))
    except (ValueError, KeyError, OSError, StillIndexing) as error:
        return Outcome("refused", f"Not saved: {describe(error)}")
    ws.flusher.notify()
    notice = review.save_notice(note)
    message = f"Saved {view.key[1]}: {what}" + (f" {notice}" if notice else "")
    return Outcome("saved", message, tuple(new_classes), view.annotation, edited, version)


def _stale_message(ws: Workspace, error: StaleEdit, author: str) -> str:
    """A stale edit said plainly: who changed the image since this editor read it."""
    last = ws.store.history(1, key=error.key)
    who = last[0].user if last and last[0].user else None
    name = f"{error.key[0]}/{error.key[1]}"
    changed = f"{who} changed {name}" if who and who != author else f"{name} was changed elsewhere"
    return (
        f"Not saved: {changed} after you opened it (your edit was of version {error.expected}, it is at "
        f"version {error.actual} now). It is shown as it is now."
    )


def _store(
    ws: Workspace, key: Key, edited: ImageAnnotation, expected: int, user: User | None, author: str
) -> tuple[int, SaveNote]:
    """Save in the store with the review status, in one transaction (:meth:`WorkStore.edit_with
    <opsml_image.store.WorkStore.edit_with>` and :func:`~opsml_image.usecases.review.status_writer`); the
    new version and the review note. An edit made while the folder's first index runs waits for its end
    (at most :data:`INDEX_WAIT` seconds: its chunks would not see the edit) rather than being refused."""

    def save() -> tuple[int, SaveNote]:
        change, note = ws.store.edit_with(review.status_writer(ws, user), key, edited, expected, user=author)
        return change.version, note

    try:
        return save()
    except StillIndexing:
        if ws.indexing is None or not ws.indexing.wait(INDEX_WAIT) or ws.indexing.error:
            raise
        return save()


def restore(
    ws: Workspace, view: ImageView, state: ImageAnnotation, what: str, *, user: User | None = LOCAL_ADMIN
) -> Outcome:
    """Put the image back into ``state`` (undo / redo of this editor's own edit): an edit like any other,
    refused as stale when someone else changed the image since this editor read it."""
    return _save(ws, view, dataclasses.replace(state, lines=view.annotation.lines), what, user=user)


def entry_of(ws: Workspace, outcome: Outcome) -> int | None:
    """The history entry a saved edit made (found by the version it left the image at); None otherwise."""
    if not outcome.saved or outcome.after is None or outcome.version is None:
        return None
    key = (outcome.after.split, outcome.after.file_name)
    return next((c.id for c in ws.store.history(20, key=key) if c.version == outcome.version), None)


def _same_content(a: ImageAnnotation | None, b: ImageAnnotation, key: Key) -> bool:
    """Whether two states of an image say the same (caption, categories, boxes and other values)."""
    a = a or ImageAnnotation(file_name=key[1], split=key[0])
    return (a.caption, a.categories, a.boxes, a.extra) == (b.caption, b.categories, b.boxes, b.extra)


def undo(
    ws: Workspace, view: ImageView, change_id: int, what: str = "undo", *, user: User | None = LOCAL_ADMIN
) -> Outcome:
    """Put the image back as it was before history entry ``change_id`` (undoing an undo entry is a redo).

    It is the store's undo of a history entry (what :meth:`~opsml_image.store.WorkStore.undo` does, and
    Validate's fixes are undone by: the entry's ``before`` state written as a new, itself undoable version,
    recorded as ``undo``), in the save's one unit of work with the review's status writer. It is refused as
    stale unless the image is still as that entry left it: someone else's change since is never undone
    with it. A step further back (the entries since being this editor's own, undone) is the same restore
    over the current version. The outcome's ``version`` is the new entry's (see :func:`entry_of`).
    """
    try:
        author = check(user, Action.ANNOTATE)
        entry = ws.store.change(change_id)
    except Forbidden as error:
        return Outcome("refused", f"Not saved: {error}")
    except KeyError:
        return Outcome("refused", f"There is no change {change_id} to {what}.")
    if entry.key != view.key:
        return Outcome("refused", f"Change {change_id} is not of {view.key[1]}.")
    if not _same_content(entry.after, view.annotation, view.key):
        last = ws.store.history(1, key=view.key)
        who = last[0].user if last and last[0].user and last[0].user != author else None
        since = f"{who} changed {view.key[1]}" if who else f"{view.key[1]} was changed"
        done = {"undo": "undone", "redo": "redone"}.get(what, "saved")
        return Outcome("stale", f"Not {done}: {since} after your edit. It is shown as it is now.")
    writer = review.status_writer(ws, user)
    try:
        change, note = ws.store.edit_with(
            writer, view.key, entry.before, view.version, action="undo", user=author
        )
    except EditRefused as error:
        return Outcome("refused", f"Not saved: {error}.")
    except StaleEdit as error:
        return Outcome("stale", _stale_message(ws, error, author))
    except (ValueError, KeyError, OSError, StillIndexing) as error:
        return Outcome("refused", f"Not saved: {describe(error)}")
    ws.flusher.notify()
    notice = review.save_notice(note)
    restored = change.after or ImageAnnotation(file_name=view.key[1], split=view.key[0])
    message = f"Saved {view.key[1]}: {what}" + (f" {notice}" if notice else "")
    return Outcome("saved", message, (), view.annotation, restored, change.version)


class _Refused(Exception):
    """The review rule refuses the edit (its message says why)."""


def apply_drawing(
    ws: Workspace,
    view: ImageView,
    canvas: CanvasView,
    json_data: Mapping[str, Any] | None,
    category: int,
    *,
    user: User | None = LOCAL_ADMIN,
) -> Outcome:
    """Save what the canvas holds: new boxes get ``category`` unless labelled otherwise; a label that names
    no class yet creates it (for those who may edit classes). Boxes still where they were shown come back
    exactly as stored."""
    if json_data is None:
        return Outcome("unchanged", "Nothing drawn yet.")
    try:
        check(user, Action.ANNOTATE)
    except Forbidden as error:
        return Outcome("refused", f"Not saved: {error}")
    names = list(ws.store.category_names())
    created: list[str] = []

    def category_of(label: str) -> int:
        if not label:
            return category
        lowered = {name.lower(): i for i, name in enumerate(names)}
        if label.lower() in lowered:
            return lowered[label.lower()]
        if label.isdigit():
            return int(label)
        check(user, Action.EDIT_CLASSES)
        refusal = review.edit_refusal(ws, user, view.key)  # no class made by a drawing that is refused
        if refusal is not None:
            raise _Refused(refusal)
        new = ws.store.add_category(label)
        names[:] = ws.store.category_names()
        created.append(label)
        return new

    try:
        boxes = boxes_from_drawing(
            json_data,
            canvas.fit,
            category_of,
            unchanged=canvas.shown,
            label_of=lambda c: label_of(c, names),
            known=canvas.given,
        )
    except Forbidden as error:
        return Outcome("refused", f"Not saved: {error} (a new class)")
    except _Refused as error:
        return Outcome("refused", f"Not saved: {error}.")
    if boxes == list(view.annotation.boxes):
        return Outcome("unchanged", "Nothing changed.", tuple(created))
    what = _describe_change(view.annotation.boxes, boxes)
    if created:
        what += f" (new class {', '.join(created)})"
    done = _save(ws, view, dataclasses.replace(view.annotation, boxes=boxes), what, created, user=user)
    if done.saved or len(boxes) <= len(canvas.shown):
        return done
    return dataclasses.replace(done, added=tuple(b for b in boxes if b not in canvas.shown))


def add_boxes(
    ws: Workspace, view: ImageView, boxes: Sequence[Box], *, user: User | None = LOCAL_ADMIN
) -> Outcome:
    """Add ``boxes`` to the image as ``view`` shows it (the redo of a drawing refused as stale); boxes it
    has already are not added twice."""
    new = [b for b in boxes if b not in view.annotation.boxes]
    if not new:
        return Outcome("unchanged", f"{view.key[1]} has these boxes already.")
    edited = dataclasses.replace(view.annotation, boxes=[*view.annotation.boxes, *new])
    return _save(ws, view, edited, f"{len(new)} box(es) added again", user=user)


def _describe_change(before: Sequence[Box], after: Sequence[Box]) -> str:
    if len(after) > len(before):
        return f"{len(after) - len(before)} box(es) added"
    if len(after) < len(before):
        return f"{len(before) - len(after)} box(es) removed"
    return "boxes changed"


def _edit_box(
    ws: Workspace, view: ImageView, index: int, change: Callable[[list[Box]], str], user: User | None
) -> Outcome:
    boxes = list(view.annotation.boxes)
    if not 0 <= index < len(boxes):
        return Outcome("refused", f"There is no box {index + 1} on {view.key[1]}.")
    what = change(boxes)
    return _save(ws, view, dataclasses.replace(view.annotation, boxes=boxes), what, user=user)


def relabel_box(
    ws: Workspace, view: ImageView, index: int, category: int, *, user: User | None = LOCAL_ADMIN
) -> Outcome:
    """Give box ``index`` another class."""

    def change(boxes: list[Box]) -> str:
        boxes[index] = dataclasses.replace(boxes[index], category=category)
        return f"box {index + 1} relabelled"

    return _edit_box(ws, view, index, change, user)


def delete_box(ws: Workspace, view: ImageView, index: int, *, user: User | None = LOCAL_ADMIN) -> Outcome:
    """Remove box ``index``."""

    def change(boxes: list[Box]) -> str:
        del boxes[index]
        return f"box {index + 1} deleted"

    return _edit_box(ws, view, index, change, user)


def clip_box(ws: Workspace, view: ImageView, index: int, *, user: User | None = LOCAL_ADMIN) -> Outcome:
    """Cut box ``index`` to the image (its one-click fix); a box wholly outside is removed."""
    if view.size is None:
        return Outcome("refused", view.problem or "The image cannot be read.")
    size = view.size

    def change(boxes: list[Box]) -> str:
        clipped = boxes[index].clipped(*size)
        if clipped is None:
            del boxes[index]
            return f"box {index + 1} removed (wholly outside the image)"
        boxes[index] = clipped
        return f"box {index + 1} clipped to the image"

    return _edit_box(ws, view, index, change, user)


def set_caption(
    ws: Workspace, view: ImageView, text: str | None, *, user: User | None = LOCAL_ADMIN
) -> Outcome:
    """Set the caption (blank removes it)."""
    caption = (text or "").strip() or None
    return _save(ws, view, dataclasses.replace(view.annotation, caption=caption), "caption", user=user)


def set_image_categories(
    ws: Workspace, view: ImageView, categories: Sequence[int], *, user: User | None = LOCAL_ADMIN
) -> Outcome:
    """Set the image-level categories."""
    edited = dataclasses.replace(view.annotation, categories=list(categories))
    return _save(ws, view, edited, "image categories", user=user)


def copy_previous_boxes(ws: Workspace, view: ImageView, *, user: User | None = LOCAL_ADMIN) -> Outcome:
    """Add the previous image's boxes (clipped to this image, without repeats) to this image."""
    previous = ws.store.neighbor(view.key, step=-1)
    if previous is None:
        return Outcome("refused", "This is the first image: there is no previous image to copy boxes from.")
    source = ws.store.get(*previous)
    if view.size is None:
        return Outcome("refused", f"No boxes copied: {view.problem}")
    clipped = (b.clipped(*view.size) for b in (source.boxes if source else ()))
    # a copy is a new object: it takes the box, class and attributes, not the source's annotation id
    fresh = [dataclasses.replace(c, extra={k: v for k, v in c.extra.items() if k != "id"})
             for c in clipped if c is not None]  # fmt: skip
    copied = [c for c in fresh if c not in view.annotation.boxes]
    if not copied:
        return Outcome("refused", f"{previous[1]} has no boxes to copy.")
    edited = dataclasses.replace(view.annotation, boxes=[*view.annotation.boxes, *copied])
    return _save(ws, view, edited, f"{len(copied)} boxes copied from {previous[1]}", user=user)


def add_class(ws: Workspace, name: str, *, user: User | None = LOCAL_ADMIN) -> int:
    """Add a class to ``categories.json`` (atomically) and return its id (the existing id if known);
    reviewers and admins only (:class:`~opsml_image.auth.Forbidden`)."""
    check(user, Action.EDIT_CLASSES)
    return ws.store.add_category(name)


def name_class(ws: Workspace, category: int, name: str, *, user: User | None = LOCAL_ADMIN) -> None:
    """Name class ``category`` (also one known only by its id): ``categories.json`` is written atomically,
    ids below it without a name are named by their id. Reviewers and admins only."""
    check(user, Action.EDIT_CLASSES)
    name = name.strip()
    if not name:
        raise ValueError("a class name must not be empty")
    names = list(ws.store.category_names())
    if name in names and names.index(name) != category:
        raise ValueError(f"there is already a class named {name!r} (id {names.index(name)})")
    if category < 0:
        raise ValueError(f"a class id must be >= 0, got {category}")
    names.extend(str(i) for i in range(len(names), category + 1))
    names[category] = name
    ws.dataset.set_category_names(names)


def canvas_background(path: str, region: tuple[float, float, float, float], size: tuple[int, int]) -> bytes:
    """The image region as the canvas shows it, encoded at canvas size (:mod:`opsml_image.display`)."""
    from opsml_image.display import canvas_background as render  # its decoder loads with the first image

    return render(path, region, size)
