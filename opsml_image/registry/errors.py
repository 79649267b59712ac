"""The registry's errors: one base class, one subclass per thing that can go wrong."""

from __future__ import annotations

__all__ = [
    "RegistryError",
    "InvalidNameError",
    "InvalidVersionError",
    "VersionExistsError",
    "CardNotFoundError",
    "AmbiguousCardError",
    "RegistryConnectionError",
    "StorageError",
    "IntegrityError",
    "DatasetInvalidError",
    "DatasetChangedError",
    "CardBusyError",
]


class RegistryError(Exception):
    """Base class of every registry error; the message says what went wrong and what to do."""


class InvalidNameError(RegistryError, ValueError):
    """A card name, team or email does not follow the naming rules."""


class InvalidVersionError(RegistryError, ValueError):
    """A version is not semantic versioning 2.0 (``MAJOR.MINOR.PATCH[-pre][+build]``)."""


class VersionExistsError(RegistryError):
    """The explicit version asked for is already registered (or is not newer than the latest)."""


class CardNotFoundError(RegistryError, LookupError):
    """No card matches the name, team and version asked for."""


class AmbiguousCardError(RegistryError, LookupError):
    """A card name exists under several teams: name the team."""


class RegistryConnectionError(RegistryError):
    """The registry database cannot be reached or opened."""


class StorageError(RegistryError):
    """The artifact storage failed (write, read, listing) or holds data that does not match its hashes."""


class IntegrityError(StorageError):
    """Stored bytes do not match the hash recorded for them."""


class DatasetInvalidError(RegistryError):
    """The dataset fails validation; register with ``force=True`` to register it anyway."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class DatasetChangedError(RegistryError):
    """The dataset folder changed (or vanished) while it was being registered; nothing was registered."""


class CardBusyError(RegistryError):
    """A card's lock is held the other way: a registration of it runs, or a garbage collection does."""
