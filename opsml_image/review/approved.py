"""The approved-only copy of a dataset folder: its approved images (hard links, else copies) and their
records as the working store holds them, in the same layout, with ``categories.json`` — a consistent folder
to register, never the live one with work in progress.

An image counts as approved only while its store version is the one the reviewer approved; one edited since
(which reopens it) is left out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from opsml_image import config
from opsml_image.atomic import atomic_write_bytes
from opsml_image.confine import Confinement
from opsml_image.dataset import ImageDataset
from opsml_image.review.board import ReviewBoard
from opsml_image.review.items import ReviewError
from opsml_image.review.tables import Status
from opsml_image.store import WorkStore

__all__ = ["ApprovedFolder", "write_approved", "approved_copy", "review_tags"]


@dataclass
class ApprovedFolder:
    """The approved-only folder written, what it holds and the review facts a card records."""

    dataset: ImageDataset
    images: int
    counts: dict[Status, int]
    reviewers: list[str]
    left_out: list[str] = field(default_factory=list)  # approved, then changed: not in the folder

    @property
    def tags(self) -> dict[str, str]:
        return review_tags(self.counts, self.reviewers, self.images)


def review_tags(counts: dict[Status, int], reviewers: list[str], images: int) -> dict[str, str]:
    """Card tags: ``review.scope``, ``review.images``, ``review.<status>`` counts, ``review.reviewers``."""
    tags = {"review.scope": "approved-only", "review.images": str(images)}
    tags.update({f"review.{status.value}": str(n) for status, n in counts.items()})
    tags["review.reviewers"] = ",".join(reviewers) or "-"
    return tags


def write_approved(store: WorkStore, dest: Path, board: ReviewBoard | None = None) -> ApprovedFolder:
    """Write the approved-only copy of ``store``'s folder into ``dest`` (a new or empty folder)."""
    board = board or ReviewBoard(store)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ReviewError(f"{dest} is not empty")
    source = store.dataset
    confine = Confinement(source.image_dir)
    records: dict[str, list[bytes]] = {}
    left_out: list[str] = []
    for key in board.approved_keys():
        item = board.item(key)
        annotation = store.get(*key)
        path = source.image_path(*key)
        label = f"{key[0]}/{key[1]}"
        changed = item.status != Status.APPROVED or store.version(*key) != item.submitted_version
        if annotation is None or changed or confine.outside_problem(path, label) or not path.is_file():
            left_out.append(label)
            continue
        part = source.split(key[0])
        target = dest / part.prefix / key[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(path, target)
        records.setdefault(key[0], []).append(orjson.dumps(annotation.to_record()) + b"\n")
    if not records:
        raise ReviewError(f"{source.image_dir} has no approved images to register")
    for split, lines in records.items():
        part = source.split(split)
        atomic_write_bytes(dest / part.prefix / part.metadata_path.name, b"".join(lines))
    names = source.image_dir / "categories.json"
    if names.is_file():
        shutil.copyfile(names, dest / "categories.json")
    metadata = source.split(next(iter(records))).metadata_path.name
    folder = ImageDataset(image_dir=dest, metadata=metadata)
    images = sum(len(lines) for lines in records.values())
    return ApprovedFolder(folder, images, board.status_counts(), board.reviewers(), left_out)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source.resolve(), target)
    except OSError:
        shutil.copy2(source, target)


@contextlib.contextmanager
def approved_copy(store: WorkStore, board: ReviewBoard | None = None) -> Iterator[ApprovedFolder]:
    """The approved-only copy in a scratch folder under ``<home>/scratch`` (removed afterwards)."""
    scratch = config.home() / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="approved-", dir=scratch) as tmp:
        yield write_approved(store, Path(tmp) / "dataset", board)
