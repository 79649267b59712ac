"""Validate the open dataset and record the verdict; whether a verdict is still current; fixes and line mends.

:func:`validate_and_record` reads the metadata once (:func:`opsml_image.verdict.judge`): the same pass
gives the report and the counts a registration needs, and the :class:`Verdict` carries the library's
verdict with the folder's files it judged, which the registry compares with its own scan, so registering
the same content reuses it instead of reading again (see :mod:`opsml_image.usecases.register`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opsml_image import fixes, lines
from opsml_image.auth import LOCAL_ADMIN, Action, User, can
from opsml_image.dataset import DatasetStats
from opsml_image.fixes import FixChange
from opsml_image.registry.hashing import hash_bytes, listing
from opsml_image.rules import CODES, Severity
from opsml_image.store import StaleEdit
from opsml_image.usecases.access import check
from opsml_image.usecases.errors import Stale, edge
from opsml_image.usecases.workspace import Workspace
from opsml_image.validation import Issue, ValidationReport
from opsml_image.verdict import FileStat, judge
from opsml_image.verdict import Verdict as Judged

__all__ = [
    "Progress",
    "Verdict",
    "IssueGroup",
    "Issue",
    "severity",
    "meaning",
    "issues",
    "can_fix",
    "validate_and_record",
    "last_verdict",
    "is_current",
    "current_verdict",
    "folder_stamp",
    "FixOffer",
    "FixChange",
    "FIX_OFFERS",
    "CLEANUP",
    "AppliedFix",
    "preview_fix",
    "apply_fix",
    "undo_fix",
    "LINE_CODES",
    "BrokenLine",
    "LineFix",
    "broken_line",
    "mend_line",
    "drop_broken_line",
    "undo_line_fix",
]

#: ``progress(done, total)``: metadata bytes validated so far, of all splits.
Progress = Callable[[int, int], None]
#: Where a verdict stands: the newest history entry of the store and the stamps of the metadata files.
_Mark = tuple[int, tuple[tuple[str, int, int], ...]]


def severity(code: str) -> Severity:
    """``"error"`` or ``"warning"``: a validation code's severity (an unknown code counts as an error)."""
    return CODES[code][0] if code in CODES else "error"


def meaning(code: str) -> str:
    """What a validation code means, in a few words (an unknown code: the code itself)."""
    return CODES[code][1] if code in CODES else code


@dataclass(frozen=True)
class IssueGroup:
    """The issues of one code in a verdict: how many, their severity and what the code means."""

    code: str
    count: int
    severity: Severity
    meaning: str

    @property
    def error(self) -> bool:
        return self.severity == "error"


def issues(ws: Workspace, code: str, limit: int, offset: int = 0) -> list[Issue]:
    """The stored issues of ``code`` (the last validation's, re-checked on every save), at most ``limit``."""
    with edge("The issues cannot be read: "):
        return ws.store.issues(code, offset, limit)


def can_fix(user: User | None) -> bool:
    """True when ``user`` may apply fixes and mend lines (reviewers and admins)."""
    return can(user, Action.APPLY_FIX)


# ------------------------------------------------------------------------------------------ the verdict


@dataclass(frozen=True)
class Verdict:
    """What a validation found in one folder, and what it judged.

    ``counts`` are exact per code. ``records`` and ``images_checked`` are None for a verdict read back from
    the store after a restart. ``judged`` is the library's verdict (report, statistics, the files judged)
    that the registry reuses while its scan finds the same files; None for a verdict read back.
    """

    path: Path
    errors: int
    warnings: int
    counts: dict[str, int]
    truncated: bool
    at: float
    records: int | None = None
    images_checked: int | None = None
    judged: Judged | None = field(default=None, repr=False, compare=False)
    mark: _Mark | None = None

    @property
    def report(self) -> ValidationReport | None:
        return self.judged.report if self.judged is not None else None

    @property
    def stats(self) -> DatasetStats | None:
        return self.judged.stats if self.judged is not None else None

    @property
    def stamp(self) -> str | None:
        """A digest of the files judged (as :func:`folder_stamp`); None when they changed during the run."""
        files = self.judged.files if self.judged is not None else None
        return _digest(files) if files is not None else None

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.errors == 0

    def by_severity(self) -> list[tuple[str, int]]:
        """``(code, count)`` with errors first, most frequent first."""
        return sorted(self.counts.items(), key=lambda item: (severity(item[0]) != "error", -item[1]))

    def groups(self) -> list[IssueGroup]:
        """One group per code, errors first, most frequent first."""
        return [IssueGroup(code, n, severity(code), meaning(code)) for code, n in self.by_severity()]


