"""A validation verdict: what one read of a dataset folder found, and which files it judged.

:func:`judge` validates a dataset and counts its records in the same read of the metadata. The verdict keeps
the folder's files as they were listed before that read (relative path and stat), so a registration can
compare them with its own scan of the folder and reuse the verdict while nothing changed, instead of
validating again (``CardRegistry.register_card(card, verdict=...)``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from opsml_image.dataset import DatasetStats, ImageDataset, Split, StatsCounter
from opsml_image.rules import Problem
from opsml_image.validation import Progress, ValidationReport, validate_dataset

__all__ = ["FileStat", "Verdict", "judge", "file_stat", "unchanged"]

#: What says a file is unchanged: size, mtime, ctime (ns), inode, device (as the registry's scan records it).
FileStat = tuple[int, int, int, int, int]


@dataclass(frozen=True)
class Verdict:
    """A validation of one folder: the report, the statistics, and what was judged.

    ``metadata`` names the metadata files read (relative to the folder). ``files`` maps each file's relative
    POSIX path to its :data:`FileStat` as listed before the read; it is None when none was given or a file
    changed while the folder was read (the verdict then stands for no state of the folder).
    """

    report: ValidationReport = field(repr=False)
    stats: DatasetStats
    metadata: tuple[str, ...]
    files: Mapping[str, FileStat] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when validation finds no error (warnings allowed)."""
        return self.report.ok

    def stands_for(self, dataset: ImageDataset, files: Mapping[str, FileStat]) -> bool:
        """True when this verdict read ``dataset``'s metadata files and judged exactly ``files`` (a listing
        of its folder now), so it is what validating ``dataset`` again would find."""
        return self.files is not None and self.metadata == _metadata(dataset) and self.files == files


def judge(
    dataset: ImageDataset,
    files: Mapping[str, FileStat] | None = None,
    *,
    max_issues: int = 10_000,
    progress: Progress | None = None,
) -> Verdict:
    """Validate ``dataset`` (images included) and count its records in one read of the metadata.

    ``files`` is the folder's listing taken just before (``opsml_image.registry.hashing.listing``); each
    file is stat'ed again after the read (no folder walk) and the verdict keeps the listing only if none
    changed.
    """
    counted = _Counted(dataset)
    report = validate_dataset(counted, max_issues=max_issues, progress=progress)
    same = files is not None and unchanged(dataset.image_dir, files)
    kept = MappingProxyType(dict(files)) if files is not None and same else None
    return Verdict(report, counted.counter.result(), _metadata(dataset), kept)


def file_stat(info: os.stat_result) -> FileStat:
    """The :data:`FileStat` of a stat result."""
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def unchanged(root: Path, files: Mapping[str, FileStat]) -> bool:
    """True when every listed file below ``root`` still has its stat (one ``stat`` a file, links followed)."""
    for relative, stat in files.items():
        try:
            if file_stat(os.stat(root / relative)) != stat:
                return False
        except OSError:
            return False
    return True


def _metadata(dataset: ImageDataset) -> tuple[str, ...]:
    return tuple(split.metadata_label for split in dataset.splits.values())


class _Counted:
    """The dataset as validation reads it, each line counted on its way (:class:`StatsCounter`)."""

    def __init__(self, dataset: ImageDataset) -> None:
        self.dataset = dataset
        self.counter = StatsCounter(dataset.splits)
        self.splits = {name: _CountedSplit(split, self.counter) for name, split in dataset.splits.items()}

    @property
    def image_dir(self) -> Path:
        return self.dataset.image_dir

    def category_names_or_problem(self) -> list[str] | Problem:
        return self.dataset.category_names_or_problem()


@dataclass(frozen=True)
class _CountedSplit:
    split: Split
    counter: StatsCounter

    @property
    def name(self) -> str:
        return self.split.name

    @property
    def directory(self) -> Path:
        return self.split.directory

    @property
    def prefix(self) -> str:
        return self.split.prefix

    @property
    def metadata_label(self) -> str:
        return self.split.metadata_label

    def size(self) -> int:
        return self.split.size()

    def read_lines(self, on_progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any]]:
        add, name = self.counter.add, self.split.name
        for number, value in self.split.read_lines(on_progress):
            add(name, value)
            yield number, value
