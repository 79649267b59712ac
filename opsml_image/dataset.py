"""The dataset folder: images plus ``metadata.jsonl``, flat or split into ``train/ validation/ test/``.

Two layouts are recognised, as Hugging Face ``imagefolder`` loads them:

* flat: ``DIR/metadata.jsonl`` with ``file_name`` relative to ``DIR`` (one split, ``train``);
* split: ``DIR/<split>/metadata.jsonl`` per split folder, ``file_name`` relative to that folder. Folder
  names map to split names as in Hugging Face (``val``/``valid``/``dev`` → ``validation`` and so on).

Category names live in ``DIR/categories.json`` (see :mod:`opsml_image.categories`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from opsml_image.annotation import ImageAnnotation, merge
from opsml_image.atomic import remove_stale_temps
from opsml_image.categories import read_names, write_names
from opsml_image.confine import Confinement
from opsml_image.jsonl import read_lines
from opsml_image.rules import Problem
from opsml_image.schema import ImageMetadata
from opsml_image.validation import Progress, ValidationReport, iter_image_files, validate_dataset

__all__ = [
    "ImageDataset",
    "Split",
    "RecordLine",
    "DatasetStats",
    "StatsCounter",
    "FolderMoved",
    "SPLIT_ALIASES",
    "SPLIT_ORDER",
    "holds_dataset",
]

#: Folder name → split name, as Hugging Face infers splits from folder names.
SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
    "eval": "test",
    "evaluation": "test",
}
#: The order of splits everywhere (lists, keys, pages): train first.
SPLIT_ORDER: dict[str, int] = {"train": 0, "validation": 1, "test": 2}


class FolderMoved(OSError):
    """The dataset folder is no longer the directory it was when the dataset was opened (moved away, or
    replaced by a link or another folder): nothing is read from it or written into it until it is reopened."""


def _moved(image_dir: Path, real: str) -> str:
    shown = str(image_dir) if str(image_dir) == real else f"{image_dir} ({real})"
    return (
        f"The dataset folder {shown} was moved, removed or replaced since it was opened: nothing is read "
        "from it or written into it (edits not yet written stay in the working store). Put the folder "
        "back, or reopen the dataset."
    )


@dataclass(frozen=True)
class Split:
    """One split: its folder, its metadata file, and (for in-memory metadata) its records."""

    name: str
    directory: Path
    metadata_path: Path
    prefix: str = ""
    records: ImageMetadata | None = None

    @property
    def metadata_label(self) -> str:
        """The metadata file's path relative to the dataset root, for messages."""
        return f"{self.prefix}{self.metadata_path.name}"

    def read_lines(self, on_progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any]]:
        """``(line, parsed value or Problem)`` for each record (empty when the file does not exist yet)."""
        if self.records is not None:
            return enumerate((record.to_dict() for record in self.records), 1)
        if not self.metadata_path.exists():
            return iter(())
        return read_lines(self.metadata_path, on_progress=on_progress)

    def size(self) -> int:
        """Bytes of the metadata file (0 for in-memory metadata or a missing file)."""
        if self.records is not None or not self.metadata_path.exists():
            return 0
        return self.metadata_path.stat().st_size


@dataclass(frozen=True, slots=True)
class RecordLine:
    """A well-formed record and where it stands."""

    split: str
    line: int
    record: dict[str, Any]


@dataclass
class DatasetStats:
    """Counts that describe a dataset."""

    records: int = 0
    images: int = 0
    annotated_images: int = 0
    boxes: int = 0
    category_counts: dict[int, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)