def folder_stamp(path: Path) -> str:
    """A digest of every file of the folder as it stands: relative path, size, mtime, ctime, inode (the
    registry's own scan). Equal stamps mean the registry would see the same files."""
    return _digest(listing(path))


def _digest(files: Mapping[str, FileStat]) -> str:
    return hash_bytes("\n".join(f"{path}\0{stat}" for path, stat in files.items()).encode())


#: The newest full verdict of each folder in this process (the background validation's included), so a page
#: and Register reuse it, with its folder stamp, instead of reading the metadata again.
_RECENT: dict[Path, Verdict] = {}


def validate_and_record(ws: Workspace, progress: Progress | None = None) -> Verdict:
    """Write pending edits, validate the folder (one read of its metadata), store the issues; the verdict
    (with the folder's files listed before the read, for the registry to compare with its scan)."""
    with edge("The dataset cannot be validated: "):
        ws.store.flush()
        mark = _mark(ws)
        files = listing(ws.path)
        at = time.time()
        judged = judge(ws.dataset, files, progress=progress)
        report = judged.report
        ws.store.set_issues(report)
    verdict = _RECENT[ws.path] = Verdict(
        path=ws.path,
        errors=report.errors,
        warnings=report.warnings,
        counts=dict(report.counts),
        truncated=report.truncated,
        at=at,
        records=report.records,
        images_checked=report.images_checked,
        judged=judged,
        mark=mark,
    )
    return verdict


def last_verdict(ws: Workspace) -> Verdict | None:
    """The store's record of the last validation (after a restart), None before any.

    When every issue row was kept they are counted (saves since then re-checked their images); else the
    exact counts recorded with the run.
    """
    stored = ws.store.validation_summary()
    if stored is None:
        return None
    truncated = bool(stored.get("truncated"))
    counts: dict[str, int] = dict(stored["counts"]) if truncated else ws.store.issue_counts()
    errors = sum(n for code, n in counts.items() if severity(code) == "error")
    return Verdict(ws.path, errors, sum(counts.values()) - errors, counts, truncated, float(stored["at"]))


def is_current(ws: Workspace, verdict: Verdict) -> bool:
    """True while nothing was edited in the store and no metadata file changed since ``verdict``."""
    if verdict.path != ws.path:
        return False
    if verdict.mark is not None:
        return verdict.mark == _mark(ws)
    newest = ws.store.history(1)
    if newest and newest[0].at >= verdict.at:
        return False
    return all(mtime <= verdict.at * 1e9 for _, _, mtime in _mark(ws)[1])


def current_verdict(ws: Workspace, remembered: Verdict | None, progress: Progress | None = None) -> Verdict:
    """``remembered`` (this session's last verdict) or the store's, while current; else a new validation."""
    for verdict in (remembered, _RECENT.get(ws.path), last_verdict(ws)):
        if verdict is not None and verdict.path == ws.path and is_current(ws, verdict):
            return verdict
    return validate_and_record(ws, progress)


def _mark(ws: Workspace) -> _Mark:
    newest = ws.store.history(1)
    files = [*ws.dataset.metadata_files(), ws.dataset.image_dir / "categories.json"]
    stamps = []
    for path in files:
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        stamps.append((str(path), info.st_size, info.st_mtime_ns))
    return (newest[0].id if newest else 0, tuple(stamps))


# ------------------------------------------------------------------------------------------ fixes


@dataclass(frozen=True)
class FixOffer:
    """A one-click fix the page offers for a code: its button label and what it does."""

    code: str
    label: str
    what: str


#: Codes whose group on the Validate page offers a fix.
FIX_OFFERS: dict[str, FixOffer] = {
    offer.code: offer
    for offer in (
        FixOffer(
            "box.outside", "Clip boxes to their image", "cuts every box that sticks out to the image bounds"
        ),
        FixOffer(
            "image.missing",
            "Drop records of missing files",
            "removes the records whose image file does not exist",
        ),
    )
}
#: The clean-up offered below the groups (empty records are no validation issue).
CLEANUP = FixOffer(
    "record.empty", "Remove empty records", "removes records with no caption, no categories and no boxes"
)


