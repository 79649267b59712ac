"""The data registry: :class:`DataCard` and :class:`CardRegistry` (versioned, content-addressed)."""

from opsml_image.registry.card import CategoryFact, DataCard, DataFacts
from opsml_image.registry.errors import (
    AmbiguousCardError,
    CardNotFoundError,
    DatasetChangedError,
    DatasetInvalidError,
    IntegrityError,
    InvalidNameError,
    InvalidVersionError,
    RegistryConnectionError,
    RegistryError,
    StorageError,
    VersionExistsError,
)
from opsml_image.registry.loaders import DetectionDataset, Progress
from opsml_image.registry.registry import CardDiff, CardRegistry

__all__ = [
    "AmbiguousCardError",
    "CardDiff",
    "CardNotFoundError",
    "CardRegistry",
    "CategoryFact",
    "DataCard",
    "DataFacts",
    "DatasetChangedError",
    "DatasetInvalidError",
    "DetectionDataset",
    "IntegrityError",
    "InvalidNameError",
    "InvalidVersionError",
    "Progress",
    "RegistryConnectionError",
    "RegistryError",
    "StorageError",
    "VersionExistsError",
]