class StatsCounter:
    """Counts :class:`DatasetStats` line by line as they are read (so one read can serve validation too)."""

    def __init__(self, splits: Iterable[str]) -> None:
        self.records = self.boxes = 0
        self.files: dict[str, set[str]] = {name: set() for name in splits}
        self.annotated: set[tuple[str, str]] = set()
        self.categories: Counter[int] = Counter()

    def add(self, split: str, value: Any) -> None:
        """Count one parsed line (a Problem or a value that is no record counts for nothing)."""
        if type(value) is not dict or type(value.get("file_name")) is not str:
            return
        self.records += 1
        self.files.setdefault(split, set()).add(value["file_name"])
        objects = value.get("objects")
        boxes = objects.get("categories") if isinstance(objects, dict) else None
        if isinstance(boxes, list) and boxes:
            ids = [c for c in boxes if type(c) is int]
            self.boxes += len(ids)
            self.categories.update(ids)
            self.annotated.add((split, value["file_name"]))

    def result(self) -> DatasetStats:
        splits = {name: len(files) for name, files in self.files.items()}
        return DatasetStats(
            records=self.records,
            images=sum(splits.values()),
            annotated_images=len(self.annotated),
            boxes=self.boxes,
            category_counts=dict(sorted(self.categories.items())),
            splits=splits,
        )


