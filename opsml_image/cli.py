"""The command line: ``python -m opsml_image validate DIR`` and friends (typer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError as PydanticValidationError

from opsml_image.dataset import ImageDataset
from opsml_image.registry.commands import cards_app, register

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Label, validate and register image datasets."
)

app.command("register")(register)
app.add_typer(cards_app, name="cards", help="List, download and compare registered data cards.")

DataDir = Annotated[
    Path, typer.Argument(help="The dataset folder (holding metadata.jsonl or split folders).")
]


def open_dataset(data_dir: Path, metadata: str = "metadata.jsonl") -> ImageDataset:
    """Open a dataset folder or exit with a readable message."""
    try:
        return ImageDataset(image_dir=data_dir, metadata=metadata)
    except ValueError as error:
        typer.secho(f"error: {_first_line(error)}", err=True, fg="red")
        raise typer.Exit(2) from None


@app.command()
def validate(
    data_dir: DataDir,
    metadata: Annotated[str, typer.Option(help="Metadata file name in each folder.")] = "metadata.jsonl",
    images: Annotated[
        bool, typer.Option(help="Also check image files (exist, readable, boxes inside).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the issues as JSON lines.")] = False,
    limit: Annotated[int, typer.Option(help="Print at most this many issues.")] = 50,
) -> None:
    """Check every record and image; print a report; exit 1 when there are errors."""
    dataset = open_dataset(data_dir, metadata)
    report = dataset.validate(check_images=images)
    if as_json:
        for issue in report.to_dicts()[:limit]:
            typer.echo(json.dumps(issue))
    else:
        for issue in report.issues[:limit]:
            typer.secho(str(issue), fg="red" if issue.severity == "error" else "yellow")
        if len(report.issues) > limit or report.truncated:
            typer.echo(f"... {sum(report.counts.values()) - limit:,} more")
        typer.echo(report.summary())
    raise typer.Exit(0 if report.ok else 1)


@app.command()
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


def _first_line(error: Exception) -> str:
    """The message of a pydantic error without its URL and type tags."""
    if isinstance(error, PydanticValidationError):
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
    return str(error)


def main() -> None:
    app()
