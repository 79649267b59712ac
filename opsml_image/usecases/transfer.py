"""Import an uploaded dataset in another format into a new folder; export the open one as a download.

The formats are the registered ones (:mod:`opsml_image.formats`): what each takes as an upload
(:attr:`~opsml_image.formats.format.Format.takes`, shown on the Import / Export page), where its files are in
the upload (``find``), whether loose files do (``loose``), its options. Nothing here is written per format.

A zip is extracted with :func:`opsml_image.archives.extract_zip` (zip slip, links, bombs refused) into a
hidden scratch folder in the data root; the format's import then stages the dataset beside the new folder
and renames it into place, so a refused import leaves nothing. Paths of the scratch folder never reach an
error message: they read as the upload's name. An upload without the files of the format chosen is refused
saying what is missing, and which registered format it looks like, if any.

An export writes the format's folder into a temp folder (edits flushed first) and zips it; an export that is
one file (COCO JSON of one split) is that file. A file system error on the way (a full disk, a permission)
is a :class:`UserError` naming files relative to the app's home or the dataset folder, never by their server
path, and leaves no part of the export behind. A format's refusal is a :class:`FormatInvalid`: an
:class:`Invalid` of the use-case family that is also the format's :class:`FormatError` (its ``source``,
``item`` and ``reason``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import mimetypes
import os
import re
import shutil
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path, PurePath
from typing import Any

from opsml_image import config, formats
from opsml_image.archives import extract_zip, is_zip_name
from opsml_image.auth import LOCAL_ADMIN, Action, User, can
from opsml_image.formats import Format
from opsml_image.formats.base import FormatError, Report, Skipped
from opsml_image.formats.format import NotFound as FilesMissing
from opsml_image.formats.format import Side, Source
from opsml_image.images import is_image_file
from opsml_image.rules import file_name_problem
from opsml_image.uploads import max_upload_bytes
from opsml_image.usecases.access import check, creation_parent
from opsml_image.usecases.create import Upload
from opsml_image.usecases.errors import Invalid, NotFound, UserError, converted, edge
from opsml_image.usecases.workspace import Workspace

__all__ = [
    "Download",
    "Format",
    "FormatInvalid",
    "Report",
    "Side",
    "Upload",
    "available_formats",
    "import_upload",
    "export_download",
    "max_download_bytes",
    "may_import",
]

#: An export older than this (seconds) is removed from ``<home>/exports`` when the next one starts.
EXPORT_TTL = 24 * 3600

#: ``progress(fraction, text)``: how far an import or export is, for a progress bar.
Progress = Callable[[float, str], None]

# the New dataset page's rule for a folder name (usecases.create)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_STORED = frozenset((".jpg", ".jpeg", ".png", ".webp", ".gif", ".arrow", ".zip"))


class FormatInvalid(Invalid, FormatError):
    """A format's refusal at the use case's edge: an :class:`Invalid` with the format's ``source``,
    ``item`` and ``reason`` (and a :class:`FormatError` for the callers below that catch that), its
    message ``<what>: <source>: <item>: <reason>`` (``what``: "The import stopped", say)."""

    def __init__(self, source: str | Path, item: str | None, reason: str, what: str = "") -> None:
        FormatError.__init__(self, source, item, reason)
        if what:
            self.args = (f"{what}: {self.args[0]}",)


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

    @property
    def kept_as(self) -> str:
        """Where the file is kept, relative to the app's home (``exports/<export>/<file>``)."""
        return self.path.relative_to(self.path.parents[2]).as_posix()

    @property
    def note(self) -> str | None:
        """Why the file is not offered as a browser download and where it is instead (one over
        :func:`max_download_bytes`: a download is read whole into the server's memory); None when it is."""
        size, limit = self.size, max_download_bytes()
        if size <= limit:
            return None
        return (
            f"{self.file_name} is {size:,} bytes, more than a browser download may be ({limit:,}, "
            f"OPSML_IMAGE_MAX_DOWNLOAD_BYTES). It is kept on the server for a day, as {self.kept_as} in the "
            "app's home; the CLI exports too: python -m opsml_image export FORMAT."
        )

    def discard(self) -> None:
        """Remove the file (a newer export replaces it)."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


def max_download_bytes() -> int:
    """The largest export offered as a browser download (``OPSML_IMAGE_MAX_DOWNLOAD_BYTES``, default 2 GiB);
    a larger one stays on the server, where the page says."""
    return config.settings().max_download_bytes


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


def available_formats() -> list[Format[Any]]:
    """The registered formats this installation can convert (Hugging Face only with ``datasets``)."""
    return formats.available()


def may_import(user: User | None) -> bool:
    """True when ``user`` may import a dataset (admins)."""
    return can(user, Action.IMPORT)


def _format(key: str) -> Format[Any]:
    found = {fmt.key: fmt for fmt in formats.available()}
    if key not in found:
        raise NotFound(f"Unknown format {key!r}; choose one of {', '.join(found)}.")
    return found[key]


def _no_server_paths(options: object) -> None:
    """Options from the page name no path on the server: an upload holds its own files."""
    for item in fields(options) if is_dataclass(options) else ():
        if isinstance(getattr(options, item.name), PurePath):
            raise Invalid(
                f"The option {item.name!r} names a path on the server; an upload holds its files.", item.name
            )


# --------------------------------------------------------------------------------------------- import


def import_upload(
    root: Path,
    name: str,
    fmt: str,
    uploads: Sequence[Upload],
    *,
    options: object | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    user: User | None = LOCAL_ADMIN,
    roots: Sequence[Path] | None = None,
) -> Report:
    """Make the new dataset folder ``root/name`` from uploads in the registered format ``fmt``, with its
    ``options`` (the format's defaults when None; no path on the server).

    ``uploads`` is one zip, or (for formats that take them) loose annotation files and images. Refused with
    :class:`Invalid` (a name, an existing folder, a bad zip entry), :class:`NotFound` (the format's files
    are not in the upload) or :class:`FormatInvalid` naming the format's item; with ``skip_invalid`` bad
    items are left out and listed in the report instead. Nothing is left in ``root`` when refused. Admins
    only; with ``roots`` (the app's data roots) ``root`` must lie inside one.
    """
    root = creation_parent(user, root, Action.IMPORT, roots) if roots is not None else root
    check(user, Action.IMPORT)
    spec = _format(fmt)
    chosen = options if options is not None else spec.defaults("import")
    _no_server_paths(chosen)
    name = name.strip()
    if not _NAME.match(name):
        raise Invalid("Give the dataset a name of letters, digits, '.', '_' or '-' (at most 80, no spaces).")
    dest = Path(root).expanduser().resolve() / name
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Invalid(f"{dest} already exists and is not empty: choose another name.")
    if not uploads:
        raise Invalid("Choose the files to import (a zip, or the annotation file and its images).")
    zips = [u for u in uploads if is_zip_name(u.name)]
    if zips and len(uploads) > 1:
        raise Invalid("Upload one zip by itself, or loose files without a zip.")
    if not zips and not spec.loose:
        raise Invalid(f"{spec.label} is imported from a zip of its folder: {spec.takes}")
    label = _display_name(zips[0].name) if zips else "upload"
    notify = progress or (lambda fraction, text: None)
    with edge(f"The folder {dest.parent} cannot be written: "):
        dest.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}.upload.", suffix=".tmp", dir=dest.parent))
    content = scratch / "upload"
    try:
        try:
            ignored = (
                _unpack(zips[0], content, label, notify)
                if zips
                else _save_loose(uploads, content, notify, spec.loose)
            )
            notify(0.6, f"Converting from {spec.label}...")
            report = spec.import_dataset(_source(spec, content), dest, chosen, skip_invalid=skip_invalid)
        except FormatError as error:
            raise _relabelled(error, content, label, "The import stopped") from None
        except UserError:
            raise
        except Exception as error:  # a bad zip entry (ArchiveError), a disk error: named as in the upload
            found = converted(error)
            if found is None:
                raise
            raise type(found)(_relabel(str(found), content, label)) from None
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


def _save_loose(
    uploads: Sequence[Upload], content: Path, notify: Progress, suffixes: tuple[str, ...]
) -> list[str]:
    """Write loose uploads flat into ``content``: plain names, images and the format's annotation files
    (``suffixes``) only, no twins."""
    names: dict[str, str] = {}
    checked: list[tuple[str, Upload]] = []
    for upload in uploads:
        clean = _display_name(upload.name).strip()
        suffix = Path(clean).suffix.lower()
        if not clean or clean.startswith(".") or file_name_problem(clean):
            raise Invalid(f"{upload.name!r}: not a plain file name.", upload.name)
        if suffix not in suffixes and not is_image_file(clean):
            kinds = ", ".join(suffixes)
            raise Invalid(f"{clean}: not an image nor an annotation file ({kinds}); zip other layouts.",
                          clean)  # fmt: skip
        key = unicodedata.normalize("NFC", clean).casefold()
        if key in names:
            raise Invalid(f"{clean}: uploaded twice (also as {names[key]}).", clean)
        names[key] = clean
        checked.append((clean, upload))
    limit = max_upload_bytes()
    content.mkdir(parents=True)
    for done, (clean, upload) in enumerate(checked, 1):
        data = upload.getvalue()
        if len(data) > limit:
            raise Invalid(f"{clean}: {len(data):,} bytes is more than the {limit:,} allowed.", clean)
        with open(content / clean, "xb") as handle:
            handle.write(data)
        notify(0.5 * done / len(checked), f"Saving {done:,} of {len(checked):,} files")
    return []


def _source(spec: Format[Any], content: Path) -> Source:
    """Where the format's files are in the unpacked upload; when they are not there, :class:`NotFound`
    saying what is missing and which other format the upload looks like."""
    try:
        return spec.find(content)
    except FilesMissing as error:
        other = next((f for f in formats.available() if f is not spec and f.detects(content)), None)
        hint = f" It looks like {other.label}: choose that format." if other is not None else ""
        raise NotFound(f"{error}{hint}") from None


def _relabel(text: str, content: Path, label: str) -> str:
    for path in sorted({str(content), os.path.realpath(content)}, key=len, reverse=True):
        text = text.replace(path + os.sep, label + "/").replace(path, label)
    return text


def _relabelled(
    error: FormatError, content: Path, label: str, what: str, root: Path | None = None
) -> FormatInvalid:
    """``error`` at the edge, paths in ``content`` named as ``label`` (and in the dataset folder ``root``,
    relative to it)."""

    def shown(text: str) -> str:
        text = _relabel(text, content, label)
        return text.replace(f"{root}{os.sep}", "").replace(str(root), ".") if root is not None else text

    item = shown(error.item) if error.item else error.item
    return FormatInvalid(shown(error.source), item, shown(error.reason), what)


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
    options: object | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    user: User | None = LOCAL_ADMIN,
) -> Download:
    """The open dataset (or one ``split``) in the registered format ``fmt`` with its ``options`` (when None,
    what the format's downloads start from: COCO with its images, in Roboflow's layout), zipped into a file
    under ``<home>/exports`` (streamed: memory does not grow with the dataset); an export that is one file
    (COCO JSON of one split) is that file. Pending edits are written first.

    Errors are :class:`FormatInvalid` naming the item (or, with ``skip_invalid``, skipped items in the
    report), and :class:`UserError` for a file system error (:func:`_write_failure`); either way nothing is
    left. For whoever may export.
    """
    check(user, Action.EXPORT)
    spec = _format(fmt)
    chosen_options = options if options is not None else spec.defaults("export")
    _no_server_paths(chosen_options)
    notify = progress or (lambda fraction, text: None)
    with edge("The export stopped: "):
        ws.store.flush()
    splits = list(ws.dataset.splits)
    if not splits:
        raise Invalid("The dataset has no records yet: nothing to export.")
    if split is not None and split not in splits:
        raise NotFound(f"No split {split!r}; the dataset has {', '.join(splits)}.")
    chosen = [split] if split is not None else splits
    stem = f"{ws.path.name}-{split or 'all'}-{fmt}"
    try:
        place = Path(tempfile.mkdtemp(prefix="export-", dir=_exports()))  # the finished file's own folder
    except OSError as error:
        raise _write_failure(error, ws) from None
    scratch = place / "work"
    try:
        scratch.mkdir()
        notify(0.1, f"Exporting to {spec.label}...")
        suffix = spec.file_suffix(chosen_options, len(chosen))
        if suffix is not None:
            target, written = place / f"{stem}{suffix}", scratch / f"{stem}{suffix}"
            report = spec.export(ws.dataset, written, chosen_options, split=split, skip_invalid=skip_invalid)
            os.replace(written, target)
            mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            return _done(Download(target.name, target, mime, report), notify)
        folder = scratch / stem
        report = spec.export(ws.dataset, folder, chosen_options, split=split, skip_invalid=skip_invalid)
        target = place / f"{stem}.zip"
        _zip_folder(folder, target, lambda done, total: notify(0.5 + 0.5 * done / total, "Zipping..."))
        report.path = Path(f"{stem}.zip")
        return _done(Download(f"{stem}.zip", target, "application/zip", report), notify)
    except FormatError as error:
        shutil.rmtree(place, ignore_errors=True)
        raise _relabelled(error, scratch, "export", "The export stopped", ws.path) from None
    except OSError as error:
        shutil.rmtree(place, ignore_errors=True)
        raise _write_failure(error, ws) from None
    except Exception as error:
        shutil.rmtree(place, ignore_errors=True)
        found = converted(error, "The export stopped: ")
        if found is None:
            raise
        raise found from error
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


def _zip_folder(folder: Path, target: Path, progress: Callable[[int, int], None]) -> None:
    """The folder's files zipped into ``target`` (images stored as they are, text deflated), paths relative
    to the folder; written file by file, never whole in memory."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, path in enumerate(files, 1):
            method = zipfile.ZIP_STORED if path.suffix.lower() in _STORED else zipfile.ZIP_DEFLATED
            archive.write(path, path.relative_to(folder).as_posix(), compress_type=method)
            progress(done, len(files))
