"""What every format module shares: the error, the report, the skip-or-stop rule, the atomic folder writer.

Every format module has the same functions: ``export(dataset, dest, *, split=None, skip_invalid=False)``
and ``import_dataset(source, dest, *, skip_invalid=False)``, each returning a :class:`Report`. Nothing is
dropped silently: without ``skip_invalid`` the first bad item raises :class:`FormatError` (naming the file,
the item and what is wrong) before anything is written; with it the item is left out and listed in
:attr:`Report.skipped`.

Imports build the whole dataset folder in a temp folder beside ``dest`` (same filesystem), flush it to disk
and rename it into place (:func:`write_folder`), so a failed or interrupted import leaves ``dest`` as it
was. The one exception is an import *into the folder that already holds the images* (``import coco FILE
IMAGE_DIR``): there everything is read and checked first, then only the metadata files, ``categories.json``
and sidecars are written, each atomically (``in_place=True``); an existing ``metadata.jsonl`` is never
overwritten.

An import reads only inside its source (the folder given, the images folder named, the extracted upload):
every path its files name goes through :func:`find_inside`, which resolves it from the source without ever
looking outside (:meth:`~opsml_image.confine.Confinement.locate`). A path that leads out (``..``, an
absolute path elsewhere, a symbolic link) gets the one reason :data:`OUTSIDE`, whether anything is there,
a folder or not an image: the reasons are no oracle for the server's files.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opsml_image.annotation import ImageAnnotation, merge
from opsml_image.atomic import atomic_write_bytes, fsync_dir, sync_filesystem
from opsml_image.categories import CATEGORIES_FILE, write_names
from opsml_image.confine import OUTSIDE_SOURCE, Confinement
from opsml_image.dataset import Split
from opsml_image.images import ImageInfo, probe
from opsml_image.jsonl import write_objects
from opsml_image.rules import Problem, file_name_problem

__all__ = [
    "OUTSIDE",
    "find_inside",
    "reference_problem",
    "finite_number",
    "readable_annotations",
    "FormatError",
    "Skipped",
    "Report",
    "Refusals",
    "staged_folder",
    "write_folder",
    "place_file",
    "image_size",
    "paused_gc",
    "METADATA_FILE",
]

METADATA_FILE = "metadata.jsonl"
#: The one reason for a path that leads outside the files imported (see the module docstring).
OUTSIDE = OUTSIDE_SOURCE


class FormatError(ValueError):
    """A file in some format that cannot be converted: ``<source>: <item>: <reason>``.

    ``source`` is the file (or folder) read or written, ``item`` the image id / file name / line / XML element
    at fault (None when the whole file is wrong), ``reason`` what is wrong with it.
    """

    def __init__(self, source: str | Path, item: str | None, reason: str) -> None:
        self.source, self.item, self.reason = str(source), item, reason
        where = f"{source}: {item}" if item else str(source)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item left out under ``skip_invalid``: which one (``item``) and why (``reason``, no item detail)."""

    item: str
    reason: str


@dataclass
class Report:
    """What an import or export did: images and boxes written, what was skipped and what the format lost."""

    images: int = 0
    boxes: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    path: Path = field(default_factory=Path)

    def skipped_counts(self) -> dict[str, int]:
        """Skipped items counted by reason, most frequent first."""
        return dict(Counter(s.reason for s in self.skipped).most_common())

    def summary(self) -> str:
        """One line: counts written, skipped (by reason) and the number of warnings."""
        line = f"{self.images:,} images, {self.boxes:,} boxes → {self.path}"
        if self.skipped:
            reasons = "; ".join(f"{n:,} {reason}" for reason, n in self.skipped_counts().items())
            line += f"; skipped {len(self.skipped):,} ({reasons})"
        if self.warnings:
            line += f"; {len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}"
        return line


