"""CLI dataset commands: ``validate DIR`` and ``info DIR`` (mounted by ``opsml_image.cli``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from opsml_image.cli.support import open_dataset

__all__ = ["info", "validate"]

DataDir = Annotated[
    Path, typer.Argument(help="The dataset folder (holding metadata.jsonl or split folders).")
]


def validate(
    data_dir: DataDir,
    metadata: Annotated[str, typer.Option(help="Metadata file name in each folder.")] = "metadata.jsonl",
    images: Annotated[
        bool, typer.Option(help="Also check image files (exist, readable, boxes inside).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the issues as JSON lines.")] = False,
    limit: Annotated[int, typer.Option(min=0, help="Print at most this many issues.")] = 50,
) -> None:
    """Check every record and image; print a report; exit 1 when there are errors."""
    dataset = open_dataset(data_dir, metadata)
    report = dataset.validate(check_images=images)
    if as_json:
        for item in report.to_dicts()[:limit]:
            typer.echo(json.dumps(item))
    else:
        for issue in report.issues[:limit]:
            typer.secho(str(issue), fg="red" if issue.severity == "error" else "yellow")
        if len(report.issues) > limit or report.truncated:
            typer.echo(f"... {sum(report.counts.values()) - limit:,} more")
        typer.echo(report.summary())
    raise typer.Exit(0 if report.ok else 1)


def info(data_dir: DataDir) -> None:
    """Print the splits and counts of a dataset."""
    dataset = open_dataset(data_dir)
    stats = dataset.stats()
    names = dataset.category_names_or_problem()
    names = names if isinstance(names, list) else []
    typer.echo(f"{data_dir}: {stats.images:,} images, {stats.records:,} records, {stats.boxes:,} boxes")
    for split, count in stats.splits.items():
        typer.echo(f"  split {split}: {count:,} images")
    for cid, count in stats.category_counts.items():
        label = names[cid] if cid < len(names) else "?"
        typer.echo(f"  category {cid} {label}: {count:,} boxes")

