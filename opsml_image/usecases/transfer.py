"""Import an uploaded dataset in another format into a new folder; export the open one as a download.

What each format takes as an upload (:data:`FORMATS`, shown on the Import / Export page):

* ``coco``: COCO JSON file(s) and their images, loose or in a zip. Several split files need split names
  (``train.json``, ``val.json``, or Roboflow's ``train/_annotations.coco.json``); images sit beside each file
  or in an ``images/`` folder next to it.
* ``yolo``: a zip of the YOLO folder (``data.yaml``; Ultralytics ``images/`` + ``labels/`` or Roboflow
  ``train/images`` + ``train/labels``).
* ``voc``: a zip of the Pascal VOC folder (``Annotations/``, ``JPEGImages/``, ``ImageSets/Main/``).
* ``cvat``: ``annotations.xml`` (CVAT for images 1.1) and its images, loose or in a zip (images beside it or
  in ``images/``).
* ``labelstudio``: the Label Studio JSON export (``tasks.json`` or the one JSON file) and its images, loose
  or in a zip.
* ``hf``: a zip of a Hugging Face ``save_to_disk`` folder (when ``datasets`` is installed).

A zip is extracted with :func:`opsml_image.archives.extract_zip` (zip slip, links, bombs refused) into a
hidden scratch folder in the data root; the format's import then stages the dataset beside the new folder
and renames it into place, so a refused import leaves nothing. Paths of the scratch folder never reach an
error message: they read as the upload's name.

An export writes the format's folder into a temp folder (edits flushed first) and zips it; COCO without
images is the JSON file itself (one split) or a zip of ``<split>.json`` files. A file system error on the way
(a full disk, a permission) is a :class:`UserError` naming files relative to the app's home or the dataset
folder, never by their server path, and leaves no part of the export behind.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import io
import os
import re
import shutil
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import orjson

from opsml_image import config
from opsml_image.archives import ArchiveError, extract_zip, is_zip_name
from opsml_image.atomic import is_temp_name
from opsml_image.auth import LOCAL_ADMIN, Action, User
from opsml_image.confine import Confinement, survey
from opsml_image.formats.base import FormatError, Refusals, Report, Skipped, place_file
from opsml_image.images import is_image_file
from opsml_image.rules import file_name_problem
from opsml_image.uploads import max_upload_bytes
from opsml_image.usecases.access import check, creation_parent
from opsml_image.usecases.create import Upload
from opsml_image.usecases.workspace import UserError, Workspace, describe

__all__ = [
    "FormatSpec",
    "FORMATS",
    "Download",
    "available_formats",
    "import_upload",
    "export_download",
    "max_download_bytes",
]

#: An export older than this (seconds) is removed from ``<home>/exports`` when the next one starts.
EXPORT_TTL = 24 * 3600
_DEFAULT_MAX_DOWNLOAD = 2 << 30

#: ``progress(fraction, text)``: how far an import or export is, for a progress bar.
Progress = Callable[[float, str], None]

# the New dataset page's rule for a folder name (usecases.create)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_LOOSE_SUFFIXES = frozenset((".json", ".xml"))
_STORED = frozenset((".jpg", ".jpeg", ".png", ".webp", ".gif", ".arrow", ".zip"))


@dataclass(frozen=True)
class FormatSpec:
    """One format the page offers: its key, label, module, what an import takes and whether loose files do."""

    key: str
    label: str
    module: str
    takes: str
    loose: bool


FORMATS: dict[str, FormatSpec] = {
    spec.key: spec
    for spec in (
        FormatSpec(
            "coco",
            "COCO JSON",
            "coco",
            "COCO JSON file(s) with their images (loose files or a zip). Several split files need split "
            "names (train.json, val.json) or Roboflow folders (train/_annotations.coco.json); images sit "
            "beside each file or in an images/ folder next to it.",
            True,
        ),
        FormatSpec(
            "yolo",
            "YOLO (Ultralytics / Roboflow)",
            "yolo",
            "A zip of the YOLO folder: data.yaml with the class names and split folders, images/ and "
            "labels/ (Ultralytics) or train/images and train/labels (Roboflow).",
            False,
        ),
        FormatSpec(
            "voc",
            "Pascal VOC XML",
            "voc",
            "A zip of the Pascal VOC folder: Annotations/*.xml, JPEGImages/ and optionally "
            "ImageSets/Main/train.txt, val.txt, test.txt and labelmap.txt.",
            False,
        ),
        FormatSpec(
            "cvat",
            "CVAT for images 1.1 XML",
            "cvat",
            "annotations.xml (CVAT for images 1.1) with its images, loose or in a zip (images beside the "
            "XML or in images/, or images/<Subset>/).",
            True,
        ),
        FormatSpec(
            "labelstudio",
            "Label Studio JSON",
            "labelstudio",
            "The Label Studio JSON export (tasks.json, or the one JSON file) with its images, loose or in a "
            "zip; label_config.xml beside it gives the class order. Nothing is downloaded from image URLs.",
            True,
        ),
        FormatSpec(
            "hf",
            "Hugging Face datasets",
            "hf",
            "A zip of a folder written by datasets' save_to_disk (an image column, optionally objects with "
            "bbox in COCO x, y, w, h pixels and categories).",
            False,
        ),
    )
}


@dataclass(frozen=True)
class Download:
    """An export ready to download: its file name, the file on the server (under ``<home>/exports``, never
    held in memory), its type, and what the export did."""

    file_name: str
    path: Path
    mime: str
    report: Report

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def data(self) -> bytes:
        """The file's bytes, read now (the page reads them only when the download is clicked)."""
        return self.path.read_bytes()

    def discard(self) -> None:
        """Remove the file (a newer export replaces it)."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


def max_download_bytes() -> int:
    """The largest export offered as a browser download (``OPSML_IMAGE_MAX_DOWNLOAD_BYTES``, default 2 GiB);
    a larger one stays on the server, where the page says."""
    return int(os.environ.get("OPSML_IMAGE_MAX_DOWNLOAD_BYTES") or _DEFAULT_MAX_DOWNLOAD)


def _exports() -> Path:
    """``<home>/exports``, without the exports older than :data:`EXPORT_TTL`."""
    folder = config.home() / "exports"
    folder.mkdir(exist_ok=True)
    now = time.time()
    for old in folder.iterdir():
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > EXPORT_TTL:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    return folder


def available_formats() -> list[FormatSpec]:
    """The formats this installation can convert (Hugging Face only with ``datasets`` installed)."""
    return [s for s in FORMATS.values() if s.key != "hf" or importlib.util.find_spec("datasets") is not None]


def _module(fmt: str) -> ModuleType:
    if fmt not in {s.key for s in available_formats()}:
        raise UserError(
            f"Unknown format {fmt!r}; choose one of {', '.join(s.key for s in available_formats())}."
        )
    return importlib.import_module(f"opsml_image.formats.{FORMATS[fmt].module}")


# --------------------------------------------------------------------------------------------- import


def import_upload(
    root: Path,
    name: str,
    fmt: str,
    uploads: Sequence[Upload],
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    user: User | None = LOCAL_ADMIN,
    roots: Sequence[Path] | None = None,
) -> Report:
    """Make the new dataset folder ``root/name`` from uploads in format ``fmt`` (see :data:`FORMATS`).

    ``uploads`` is one zip, or (for formats that take them) loose annotation files and images. Refused with
    :class:`UserError` (a name, an existing folder, a missing file, a bad zip entry) or the format's
    :class:`FormatError` naming the item; with ``skip_invalid`` bad items are left out and listed in the
    report instead. Nothing is left in ``root`` when refused. Admins only; with ``roots`` (the app's data
    roots) ``root`` must lie inside one.
    """
    root = creation_parent(user, root, Action.IMPORT, roots) if roots is not None else root
    check(user, Action.IMPORT)
    module = _module(fmt)
    name = name.strip()
    if not _NAME.match(name):
        raise UserError(
            "Give the dataset a name of letters, digits, '.', '_' or '-' (at most 80, no spaces)."
        )
    dest = Path(root).expanduser().resolve() / name
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} already exists and is not empty: choose another name.")
    if not uploads:
        raise UserError("Choose the files to import (a zip, or the annotation file and its images).")
    zips = [u for u in uploads if is_zip_name(u.name)]
    if zips and len(uploads) > 1:
        raise UserError("Upload one zip by itself, or loose files without a zip.")
    if not zips and not FORMATS[fmt].loose:
        raise UserError(f"{FORMATS[fmt].label} is imported from a zip of its folder: {FORMATS[fmt].takes}")
    label = _display_name(zips[0].name) if zips else "upload"
    notify = progress or (lambda fraction, text: None)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}.upload.", suffix=".tmp", dir=dest.parent))
    except OSError as error:
        raise UserError(f"The folder {dest.parent} cannot be written: {describe(error)}") from None
    content = scratch / "upload"
    try:
        try:
            ignored = (
                _unpack(zips[0], content, label, notify) if zips else _save_loose(uploads, content, notify)
            )
            notify(0.6, f"Converting from {FORMATS[fmt].label}...")
            report = _convert(module, fmt, _content_root(content), dest, skip_invalid)
        except FormatError as error:
            raise _relabelled(error, content, label) from None
        except (ArchiveError, OSError) as error:
            raise UserError(_relabel(describe(error), content, label)) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if ignored:
        report.warnings.append(f"left out {len(ignored):,} system files of the zip (__MACOSX, .DS_Store)")
    _relabel_report(report, content, label)
    report.path = dest
    notify(1.0, "Imported")
    return report


def _display_name(name: str) -> str:
    base = re.split(r"[\\/]", name)[-1]
    return "".join(ch for ch in base if unicodedata.category(ch)[0] != "C") or "upload.zip"


def _unpack(upload: Upload, content: Path, label: str, notify: Progress) -> list[str]:
    def step(done: int, total: int) -> None:
        notify(0.5 * done / total, f"Unpacking {label}: {done:,} of {total:,} entries")

    return extract_zip(io.BytesIO(upload.getvalue()), content, label=label, progress=step).ignored


def _save_loose(uploads: Sequence[Upload], content: Path, notify: Progress) -> list[str]:
    """Write loose uploads flat into ``content``: plain names, images and annotation files only, no twins."""
    names: dict[str, str] = {}
    checked: list[tuple[str, Upload]] = []
    for upload in uploads:
        clean = _display_name(upload.name).strip()
        suffix = Path(clean).suffix.lower()
        if not clean or clean.startswith(".") or file_name_problem(clean):
            raise UserError(f"{upload.name!r}: not a plain file name.")
        if suffix not in _LOOSE_SUFFIXES and not is_image_file(clean):
            raise UserError(f"{clean}: not an image nor an annotation file (.json, .xml); zip other layouts.")
        key = unicodedata.normalize("NFC", clean).casefold()
        if key in names:
            raise UserError(f"{clean}: uploaded twice (also as {names[key]}).")
        names[key] = clean
        checked.append((clean, upload))
    limit = max_upload_bytes()
    content.mkdir(parents=True)
    for done, (clean, upload) in enumerate(checked, 1):
        data = upload.getvalue()
        if len(data) > limit:
            raise UserError(f"{clean}: {len(data):,} bytes is more than the {limit:,} allowed.")
        with open(content / clean, "xb") as handle:
            handle.write(data)
        notify(0.5 * done / len(checked), f"Saving {done:,} of {len(checked):,} files")
    return []


def _content_root(content: Path) -> Path:
    """The upload's top folder, or the one folder it holds (a zip of ``mydata/…``), repeatedly."""
    while True:
        entries = [p for p in content.iterdir() if not is_temp_name(p.name)]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].name in ("images", "Annotations"):
            return content
        content = entries[0]


