"""Count what a registration reads of a dataset folder: directory listings (every walk lists the root once)
and reads of its metadata files through the dataset's line reader."""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opsml_image import dataset as dataset_module
from opsml_image.registry import hashing


@dataclass
class FolderReads:
    """Listings by folder (relative to the dataset, ``.`` for the root), registry scans, metadata reads."""

    root: str
    listings: Counter[str] = field(default_factory=Counter)
    scans: int = 0
    metadata: list[str] = field(default_factory=list)

    @property
    def walks(self) -> int:
        """Listings of the root: each walk of the folder (and each look at its top level) lists it once."""
        return self.listings["."]

    def clear(self) -> None:
        self.listings.clear()
        self.metadata.clear()
        self.scans = 0

    def note(self, path: Any) -> None:
        real = os.path.realpath(os.fspath(path))
        if real == self.root or real.startswith(self.root + os.sep):
            self.listings[os.path.relpath(real, self.root)] += 1


def count_folder_reads(monkeypatch: pytest.MonkeyPatch, root: Path) -> FolderReads:
    """Count, from now on, every ``os.scandir``/``os.listdir`` of a folder inside ``root`` (``os.walk`` and
    ``Path.iterdir`` go through them), every registry scan (:func:`opsml_image.registry.hashing.scan`),
    and every metadata file read."""
    reads = FolderReads(os.path.realpath(root))
    real_scandir, real_listdir, real_read, real_scan = (
        os.scandir,
        os.listdir,
        dataset_module.read_lines,
        hashing.scan,
    )

    def scandir(path: Any = ".") -> Any:
        reads.note(path)
        return real_scandir(path)

    def listdir(path: Any = ".") -> list[Any]:
        reads.note(path)
        return real_listdir(path)

    def read_lines(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.metadata.append(Path(path).relative_to(root).as_posix())
        return real_read(path, *args, **kwargs)

    def scan(folder: Any) -> Any:
        reads.scans += 1
        return real_scan(folder)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(dataset_module, "read_lines", read_lines)
    for name, module in list(sys.modules.items()):  # every module holding the registry's scan
        if name.startswith("opsml_image") and getattr(module, "scan", None) is real_scan:
            monkeypatch.setattr(module, "scan", scan)
    return reads
