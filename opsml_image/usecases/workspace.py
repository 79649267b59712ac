"""An open dataset folder: the dataset, its working store and the flusher that writes edits back."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from opsml_image.dataset import ImageDataset
from opsml_image.store import AutoFlusher, Filter, WorkStore

__all__ = ["UserError", "Workspace", "Summary", "describe", "folder_problem", "open_workspace", "summary"]


class UserError(Exception):
    """An error whose message is meant for the person using the app (shown as it is, as text)."""


@dataclass
class Workspace:
    """The open dataset and the shared objects that work on it (one per folder per server)."""

    path: Path
    dataset: ImageDataset
    store: WorkStore
    flusher: AutoFlusher

    def close(self) -> None:
        """Write pending edits, stop the flusher, close the store."""
        try:
            self.flusher.stop()
        finally:
            self.store.close()


@dataclass(frozen=True)
class Summary:
    """What the sidebar shows: images, annotated images, classes and images per split."""

    images: int
    annotated: int
    classes: int
    splits: dict[str, int]


def describe(error: BaseException) -> str:
    """A one-line readable description of an exception."""
    if isinstance(error, FileNotFoundError):
        return f"file not found: {error.filename or error}"
    if isinstance(error, PermissionError):
        return f"permission denied: {error.filename or error}"
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return text.splitlines()[0] if len(text) > 400 else text


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a dataset folder (None when it can)."""
    if not path.exists():
        return f"The data folder {path} does not exist."
    if not path.is_dir():
        return f"{path} is a file, not a dataset folder."
    if not os.access(path, os.R_OK | os.X_OK):
        return f"The data folder {path} cannot be read (permission denied)."
    return None


def open_workspace(path: Path, flush_delay: float = 2.0) -> Workspace:
    """Open the dataset in ``path`` with its store (indexed now) and an autoflusher; UserError if it can't."""
    path = Path(path).expanduser().resolve()
    problem = folder_problem(path)
    if problem:
        raise UserError(problem)
    try:
        dataset = ImageDataset(image_dir=path)
        store = WorkStore.open(dataset)
    except (ValueError, OSError) as error:
        raise UserError(f"The dataset in {path} cannot be opened: {describe(error)}") from error
    try:
        store.sync()
    except BaseException:
        store.close()
        raise
    return Workspace(path, dataset, store, AutoFlusher(store, delay=flush_delay))


def summary(ws: Workspace) -> Summary:
    """The counts the sidebar and the pages show, from the store's kept totals (O(splits))."""
    annotated, total = ws.store.progress()
    splits = {name: ws.store.count(Filter(split=name)) for name in ws.dataset.splits}
    names = len(ws.store.category_names())
    unnamed = sum(1 for c in ws.store.category_counts() if c >= names)  # seed-format ids without a name
    return Summary(total, annotated, names + unnamed, splits)
