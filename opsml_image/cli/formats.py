"""CLI format commands: ``export coco|yolo`` and ``import coco|yolo`` (mounted by ``opsml_image.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsml_image.cli.support import open_dataset, reported
from opsml_image.formats import coco, yolo

__all__ = ["export_app", "import_app"]

export_app = typer.Typer(no_args_is_help=True, add_completion=False)
import_app = typer.Typer(no_args_is_help=True, add_completion=False)

DataDir = Annotated[Path, typer.Argument(help="The dataset folder.")]


@export_app.command("coco")
def export_coco(
    data_dir: DataDir,
    dest: Annotated[Path, typer.Argument(help="The COCO JSON file to write.")],
    split: Annotated[str | None, typer.Option(help="Which split (needed when there are several).")] = None,
) -> None:
    """Write one split as COCO detection JSON (images, annotations, categories)."""
    dataset = open_dataset(data_dir)
    with reported():
        path = coco.export(dataset, dest, split)
    typer.echo(f"wrote {path}")


@export_app.command("yolo")
def export_yolo(
    data_dir: DataDir, dest: Annotated[Path, typer.Argument(help="The folder to write (created).")]
) -> None:
    """Write the dataset in YOLO layout: images/<split>, labels/<split>, data.yaml."""
    dataset = open_dataset(data_dir)
    with reported():
        path = yolo.export(dataset, dest)
    typer.echo(f"wrote {path / 'data.yaml'}")


@import_app.command("coco")
def import_coco(
    coco_file: Annotated[Path, typer.Argument(help="A COCO detection JSON file.")],
    image_dir: Annotated[
        Path, typer.Argument(help="The folder holding the images; metadata.jsonl goes here.")
    ],
) -> None:
    """Write metadata.jsonl and categories.json into IMAGE_DIR from a COCO file."""
    with reported():
        dataset = coco.import_file(coco_file, image_dir)
    typer.echo(f"{dataset.stats().records:,} records written to {image_dir / 'metadata.jsonl'}")


@import_app.command("yolo")
def import_yolo(
    source: Annotated[Path, typer.Argument(help="A YOLO folder with data.yaml.")],
    dest: Annotated[Path, typer.Argument(help="The dataset folder to make.")],
) -> None:
    """Make a dataset folder (split folders, metadata.jsonl, categories.json) from a YOLO folder."""
    with reported():
        dataset = yolo.import_folder(source, dest)
    typer.echo(f"{dataset.stats().records:,} records in {', '.join(dataset.splits)}")
