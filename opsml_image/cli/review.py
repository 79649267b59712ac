"""CLI review commands: ``review summary DIR [--json]`` and ``review export DIR OUT.jsonl`` (mounted by
``opsml_image.cli``), read from the folder's working store."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from opsml_image.cli.support import fail, open_dataset
from opsml_image.review import ReviewError, Status
from opsml_image.review.approved import ApprovedFolder, approved_copy
from opsml_image.store import StoreError, WorkStore

__all__ = ["review_app", "open_store", "approved_folder"]

review_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Team review of a dataset folder.")

DataDir = Annotated[Path, typer.Argument(help="The dataset folder (metadata.jsonl or split folders).")]


@contextlib.contextmanager
def open_store(data_dir: Path) -> Iterator[WorkStore]:
    """The folder's working store, indexed; a readable error (exit 1) when it cannot be opened."""
    dataset = open_dataset(data_dir)
    try:
        store = WorkStore.open(dataset)
        store.sync()
    except (StoreError, ReviewError, OSError) as error:
        raise fail(error) from None
    try:
        yield store
    finally:
        store.close()


@review_app.command("summary")
def summary(
    data_dir: DataDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Counts of images per status and per user."""
    from opsml_image.usecases.review import summary as review_summary

    with open_store(data_dir) as store:
        try:
            found = review_summary(store)
        except (StoreError, ReviewError) as error:
            raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(found))
        return
    status: dict[str, int] = found["status"]  # type: ignore[assignment]
    users: dict[str, dict[str, int]] = found["users"]  # type: ignore[assignment]
    typer.echo(f"{data_dir}: {sum(status.values()):,} images")
    for value, n in status.items():
        typer.echo(f"  {Status(value).label:<12} {n:>8,}")
    for user, counts in users.items():
        typer.echo(f"  {user}: " + ", ".join(f"{k.replace('_', ' ')} {n:,}" for k, n in counts.items()))


@review_app.command("export")
def export(
    data_dir: DataDir,
    out: Annotated[Path, typer.Argument(help="The JSON lines file to write (replaced atomically).")],
) -> None:
    """One JSON line per image: status, annotator, reviewer, comment, tags, times."""
    from opsml_image.usecases.review import export_jsonl

    with open_store(data_dir) as store:
        try:
            n = export_jsonl(store, out)
        except (StoreError, ReviewError, OSError) as error:
            raise fail(error) from None
    typer.secho(f"wrote {n:,} lines to {out}", fg="green")


@contextlib.contextmanager
def approved_folder(data_dir: Path) -> Iterator[ApprovedFolder]:
    """``register --approved-only``: the folder's approved-only copy (removed afterwards)."""
    with open_store(data_dir) as store:
        try:
            with approved_copy(store) as folder:
                if folder.left_out:
                    typer.secho(
                        f"left out {len(folder.left_out):,} approved image(s) changed since their approval",
                        fg="yellow",
                    )
                yield folder
        except (StoreError, ReviewError, OSError) as error:
            raise fail(error) from None