class Refusals:
    """The skip-or-stop rule for one source: :meth:`refuse` raises, or records the item when skipping.

    It also gathers :attr:`warnings` (what the target format cannot hold), for the :class:`Report`.
    """

    def __init__(self, source: str | Path, skip_invalid: bool = False) -> None:
        self.source = str(source)
        self.skip_invalid = skip_invalid
        self.skipped: list[Skipped] = []
        self.warnings: list[str] = []

    def refuse(self, item: str, reason: str) -> None:
        """Stop with a :class:`FormatError` naming ``item``, or (skipping) record it and return."""
        if not self.skip_invalid:
            raise FormatError(self.source, item, reason)
        self.skipped.append(Skipped(item, reason))

    def warn(self, message: str) -> None:
        """Note something the conversion cannot keep (listed once)."""
        if message not in self.warnings:
            self.warnings.append(message)

    def error(self, item: str | None, reason: str) -> FormatError:
        """A :class:`FormatError` for something no skipping can get past (raise it)."""
        return FormatError(self.source, item, reason)


def readable_annotations(part: Split, refusals: Refusals) -> list[ImageAnnotation]:
    """The merged annotations of a split, in order of first appearance; every metadata line that is not a
    record (broken JSON, bad encoding, a NUL or lone surrogate, no ``file_name``) is refused by line number,
    never left out silently."""
    groups: dict[str, list[tuple[int, dict[str, object]]]] = {}
    for line, value in part.read_lines():
        if isinstance(value, Problem):
            refusals.refuse(f"{part.metadata_label}:{line}", value.message)
        elif type(value) is not dict or type(value.get("file_name")) is not str:
            refusals.refuse(f"{part.metadata_label}:{line}", "not a record with a file_name")
        else:
            groups.setdefault(value["file_name"], []).append((line, value))
    return [merge(records, split=part.name) for records in groups.values()]


def reference_problem(name: object) -> str | None:
    """Why ``name`` cannot be a file name in the dataset: :data:`OUTSIDE` when it is absolute or goes up
    with ``..`` (so such a path reads as any other path out), else the rule's message; None when fine."""
    problem = file_name_problem(name)
    if problem is None:
        return None
    return OUTSIDE if problem.code in ("file_name.absolute", "file_name.parent") else problem.message


def find_inside(
    source: Confinement, names: Iterable[str | Path], base: str | Path | None = None, *, folder: bool = False
) -> tuple[Path | None, bool]:
    """The real path of the first of ``names`` (relative to ``base``, else absolute) that is a file (a
    folder with ``folder``) inside ``source``, None when none is; and whether one of them led outside.

    Whether a name leads outside is decided before anything is looked up, and only from inside, so the
    answer is the same whatever lies out there.
    """
    outside = False
    for name in names:
        path = source.locate(name, base)
        if path is None:
            outside = True
        elif path.is_dir() if folder else path.is_file():
            return path, outside
    return None, outside


def finite_number(text: str | None, source: str | Path, item: str, what: str) -> float:
    """``text`` as a finite float; otherwise a FormatError naming the item and ``what`` the number is."""
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise FormatError(source, item, f"{what} must be a finite number, got {text!r}")
    return value


