"""What leaves the working store on demand: the edits written to the folder's files now, a split as COCO JSON
for the sidebar's download."""

from __future__ import annotations

from opsml_image.auth import LOCAL_ADMIN, Action, User
from opsml_image.usecases.access import check
from opsml_image.usecases.errors import NotFound, edge
from opsml_image.usecases.workspace import Workspace

__all__ = ["export_split", "save_now"]


def save_now(ws: Workspace, *, user: User | None = LOCAL_ADMIN) -> int:
    """Write the pending edits to ``metadata.jsonl`` now (the autoflusher would a little later); the
    records written. For whoever may annotate."""
    check(user, Action.ANNOTATE)
    with edge("Could not write metadata.jsonl: "):
        return ws.store.flush()


def export_split(ws: Workspace, split: str, *, user: User | None = LOCAL_ADMIN) -> bytes:
    """The COCO detection JSON of one split, pending edits written first (what the CLI export writes)."""
    check(user, Action.EXPORT)
    if split not in ws.dataset.splits:
        raise NotFound(f"No split {split!r}; the dataset has {', '.join(ws.dataset.splits)}.")
    with edge("The export failed: "):
        from opsml_image.formats import coco

        ws.store.flush()
        return coco.to_json_bytes(ws.dataset, split)