def _found(root: Path, pattern: str, *, folder: bool = False) -> list[Path]:
    """Paths under ``root`` matching ``pattern`` (files, or folders), shallowest first."""
    hits = [p for p in root.rglob(pattern) if (p.is_dir() if folder else p.is_file())]
    hits = [p for p in hits if not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(hits, key=lambda p: (len(p.relative_to(root).parts), str(p)))


def _convert(module: ModuleType, fmt: str, root: Path, dest: Path, skip_invalid: bool) -> Report:
    source: Path | list[Path]
    if fmt == "coco":
        files = _found(root, "*.json")
        if not files:
            raise UserError("No COCO JSON file in the upload.")
        source = files[0] if len(files) == 1 else files
    elif fmt == "yolo":
        configs = [p for n in ("data.yaml", "data.yml", "dataset.yaml") for p in _found(root, n)]
        if not configs:
            raise UserError("No data.yaml in the zip (the YOLO file naming the classes and split folders).")
        source = min(configs, key=lambda p: len(p.parts))
    elif fmt == "voc":
        folders = _found(root, "Annotations", folder=True)
        if not folders:
            raise UserError("No Annotations/ folder in the zip: not a Pascal VOC folder.")
        source = folders[0].parent
    elif fmt == "cvat":
        found = _found(root, "annotations.xml") or _found(root, "*.xml")
        if not found:
            raise UserError("No annotations.xml (CVAT for images 1.1) in the upload.")
        source = found[0]
    elif fmt == "labelstudio":
        found = _found(root, "tasks.json")
        if not found:
            found = _found(root, "*.json")
            if len(found) > 1:
                names = ", ".join(p.relative_to(root).as_posix() for p in found[:5])
                raise UserError(f"Several JSON files ({names}): name the Label Studio export tasks.json.")
        if not found:
            raise UserError("No Label Studio JSON export in the upload.")
        source = found[0]
    else:
        marks = _found(root, "dataset_dict.json") or _found(root, "state.json")
        if not marks:
            raise UserError(
                "No Hugging Face save_to_disk folder (dataset_dict.json or state.json) in the zip."
            )
        source = marks[0].parent
    report: Report = module.import_dataset(source, dest, skip_invalid=skip_invalid)
    return report


def _relabel(text: str, content: Path, label: str) -> str:
    for path in sorted({str(content), os.path.realpath(content)}, key=len, reverse=True):
        text = text.replace(path + os.sep, label + "/").replace(path, label)
    return text


def _relabelled(error: FormatError, content: Path, label: str) -> FormatError:
    item = _relabel(error.item, content, label) if error.item else error.item
    return FormatError(_relabel(error.source, content, label), item, _relabel(error.reason, content, label))


def _relabel_report(report: Report, content: Path, label: str) -> None:
    report.skipped = [
        Skipped(_relabel(s.item, content, label), _relabel(s.reason, content, label)) for s in report.skipped
    ]
    report.warnings = [_relabel(w, content, label) for w in report.warnings]


# --------------------------------------------------------------------------------------------- export


def export_download(
    ws: Workspace,
    fmt: str,
    split: str | None = None,
    *,
    skip_invalid: bool = False,
    with_images: bool = True,
    progress: Progress | None = None,
) -> Download:
    """The open dataset (or one ``split``) in format ``fmt``, zipped into a file under ``<home>/exports``
    (streamed: memory does not grow with the dataset); pending edits are written first.

    COCO ``with_images`` is Roboflow's layout (``<split>/_annotations.coco.json`` with the images beside);
    without images it is the JSON file (one split) or a zip of ``<split>.json``. Errors are
    :class:`FormatError` naming the item (or, with ``skip_invalid``, skipped items in the report), and
    :class:`UserError` for a file system error (:func:`_write_failure`); either way nothing is left.
    """
    module = _module(fmt)
    notify = progress or (lambda fraction, text: None)
    ws.store.flush()
    splits = list(ws.dataset.splits)
    if not splits:
        raise UserError("The dataset has no records yet: nothing to export.")
    if split is not None and split not in splits:
        raise UserError(f"No split {split!r}; the dataset has {', '.join(splits)}.")
    chosen = [split] if split is not None else splits
    stem = f"{ws.path.name}-{split or 'all'}-{fmt}"
    try:
        place = Path(tempfile.mkdtemp(prefix="export-", dir=_exports()))  # the finished file's own folder
    except OSError as error:
        raise _write_failure(error, ws) from None
    scratch = place / "work"
    try:
        scratch.mkdir()
        notify(0.1, f"Exporting to {FORMATS[fmt].label}...")
        if fmt == "coco" and not with_images and len(chosen) == 1:
            target, written = place / f"{stem}.json", scratch / f"{stem}.json"
            report = module.export(ws.dataset, written, split=chosen[0], skip_invalid=skip_invalid)
            os.replace(written, target)
            return _done(Download(target.name, target, "application/json", report), notify)
        folder = scratch / stem
        if fmt == "coco" and with_images:
            report = _coco_with_images(ws, chosen, folder, skip_invalid)
        else:
            _refuse_links_out(ws, chosen)
            report = module.export(ws.dataset, folder, split=split, skip_invalid=skip_invalid)
        target = place / f"{stem}.zip"
        _zip_folder(folder, target, lambda done, total: notify(0.5 + 0.5 * done / total, "Zipping..."))
        report.path = Path(f"{stem}.zip")
        return _done(Download(f"{stem}.zip", target, "application/zip", report), notify)
    except FormatError as error:
        shutil.rmtree(place, ignore_errors=True)
        raise _relabelled(error, scratch, "export") from None
    except OSError as error:
        shutil.rmtree(place, ignore_errors=True)
        raise _write_failure(error, ws) from None
    except BaseException:
        shutil.rmtree(place, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_failure(error: OSError, ws: Workspace) -> UserError:
    """An export's file system error for the person: what failed, the file relative to the app's home (or
    to the dataset folder, else by name alone), and what to do about a full disk; no server path."""
    shown = f" ({_shown_path(error.filename, ws)})" if error.filename else ""
    hint = (
        " Free some space on the server and try again."
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        else ""
    )
    reason = error.strerror or "the file system refused it"
    return UserError(f"The export stopped: {reason}{shown}; nothing was kept.{hint}")


def _shown_path(filename: object, ws: Workspace) -> str:
    """``filename`` relative to the app's home or to the dataset folder, else by its name alone."""
    if not isinstance(filename, str | bytes | os.PathLike):
        return "a file"
    path = Path(os.fsdecode(filename))
    try:
        home: Path | None = config.home()
    except OSError:  # the home itself cannot be made: the name alone
        home = None
    if home is not None and path.is_relative_to(home):
        return f"{path.relative_to(home).as_posix()} in the app's home"
    if path.is_relative_to(ws.path):
        return f"{ws.path.name}/{path.relative_to(ws.path).as_posix()}"
    return path.name


def _done(download: Download, notify: Progress) -> Download:
    notify(1.0, "Ready to download")
    return download


def _coco_with_images(ws: Workspace, splits: list[str], folder: Path, skip_invalid: bool) -> Report:
    """Roboflow's COCO layout: ``<split>/_annotations.coco.json`` with the split's images beside it."""
    from opsml_image.formats import coco

    report = Report()
    confined = Confinement(ws.path)
    for split in splits:
        target = folder / split / "_annotations.coco.json"
        part = coco.export(ws.dataset, target, split=split, skip_invalid=skip_invalid)
        data = orjson.loads(target.read_bytes())
        refusals = Refusals(ws.dataset.split(split).directory, skip_invalid)
        missing: set[object] = set()
        for image in data["images"]:
            path = ws.dataset.image_path(split, image["file_name"])
            problem = confined.outside_problem(path, image["file_name"])
            if problem is not None or not path.is_file():
                refusals.refuse(image["file_name"], problem.message if problem else "image file not found")
                missing.add(image["id"])
                continue
            place_file(path, target.parent / image["file_name"])
        if missing:
            dropped = [a for a in data["annotations"] if a["image_id"] in missing]
            data["images"] = [i for i in data["images"] if i["id"] not in missing]
            data["annotations"] = [a for a in data["annotations"] if a["image_id"] not in missing]
            target.write_bytes(orjson.dumps(data))
            part.images -= len(missing)
            part.boxes -= len(dropped)
        report.images += part.images
        report.boxes += part.boxes
        report.skipped += part.skipped + refusals.skipped
        report.warnings += [w for w in part.warnings if w not in report.warnings]
    return report


def _refuse_links_out(ws: Workspace, splits: list[str]) -> None:
    """An image that is a link to a place outside the dataset folder is never put into a download."""
    folders = [ws.dataset.split(name).directory.resolve() for name in splits]
    for relative, problem in survey(ws.path).problems.items():
        path = (ws.path / relative).parent.resolve() / Path(relative).name
        if (
            problem.code == "file.outside"
            and is_image_file(relative)
            and any(f in path.parents for f in folders)
        ):
            raise FormatError(ws.path, relative, f"{problem.message}; remove the link to export")


def _zip_folder(folder: Path, target: Path, progress: Callable[[int, int], None]) -> None:
    """The folder's files zipped into ``target`` (images stored as they are, text deflated), paths relative
    to the folder; written file by file, never whole in memory."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, path in enumerate(files, 1):
            method = zipfile.ZIP_STORED if path.suffix.lower() in _STORED else zipfile.ZIP_DEFLATED
            archive.write(path, path.relative_to(folder).as_posix(), compress_type=method)
            progress(done, len(files))
