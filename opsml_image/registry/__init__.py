"""The data registry: :class:`DataCard` and :class:`CardRegistry` (versioned, content-addressed).

Names are imported on first use (PEP 562), so the command line's other commands and ``import opsml_image``
do not pay for SQLAlchemy and fsspec.
"""

from __future__ import annotations

import importlib
from typing import Any

_SOURCES = {
    "card": ("CategoryFact", "DataCard", "DataFacts"),
    "errors": (
        "AmbiguousCardError",
        "CardBusyError",
        "CardNotFoundError",
        "DatasetChangedError",
        "DatasetInvalidError",
        "IntegrityError",
        "InvalidNameError",
        "InvalidVersionError",
        "RegistryConnectionError",
        "RegistryError",
        "StorageError",
        "VersionExistsError",
    ),
    "gc": ("CardGarbage", "GarbageReport"),
    "loaders": ("DetectionDataset", "Progress"),
    "registry": ("CardDiff", "CardRegistry"),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'opsml_image.registry' has no attribute {name!r}")
    return getattr(importlib.import_module(f"opsml_image.registry.{module}"), name)
