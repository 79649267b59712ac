"""An open dataset folder: the dataset, its working store and the flusher that writes edits back."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opsml_image import config
from opsml_image.dataset import ImageDataset, holds_dataset
from opsml_image.demo import copy_demo
from opsml_image.store import AutoFlusher, Filter, FolderClaimed, WorkStore
from opsml_image.usecases.errors import NotFound, Refused, UserError, converted, describe, edge

__all__ = [
    "BackgroundJob",
    "Indexing",
    "JobStopped",
    "UserError",
    "Workspace",
    "Summary",
    "check_in_place",
    "dataset_problem",
    "demo_folder",
    "describe",
    "folder_problem",
    "indexing",
    "indexing_status",
    "open_workspace",
    "splits",
    "startup_folder",
    "wait_first_rows",
    "summary",
]

log = logging.getLogger("opsml_image.workspace")

#: Metadata bytes above which :func:`open_workspace` runs a first index in the background (about 10,000
#: records, indexed in about a quarter of a second: smaller folders are ready before the page is drawn).
BACKGROUND_INDEX_BYTES = 1_000_000


@dataclass
class Workspace:
    """The open dataset and the shared objects that work on it (one per folder per server)."""

    path: Path
    dataset: ImageDataset
    store: WorkStore
    flusher: AutoFlusher
    #: The full validation started in the background when the folder opened (``usecases.checking``).
    validation: BackgroundJob | None = field(default=None, compare=False)
    #: The folder's first index when it runs in the background (:func:`open_workspace`), else None.
    indexing: BackgroundJob | None = field(default=None, compare=False)
    #: Guards starting :attr:`validation` once.
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def close(self) -> None:
        """Stop the background index and validation, write the edits, stop the flusher, close the store."""
        try:
            for job in (self.indexing, self.validation):
                if job is not None:
                    job.stop()
            self.flusher.stop()
        finally:
            self.store.close()

    def wait_indexed(self, job: BackgroundJob) -> None:
        """Called by background ``job`` work that needs the complete index: wait for the background index
        (:class:`JobStopped` when ``job`` is stopped meanwhile); UserError when the index failed."""
        while self.indexing is not None and self.indexing.running:
            job.pause(0.1)
        if self.indexing is not None and self.indexing.error:
            raise UserError(self.indexing.error)


class JobStopped(Exception):
    """Raised by :meth:`BackgroundJob.report` when the job was asked to stop (its work ends there)."""


#: ``work(job)``: the job's work; it calls ``job.report(done, total)`` as it goes.
Work = Callable[["BackgroundJob"], None]


class BackgroundJob:
    """Work on a workspace in a daemon thread, with its progress, its failure as readable text, and a stop.

    The work calls :meth:`report` with its progress; after :meth:`stop` that call raises :class:`JobStopped`,
    which ends the work quietly.
    """

    def __init__(self, name: str, work: Work) -> None:
        self.name = name
        self._work = work
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._done, self._total = 0, 0
        #: Why the work failed (readable text), else None.
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> BackgroundJob:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """True until the work has finished, failed or stopped."""
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def progress(self) -> tuple[int, int]:
        """``(done, total)`` as last reported (``(0, 0)`` before the first report)."""
        with self._lock:
            return self._done, self._total

    def fraction(self) -> float:
        """How far the work is, 0.0 to 1.0 (1.0 once it has ended)."""
        if not self.running:
            return 1.0
        done, total = self.progress()
        return min(1.0, done / total) if total else 0.0

    def report(self, done: int, total: int) -> None:
        """Called by the work: its progress; raises :class:`JobStopped` once :meth:`stop` was called."""
        if self._stop.is_set():
            raise JobStopped
        with self._lock:
            self._done, self._total = done, total

    def pause(self, seconds: float) -> None:
        """Called by the work: wait ``seconds``; :class:`JobStopped` at once when stopped meanwhile."""
        if self._stop.wait(seconds):
            raise JobStopped

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end; True when it has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the work to end at its next progress report, and wait for it."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._work(self)
        except JobStopped:
            return
        except Exception as error:  # noqa: BLE001 - a thread's failure is shown, never raised
            if self._stop.is_set():
                return  # its store was closed under it
            log.exception("%s failed", self.name)
            self.error = f"{self.name} failed: {describe(error)}"


@dataclass(frozen=True)
class Summary:
    """What the sidebar shows: images, annotated images, classes and images per split."""

    images: int
    annotated: int
    classes: int
    splits: dict[str, int]
    #: True while the folder's first index runs: the counts are of the images indexed so far.
    partial: bool = False


@dataclass(frozen=True)
class Indexing:
    """A first index under way, or failed: the line for the page, how far it is (0.0 to 1.0) and the
    images indexed so far."""

    text: str
    fraction: float
    indexed: int = 0
    failed: bool = False


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a dataset folder (None when it can)."""
    if not path.exists():
        return f"The data folder {path} does not exist."
    if not path.is_dir():
        return f"{path} is a file, not a dataset folder."
    if not os.access(path, os.R_OK | os.X_OK):
        return f"The data folder {path} cannot be read (permission denied)."
    return None


