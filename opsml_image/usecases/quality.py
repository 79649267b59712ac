"""The Quality page's actions: a data-quality check of the open dataset in the background, its findings at
the threshold asked, example tiles, and the one safe fix (drop duplicate boxes: previewed, undoable).

The check reads the annotations from the working store (edits not yet written back included) and signs the
image files through the signature cache under the app home, in a :class:`BackgroundJob` with progress; a
later check signs only the files that changed. A report stays current until an edit is saved, a metadata
file changes or the image count changes; then the next call starts a new check. Another near-duplicate
threshold is applied to the report's signatures without reading any file. Reviewers and admins only (the
check reuses :data:`Action.REVIEW`; the fix :data:`Action.APPLY_FIX`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from opsml_image import quality
from opsml_image.annotation import ImageAnnotation
from opsml_image.auth import LOCAL_ADMIN, Action, User, can
from opsml_image.fixes import FixChange
from opsml_image.quality import KINDS, Finding, Key, Report, Settings
from opsml_image.quality.check import image_files
from opsml_image.store import Filter
from opsml_image.usecases.access import check
from opsml_image.usecases.browse import image_path
from opsml_image.usecases.validate import AppliedFix, FixOffer, apply_fix, undo_fix
from opsml_image.usecases.workspace import BackgroundJob, Workspace

__all__ = [
    "ACTION",
    "AppliedFix",
    "DEFAULT_NEAR",
    "DROP_DUPLICATES",
    "KINDS",
    "Example",
    "Finding",
    "Report",
    "FixChange",
    "Status",
    "apply_drop_duplicates",
    "can_fix",
    "class_names",
    "examples",
    "preview_drop_duplicates",
    "render_blank",
    "render_example",
    "render_preview",
    "status",
    "summary",
    "undo_drop_duplicates",
    "wait",
]

#: What a user must be allowed to do to run and read the check (reviewers and admins).
ACTION = Action.REVIEW
DEFAULT_NEAR = quality.DEFAULT_NEAR
#: The fix offered on the ``box.duplicate`` group.
DROP_DUPLICATES = FixOffer(
    "box.duplicate",
    "Drop duplicate boxes",
    "removes each box of the same class as an earlier box it overlaps (the first box of a pile is kept)",
)
#: Folders whose last report is kept in memory.
KEPT = 8
#: Annotations read from the store at a time.
PAGE = 2_000
#: Where a report stands: the newest history entry, the metadata files' stamps, the store's image count.
_Mark = tuple[int, tuple[tuple[str, int, int], ...], int]


@dataclass
class _Check:
    """The check of one workspace: its job, its last report and where the data stood when it was read."""

    ws: Workspace
    job: BackgroundJob | None = None
    report: Report | None = None
    mark: _Mark | None = None
    #: The report at other thresholds, made from its signatures on demand.
    views: dict[int | None, Report] = field(default_factory=dict)


_CHECKS: dict[Path, _Check] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Status:
    """The check as the page shows it: the newest report (at the threshold asked; None before the first
    one ends), whether it is current, and the running check's progress or failure."""

    report: Report | None
    current: bool
    running: bool
    progress: tuple[int, int]
    error: str | None

    @property
    def fraction(self) -> float:
        done, total = self.progress
        return min(1.0, done / total) if total else 0.0

    def line(self) -> str | None:
        """A line on the running check for the page; None when none runs."""
        if not self.running:
            return None
        done, total = self.progress
        if not total:
            return "Checking data quality: reading the annotations..."
        return f"Checking data quality: {done:,} of {total:,} images"


def status(
    ws: Workspace, *, user: User | None = LOCAL_ADMIN, near: int | None = DEFAULT_NEAR, again: bool = False
) -> Status:
    """The check's state; starts a check when there is no current report and none runs (``again``: always,
    unless one runs). Its report comes at threshold ``near``."""
    check(user, ACTION)
    with _LOCK:
        state = _CHECKS.get(ws.path)
        if state is None or state.ws is not ws:
            if state is not None and state.job is not None:
                state.job.stop(timeout=0)  # a check of a workspace since closed: it ends at its next report
            _CHECKS.pop(ws.path, None)
            state = _CHECKS[ws.path] = _Check(ws)
            _forget_old()
        running = state.job is not None and state.job.running
        current = state.report is not None and state.mark == _mark(ws)
        failed = state.job is not None and state.job.error is not None and not again
        if not running and not failed and (again or not current):
            state.job = BackgroundJob(f"Checking the quality of {ws.path.name}", lambda job: _run(state, job))
            state.job.start()
            running = True
        report = _view(state, near)
        job = state.job
    assert job is not None
    return Status(report, current and not running, running, job.progress(), job.error)


