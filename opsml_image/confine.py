"""Keeping file access inside a folder: real-path containment, and no FIFOs, sockets or devices.

A dataset folder may hold symbolic links, but only to places inside it: a link whose real path (after
every symlink is resolved) lies outside is reported as ``file.outside`` and never read. A path that is not a
regular file (a FIFO, socket or device) is ``file.special`` and never opened: opening a FIFO blocks until a
writer comes, reading a device may never end. :func:`open_regular` opens without blocking and checks the
opened file itself, so a path swapped for a FIFO between a check and the open is refused too.

An import reads only inside its source: :meth:`Confinement.locate` resolves a path a file names (relative,
absolute, through links) one component at a time from the source, reading links without following them,
and answers None as soon as it would leave, so nothing outside is looked at; every such path gets the one
reason :data:`OUTSIDE_SOURCE`, whatever lies there.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from opsml_image.rules import Problem

__all__ = [
    "SpecialFileError",
    "Confinement",
    "Survey",
    "is_inside",
    "kind_of",
    "open_regular",
    "OUTSIDE_SOURCE",
    "survey",
]

#: The one reason an import gives for a path its files name outside them, whatever lies there (or not).
OUTSIDE_SOURCE = "the path lies outside the imported files: it is not read"
#: Symbolic links followed while locating one path (the kernel's own limit); more is refused as a loop.
_MAX_LINKS = 40


class SpecialFileError(OSError):
    """The path is not a regular file (a folder, FIFO, socket or device) and was not read."""

    def __init__(self, path: str | Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.path, self.kind = path, kind


def kind_of(mode: int) -> str:
    """A person's name for the file type in a stat mode."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def is_inside(real_path: str, real_root: str) -> bool:
    """True when the resolved ``real_path`` is ``real_root`` or below it (both from ``os.path.realpath``)."""
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def open_regular(path: str | Path, buffering: int = -1) -> BinaryIO:
    """Open a regular file for reading; anything else raises :class:`SpecialFileError` without blocking."""
    handle = open(path, "rb", buffering=buffering, opener=_open_nonblocking)  # noqa: SIM115
    try:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise SpecialFileError(path, kind_of(mode))
        os.set_blocking(handle.fileno(), True)
    except BaseException:
        handle.close()
        raise
    return handle


def _open_nonblocking(path: str, flags: int) -> int:
    """Open without waiting: a FIFO with no writer opens at once (and is then refused) instead of blocking."""
    return os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)


def special_problem(path: str | Path, mode: int, field: str | None = "file_name") -> Problem | None:
    """``file.special`` for a stat mode that is not a regular file."""
    if stat.S_ISREG(mode):
        return None
    return Problem("file.special", field, f"{path} is {kind_of(mode)}, not a regular file: it is not read")


