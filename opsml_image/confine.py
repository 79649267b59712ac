"""Keeping file access inside a folder: real-path containment, and no FIFOs, sockets or devices.

A dataset folder may hold symbolic links, but only to places inside it: a link whose real path (after
every symlink is resolved) lies outside is reported as ``file.outside`` and never read. A path that is not a
regular file (a FIFO, socket or device) is ``file.special`` and never opened: opening a FIFO blocks until a
writer comes, reading a device may never end. :func:`open_regular` opens without blocking and checks the
opened file itself, so a path swapped for a FIFO between a check and the open is refused too.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from opsml_image.rules import Problem

__all__ = ["SpecialFileError", "Confinement", "Survey", "is_inside", "kind_of", "open_regular", "survey"]


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
        self._folders: dict[str, str] = {}

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
