"""CLI format commands: ``export FORMAT`` and ``import FORMAT`` for coco, yolo, voc, cvat, labelstudio and hf
(mounted by ``opsml_image.cli``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from opsml_image.cli.support import fail, open_dataset
from opsml_image.formats import coco, cvat, hf, labelstudio, voc, yolo
from opsml_image.formats.base import Report

__all__ = ["export_app", "import_app"]

export_app = typer.Typer(no_args_is_help=True, add_completion=False)
import_app = typer.Typer(no_args_is_help=True, add_completion=False)

DataDir = Annotated[Path, typer.Argument(help="The dataset folder.")]


SkipInvalid = Annotated[
    bool, typer.Option("--skip-invalid", help="Leave out bad items (listed with counts) instead of stopping.")
]
Split = Annotated[str | None, typer.Option(help="Only this split (train, validation, test).")]


@contextlib.contextmanager
def format_errors() -> Iterator[None]:
    """A refused conversion (FormatError, bad dataset folder, IO error) as one red line, exit status 2."""
    try:
        yield
    except (ValueError, OSError, KeyError) as error:
        raise fail(error, 2) from None


def show(report: Report) -> None:
    """The report's summary line, then what was skipped (by reason) and each warning."""
    typer.echo(report.summary())
    for item in report.skipped[:20]:
        typer.echo(f"skipped {item.item}: {item.reason}", err=True)
    if len(report.skipped) > 20:
        typer.echo(f"... and {len(report.skipped) - 20:,} more skipped", err=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)


@export_app.command("coco")
def export_coco(
    data_dir: DataDir,
    dest: Annotated[
        Path, typer.Argument(help="The COCO JSON file (one split) or a new folder (<split>.json).")
    ],
    split: Split = None,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Write COCO detection JSON: one split to a .json file, or every split into a new folder."""
    dataset = open_dataset(data_dir)
    with format_errors():
        show(coco.export(dataset, dest, split=split, skip_invalid=skip_invalid))


@export_app.command("yolo")
def export_yolo(
    data_dir: DataDir,
    dest: Annotated[Path, typer.Argument(help="The folder to write (new or empty).")],
    split: Split = None,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Write the Ultralytics YOLO layout: images/<split>, labels/<split>, data.yaml."""
    dataset = open_dataset(data_dir)
    with format_errors():
        show(yolo.export(dataset, dest, split=split, skip_invalid=skip_invalid))


@import_app.command("coco")
def import_coco(
    coco_files: Annotated[
        list[Path], typer.Argument(help="A COCO JSON file, or one file a split (train.json val.json ...).")
    ],
    dest: Annotated[
        Path,
        typer.Argument(help="The folder holding the images (metadata goes there), or a new dataset folder."),
    ],
    images: Annotated[
        Path | None,
        typer.Option(help="Where the images are, when DEST is a new folder (default: beside the JSON)."),
    ] = None,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Write metadata.jsonl, one root categories.json and coco_meta.json from COCO files."""
    with format_errors():
        show(coco.import_dataset(coco_files, dest, images=images, skip_invalid=skip_invalid))


@import_app.command("yolo")
def import_yolo(
    source: Annotated[Path, typer.Argument(help="A YOLO folder with data.yaml (Ultralytics or Roboflow).")],
    dest: Annotated[Path, typer.Argument(help="The dataset folder to make (new or empty).")],
    skip_invalid: SkipInvalid = False,
) -> None:
    """Make a dataset folder (split folders, metadata.jsonl, categories.json) from a YOLO folder."""
    with format_errors():
        show(yolo.import_dataset(source, dest, skip_invalid=skip_invalid))


NewFolder = Annotated[Path, typer.Argument(help="The folder to write (new or empty).")]
NewDataset = Annotated[Path, typer.Argument(help="The dataset folder to make (new or empty).")]
ImagesOption = Annotated[
    Path | None,
    typer.Option(help="Where the images are (default: images/ beside the file, else its folder)."),
]


@export_app.command("voc")
def export_voc(
    data_dir: DataDir, dest: NewFolder, split: Split = None, skip_invalid: SkipInvalid = False
) -> None:
    """Write Pascal VOC: Annotations/*.xml, JPEGImages/, ImageSets/Main/<split>.txt, labelmap.txt."""
    dataset = open_dataset(data_dir)
    with format_errors():
        show(voc.export(dataset, dest, split=split, skip_invalid=skip_invalid))


@export_app.command("cvat")
def export_cvat(
    data_dir: DataDir, dest: NewFolder, split: Split = None, skip_invalid: SkipInvalid = False
) -> None:
    """Write CVAT for images 1.1: annotations.xml and images/ (subsets as splits)."""
    dataset = open_dataset(data_dir)
    with format_errors():
        show(cvat.export(dataset, dest, split=split, skip_invalid=skip_invalid))


@export_app.command("labelstudio")
def export_labelstudio(
    data_dir: DataDir, dest: NewFolder, split: Split = None, skip_invalid: SkipInvalid = False
) -> None:
    """Write Label Studio tasks.json, label_config.xml and images/ (local-files URLs)."""
    dataset = open_dataset(data_dir)
    with format_errors():
        show(labelstudio.export(dataset, dest, split=split, skip_invalid=skip_invalid))


@export_app.command("hf")
def export_hf(
    data_dir: DataDir, dest: NewFolder, split: Split = None, skip_invalid: SkipInvalid = False
) -> None:
    """Write a Hugging Face dataset with save_to_disk (datasets.load_from_disk reads it)."""
    dataset = open_dataset(data_dir)
    with format_errors():
        show(hf.export(dataset, dest, split=split, skip_invalid=skip_invalid))


@import_app.command("voc")
def import_voc(
    source: Annotated[Path, typer.Argument(help="A Pascal VOC folder (Annotations/, JPEGImages/).")],
    dest: NewDataset,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Make a dataset folder from Pascal VOC XML (ImageSets/Main lists give the splits)."""
    with format_errors():
        show(voc.import_dataset(source, dest, skip_invalid=skip_invalid))


@import_app.command("cvat")
def import_cvat(
    source: Annotated[Path, typer.Argument(help="annotations.xml, or the folder holding it.")],
    dest: NewDataset,
    images: ImagesOption = None,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Make a dataset folder from CVAT for images 1.1 XML (boxes, attributes, tags)."""
    with format_errors():
        show(cvat.import_dataset(source, dest, images=images, skip_invalid=skip_invalid))


@import_app.command("labelstudio")
def import_labelstudio(
    source: Annotated[Path, typer.Argument(help="A Label Studio JSON export, or a folder with tasks.json.")],
    dest: NewDataset,
    images: Annotated[
        Path | None, typer.Option(help="Where the images are (default: the JSON file's folder).")
    ] = None,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Make a dataset folder from a Label Studio JSON export (rectanglelabels, choices, textarea)."""
    with format_errors():
        show(labelstudio.import_dataset(source, dest, images=images, skip_invalid=skip_invalid))


@import_app.command("hf")
def import_hf(
    source: Annotated[Path, typer.Argument(help="A Hugging Face dataset saved with save_to_disk.")],
    dest: NewDataset,
    bbox_format: Annotated[str, typer.Option(help="How objects.bbox reads: xywh, xyxy or cxcywh.")] = "xywh",
    skip_invalid: SkipInvalid = False,
) -> None:
    """Make a dataset folder from a saved Hugging Face dataset with image and objects columns."""
    with format_errors():
        show(hf.import_dataset(source, dest, bbox_format=bbox_format, skip_invalid=skip_invalid))