@contextlib.contextmanager
def staged_folder(dest: str | Path) -> Iterator[Path]:
    """Yield an empty temp folder beside ``dest``; on a clean exit it becomes ``dest``, on an error it goes.

    ``dest`` must not exist or be an empty folder (checked before and after the work). The files written are
    flushed to disk with one filesystem sync before the rename, so a crash leaves either nothing or all.
    """
    target = Path(dest)
    _check_free(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        _check_free(target)
        sync_filesystem(staging)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(target.parent)


def _check_free(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "a file" if not target.is_dir() else "a folder that is not empty"
        raise FormatError(target, None, f"already exists and is {what}; choose a new destination")


def write_folder(
    dest: str | Path,
    splits: Mapping[str, Sequence[ImageAnnotation]],
    names: Sequence[str],
    images: Mapping[tuple[str, str], Path] | None = None,
    sidecar: Mapping[str, bytes] | None = None,
    *,
    in_place: bool = False,
) -> Path:
    """Write a dataset folder: one ``metadata.jsonl`` a split, ``categories.json`` and sidecar files.

    The layout is flat (``dest/metadata.jsonl``) for a lone ``train`` split, else one folder a split
    (``dest/<split>/metadata.jsonl``), as :class:`~opsml_image.dataset.ImageDataset` finds them. ``images``
    maps ``(split, file_name)`` to the file to hard-link (or copy) there. ``sidecar`` maps a path relative to
    ``dest`` to bytes. The folder is staged and renamed into place (see :func:`staged_folder`); with
    ``in_place`` the images are already in ``dest`` and only the metadata files are written, each atomically,
    refusing to replace an existing ``metadata.jsonl``.
    """
    target = Path(dest)
    layout = {name: _split_dir(name, splits) for name in splits}
    _check_unique(target, splits, layout)
    if not in_place:
        with staged_folder(target) as staging:
            _write_contents(staging, splits, layout, names, images or {}, sidecar or {})
        return target
    if not target.is_dir():
        raise FormatError(target, None, "is not a folder (the images folder to write metadata into)")
    for name, sub in layout.items():
        existing = target / sub / METADATA_FILE
        if existing.exists():
            raise FormatError(existing, None, "exists already; remove it or import into a new folder")
        if not (target / sub).is_dir():
            raise FormatError(target / sub, None, f"the folder for split {name!r} does not exist")
    _write_contents(target, splits, layout, names, images or {}, sidecar or {})
    return target


def _split_dir(name: str, splits: Mapping[str, Sequence[ImageAnnotation]]) -> str:
    return "" if list(splits) == ["train"] else name


def _check_unique(
    target: Path, splits: Mapping[str, Sequence[ImageAnnotation]], layout: Mapping[str, str]
) -> None:
    for name, records in splits.items():
        seen: set[str] = set()
        for annotation in records:
            if annotation.file_name in seen:
                where = target / layout[name] / METADATA_FILE
                raise FormatError(where, annotation.file_name, "two records for one image file")
            seen.add(annotation.file_name)


def _write_contents(
    root: Path,
    splits: Mapping[str, Sequence[ImageAnnotation]],
    layout: Mapping[str, str],
    names: Sequence[str],
    images: Mapping[tuple[str, str], Path],
    sidecar: Mapping[str, bytes],
) -> None:
    for name, records in splits.items():
        folder = root / layout[name]
        for annotation in records:
            source = images.get((name, annotation.file_name))
            if source is not None:
                place_file(source, folder / annotation.file_name)
        write_objects(folder / METADATA_FILE, (a.to_record() for a in records))
    if names:
        write_names(root, list(names))
    for relative, data in sidecar.items():
        if relative == CATEGORIES_FILE or Path(relative).name == METADATA_FILE:
            raise ValueError(f"sidecar {relative!r} would replace a dataset file")
        atomic_write_bytes(root / relative, data)


def place_file(source: Path, target: Path) -> None:
    """Hard-link ``source`` at ``target`` (copy when linking fails); a missing source is a FormatError."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return
    except FileNotFoundError:
        if not source.exists():
            raise FormatError(source, None, "image file not found") from None
    except OSError:
        pass
    try:
        shutil.copyfile(source, target)
    except FileNotFoundError:
        raise FormatError(source, None, "image file not found") from None


def image_size(annotation: ImageAnnotation, path: Path) -> tuple[int, int] | str:
    """``(width, height)`` from the record's ``width``/``height`` keys when both are set, else from the
    image header; a message saying what is wrong when neither works (no export probes a recorded size)."""
    width, height = annotation.extra.get("width"), annotation.extra.get("height")
    if type(width) is int and type(height) is int and width > 0 and height > 0:
        return width, height
    info = probe(path)
    if isinstance(info, ImageInfo):
        return info.width, info.height
    return info.message


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a conversion builds millions of small containers.

    They hold no reference cycles, yet each pass over the growing heap costs: COCO export of 50k boxes
    took 1.4 s with the collector running and 0.6 s without. The previous state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