class Confinement:
    """A folder's real location, answering whether a path below it really stays inside.

    The real path of each parent folder is cached, so checking many files of one folder costs one
    ``lstat`` per file (plus a ``realpath`` for each file that is itself a link).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.real_root = os.path.realpath(root)
        self._absolute_root = os.path.abspath(root)
        self._folders: dict[str, str] = {}
        self._located: dict[str, str | None] = {}

    def real_path(self, path: str | Path) -> str:
        """The real path of ``path`` (symlinks resolved; a missing file resolves as far as it exists)."""
        text = os.fspath(path)
        folder, name = os.path.split(text)
        real_folder = self._folders.get(folder)
        if real_folder is None:
            real_folder = self._folders[folder] = os.path.realpath(folder or ".")
        joined = os.path.join(real_folder, name)
        try:
            if stat.S_ISLNK(os.lstat(joined).st_mode):
                return os.path.realpath(joined)
        except OSError:
            pass
        return joined

    def outside_problem(
        self, path: str | Path, label: str | None = None, field: str | None = "file_name"
    ) -> Problem | None:
        """``file.outside`` when ``path`` resolves outside the folder (a missing file is no problem here)."""
        if is_inside(self.real_path(path), self.real_root):
            return None
        return Problem("file.outside", field, outside_message(label or os.fspath(path), self.root))

    def locate(self, reference: str | Path, base: str | Path | None = None) -> Path | None:
        """The real path ``reference`` names, or None when it leads outside the root.

        ``reference`` is absolute or relative to ``base`` (a folder below the root; default the root). It
        leads outside by ``..``, by being an absolute path elsewhere, or through a symbolic link. It is
        resolved one component at a time from the root, reading links (``readlink``) without following
        them, so nothing outside the root is ever looked at, not even with ``lstat``: the answer cannot
        tell what lies there. A missing part resolves as written (the caller finds it missing).
        """
        text = os.fspath(reference)
        if os.path.isabs(text):
            parts = self._below_root(text)
        else:
            start = self._below_root(os.path.abspath(base)) if base is not None else []
            parts = None if start is None else start + text.split(os.sep)
        if parts is None:
            return None
        *folder, name = parts or [""]
        key = os.sep.join(folder)
        if key not in self._located:
            self._located[key] = self._walk(folder, self.real_root)
        real_folder = self._located[key]
        if real_folder is None:
            return None
        found = self._walk([name], real_folder)
        return Path(found) if found is not None else None

    def _below_root(self, absolute: str) -> list[str] | None:
        """The components of an absolute path below the root (as given, or its real path); None elsewhere."""
        path = os.path.normpath(absolute)
        for root in (self.real_root, self._absolute_root):
            if is_inside(path, root):
                rest = path[len(root) :].lstrip(os.sep)
                return rest.split(os.sep) if rest else []
        return None

    def _walk(self, parts: list[str], start: str) -> str | None:
        """Resolve ``parts`` from the real folder ``start`` inside the root; None as soon as a step leaves."""
        pending = list(reversed(parts))
        current, links = start, 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if current == self.real_root:
                    return None
                current = os.path.dirname(current)
                continue
            candidate = os.path.join(current, part)
            try:
                target = os.readlink(candidate) if stat.S_ISLNK(os.lstat(candidate).st_mode) else None
            except (OSError, ValueError):  # missing, or not a folder on the way: resolved as written
                target = None
            if target is None:
                current = candidate
                continue
            links += 1
            if links > _MAX_LINKS:
                return None
            if os.path.isabs(target):
                below = self._below_root(target)
                if below is None:
                    return None
                current = self.real_root
                pending.extend(reversed(below))
            else:
                pending.extend(reversed(target.split(os.sep)))
        return current


def outside_message(label: str, root: str | Path) -> str:
    """The one wording of a path that leads out of a folder (the target is not named: it may be secret)."""
    return f"{label} is a link to a place outside the dataset folder {root}: it is not read nor stored"


@dataclass
class Survey:
    """What one walk of a folder found: entries leading out or special (by relative path), and link count."""

    problems: dict[str, Problem] = field(default_factory=dict)
    links: int = 0


def survey(root: str | Path) -> Survey:
    """Walk ``root`` once (links not followed) and note every entry that leaves it or is special.

    Links to places inside the folder are fine (and not followed: their targets are walked where they
    are); links leading outside are ``file.outside``; FIFOs, sockets and devices are ``file.special``.
    ``links`` counts every symbolic link: without any, no path below the root can lead out of it.
    """
    real_root = os.path.realpath(root)
    found = Survey()

    def walk(directory: str, prefix: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):  # most entries: decided by the listing alone
                    continue
                rel = prefix + entry.name
                if entry.is_symlink():
                    found.links += 1
                    if not is_inside(os.path.realpath(entry.path), real_root):
                        found.problems[rel] = Problem("file.outside", None, outside_message(rel, root))
                        continue
                    mode = os.stat(entry.path).st_mode
                elif entry.is_dir(follow_symlinks=False):
                    walk(entry.path, rel + "/")
                    continue
                else:
                    mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:  # removed while walking, or a dangling link: image.missing tells when it matters
                continue
            problem = special_problem(rel, mode, None)
            if problem:
                found.problems[rel] = problem

    walk(os.fspath(root), "")
    found.problems = dict(sorted(found.problems.items()))
    return found
