"""Safe extraction of an uploaded zip archive into a new folder.

Every entry is checked before a byte is written, and each refusal names the entry: names that would leave
the folder (``..``, absolute paths, drive letters, backslashes, control characters), symbolic links and other
special entries (devices, FIFOs, sockets), two entries for one path (also when they differ only in case or
Unicode normalisation, or a file that is also a folder), encrypted entries, unsupported compression, and zip
bombs: too many entries, too many bytes in total (:class:`Limits`; ``OPSML_IMAGE_MAX_ARCHIVE_ENTRIES`` and
``OPSML_IMAGE_MAX_ARCHIVE_BYTES``) or an entry that inflates far more than data does (ratio). Entries are
then streamed (never read whole) into a temp folder beside the destination, counting the bytes actually
inflated, and the folder is renamed into place only when everything is written; any failure removes it.
macOS and Windows debris (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``) is left out and listed in
:attr:`Extracted.ignored`.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from opsml_image import config
from opsml_image.atomic import fsync_dir, sync_filesystem

__all__ = ["ArchiveError", "Limits", "Extracted", "is_zip_name", "check_archive", "extract_zip"]

_CHUNK = 1 << 20
#: Entries smaller than this are never refused for their ratio (tiny files compress wildly).
_RATIO_FLOOR = 1 << 20
_METHODS = frozenset((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA))
_DEBRIS_FOLDERS = frozenset(("__MACOSX",))
_DEBRIS_FILES = frozenset((".DS_Store", "Thumbs.db", "desktop.ini"))


class ArchiveError(ValueError):
    """A zip not extracted: ``<archive>: <entry>: <reason>`` (entry None when the whole file is bad)."""

    def __init__(self, archive: str, entry: str | None, reason: str) -> None:
        self.archive, self.entry, self.reason = archive, entry, reason
        super().__init__(f"{archive}: {entry}: {reason}" if entry is not None else f"{archive}: {reason}")


@dataclass(frozen=True)
class Limits:
    """How much one archive may hold once inflated: entries, bytes in total, inflation ratio of an entry."""

    max_entries: int = 100_000
    max_bytes: int = 4 << 30
    max_ratio: float = 250.0

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, else ``OPSML_IMAGE_MAX_ARCHIVE_ENTRIES`` / ``OPSML_IMAGE_MAX_ARCHIVE_BYTES``."""
        settings = config.settings()
        return cls(max_entries=settings.max_archive_entries, max_bytes=settings.max_archive_bytes)


@dataclass
class Extracted:
    """The folder written, its files and bytes, and the debris entries left out."""

    path: Path
    files: int = 0
    bytes: int = 0
    ignored: list[str] = field(default_factory=list)


def is_zip_name(name: str) -> bool:
    """True for a file name ending in ``.zip`` (any case)."""
    return name.lower().endswith(".zip")


def _entry_problem(name: str) -> str | None:
    """Why an entry name cannot be written inside the destination folder (None when it can)."""
    if not name or name in ("/", "."):
        return "an empty name"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "a control character in the name"
    if "\\" in name:
        return "a backslash in the name (a Windows path that may lead out of the folder)"
    if name.startswith("/"):
        return "an absolute path"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "a drive letter (an absolute Windows path)"
    parts = name.rstrip("/").split("/")
    if any(part in ("..", ".") for part in parts):
        return "a '..' or '.' component (zip slip: it would leave the folder)"
    if any(part == "" for part in parts):
        return "an empty path component ('//')"
    if any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in parts):
        return "a name component longer than 255 bytes"
    return None


def _kind_problem(info: zipfile.ZipInfo) -> str | None:
    """Refuse links and special files (their Unix mode sits in the high 16 bits of ``external_attr``)."""
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # made on Unix: the mode is meaningful
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            return "a symbolic link (links are not extracted)"
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            return "a special file (device, FIFO or socket), not a regular file"
    if info.flag_bits & 0x1:
        return "encrypted (password-protected entries are not extracted)"
    if info.compress_type not in _METHODS:
        return f"compressed with an unsupported method ({info.compress_type})"
    return None


def _is_debris(name: str) -> bool:
    parts = name.rstrip("/").split("/")
    return parts[0] in _DEBRIS_FOLDERS or parts[-1] in _DEBRIS_FILES or parts[-1].startswith("._")


