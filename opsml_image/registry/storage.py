"""Artifact storage through fsspec: content-addressed blobs plus one folder per version.

Layout under the storage root (a local folder, ``s3://bucket/prefix``, ``gs://...``, any fsspec URI)::

    <team>/<name>/blobs/<hh>/<hash>        every file's bytes, once, named by its xxh3-128 hash
    <team>/<name>/v<version>/manifest.json the version: path -> hash and size of every file of the folder
    <team>/<name>/v<version>/card.json     the card's fields and dataset facts
    <team>/<name>/v<version>/files/...     readable copies of the non-image files (metadata.jsonl...)

A blob is only ever created whole (temp file + rename locally, a single PUT on object stores) and its
bytes are hashed as they are written, so a blob's name always matches its content. Blobs shared by
versions of the same card are stored once, which makes re-registering unchanged images free.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from opsml_image.atomic import atomic_write_bytes, fsync_dir, sync_filesystem
from opsml_image.registry.errors import DatasetChangedError, IntegrityError, StorageError
from opsml_image.registry.hashing import CHUNK, FileEntry, hash_bytes, new_hasher

__all__ = ["ArtifactStore", "BlobRef", "IN_MEMORY_LIMIT"]

#: Files up to this size are read into memory to hash and upload in one PUT (object stores).
IN_MEMORY_LIMIT = 64 << 20

Advance = Callable[[int], None]
#: Where a blob copy in progress lives: ``blobs/.tmp-<id>`` locally, ``blobs/tmp/<id>.part`` on object stores.
_LOCAL_PARTIAL = ".tmp-"
_REMOTE_PARTIAL = "tmp"


@dataclass(frozen=True, slots=True)
class BlobRef:
    digest: str
    size: int


class ArtifactStore:
    """Blobs and version folders under one fsspec root.

    On a local filesystem, :meth:`settle` puts the blobs written so far on disk (one ``syncfs``) and the
    registry calls it before a card row is committed, so a power cut cannot leave a committed card pointing
    at bytes still in the page cache. ``durable=True`` fsyncs every blob and its folder as it is written.
    """

    def __init__(
        self,
        uri: str | Path,
        storage_options: dict[str, Any] | None = None,
        *,
        fs: fsspec.AbstractFileSystem | None = None,
        durable: bool = False,
    ) -> None:
        self.uri = str(uri)
        try:
            if fs is None:
                fs, root = fsspec.core.url_to_fs(self.uri, **(storage_options or {}))
            else:
                root = fs._strip_protocol(self.uri)
        except (ImportError, ValueError) as error:
            raise StorageError(f"cannot open storage {self.uri}: {error}") from error
        self.fs: fsspec.AbstractFileSystem = fs
        self.root = str(root).rstrip("/")
        self.local = isinstance(fs, LocalFileSystem)
        self.durable = durable
        self._made: set[str] = set()
        if self.local:
            self.root = os.path.abspath(self.root)

    # ------------------------------------------------------------------------------------------ paths

    def card_dir(self, team: str, name: str) -> str:
        return f"{self.root}/{team}/{name}"

    def blob_dir(self, team: str, name: str) -> str:
        return f"{self.card_dir(team, name)}/blobs"

    def blob_path(self, team: str, name: str, digest: str) -> str:
        return f"{self.blob_dir(team, name)}/{digest[:2]}/{digest}"

    def version_dir(self, team: str, name: str, version: str) -> str:
        return f"{self.card_dir(team, name)}/v{version}"

    def full_uri(self, path: str) -> str:
        """A path of this store as a URI a user can open (``s3://...`` or a local path)."""
        return path if self.local else self.fs.unstrip_protocol(path)

    # ------------------------------------------------------------------------------------------ blobs

    def existing_blobs(self, team: str, name: str) -> dict[str, int | None]:
        """Hash -> size (None when not listed) of every complete blob of a card, in one listing."""
        base = self.blob_dir(team, name)
        try:
            if self.local:
                return _list_local_blobs(base)
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise StorageError(f"cannot list {self.full_uri(base)}: {error}") from error
        return {
            path.rsplit("/", 1)[-1]: int(info["size"])
            for path, info in found.items()
            if "." not in path.rsplit("/", 1)[-1]
        }

    def put_blob(
        self, team: str, name: str, entry: FileEntry, expected: str | None, advance: Advance
    ) -> BlobRef:
        """Store one local file as a blob and return its hash.

        The bytes are hashed as they are copied; when ``expected`` is given (a hash computed earlier) a
        different result means the file changed meanwhile and raises :class:`DatasetChangedError`.
        """
        try:
            if self.local:
                try:
                    ref = self._put_local(team, name, entry, advance)
                except FileNotFoundError:
                    if not os.path.exists(entry.absolute):
                        raise
                    self._made.clear()  # a blob folder was removed behind our back: make it again
                    ref = self._put_local(team, name, entry, advance)
            else:
                ref = self._put_remote(team, name, entry, advance)
        except FileNotFoundError as error:
            if not os.path.exists(entry.absolute):
                raise DatasetChangedError(f"{entry.path} vanished during registration") from error
            raise StorageError(f"storage write failed for {entry.path}: {error}") from error
        except (DatasetChangedError, StorageError):
            raise
        except Exception as error:  # fsspec backends raise many types; name the file and the cause
            raise StorageError(
                f"storage write failed for {entry.path}: {type(error).__name__}: {error}"
            ) from error
        if ref.size != entry.size or (expected is not None and ref.digest != expected):
            raise DatasetChangedError(f"{entry.path} changed during registration (its bytes no longer match)")
        return ref

    def settle(self) -> None:
        """Put every blob written so far on disk before a card may point at it (local storage only)."""
        if self.local and not self.durable and os.path.isdir(self.root):
            sync_filesystem(self.root)

    def _put_local(self, team: str, name: str, entry: FileEntry, advance: Advance) -> BlobRef:
        base = self.blob_dir(team, name)
        self._makedirs(base)
        tmp = f"{base}/{_LOCAL_PARTIAL}{uuid.uuid4().hex}"
        hasher, size = new_hasher(), 0
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        try:
            with open(entry.absolute, "rb", buffering=0) as src, open(tmp, "wb", buffering=0) as dst:
                while n := src.readinto(buffer):
                    hasher.update(view[:n])
                    _write_all(dst, view[:n])
                    size += n
                    advance(n)
                if self.durable:
                    os.fdatasync(dst.fileno())
            digest = hasher.hexdigest()
            final = self.blob_path(team, name, digest)
            folder = os.path.dirname(final)
            self._makedirs(folder)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if self.durable:
            fsync_dir(folder)
        return BlobRef(digest, size)

    def _makedirs(self, folder: str) -> None:
        """``os.makedirs`` once per folder: a blob copy is a handful of syscalls, this saves two."""
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)

    def _put_remote(self, team: str, name: str, entry: FileEntry, advance: Advance) -> BlobRef:
        if entry.size <= IN_MEMORY_LIMIT:
            with open(entry.absolute, "rb") as src:
                data = src.read()
            digest = hash_bytes(data)
            final = self.blob_path(team, name, digest)
            self.fs.pipe_file(final, data)
            advance(len(data))
            return BlobRef(digest, len(data))
        tmp = f"{self.blob_dir(team, name)}/{_REMOTE_PARTIAL}/{uuid.uuid4().hex}.part"
        try:
            with open(entry.absolute, "rb") as src, self.fs.open(tmp, "wb") as dst:
                ref = _copy_hashed(src, dst, advance)
            self.fs.mv(tmp, self.blob_path(team, name, ref.digest))
        finally:
            with contextlib.suppress(Exception):
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
        return ref

    def get_blob(self, team: str, name: str, digest: str, size: int, dest: Path, advance: Advance) -> None:
        """Copy a blob to ``dest`` (temp file + rename), checking size and hash (:class:`IntegrityError`)."""
        source = self.blob_path(team, name, digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            if size <= IN_MEMORY_LIMIT:  # one GET on object stores; no shared file handles
                data = self.fs.cat_file(source)
                with open(tmp, "wb") as out:
                    out.write(data)
                advance(len(data))
                got = BlobRef(hash_bytes(data), len(data))
            else:
                with self.fs.open(source, "rb") as src, open(tmp, "wb") as out:
                    got = _copy_hashed(src, out, advance)
            if got != BlobRef(digest, size):
                raise IntegrityError(
                    f"blob {digest} of {dest.name} does not match its hash: storage is corrupt"
                )
            os.replace(tmp, dest)
        except FileNotFoundError as error:
            raise StorageError(f"blob {digest} for {dest.name} is missing from storage") from error
        except OSError as error:
            raise StorageError(f"cannot read blob {digest} for {dest.name}: {error}") from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def read_blob(self, team: str, name: str, digest: str) -> bytes:
        """A blob's bytes, checked against its hash."""
        data = self.read(self.blob_path(team, name, digest))
        if hash_bytes(data) != digest:
            raise IntegrityError(f"blob {digest} does not match its hash: storage is corrupt")
        return data

    # ------------------------------------------------------------------------------------------ versions

    def write_version(self, team: str, name: str, version: str, files: dict[str, bytes]) -> str:
        """Write a version folder from scratch (any leftover of an aborted attempt is removed first)."""
        folder = self.version_dir(team, name, version)
        try:
            if self.fs.exists(folder):
                self.fs.rm(folder, recursive=True)
            for relative, data in files.items():
                path = f"{folder}/{relative}"
                if self.local:
                    atomic_write_bytes(path, data)
                else:
                    self.fs.pipe_file(path, data)
            for relative, data in files.items():
                if self.read(f"{folder}/{relative}") != data:
                    raise IntegrityError(f"{relative} of v{version} reads back different bytes")
        except StorageError:
            raise
        except Exception as error:
            raise StorageError(
                f"cannot write {self.full_uri(folder)}: {type(error).__name__}: {error}"
            ) from error
        return self.full_uri(folder)

    # ------------------------------------------------------------------------------------------ housekeeping

    def card_names(self) -> list[tuple[str, str]]:
        """``(team, name)`` of every card folder in storage (with or without a registered version)."""
        found: list[tuple[str, str]] = []
        for team in self._subfolders(self.root):
            found.extend((team, name) for name in self._subfolders(f"{self.root}/{team}"))
        return sorted(found)

    def version_folders(self, team: str, name: str) -> list[str]:
        """The versions with a folder in storage (``v<version>``), registered or left by an aborted commit:
        only folders holding nothing but what :meth:`write_version` writes."""
        found = []
        for folder in self._subfolders(self.card_dir(team, name)):
            if folder.startswith("v") and self._holds_only_version_files(
                f"{self.card_dir(team, name)}/{folder}"
            ):
                found.append(folder[1:])
        return sorted(found)

    def _holds_only_version_files(self, folder: str) -> bool:
        for path in self.fs.find(folder):
            relative = path[len(folder) + 1 :]
            base = relative.rsplit("/", 1)[-1]
            partial = base.startswith(".") and base.endswith(".tmp")  # an atomic write cut short
            if (
                relative not in ("manifest.json", "card.json")
                and not relative.startswith("files/")
                and not partial
            ):
                return False
        return True

    def temp_files(self, team: str, name: str) -> list[str]:
        """Partial blob files left by interrupted copies (``blobs/.tmp-*`` locally, ``blobs/tmp/*.part``)."""
        base = self.blob_dir(team, name)
        try:
            if self.local:
                with os.scandir(base) as entries:
                    return sorted(e.path for e in entries if e.name.startswith(_LOCAL_PARTIAL))
            return sorted(self.fs.find(f"{base}/{_REMOTE_PARTIAL}"))
        except FileNotFoundError:
            return []

    def remove(self, path: str, *, recursive: bool = False) -> None:
        """Delete a file (or a folder with ``recursive``) of this store."""
        try:
            self.fs.rm(path, recursive=recursive)
        except FileNotFoundError:
            return
        except Exception as error:
            raise StorageError(
                f"cannot delete {self.full_uri(path)}: {type(error).__name__}: {error}"
            ) from error

    def _subfolders(self, path: str) -> list[str]:
        try:
            listing = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        names = (str(item["name"]).rstrip("/").rsplit("/", 1)[-1] for item in listing if _is_dir(item))
        return sorted(names)

    def read(self, path: str) -> bytes:
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError as error:
            raise StorageError(f"{self.full_uri(path)} is missing from storage") from error
        except Exception as error:
            raise StorageError(
                f"cannot read {self.full_uri(path)}: {type(error).__name__}: {error}"
            ) from error


def _copy_hashed(src: Any, dst: Any, advance: Advance) -> BlobRef:
    """Copy an open file to another in 8 MiB pieces, hashing the bytes on the way."""
    hasher, size = new_hasher(), 0
    while chunk := src.read(8 * CHUNK):
        hasher.update(chunk)
        dst.write(chunk)
        size += len(chunk)
        advance(len(chunk))
    return BlobRef(hasher.hexdigest(), size)


def _write_all(handle: Any, data: memoryview) -> None:
    while data:
        written = handle.write(data)
        data = data[written:]


def _is_dir(info: dict[str, Any]) -> bool:
    return info.get("type") == "directory"


def _list_local_blobs(base: str) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    with os.scandir(base) as shards:
        for shard in shards:
            if shard.is_dir(follow_symlinks=False) and len(shard.name) == 2:
                with os.scandir(shard.path) as blobs:
                    for blob in blobs:
                        if "." not in blob.name:  # complete blobs only: they appear by atomic rename
                            found[blob.name] = None
    return found