@dataclass(frozen=True)
class AppliedFix:
    """A fix that was applied: what it was and the history entries that undo it."""

    offer: FixOffer
    ids: tuple[int, ...]
    changes: int


def preview_fix(ws: Workspace, code: str) -> list[FixChange]:
    """Every change the fix for ``code`` would make (nothing is changed)."""
    with edge("The fix cannot be previewed: "):
        return fixes.plan(ws.store, code)


def apply_fix(
    ws: Workspace, offer: FixOffer, changes: Sequence[FixChange], *, user: User | None = LOCAL_ADMIN
) -> AppliedFix:
    """Apply previewed changes in one transaction (:class:`Stale` when an image changed since the
    preview); reviewers and admins only, recorded as ``user``'s."""
    author = check(user, Action.APPLY_FIX)
    with edge("Nothing was changed: "):
        try:
            ids = fixes.apply(ws.store, changes, user=author)
        except StaleEdit as error:
            raise Stale(f"Nothing was changed: {error}. Preview the fix again.") from None
    ws.flusher.notify()
    return AppliedFix(offer, tuple(ids), len(changes))


def undo_fix(ws: Workspace, applied: AppliedFix, *, user: User | None = LOCAL_ADMIN) -> None:
    """Restore the images an applied fix changed (:class:`Stale` when one was edited since)."""
    author = check(user, Action.APPLY_FIX)
    with edge("Not undone: "):
        try:
            fixes.undo(ws.store, applied.ids, user=author)
        except StaleEdit as error:
            raise Stale(f"Not undone: {error}.") from None
    ws.flusher.notify()


# ------------------------------------------------------------------------------------------ broken lines

#: Codes of a line that never became a record: shown raw, mended in the file.
LINE_CODES = ("line.json", "line.encoding")


@dataclass(frozen=True)
class BrokenLine:
    """A metadata line as it stands in its file: where, and its raw bytes."""

    split: str
    label: str
    number: int
    raw: bytes

    @property
    def text(self) -> str:
        """The line as text (bytes that are not UTF-8 shown as U+FFFD), without its line ending."""
        return lines.shown_text(self.raw)


@dataclass(frozen=True)
class LineFix:
    """A mended line: ``edit`` puts it back (:func:`undo_line_fix`)."""

    label: str
    edit: lines.LineEdit

    @property
    def action(self) -> str:
        return "dropped" if self.edit.after is None else "edited"


def broken_line(ws: Workspace, issue: Issue) -> BrokenLine | None:
    """The raw line an issue of :data:`LINE_CODES` names; None when the file no longer has that line."""
    if issue.code not in LINE_CODES or issue.split is None or issue.line is None:
        return None
    try:
        raw = lines.read_line(ws.dataset.split(issue.split).metadata_path, issue.line)
    except (ValueError, KeyError, OSError):
        return None
    return BrokenLine(issue.split, issue.file, issue.line, raw)


def mend_line(ws: Workspace, line: BrokenLine, text: str, *, user: User | None = LOCAL_ADMIN) -> LineFix:
    """Write ``text`` (one JSON record the rules accept) in place of the broken line; re-index the store."""
    check(user, Action.APPLY_FIX)
    return _mend(ws, line, lambda path: lines.replace_line(path, line.number, line.raw, text))


def drop_broken_line(ws: Workspace, line: BrokenLine, *, user: User | None = LOCAL_ADMIN) -> LineFix:
    """Remove the broken line from its file; re-index the store."""
    check(user, Action.APPLY_FIX)
    return _mend(ws, line, lambda path: lines.drop_line(path, line.number, line.raw))


def undo_line_fix(ws: Workspace, fix: LineFix, *, user: User | None = LOCAL_ADMIN) -> None:
    """Put the line back as it was; re-index the store."""
    check(user, Action.APPLY_FIX)
    with edge("Not undone: "):
        ws.store.flush()
        lines.undo(fix.edit)
        ws.store.sync()


def _mend(ws: Workspace, line: BrokenLine, change: Callable[[Path], lines.LineEdit]) -> LineFix:
    with edge("Not saved: "):
        ws.store.flush()  # pending edits first: the store writes the file too
        edit = change(ws.dataset.split(line.split).metadata_path)
        ws.store.sync()
    return LineFix(line.label, edit)
