"""The working store's errors: a refused stale edit, and a store that cannot be opened or used."""

from __future__ import annotations

from opsml_image.dataset import FolderMoved

Key = tuple[str, str]
"""An image's key: ``(split, file_name)``."""


class StoreError(RuntimeError):
    """The working store cannot be opened or used (bad URI, unreachable server, newer schema, busy flush)."""


class StillIndexing(StoreError):
    """An edit arrived while the folder's first index is under way (it is refused; try again after it)."""

    def __init__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        so_far = f" ({done:,} of {total:,} images so far)" if total else ""
        super().__init__(f"the dataset is still being indexed{so_far}; save again when it is done")


class FolderReplaced(StoreError, FolderMoved):
    """The dataset folder was moved or replaced since the store opened it: nothing is written into it (the
    store keeps its edits) until the folder is back or reopened."""


class FolderClaimed(StoreError):
    """Another working store holds the dataset folder (its marker names that store): this one may not
    write into it."""


class StaleEdit(RuntimeError):
    """The image changed since the editor read it (another reviewer saved first)."""

    def __init__(self, key: Key, expected: int, actual: int) -> None:
        self.key, self.expected, self.actual = key, expected, actual
        super().__init__(
            f"{key[0]}/{key[1]} was changed by someone else (version "
            f"{actual}, you edited version {expected}); "
            "reload it and apply your edit again"
        )
