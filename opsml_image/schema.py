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
from opsml_image.jsonl import MetadataError, iter_objects, write_objects

__all__ = ["BBox", "ImageRecord", "ImageMetadata"]


class BBox(BaseModel):
    """The ``objects`` of a record: one box ``[x, y, w, h]`` and one category id per object."""

    model_config = ConfigDict(extra="allow")

    bbox: list[list[float]] = Field(description="Boxes as [x, y, width, height] in pixels, top-left origin.")
    categories: list[int] = Field(description="One category id per box.")

    @field_validator("bbox", mode="before")
    @classmethod
    def _check_boxes(cls, value: Any) -> Any:
        _refuse(rules.box_list_problems(value))
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _check_categories(cls, value: Any) -> Any:
        _refuse(rules.category_list_problems(value))
        return value

    @model_validator(mode="after")
    def _check_lengths(self) -> BBox:
        _refuse([rules.length_problem(self.bbox, self.categories)])
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
        _refuse([rules.file_name_problem(value)])
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _check_categories(cls, value: Any) -> Any:
        _refuse(rules.category_list_problems(value, field="categories"))
        return value

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this record: null fields omitted, extra keys kept."""
        return self.model_dump(exclude_none=True)


class ImageMetadata(BaseModel):
    """All records of one ``metadata.jsonl``."""

    records: list[ImageRecord] = Field(default_factory=list)

    @classmethod
    def from_file(cls, path: str | Path) -> ImageMetadata:
        """Load every record of a metadata file; the first bad line raises :class:`MetadataError`.

        The error names the file, the line, the field and the rule's code, like the validator does.
        """
        records = []
        for line, obj in iter_objects(path, strict=True):
            problems = rules.record_problems(obj)
            if problems:
                raise MetadataError(path, line, problems[0])
            records.append(ImageRecord.model_validate(obj))
        return cls(records=records)

    def write_to_file(self, path: str | Path) -> Path:
        """Write the records as JSON lines, atomically; the parent folder is created if needed."""
        return write_objects(path, (record.to_dict() for record in self.records))

    def __iter__(self) -> Iterator[ImageRecord]:  # type: ignore[override]
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


def _refuse(problems: Iterable[rules.Problem | None]) -> None:
    """Raise the first rule a value breaks as the ValueError pydantic reports (the rules own the wording)."""
    for problem in problems:
        if problem:
            raise ValueError(problem.message)
