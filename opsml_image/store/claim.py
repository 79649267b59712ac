"""One working store per dataset folder, whoever opens it: the folder's store marker.

A store that opens a folder creates ``<folder>/.opsml-image.json`` (:data:`~opsml_image.atomic.STORE_MARKER`;
written whole or not at all) naming it: the store's random id (kept in the store too, the ``store_meta``
row of dataset 0), where the store is (its URL without password or query: never a secret), the setting
that opens the folder with it (``OPSML_IMAGE_HOME=...`` or ``OPSML_IMAGE_STORE_URI=...``), the host, and
the folder's real path, device and inode. Another store opening the folder is refused with
:class:`FolderClaimed` (which store holds it, how to open with it): two stores of one folder would each
write their own edits over the other's. A marker that came with a copy of a folder (another path and
another inode) is replaced. Where the marker cannot be written (a read-only folder) the folder still
opens; nothing is written into it then. Before each write into the folder the store claims it again, so a
store whose folder was taken over since writes nothing.

Claims of one folder take turns (``flock`` on the folder, where the filesystem has it). Taking a folder
over (``take_over=True``) replaces the marker of a store that is provably gone (a SQLite file on this host
that no longer exists); otherwise a person decides, by deleting the marker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.atomic import STORE_MARKER, atomic_write_bytes, create_bytes
from opsml_image.confine import kind_of
from opsml_image.dataset import ImageDataset
from opsml_image.store.errors import FolderClaimed, StoreError

__all__ = ["Marker", "claim", "marker_of", "read", "store_id", "where"]

#: Errors that say the folder cannot be written by this process: it opens, read only.
READ_ONLY = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
#: How long a claim waits for another process's claim of the same folder.
LOCK_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Marker:
    """What ``.opsml-image.json`` says: which store holds the folder, and where the folder was then."""

    store_id: str
    store: str
    setting: str
    host: str
    path: str
    device: int
    inode: int

    def to_bytes(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self), option=orjson.OPT_INDENT_2) + b"\n"


def store_id(conn: Connection) -> str:
    """The store's own random id, made on first use (in the caller's write transaction)."""
    select = sa.text("SELECT value FROM store_meta WHERE dataset = 0 AND key = 'store_id'")
    found = conn.execute(select).scalar()
    if found is None:
        conn.execute(
            sa.text(
                "INSERT INTO store_meta (dataset, key, value) VALUES (0, 'store_id', :v) "
                "ON CONFLICT (dataset, key) DO NOTHING"
            ),
            {"v": uuid.uuid4().hex},
        )
        found = conn.execute(select).scalar_one()
    return str(found)


def where(url: sa.URL, home: Path | None) -> tuple[str, str]:
    """``(where the store is, the setting that opens a folder with it)``: its URL without password or
    query, and ``OPSML_IMAGE_HOME=<home>`` for the default SQLite file under ``home`` (else the URI)."""
    bare = sa.URL.create(url.drivername, url.username, None, url.host, url.port, url.database)
    shown = bare.render_as_string(hide_password=False)
    return shown, f"OPSML_IMAGE_HOME={home}" if home is not None else f"OPSML_IMAGE_STORE_URI={shown}"


def marker_of(dataset: ImageDataset, store: str, store_url: str, setting: str) -> Marker:
    """This store's marker for the dataset's folder as it is now."""
    found = os.stat(dataset.image_dir)
    return Marker(store, store_url, setting, socket.gethostname(), os.path.realpath(dataset.image_dir),
                  found.st_dev, found.st_ino)  # fmt: skip


def read(folder: Path) -> Marker | str | None:
    """The folder's marker; None without one; a sentence saying why it cannot be read as one."""
    try:
        fd = os.open(folder / STORE_MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        return "is a link" if error.errno == errno.ELOOP else f"cannot be read ({error.strerror})"
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            return f"is {kind_of(mode)}, not a regular file"
        data = handle.read(1 << 16)
    try:
        body = orjson.loads(data)
        found = Marker(**{f.name: body[f.name] for f in dataclasses.fields(Marker)})
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "is not a store marker"
    texts = (found.store_id, found.store, found.setting, found.host, found.path)
    if not all(isinstance(t, str) for t in texts) or not found.store_id:
        return "is not a store marker"
    return found


def claim(dataset: ImageDataset, mine: Marker, take_over: bool = False) -> bool:
    """Make the dataset's folder this store's (``mine``): True when its marker names this store, False
    when the folder cannot be written (read-only: it opens, nothing is written into it).

    :class:`FolderClaimed` when another store holds it; with ``take_over`` its marker is replaced when
    that store is provably gone (an unreadable marker names no store and is replaced too).
    :class:`~opsml_image.dataset.FolderMoved` when the folder is not the one the dataset opened.
    """
    folder = dataset.image_dir
    with _turn(folder):
        for _ in range(3):
            dataset.check_in_place()
            found = read(folder)
            if isinstance(found, Marker) and found.store_id == mine.store_id:
                if (found.path, found.device, found.inode) != (mine.path, mine.device, mine.inode):
                    with contextlib.suppress(OSError):  # moved or restored: where it is now (best effort)
                        atomic_write_bytes(folder / STORE_MARKER, mine.to_bytes())
                return True
            if found is not None and not _copied(found, mine):
                if not take_over:
                    raise FolderClaimed(refusal(mine.path, found))
                _refuse_unless_gone(mine.path, found)
            try:
                if found is not None:
                    atomic_write_bytes(folder / STORE_MARKER, mine.to_bytes())
                    return True
                if create_bytes(folder / STORE_MARKER, mine.to_bytes()):
                    return True
            except OSError as error:
                if error.errno in READ_ONLY:
                    return False
                raise StoreError(f"cannot write {folder / STORE_MARKER}: {error.strerror or error}") from None
            # another process created it meanwhile (no flock on this filesystem): read it again
    raise StoreError(f"{folder / STORE_MARKER} keeps changing; open the folder again")


def refusal(path: str, found: Marker | str) -> str:
    """Why a store may not open the folder at ``path``, and what to do."""
    marker = os.path.join(path, STORE_MARKER)
    if isinstance(found, str):
        return (
            f"The dataset folder {path} cannot be opened: its store marker {STORE_MARKER} {found}. The "
            f"marker names the one working store that writes into the folder; if no other store holds "
            f"it, delete {marker} and open the folder again."
        )
    moved = "" if found.path == path else f", which opened it at {found.path}"
    return (
        f"The dataset folder {path} is held by another working store: {found.store} on {found.host}{moved}. "
        f"A folder has one store, so that no store writes its edits over another's: open the folder with "
        f"that store ({found.setting}). If that store is gone for good, delete {marker} and open the "
        "folder again (edits it had not yet written to metadata.jsonl are then given up)."
    )


def _copied(found: Marker | str, mine: Marker) -> bool:
    """True for a marker that came with a copy of the folder: another path and another directory."""
    if not isinstance(found, Marker):
        return False
    return found.path != mine.path and (found.device, found.inode) != (mine.device, mine.inode)


def _refuse_unless_gone(path: str, found: Marker | str) -> None:
    """A take-over replaces a marker only when its store is provably gone."""
    if isinstance(found, str):
        return
    url = sa.engine.make_url(found.store) if "://" in found.store else None
    file = url.database if url is not None and url.get_backend_name() == "sqlite" else None
    if found.host == socket.gethostname() and file and not os.path.exists(file):
        return
    raise FolderClaimed(
        f"{refusal(path, found)} It was not taken over: nothing shows that store is gone (only a SQLite "
        "file of this host that no longer exists does)."
    )


@contextlib.contextmanager
def _turn(folder: Path) -> Iterator[None]:
    """Hold ``flock`` on the folder while claiming it (where the filesystem does not have it: no lock)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"another process keeps claiming {folder}; try again") from None
                time.sleep(0.01)
            except OSError:  # no flock here
                break
        yield
    finally:
        os.close(fd)
