"""Export a split of the open dataset in another format, as bytes the app offers for download."""

from __future__ import annotations

from opsml_image.usecases.workspace import Workspace

__all__ = ["export_split"]


def export_split(ws: Workspace, split: str) -> bytes:
    """The COCO detection JSON of one split, pending edits written first (what the CLI export writes)."""
    from opsml_image.formats import coco

    ws.store.flush()
    return coco.to_json_bytes(ws.dataset, split)
