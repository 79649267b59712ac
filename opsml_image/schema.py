"""Record schemas of an image dataset's ``metadata.jsonl`` (OpsML ``ImageDataset`` names and signatures).

A record is one JSON line::

    {"file_name": "0001.png", "caption": "...", "categories": [0],
     "objects": {"bbox": [[x, y, w, h], ...], "categories": [0, ...]}}

Boxes follow the COCO convention: pixels, top-left corner, width and height. Keys the schema does not
name are kept as they are (Hugging Face ``imagefolder`` allows extra columns) and written back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsml_image import rules

__all__ = ["BBox", "ImageRecord", "ImageMetadata"]


class BBox(BaseModel):
    """The ``objects`` of a record: one box ``[x, y, w, h]`` and one category id per object."""

    model_config = ConfigDict(extra="allow")

    bbox: list[list[float]] = Field(description="Boxes as [x, y, width, height] in pixels, top-left origin.")
    categories: list[int] = Field(description="One category id per box.")

    @field_validator("bbox", mode="before")
    @classmethod
    def _check_boxes(cls, value: Any) -> Any:
        for problem in rules.box_list_problems(value):
            raise ValueError(problem.message)
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _check_categories(cls, value: Any) -> Any:
        for problem in rules.category_list_problems(value):
            raise ValueError(problem.message)
        return value

    @model_validator(mode="after")
    def _check_lengths(self) -> BBox:
        problem = rules.length_problem(self.bbox, self.categories)
        if problem:
            raise ValueError(problem.message)
        return self


class ImageRecord(BaseModel):
    """One line of ``metadata.jsonl``."""

    model_config = ConfigDict(extra="allow")

    file_name: str = Field(description="Image path relative to the metadata file's folder.")
    caption: str | None = None
    categories: list[int] | None = Field(default=None, description="Image-level category ids.")
    objects: BBox | None = None

    @field_validator("file_name")
    @classmethod
    def _check_file_name(cls, value: str) -> str:
        problem = rules.file_name_problem(value)
        if problem:
            raise ValueError(problem.message)
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _check_categories(cls, value: Any) -> Any:
        for problem in rules.category_list_problems(value, field="categories"):
            raise ValueError(problem.message)
        return value

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this record: null fields omitted, extra keys kept."""
        return self.model_dump(exclude_none=True)


class ImageMetadata(BaseModel):
    """All records of one ``metadata.jsonl``."""

    records: list[ImageRecord] = Field(default_factory=list)

    @classmethod
    def from_file(cls, path: str | Path) -> ImageMetadata:
        """Load and validate every record of a metadata file (raises on the first bad line)."""
        from opsml_image.jsonl import iter_objects

        records = [ImageRecord.model_validate(obj) for _, obj in iter_objects(path, strict=True)]
        return cls(records=records)

    def write_to_file(self, path: str | Path) -> Path:
        """Write the records as JSON lines, atomically; the parent folder is created if needed."""
        from opsml_image.jsonl import write_objects

        return write_objects(path, (record.to_dict() for record in self.records))

    def __iter__(self) -> Iterator[ImageRecord]:  # type: ignore[override]
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def from_records(cls, records: Iterable[ImageRecord | dict[str, Any]]) -> ImageMetadata:
        """Build metadata from records or plain dicts."""
        return cls(
            records=[r if isinstance(r, ImageRecord) else ImageRecord.model_validate(r) for r in records]
        )
