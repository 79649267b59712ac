"""A version's manifest: every file of the dataset folder by relative path, with its content hash and size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import orjson

from opsml_image.registry.errors import IntegrityError
from opsml_image.registry.hashing import HASH_NAME, hash_bytes, new_hasher

__all__ = ["ManifestEntry", "Manifest", "MANIFEST_FORMAT"]

MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """Files sorted by path; :attr:`content_digest` identifies the folder's content whatever the version."""

    entries: tuple[ManifestEntry, ...]

    @classmethod
    def of(cls, entries: Iterable[ManifestEntry]) -> Manifest:
        return cls(tuple(sorted(entries, key=lambda e: e.path)))

    @cached_property
    def content_digest(self) -> str:
        hasher = new_hasher()
        for e in self.entries:
            hasher.update(f"{e.path}\0{e.digest}\0{e.size}\n".encode())
        return hasher.hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    def by_path(self) -> dict[str, ManifestEntry]:
        return {e.path: e for e in self.entries}

    def to_bytes(self, team: str, name: str, version: str) -> bytes:
        body = {
            "format": MANIFEST_FORMAT,
            "hash": HASH_NAME,
            "team": team,
            "name": name,
            "version": version,
            "content_digest": self.content_digest,
            "files": {e.path: {"hash": e.digest, "size": e.size} for e in self.entries},
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes, expected_digest: str | None = None) -> Manifest:
        """Parse a stored manifest, checking its hash (as recorded in the card row) and its content digest."""
        if expected_digest is not None and hash_bytes(data) != expected_digest:
            raise IntegrityError(
                "the version's manifest.json does not match the hash recorded in the registry"
            )
        body = orjson.loads(data)
        if body.get("format") != MANIFEST_FORMAT or body.get("hash") != HASH_NAME:
            raise IntegrityError(
                f"unsupported manifest format {body.get('format')!r} / hash {body.get('hash')!r}"
            )
        manifest = cls.of(ManifestEntry(p, f["hash"], int(f["size"])) for p, f in body["files"].items())
        if manifest.content_digest != body.get("content_digest"):
            raise IntegrityError("the version's manifest.json is inconsistent (content digest mismatch)")
        return manifest
