"""The registry of formats: a toy format (a CSV of boxes) registered through the public API shows up in the
CLI (``export``/``import`` listings, its own commands and options) and on the Import / Export page (format
choices, option widgets, a download), exports and imports a folder, and is gone again once unregistered.
Also: the registry's rules, and every built-in format guessed from its own export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from formats_sample import view
from typer.testing import CliRunner

from conftest import open_app
from opsml_image import ImageDataset, formats
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.cli import app
from opsml_image.confine import Confinement
from opsml_image.demo import DEMO_DIR, copy_demo
from opsml_image.formats import Format, NoOptions, NotFound, option
from opsml_image.formats.base import (
    FormatError,
    Refusals,
    Report,
    find_inside,
    place_file,
    staged_folder,
    write_folder,
)
from opsml_image.formats.classes import ClassIds
from opsml_image.formats.exportable import category_names, export_images
from opsml_image.formats.format import files_found
from opsml_image.usecases import transfer as uc
from opsml_image.usecases.workspace import open_workspace

runner = CliRunner()
PAGE = "pages/transfer.py"
BOXES = "boxes.csv"
COLUMNS = ["split", "file_name", "x", "y", "w", "h", "class"]

# ------------------------------------------------------------------------------------------ the toy format


@dataclass(frozen=True)
class CsvOptions:
    delimiter: Literal[",", ";"] = option(
        ",",
        "The column separator.",
        side="export",
        label="Separator",
        choices={",": "comma", ";": "semicolon"},
    )


def export(
    dataset: ImageDataset,
    dest: Path,
    options: CsvOptions,
    *,
    split: str | None = None,
    skip_invalid: bool = False,
) -> Report:
    """``boxes.csv`` (one row a box, or an empty row for an image without one) and ``images/<split>/``."""
    refusals = Refusals(dataset.image_dir, skip_invalid)
    names = category_names(dataset)
    rows: list[list[object]] = []
    files: list[tuple[Path, str]] = []
    for image in export_images(dataset, split, names, refusals):
        found = image.annotation
        rows += [[image.split, found.file_name, b.x, b.y, b.w, b.h, names[b.category]] for b in found.boxes]
        rows += [] if found.boxes else [[image.split, found.file_name, "", "", "", "", ""]]
        files.append((image.path, f"images/{image.split}/{found.file_name}"))
    text = io.StringIO()
    writer = csv.writer(text, delimiter=options.delimiter)
    writer.writerows([COLUMNS, *rows])
    with staged_folder(dest) as staging:
        for path, relative in files:
            place_file(path, staging / relative)
        (staging / BOXES).write_text(text.getvalue())
    boxes = sum(1 for row in rows if row[2] != "")
    return Report(images=len(files), boxes=boxes, skipped=refusals.skipped, path=Path(dest))


def import_dataset(source: Path, dest: Path, options: CsvOptions, *, skip_invalid: bool = False) -> Report:
    """A dataset folder from ``boxes.csv`` (either separator) and ``images/<split>/`` beside it."""
    root = Path(source)
    text = (root / BOXES).read_text()
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";" if ";" in text.splitlines()[0] else ","))
    classes, refusals, inside = ClassIds(), Refusals(root / BOXES, skip_invalid), Confinement(root)
    splits: dict[str, dict[str, ImageAnnotation]] = {}
    images: dict[tuple[str, str], Path] = {}
    for number, row in enumerate(rows, 2):
        split, name = row["split"], row["file_name"]
        path, _ = find_inside(inside, [f"images/{split}/{name}"])
        if path is None:
            refusals.refuse(f"line {number}", f"no image images/{split}/{name}")
            continue
        annotation = splits.setdefault(split, {}).setdefault(name, ImageAnnotation(name, split))
        images[(split, name)] = path
        if row["class"]:
            x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
            annotation.boxes.append(Box(x, y, w, h, classes.id(row["class"]) or 0))
    found = {split: list(members.values()) for split, members in splits.items()}
    write_folder(dest, found, classes.names, images)
    report = Report(images=len(images), skipped=refusals.skipped, path=Path(dest))
    report.boxes = sum(len(a.boxes) for members in found.values() for a in members)
    return report


def find(root: Path) -> Path:
    found = files_found(root, BOXES)
    if not found:
        raise NotFound(f"No {BOXES} in the upload.")
    return found[0].parent


TOY = Format(
    key="csv",
    label="CSV of boxes",
    takes="A zip of boxes.csv (split, file_name, x, y, w, h, class) and images/<split>/.",
    reads="A folder holding boxes.csv and images/<split>/.",
    writes="Write boxes.csv and images/<split>/ (a toy format).",
    find=find,
    export=export,
    import_dataset=import_dataset,
    options=CsvOptions,
)


@pytest.fixture
def toy() -> Iterator[Format[CsvOptions]]:
    formats.register(TOY)
    try:
        yield TOY
    finally:
        formats.unregister("csv")
    assert "csv" not in [f.key for f in formats.registered()]


# ------------------------------------------------------------------------------------------------- CLI


def test_the_cli_lists_a_registered_format_and_round_trips_with_it(
    toy: Format[CsvOptions], tmp_path: Path
) -> None:
    listing = runner.invoke(app, ["export", "--help"])
    assert listing.exit_code == 0 and "csv" in listing.output and "a toy format" in listing.output
    assert "csv" in runner.invoke(app, ["import", "--help"]).output
    assert "--delimiter" in runner.invoke(app, ["export", "csv", "--help"]).output
    assert "--delimiter" not in runner.invoke(app, ["import", "csv", "--help"]).output
    out = runner.invoke(app, ["export", "csv", str(DEMO_DIR), str(tmp_path / "out"), "--delimiter", ";"])
    assert out.exit_code == 0, out.output
    assert "12 images, 59 boxes" in out.stdout
    assert (tmp_path / "out" / BOXES).read_text().startswith("split;file_name;")
    back = runner.invoke(app, ["import", "csv", str(tmp_path / "out"), str(tmp_path / "back")])
    assert back.exit_code == 0 and "12 images, 59 boxes" in back.stdout, back.output
    assert view(ImageDataset(image_dir=tmp_path / "back")) == view(ImageDataset(image_dir=DEMO_DIR))
    refused = runner.invoke(app, ["export", "csv", str(DEMO_DIR), str(tmp_path / "x"), "--delimiter", "|"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output


def test_an_unregistered_format_leaves_the_cli(tmp_path: Path) -> None:
    assert "csv" not in runner.invoke(app, ["export", "--help"]).output
    result = runner.invoke(app, ["export", "csv", str(DEMO_DIR), str(tmp_path / "out")])
    assert result.exit_code == 2 and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------ page


def test_the_page_offers_a_registered_format_and_its_options(toy: Format[CsvOptions], app_demo: Path) -> None:
    at = open_app(PAGE)
    assert "CSV of boxes" in at.selectbox(key="transfer_import_format").options  # shown by label
    assert "CSV of boxes" in at.selectbox(key="transfer_export_format").options
    at.selectbox(key="transfer_import_format").set_value("csv").run()
    assert at.caption[0].value.replace("\\", "").startswith("A zip of boxes.csv")
    at.selectbox(key="transfer_export_format").set_value("csv").run()
    separator = at.selectbox(key="transfer_export_option:csv:delimiter")
    assert separator.label == "Separator" and separator.value == ","
    separator.set_value(";").run()
    at.button(key="transfer_export_go").click().run()
    assert not at.exception, at.exception
    assert any(t.value == "Exported 12 images and 59 boxes." for t in at.text)
    assert f"{app_demo.name}-all-csv.zip" in at.get("download_button")[0].proto.label


def test_an_upload_in_a_registered_format_imports_on_the_page(
    toy: Format[CsvOptions], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's use cases: the open dataset downloaded as the toy format, then imported from that zip."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    ws = open_workspace(copy_demo(tmp_path / "demo"), flush_delay=0.05)
    try:
        download = uc.export_download(ws, "csv", "validation")
    finally:
        ws.close()
    assert download.file_name == "demo-validation-csv.zip"

    @dataclass
    class Up:
        name: str
        data: bytes

        def getvalue(self) -> bytes:
            return self.data

    report = uc.import_upload(tmp_path / "sets", "back", "csv", [Up(download.file_name, download.data)])
    assert (report.images, report.boxes) == (download.report.images, download.report.boxes)
    demo = {k: v for k, v in view(ImageDataset(image_dir=DEMO_DIR)).items() if k[0] == "validation"}
    assert list(view(ImageDataset(image_dir=report.path)).values()) == list(demo.values())


# -------------------------------------------------------------------------------------------- the rules


def test_the_registry_refuses_a_taken_key_a_bad_key_and_a_reserved_option_name(
    toy: Format[CsvOptions],
) -> None:
    with pytest.raises(ValueError, match="registered already"):
        formats.register(TOY)
    with pytest.raises(ValueError, match="a lower-case word"):
        formats.register(Format(**{**vars(TOY), "key": "Not A Key"}))

    @dataclass(frozen=True)
    class Clashing:
        split: str = option("train", "a split", side="export")

    with pytest.raises(ValueError, match="option 'split' is a name the commands use"):
        formats.register(Format(**{**vars(TOY), "key": "clash", "options": Clashing}))

    @dataclass(frozen=True)
    class Plain:
        level: int = 3

    with pytest.raises(TypeError, match=r"Plain.level: make option fields with formats.option\(\)"):
        formats.register(Format(**{**vars(TOY), "key": "plain", "options": Plain}))
    assert [f.key for f in formats.registered()] == [
        "coco",
        "yolo",
        "voc",
        "cvat",
        "labelstudio",
        "hf",
        "csv",
    ]
    with pytest.raises(KeyError, match="unknown format 'nope'; the formats are coco, yolo"):
        formats.get("nope")
    with pytest.raises(KeyError):
        formats.unregister("nope")


def test_every_builtin_format_is_guessed_from_its_own_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    dataset = ImageDataset(image_dir=DEMO_DIR)
    for fmt in formats.available():
        out = tmp_path / fmt.key
        fmt.export(dataset, out, fmt.options())
        assert formats.guess(out) is fmt, fmt.key
    assert formats.guess(tmp_path / "yolo" / "data.yaml") is None  # a file only COCO, CVAT, Label Studio tell
    assert formats.guess(tmp_path / "coco" / "train.json") is formats.get("coco")
    assert formats.guess(tmp_path / "cvat" / "annotations.xml") is formats.get("cvat")
    assert formats.guess(tmp_path / "labelstudio" / "tasks.json") is formats.get("labelstudio")
    assert formats.guess(DEMO_DIR) is None


def test_a_format_without_options_or_detect_still_works(tmp_path: Path) -> None:
    bare = Format(**{**vars(TOY), "key": "bare", "options": NoOptions})
    assert bare.fields() == [] and bare.defaults("export") == NoOptions()
    assert not bare.detects(tmp_path) and bare.file_suffix(NoOptions(), 1) is None
    (tmp_path / BOXES).write_text("split,file_name,x,y,w,h,class\n")
    assert bare.detects(tmp_path) and bare.is_available()


def test_a_format_error_names_the_item(toy: Format[CsvOptions], tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / BOXES).write_text("split,file_name,x,y,w,h,class\ntrain,gone.png,1,1,2,2,car\n")
    with pytest.raises(FormatError, match="boxes.csv: line 2: no image images/train/gone.png"):
        toy.import_dataset(tmp_path / "src", tmp_path / "ds", CsvOptions())
