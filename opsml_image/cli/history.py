"""``python -m opsml_image history DIR``: who changed which image, when and what (newest first)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from opsml_image.auth import LOCAL_ADMIN
from opsml_image.cli.support import fail, open_dataset, reported
from opsml_image.store import StoreError, WorkStore
from opsml_image.usecases.access import store_changes

__all__ = ["history"]


def parse_since(text: str | None) -> datetime | None:
    """An ISO 8601 date or time (``2026-11-30``, ``2026-11-30T08:00``, with or without a zone; local time
    when none), or a readable error."""
    if text is None or not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        message = f"--since {text!r} is not an ISO date or time (e.g. 2026-11-30 or 2026-11-30T08:00)"
        raise fail(message, 2) from None
    return when if when.tzinfo else when.astimezone()


def history(
    data_dir: Annotated[Path, typer.Argument(help="The dataset folder.")],
    user: Annotated[str | None, typer.Option("--user", help="Only this user's changes.")] = None,
    since: Annotated[str | None, typer.Option(help="Only changes at or after this ISO date/time.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many changes.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per line.")] = False,
) -> None:
    """List the changes to a dataset's annotations: when, who, what (newest first)."""
    after = parse_since(since)
    dataset = open_dataset(data_dir)
    with reported(OSError, ValueError, KeyError, StoreError), WorkStore.open(dataset) as store:
        rows = store_changes(store, LOCAL_ADMIN, who=user.strip().lower() if user else None, since=after,
                             limit=limit)  # fmt: skip
    for row in rows:
        if as_json:
            at = datetime.fromtimestamp(row.timestamp, UTC).isoformat()
            item = {"id": row.id, "at": at, "user": row.user, "split": row.split, "file_name": row.file_name,
                    "action": row.action, "what": row.what}  # fmt: skip
            typer.echo(json.dumps(item, ensure_ascii=False))
        else:
            typer.echo(f"{row.at}  {row.user:<16} {row.action:<7} {row.split}/{row.file_name}: {row.what}")
    if not as_json:
        typer.echo(f"{len(rows):,} change(s)", err=True)