def dataset_problem(path: Path, roots: Sequence[Path] = ()) -> str | None:
    """Why ``path`` cannot be opened as a dataset folder: :func:`folder_problem`, or no metadata file in
    it nor in its split folders (worded for a data root in ``roots``: the datasets are inside it)."""
    problem = folder_problem(path)
    if problem or holds_dataset(path):
        return problem
    if Path(path) in roots:
        return (
            f"{path} is a data root, not a dataset: open one of the dataset folders inside it (a folder with "
            "a metadata.jsonl), or create one on the New dataset page."
        )
    return (
        f"{path} is not a dataset folder: it has no metadata.jsonl, nor do its train/validation/test folders."
    )


def demo_folder() -> Path:
    """``<home>/demo``: a working copy of the shipped demo dataset (made on first use, never overwritten)."""
    with edge("The demo dataset cannot be copied: "):
        return copy_demo(config.home() / "demo")


def startup_folder(given: str | None = None) -> Path:
    """The folder the app opens at start: ``given`` (``--data-dir``), else ``OPSML_IMAGE_DIR``, else the
    demo's working copy."""
    if given:
        return Path(given).expanduser().resolve()
    env = config.dataset_dir()
    return env if env is not None else demo_folder()


def open_workspace(path: Path, flush_delay: float = 2.0, background: bool | None = None) -> Workspace:
    """Open the dataset in ``path`` with its store (indexed) and an autoflusher; UserError if it can't.

    A first index runs in a :class:`BackgroundJob` (:attr:`Workspace.indexing`) when ``background`` is True,
    or (``None``) when the metadata files hold more than :data:`BACKGROUND_INDEX_BYTES`: this returns at
    once and readers see the images indexed so far (:func:`indexing_status`). Otherwise, and for a
    re-index of a changed folder, it indexes before returning.
    """
    path = Path(path).expanduser().resolve()
    problem = folder_problem(path)
    if problem:
        raise (UserError if path.exists() else NotFound)(problem)
    try:
        dataset = ImageDataset(image_dir=path)
        store = WorkStore.open(dataset)
    except FolderClaimed as error:  # another store holds the folder: in its own words
        raise Refused(str(error)) from None
    except Exception as error:
        found = converted(error, f"The dataset in {path} cannot be opened: ")
        if found is None:
            raise
        raise found from error
    try:
        due = store.first_index_due()
        if background is None:
            background = _metadata_bytes(dataset) > BACKGROUND_INDEX_BYTES
        background = background and due
        if not background:
            store.sync()
    except BaseException:
        store.close()
        raise
    ws = Workspace(path, dataset, store, AutoFlusher(store, delay=flush_delay))
    if background:
        ws.indexing = BackgroundJob(f"Indexing {path.name}", lambda job: _index(store, job)).start()
    return ws


def indexing(ws: Workspace) -> Indexing | None:
    """While the folder's first index runs (here or in another server): a line for the page ("Indexing the
    dataset: n of N images"), how far it is and the images indexed so far; its failure; None when done."""
    job = ws.indexing
    if job is not None and job.error:
        return Indexing(f"{job.error}.", 1.0, failed=True)
    state = ws.store.indexing()
    if state is None:
        return None
    done, total = state
    if not total:
        return Indexing("Indexing the dataset: reading the metadata files and image folders...", 0.0)
    return Indexing(f"Indexing the dataset: {done:,} of {total:,} images", done / total, done)


def indexing_status(ws: Workspace) -> tuple[str, float] | None:
    """:func:`indexing` as ``(line, fraction)``, None when done."""
    found = indexing(ws)
    return None if found is None else (found.text, found.fraction)


def wait_first_rows(ws: Workspace, timeout: float) -> None:
    """Wait (at most ``timeout`` seconds) until a first index running here has committed its first rows,
    so the page being drawn shows its first images instead of an empty gallery and a rerun."""
    job = ws.indexing
    deadline = time.monotonic() + timeout
    while job is not None and job.running and time.monotonic() < deadline:
        state = ws.store.indexing()
        if state is None or state[0] > 0:
            return
        time.sleep(0.05)


def _index(store: WorkStore, job: BackgroundJob) -> None:
    store.sync(progress=job.report)


def _metadata_bytes(dataset: ImageDataset) -> int:
    """The size of the dataset's metadata files (what a first index reads)."""
    sizes = (split.metadata_path.stat().st_size for split in dataset.splits.values()
             if split.metadata_path.is_file())  # fmt: skip
    return sum(sizes)


def check_in_place(ws: Workspace) -> None:
    """A :class:`UserError` unless the workspace's folder is still the one it opened (not moved, removed
    or swapped for a link since)."""
    with edge():
        ws.dataset.check_in_place()


def splits(ws: Workspace) -> list[str]:
    """The dataset's splits (``train``, ``validation``, ...), in the folder's order."""
    return list(ws.dataset.splits)


def summary(ws: Workspace) -> Summary:
    """The counts the sidebar and the pages show, from the store's kept totals (O(splits))."""
    annotated, total = ws.store.progress()
    splits = {name: ws.store.count(Filter(split=name)) for name in ws.dataset.splits}
    names = len(ws.store.category_names())
    unnamed = sum(1 for c in ws.store.category_counts() if c >= names)  # seed-format ids without a name
    return Summary(total, annotated, names + unnamed, splits, ws.store.indexing() is not None)