def _key(name: str) -> str:
    """The name as a case-insensitive, normalising file system sees it (macOS, Windows)."""
    return unicodedata.normalize("NFC", name.rstrip("/")).casefold()


def check_archive(
    archive: zipfile.ZipFile, label: str, limits: Limits
) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """The entries to extract (files and folders, in order) and the debris ones; ArchiveError at the first
    entry refused. Nothing is inflated: sizes are the declared ones, which extraction then enforces."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise ArchiveError(
            label, None, f"{len(infos):,} entries, more than the {limits.max_entries:,} allowed"
        )
    kept: list[zipfile.ZipInfo] = []
    ignored: list[str] = []
    files: dict[str, str] = {}
    folders: dict[str, str] = {}
    total = 0
    for info in infos:
        name = info.filename
        problem = _entry_problem(name) or _kind_problem(info)
        if problem:
            raise ArchiveError(label, name, problem)
        if _is_debris(name):
            ignored.append(name)
            continue
        key = _key(name)
        parents = key.split("/")[:-1]
        for depth in range(1, len(parents) + 1):
            parent = "/".join(parents[:depth])
            if parent in files:
                raise ArchiveError(label, name, f"lies below {files[parent]!r}, which is a file")
            folders.setdefault(parent, name)
        if info.is_dir():
            if key in files:
                raise ArchiveError(label, name, f"a folder with the name of the file {files[key]!r}")
            kept.append(info)
            continue
        if key in files:
            raise ArchiveError(
                label, name, f"a second entry for {files[key]!r} (names differ at most in case)"
            )
        if key in folders:
            raise ArchiveError(label, name, f"a file with the name of the folder of {folders[key]!r}")
        files[key] = name
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ArchiveError(
                label, name, f"inflates {ratio:,.0f} times (at most {limits.max_ratio:,.0f}): a zip bomb?"
            )
        total += info.file_size
        if total > limits.max_bytes:
            raise ArchiveError(
                label,
                name,
                f"the entries up to here hold {total:,} bytes, more than the {limits.max_bytes:,} allowed",
            )
        kept.append(info)
    return kept, ignored


def extract_zip(
    source: str | Path | BinaryIO,
    dest: str | Path,
    *,
    label: str | None = None,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Extracted:
    """Extract the zip ``source`` (a path or a seekable binary file) into the new folder ``dest``.

    ``dest`` must not exist (or be an empty folder). ``label`` names the archive in errors (default: the
    path, else ``archive.zip``). ``progress(done, total)`` counts entries. Raises :class:`ArchiveError`.
    """
    label = label or (Path(source).name if isinstance(source, str | Path) else "archive.zip")
    limits = limits or Limits.from_env()
    target = Path(dest)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(label, None, f"the destination {target} already exists and is not empty")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise ArchiveError(label, None, f"not a readable zip file ({error})") from None
    except OSError as error:
        raise ArchiveError(label, None, f"cannot be read: {error.strerror or error}") from None
    with archive:
        entries, ignored = check_archive(archive, label, limits)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            result = Extracted(target, ignored=ignored)
            for done, info in enumerate(entries, 1):
                _write_entry(archive, info, staging, label, limits, result)
                if progress:
                    progress(done, len(entries))
            sync_filesystem(staging)
            if target.exists():
                target.rmdir()  # empty, checked above; os.replace cannot replace a folder on every system
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    fsync_dir(target.parent)
    return result


def _write_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    staging: Path,
    label: str,
    limits: Limits,
    result: Extracted,
) -> None:
    path = staging.joinpath(*PurePosixPath(info.filename).parts)
    if not path.resolve().is_relative_to(staging.resolve()):  # the name checks make this unreachable
        raise ArchiveError(label, info.filename, "would be written outside the folder")
    if info.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with archive.open(info) as entry, open(path, "xb") as out:
            while chunk := entry.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size or result.bytes + written > limits.max_bytes:
                    raise ArchiveError(label, info.filename, "inflates to more bytes than it declares")
                out.write(chunk)
    except FileExistsError:
        raise ArchiveError(label, info.filename, "a second entry for this path") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise ArchiveError(label, info.filename, f"corrupt or unreadable entry ({error})") from None
    except (OSError, ValueError) as error:
        if isinstance(error, ArchiveError):
            raise
        raise ArchiveError(label, info.filename, f"cannot be extracted: {error}") from None
    result.files += 1
    result.bytes += written
