"""Garbage collection: delete what no registered version needs.

What a failed or interrupted registration leaves in storage: blobs no manifest names (copied before the
failure), partial blob files, and version folders without a card row (a commit that did not complete).
A card is collected under its exclusive lock (:mod:`opsml_image.registry.locks`), so a running
registration, which may be about to reuse a blob, is never collected under; that card is skipped as busy.
A card whose manifests cannot all be read is left alone: nothing is deleted on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine

from opsml_image.registry import versions
from opsml_image.registry.card import normalise_name
from opsml_image.registry.errors import CardBusyError, InvalidNameError, InvalidVersionError, RegistryError
from opsml_image.registry.locks import card_lock
from opsml_image.registry.manifest import Manifest
from opsml_image.registry.storage import ArtifactStore

__all__ = ["CardGarbage", "GarbageReport", "collect_garbage", "Collectable"]


class Collectable(Protocol):
    """What collection uses of a registry (:class:`~opsml_image.registry.CardRegistry` is one)."""

    @property
    def engine(self) -> Engine: ...
    @property
    def store(self) -> ArtifactStore: ...
    def manifests(self, name: str, team: str) -> dict[str, Manifest]: ...


@dataclass
class CardGarbage:
    """What collection found (and, unless a dry run, deleted) for one card."""

    team: str
    name: str
    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    temp_files: list[str] = field(default_factory=list)
    version_folders: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the card was left alone

    @property
    def empty(self) -> bool:
        return not (self.blobs or self.temp_files or self.version_folders)


@dataclass
class GarbageReport:
    cards: list[CardGarbage]
    dry_run: bool

    @property
    def blobs(self) -> int:
        return sum(len(c.blobs) for c in self.cards)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.cards)

    @property
    def skipped(self) -> list[CardGarbage]:
        return [c for c in self.cards if c.skipped]

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        temps = sum(len(c.temp_files) for c in self.cards)
        folders = sum(len(c.version_folders) for c in self.cards)
        text = (
            f"{verb} {self.bytes:,} bytes: {self.blobs:,} unreferenced blob(s), {temps:,} partial file(s), "
            f"{folders:,} version folder(s) without a card"
        )
        return text + (f"; {len(self.skipped)} card(s) skipped" if self.skipped else "")


def collect_garbage(
    registry: Collectable,
    team: str | None = None,
    name: str | None = None,
    *,
    dry_run: bool = False,
    wait: float = 0.0,
) -> GarbageReport:
    """Collect every card in storage (or those of ``team`` / ``name``); see the module docstring."""
    found = []
    for card_team, card_name in registry.store.card_names():
        if not _is_card(card_team, card_name):
            continue  # not a folder this registry made
        if (team is None or card_team == team) and (name is None or card_name == name):
            found.append(_collect_card(registry, card_team, card_name, dry_run, wait))
    return GarbageReport(found, dry_run)


def _is_card(team: str, name: str) -> bool:
    try:
        return normalise_name(team, "team") == team and normalise_name(name) == name
    except InvalidNameError:
        return False


def _is_version(text: str) -> bool:
    try:
        versions.parse(text)
    except InvalidVersionError:
        return False
    return True


def _collect_card(registry: Collectable, team: str, name: str, dry_run: bool, wait: float) -> CardGarbage:
    result = CardGarbage(team, name)
    store = registry.store
    try:
        with card_lock(registry.engine, team, name, exclusive=True, wait=wait):
            manifests = registry.manifests(name, team)
            referenced = {e.digest for manifest in manifests.values() for e in manifest.entries}
            registered = set(manifests)
            result.blobs = sorted(d for d in store.existing_blobs(team, name) if d not in referenced)
            result.bytes = sum(store.fs.size(store.blob_path(team, name, d)) for d in result.blobs)
            result.temp_files = store.temp_files(team, name)
            result.version_folders = [
                v for v in store.version_folders(team, name) if v not in registered and _is_version(v)
            ]
            if not dry_run:
                for digest in result.blobs:
                    store.remove(store.blob_path(team, name, digest))
                for path in result.temp_files:
                    store.remove(path)
                for version in result.version_folders:
                    store.remove(store.version_dir(team, name, version), recursive=True)
    except CardBusyError as error:
        return CardGarbage(team, name, skipped=str(error))
    except RegistryError as error:  # an unreadable manifest: never delete on a guess
        return CardGarbage(team, name, skipped=f"not collected: {error}")
    return result
