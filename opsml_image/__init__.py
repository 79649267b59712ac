"""opsml-image: label, review and register image datasets in OpsML's ``ImageDataset`` format.

``ImageDataset`` is an image folder plus a ``metadata.jsonl`` (one JSON record a line), deliberately the
layout of Hugging Face ``imagefolder``. This package holds the schemas, streaming IO, validation and
registration; the Streamlit app and the CLI are thin views over it.
"""

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.dataset import DatasetStats, ImageDataset, Split
from opsml_image.jsonl import MetadataError
from opsml_image.registry import CardRegistry, DataCard, RegistryError
from opsml_image.schema import BBox, ImageMetadata, ImageRecord
from opsml_image.validation import Issue, ValidationError, ValidationReport

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
