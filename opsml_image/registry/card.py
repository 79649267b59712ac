"""The data card: who registered which dataset, its version, and the facts that describe the data.

Names follow OpsML: ``name`` and ``team`` are normalised to lower case (spaces become ``-``), may hold only
``a-z 0-9 - _``, start with a letter or digit, and ``team/name`` is at most 53 characters.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator

from opsml_image.dataset import ImageDataset
from opsml_image.registry.errors import InvalidNameError
from opsml_image.registry.hashing import HASH_NAME

__all__ = ["DataCard", "DataFacts", "CategoryFact", "normalise_name", "check_email", "MAX_TEAM_NAME"]

MAX_TEAM_NAME = 53
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def normalise_name(value: Any, field: str = "name") -> str:
    """``value`` lower-cased and stripped, inner spaces as ``-``; :class:`InvalidNameError` if not allowed."""
    if not isinstance(value, str):
        raise InvalidNameError(f"{field} must be a string, not {type(value).__name__}")
    cleaned = re.sub(r"\s+", "-", value.strip().lower())
    if not _NAME.fullmatch(cleaned):
        raise InvalidNameError(
            f"{field} {value!r} is not allowed: use lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return cleaned


def check_email(value: Any) -> str:
    """A stripped contact email, or :class:`InvalidNameError`."""
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise InvalidNameError(f"user_email {value!r} is not an email address")
    return value.strip()


def _check_length(team: str, name: str) -> None:
    if len(f"{team}/{name}") > MAX_TEAM_NAME:
        raise InvalidNameError(
            f"'{team}/{name}' is longer than {MAX_TEAM_NAME} characters: shorten the name or team"
        )


class CategoryFact(BaseModel):
    """One category: its id, its name from ``categories.json`` (if any), and how many boxes carry it."""

    id: int
    name: str | None = None
    boxes: int = 0


class DataFacts(BaseModel):
    """What the registered data holds; computed at registration and stored with the card."""

    images: int
    records: int
    annotated_images: int
    boxes: int
    categories: list[CategoryFact]
    splits: dict[str, int]
    files: int
    total_bytes: int
    content_digest: str
    hash_name: str = HASH_NAME
    #: The name of the split metadata files holding the records (as ``ImageDataset(metadata=...)``).
    metadata: str = "metadata.jsonl"
    #: The validation rules the verdict was reached under (``registry.rules_fingerprint()``); a later
    #: registration of the same bytes reuses the verdict only under the same rules.
    rules_fingerprint: str | None = None

    def category_names(self) -> list[str]:
        """Class names indexed by id (``category_<id>`` where ``categories.json`` names none)."""
        size = max((c.id for c in self.categories), default=-1) + 1
        names = [f"category_{i}" for i in range(size)]
        for fact in self.categories:
            if fact.name:
                names[fact.id] = fact.name
        return names


class DataCard(BaseModel):
    """A dataset registered (or to be registered) in a :class:`~opsml_image.registry.CardRegistry`.

    A plain record: ``uid``, ``version``, ``created_at``, ``uri`` and ``facts`` are filled in by
    registration. The registry loads the data back: ``registry.download_data(card, dest)``,
    ``registry.to_hf_dataset(card)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, validate_assignment=True)

    #: Checked as an instance only: validating it as a model would open (list) its folder once more.
    data: InstanceOf[ImageDataset] | None = Field(default=None, exclude=True, repr=False)
    name: str
    team: str
    user_email: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    version: str | None = None
    created_at: datetime | None = None
    uri: str | None = None
    validated: bool | None = None
    facts: DataFacts | None = None

    def __init__(self, **data: Any) -> None:
        # Normalise first so a bad name raises InvalidNameError itself, not a wrapped ValidationError.
        for field in ("name", "team"):
            if field in data:
                data[field] = normalise_name(data[field], field)
        if "user_email" in data:
            data["user_email"] = check_email(data["user_email"])
        if "name" in data and "team" in data:
            _check_length(data["team"], data["name"])
        super().__init__(**data)

    @field_validator("name", "team", mode="before")
    @classmethod
    def _normalise(cls, value: Any, info: Any) -> str:
        return normalise_name(value, info.field_name)

    @field_validator("user_email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str:
        return check_email(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and k.strip() for k in value):
            raise ValueError("tags must be a mapping of non-empty string keys to values")
        return {k.strip(): str(v) for k, v in value.items()}

    @property
    def registered(self) -> bool:
        return self.version is not None

    def to_record(self) -> dict[str, Any]:
        """The card's fields as JSON-ready data (no dataset object)."""
        return self.model_dump(mode="json", exclude={"data"})

    def category_names(self) -> list[str]:
        """Class names indexed by id: from the registered facts, else the dataset's ``categories.json``."""
        if self.facts is not None:
            return self.facts.category_names()
        if self.data is not None:
            return self.data.category_names()
        return []