def _forget_old() -> None:
    """Keep the reports of the :data:`KEPT` folders checked last (a report holds every image's signature)."""
    for path in list(_CHECKS)[:-KEPT]:
        job = _CHECKS[path].job
        if job is None or not job.running:
            del _CHECKS[path]


def wait(ws: Workspace, timeout: float | None = None) -> bool:
    """Wait for the workspace's running check (if any) to end; True when none runs."""
    state = _CHECKS.get(ws.path)
    return state is None or state.job is None or state.job.wait(timeout)


def _view(state: _Check, near: int | None) -> Report | None:
    if state.report is None:
        return None
    if near not in state.views:
        state.views[near] = state.report.with_near(near)
    return state.views[near]


def _run(state: _Check, job: BackgroundJob) -> None:
    ws = state.ws
    ws.wait_indexed(job)
    mark = _mark(ws)
    annotations = _annotations(ws, job)
    files = image_files(ws.dataset, annotations)
    cache = quality.SignatureCache()
    try:
        signed = cache.sign(ws.path, files, progress=job.report)
    finally:
        cache.close()
    report = quality.check(annotations, signed, Settings(), ws.store.category_names())
    with _LOCK:
        state.report, state.mark, state.views = report, mark, {}


def _annotations(ws: Workspace, job: BackgroundJob) -> dict[Key, ImageAnnotation]:
    """Every image of the store (those without a record too), paged."""
    total = ws.store.count()
    found: dict[Key, ImageAnnotation] = {}
    while True:
        job.report(0, total)
        page = ws.store.page(Filter(), len(found), PAGE)
        found.update(((a.split, a.file_name), a) for a in page)
        if len(page) < PAGE:
            return found


def _mark(ws: Workspace) -> _Mark:
    newest = ws.store.history(1)
    stamps = []
    for path in ws.dataset.metadata_files():
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        stamps.append((str(path), info.st_size, info.st_mtime_ns))
    return (newest[0].id if newest else 0, tuple(stamps), ws.store.count())


def summary(
    ws: Workspace, *, user: User | None = LOCAL_ADMIN, timeout: float | None = None
) -> dict[str, int]:
    """Findings counted by kind (every kind present) of a current report, waiting for one (for a data card;
    :func:`opsml_image.quality.summary` does the same for a folder on disk)."""
    state = status(ws, user=user)
    deadline = None if timeout is None else time.monotonic() + timeout
    while not state.current:
        if state.error:
            raise RuntimeError(state.error)
        wait(ws, None if deadline is None else max(0.0, deadline - time.monotonic()))
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("the quality check is still running")
        state = status(ws, user=user)
    assert state.report is not None
    return state.report.summary()


# ------------------------------------------------------------------------------------------ examples


def class_names(ws: Workspace) -> list[str]:
    """Class names by id (``categories.json``; ``#id`` for an id in use without a name)."""
    names = ws.store.category_names()
    used = max(ws.store.category_counts(), default=-1)
    return names + [f"#{i}" for i in range(len(names), used + 1)]


@dataclass(frozen=True)
class Example:
    """One image of a finding as a tile: its key, the file to draw (None when it cannot be shown, with why),
    and the boxes in question as ``(x, y, w, h, category)``."""

    split: str
    file_name: str
    path: str | None
    mtime_ns: int
    boxes: tuple[tuple[float, float, float, float, int], ...]
    caption: str
    problem: str | None = None

    @property
    def key(self) -> Key:
        return (self.split, self.file_name)


def examples(ws: Workspace, findings: Sequence[Finding], limit: int = 24) -> list[Example]:
    """Tiles for the first findings: each image of a duplicate group, the image of a box finding with the
    boxes in question (as they are now), at most ``limit`` tiles."""
    found: list[Example] = []
    for number, finding in enumerate(findings, 1):
        for key in finding.keys:
            if len(found) >= limit:
                return found
            found.append(_example(ws, finding, key, f"group {number} of {len(findings)}"))
    return found


