"""The working store of one dataset folder (see :mod:`opsml_image.store.workstore`)."""

from opsml_image.store.workstore import (
    SPLIT_ORDER,
    AutoFlusher,
    Change,
    Filter,
    Key,
    StaleEdit,
    WorkStore,
    store_path,
)

__all__ = ["WorkStore", "Filter", "Key", "Change", "StaleEdit", "AutoFlusher", "store_path", "SPLIT_ORDER"]
