"""opsml-image: label, review and register image datasets in OpsML's ``ImageDataset`` format.

``ImageDataset`` is an image folder plus a ``metadata.jsonl`` (one JSON record a line), deliberately the
layout of Hugging Face ``imagefolder``. This package holds the schemas, streaming IO, validation and
registration; the Streamlit app and the CLI are thin views over it.
"""

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.dataset import DatasetStats, ImageDataset, Split
from opsml_image.jsonl import MetadataError
from opsml_image.schema import BBox, ImageMetadata, ImageRecord
from opsml_image.validation import Issue, ValidationError, ValidationReport

#: Names imported on first use: the registry pulls in SQLAlchemy and fsspec, which validating does not need.
_LAZY = {
    "CardRegistry": "opsml_image.registry",
    "DataCard": "opsml_image.registry",
    "RegistryError": "opsml_image.registry",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'opsml_image' has no attribute {name!r}")


__all__ = [
    "BBox",
    "Box",
    "CardRegistry",
    "DataCard",
    "DatasetStats",
    "ImageAnnotation",
    "ImageDataset",
    "ImageMetadata",
    "ImageRecord",
    "Issue",
    "MetadataError",
    "RegistryError",
    "Split",
    "ValidationError",
    "ValidationReport",
]