def _example(ws: Workspace, finding: Finding, key: Key, group: str) -> Example:
    """The tile of ``key``: captioned with the finding, or with its group for a group of images."""
    split, file_name = key
    caption = finding.message if len(finding.keys) == 1 else group
    boxes: tuple[tuple[float, float, float, float, int], ...] = ()
    if finding.boxes and key == finding.keys[0]:
        annotation = ws.store.get(split, file_name)
        shown = annotation.boxes if annotation is not None else []
        boxes = tuple((b.x, b.y, b.w, b.h, b.category) for i, b in enumerate(shown) if i in finding.boxes)
    try:
        path = image_path(ws, split, file_name)
        mtime_ns = path.stat().st_mtime_ns
    except (OSError, ValueError) as error:
        problem = str(error).replace(f"{ws.path}/", "")
        return Example(split, file_name, None, 0, boxes, caption, problem)
    return Example(split, file_name, str(path), mtime_ns, boxes, caption)


def render_example(
    path: str,
    boxes: Sequence[tuple[float, float, float, float, int]],
    names: Sequence[str],
    frame: tuple[int, int],
) -> bytes:
    """JPEG bytes of an example's tile: the image's thumbnail with the boxes in question, letterboxed."""
    from opsml_image.annotation import Box
    from opsml_image.display import tile

    return tile(path, [Box(*b) for b in boxes], names, frame, thumb_size=max(frame))


def render_preview(
    path: str, boxes: Sequence[tuple[float, float, float, float, int]], names: Sequence[str]
) -> bytes:
    """JPEG bytes of an example large (longest side 1024 px) with the boxes in question."""
    from opsml_image.annotation import Box
    from opsml_image.display import preview

    return preview(path, [Box(*b) for b in boxes], names)


def render_blank(frame: tuple[int, int]) -> bytes:
    """JPEG bytes of the tile of an image that cannot be shown."""
    from opsml_image.display import blank_tile

    return blank_tile(frame)


# ------------------------------------------------------------------------------------------ the fix


def can_fix(user: User | None) -> bool:
    """True when ``user`` may apply the duplicate-box fix (reviewers and admins)."""
    return can(user, Action.APPLY_FIX)


def preview_drop_duplicates(
    ws: Workspace, report: Report, *, user: User | None = LOCAL_ADMIN
) -> list[FixChange]:
    """Every change the duplicate-box fix would make to the images of ``report``'s ``box.duplicate``
    findings, as they are now (nothing is changed)."""
    check(user, Action.APPLY_FIX)
    same_iou = report.settings.boxes.same_iou
    changes = []
    for key in _keys(f for f in report.findings if f.kind == DROP_DUPLICATES.code):
        version = ws.store.version(*key)  # first: an edit after it makes the apply refuse, never lost
        before = ws.store.get(*key)
        if before is None:
            continue
        dropped = quality.duplicate_boxes(before.boxes, same_iou)
        if not dropped:
            continue
        kept = [box for i, box in enumerate(before.boxes) if i not in dropped]
        after = replace(before, boxes=kept, dropped_boxes=0)
        numbers = ", ".join(str(i + 1) for i in dropped)
        what = f"drop box {numbers}" if len(dropped) == 1 else f"drop boxes {numbers}"
        summary = f"{what} of {key[0]}/{key[1]}: the same class as an earlier box (IoU >= {same_iou:g})"
        changes.append(FixChange(key, before, after, summary, version, DROP_DUPLICATES.code))
    return changes


def apply_drop_duplicates(
    ws: Workspace, changes: Sequence[FixChange], *, user: User | None = LOCAL_ADMIN
) -> AppliedFix:
    """Apply previewed changes in one transaction (UserError when an image changed since the preview)."""
    return apply_fix(ws, DROP_DUPLICATES, changes, user=user)


def undo_drop_duplicates(ws: Workspace, applied: AppliedFix, *, user: User | None = LOCAL_ADMIN) -> None:
    """Put the dropped boxes back (UserError when an image was edited since)."""
    undo_fix(ws, applied, user=user)


def _keys(findings: Iterable[Finding]) -> list[Key]:
    return list(dict.fromkeys(key for f in findings for key in f.keys[:1]))