class ImageDataset(BaseModel):
    """An image folder and its ``metadata.jsonl`` (OpsML's ``ImageDataset``).

    ``metadata`` is the metadata file's name inside ``image_dir`` (default ``metadata.jsonl``) or an
    :class:`ImageMetadata` held in memory (then :meth:`write_metadata` writes it to the folder).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    image_dir: Path
    metadata: str | ImageMetadata = "metadata.jsonl"
    _splits: dict[str, Split] = PrivateAttr(default_factory=dict)
    #: The folder's ``(st_dev, st_ino)`` and real path when the dataset was opened (:meth:`check_in_place`).
    _pin: tuple[int, int] | None = PrivateAttr(default=None)
    _real: str = PrivateAttr(default="")

    @field_validator("image_dir")
    @classmethod
    def _check_dir(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"image_dir {value} is not a folder")
        return value

    @model_validator(mode="after")
    def _find_splits(self) -> ImageDataset:
        found = os.stat(self.image_dir)
        self._pin, self._real = (found.st_dev, found.st_ino), os.path.realpath(self.image_dir)
        if isinstance(self.metadata, ImageMetadata):
            path = self.image_dir / "metadata.jsonl"
            self._splits = {"train": Split("train", self.image_dir, path, "", self.metadata)}
            return self
        name = Path(self.metadata).name
        given = Path(self.metadata)
        if given.parent != Path(".") and given.resolve().parent != self.image_dir.resolve():
            raise ValueError(f"metadata {self.metadata} must be a file name inside {self.image_dir}")
        self._splits = _discover(self.image_dir, name)
        if not self._splits:
            raise ValueError(f"no {name} in {self.image_dir} nor in its train/validation/test folders")
        confine = Confinement(self.image_dir)
        for part in self._splits.values():  # records read from outside the folder would leak that file
            problem = confine.outside_problem(part.metadata_path, part.metadata_label, None)
            if problem:
                raise ValueError(problem.message)
        for directory in {self.image_dir, *(part.directory for part in self._splits.values())}:
            remove_stale_temps(directory)  # what writes killed mid-way left (opsml_image.atomic)
        return self

    @classmethod
    def create(cls, image_dir: str | Path, metadata: str = "metadata.jsonl") -> ImageDataset:
        """Make an empty dataset folder (an empty metadata file) unless one exists, and open it."""
        root = Path(image_dir)
        root.mkdir(parents=True, exist_ok=True)
        if not _discover(root, metadata):
            (root / metadata).touch()
        return cls(image_dir=root, metadata=metadata)

    @property
    def splits(self) -> dict[str, Split]:
        """The splits, ``train`` first."""
        return self._splits

    def split(self, name: str | None = None) -> Split:
        """One split by name (the only split when ``name`` is None)."""
        if name is None:
            if len(self._splits) != 1:
                raise ValueError(f"choose a split: {', '.join(self._splits)}")
            return next(iter(self._splits.values()))
        try:
            return self._splits[name]
        except KeyError:
            raise KeyError(f"no split {name!r}; the dataset has {', '.join(self._splits)}") from None

    def category_names_or_problem(self) -> list[str] | Problem:
        return read_names(self.image_dir)

    def category_names(self) -> list[str]:
        """Names by category id from ``categories.json`` (empty list when there is none)."""
        names = read_names(self.image_dir)
        if isinstance(names, Problem):
            raise ValueError(f"{self.image_dir / 'categories.json'}: {names.message}")
        return names

    def set_category_names(self, names: list[str]) -> None:
        """Replace ``categories.json`` atomically (:class:`FolderMoved` when the folder was replaced)."""
        self.check_in_place()
        write_names(self.image_dir, names)

    def check_in_place(self) -> None:
        """:class:`FolderMoved` unless ``image_dir`` still names the directory it named when the dataset
        was opened (the same device and inode: a folder moved away, or swapped for a link to another one,
        is not followed). One ``stat``."""
        try:
            found = os.stat(self.image_dir)
            now: tuple[int, int] | None = (found.st_dev, found.st_ino)
        except OSError:
            now = None
        if now != self._pin:
            raise FolderMoved(_moved(self.image_dir, self._real))

    def iter_records(self, split: str | None = None) -> Iterator[RecordLine]:
        """Every well-formed record (a JSON object with a string ``file_name``), streamed in file order."""
        for part in self._selected(split):
            for line, value in part.read_lines():
                if type(value) is dict and type(value.get("file_name")) is str:
                    yield RecordLine(part.name, line, value)

    def annotations(self, split: str | None = None) -> dict[tuple[str, str], ImageAnnotation]:
        """The merged per-image view, keyed by ``(split, file_name)`` in order of first appearance."""
        groups: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
        for item in self.iter_records(split):
            groups.setdefault((item.split, item.record["file_name"]), []).append((item.line, item.record))
        return {key: merge(records, split=key[0]) for key, records in groups.items()}

    def image_files(self, split: str | None = None) -> Iterator[tuple[str, str]]:
        """``(split, file_name)`` of every image file on disk."""
        for part in self._selected(split):
            for relative in iter_image_files(part.directory):
                yield part.name, relative

    def image_path(self, split: str, file_name: str) -> Path:
        """The path of an image named by a record (:class:`FolderMoved` when the folder was replaced)."""
        self.check_in_place()
        return self.split(split).directory / file_name

    def validate(  # type: ignore[override]  # pydantic's deprecated classmethod of the same name
        self,
        *,
        check_images: bool = True,
        strict: bool = False,
        max_issues: int = 10_000,
        progress: Progress | None = None,
    ) -> ValidationReport:
        """Check every record and image; ``strict`` raises ``ValidationError`` on the first error."""
        return validate_dataset(
            self, check_images=check_images, strict=strict, max_issues=max_issues, progress=progress
        )

    def stats(self) -> DatasetStats:
        """Record, image, box and category counts (streamed; images counted once however many records)."""
        counter = StatsCounter(self._splits)
        for part in self._splits.values():
            for _, value in part.read_lines():
                counter.add(part.name, value)
        return counter.result()

    def write_metadata(self) -> Path:
        """Write in-memory metadata to ``image_dir/metadata.jsonl`` atomically (a no-op for file metadata)."""
        part = self.split()
        if part.records is not None:
            self.check_in_place()
            part.records.write_to_file(part.metadata_path)
        return part.metadata_path

    def metadata_files(self) -> list[Path]:
        return [part.metadata_path for part in self._splits.values()]

    def _selected(self, split: str | None) -> list[Split]:
        return list(self._splits.values()) if split is None else [self.split(split)]


def holds_dataset(root: Path, metadata: str = "metadata.jsonl") -> bool:
    """True when ``root`` has a metadata file, itself or in its split folders (it opens as a dataset)."""
    try:
        return bool(_discover(Path(root), metadata))
    except OSError:
        return False


def _discover(root: Path, name: str) -> dict[str, Split]:
    if (root / name).is_file():
        return {"train": Split("train", root, root / name)}
    found: dict[str, Split] = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        split = SPLIT_ALIASES.get(child.name.lower())
        if split and split not in found and (child / name).is_file():
            found[split] = Split(split, child, child / name, f"{child.name}/")
    return dict(sorted(found.items(), key=lambda item: SPLIT_ORDER[item[0]]))
