"""Issue 16 items 6 and 7: no import reads a path its files name outside the files imported.

Every format gets a source naming five places outside it: a real image (read, it would be imported byte for
byte), a missing file, a folder, ``/etc/passwd`` and ``/etc/shadow``; each three ways: an absolute path, a
relative path going up with ``..`` and a symbolic link inside the source. Each is refused with the one
reason :data:`OUTSIDE`, whatever is there (no oracle for the server's files), the rest is imported, and a
spy on every opener and stat call (``open``, ``io.open``, ``os.open``, ``os.stat``, ``os.lstat``,
``os.readlink``, ``os.scandir``, ``os.listdir``, ``PIL.Image.open``) sees no path out there.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from conftest import write_image
from opsml_image.cli import app
from opsml_image.confine import Confinement
from opsml_image.formats import coco, cvat, hf, labelstudio, voc, yolo
from opsml_image.formats.base import OUTSIDE, FormatError, Report
from opsml_image.usecases import transfer as uc

SIZE = (64, 48)
HOW = ("absolute", "relative", "link")
SPIED = [
    (builtins, "open"),
    (io, "open"),
    (os, "open"),
    (os, "stat"),
    (os, "lstat"),
    (os, "readlink"),
    (os, "scandir"),
    (os, "listdir"),
    (Image, "open"),
]


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """The places outside every source: a real image, a missing file, a folder and two host files."""
    out = tmp_path / "outside"
    write_image(out / "secret.png", size=SIZE, color=(250, 1, 2))
    (out / "folder").mkdir()
    return {
        "secret": out / "secret.png",
        "missing": out / "missing.png",
        "folder": out / "folder",
        "passwd": Path("/etc/passwd"),
        "shadow": Path("/etc/shadow"),
    }


@contextlib.contextmanager
def spying() -> Iterator[list[str]]:
    """Every path given to an opener or a stat call while the block runs (as absolute paths)."""
    seen: list[str] = []

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def spied(*args: Any, **kwargs: Any) -> Any:
            path = args[0] if args else kwargs.get("path", kwargs.get("file", kwargs.get("fp")))
            if isinstance(path, str | bytes | os.PathLike):
                seen.append(os.path.abspath(os.fsdecode(path)))
            return function(*args, **kwargs)

        return spied

    with pytest.MonkeyPatch.context() as patch:
        for module, name in SPIED:
            patch.setattr(module, name, wrap(getattr(module, name)))
        yield seen


def looked_out(seen: list[str], places: dict[str, Path]) -> list[str]:
    """The paths seen that lie at or below one of the places (compared as written: nothing resolved)."""
    roots = {str(places["secret"].parent), *(str(places[k]) for k in ("passwd", "shadow"))}
    return [p for p in seen if any(p == r or p.startswith(r + os.sep) for r in roots)]


def references(places: dict[str, Path], base: Path, links: Path) -> list[str]:
    """Each place as an absolute path, relative to ``base`` and as a link made in ``links`` (its name)."""
    found = []
    for kind, target in places.items():
        link = links / f"link_{kind}.png"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
        found += [str(target), os.path.relpath(target, base), link.name]
    return found


def check(report: Report, refused: int, dest: Path, places: dict[str, Path], seen: list[str]) -> None:
    """One image imported, every reference refused with the one reason, nothing outside looked at."""
    assert report.images == 1 and len(report.skipped) == refused, report.skipped
    assert {s.reason for s in report.skipped} == {OUTSIDE}
    secret = places["secret"].read_bytes()
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert [p.name for p in files if p.suffix == ".png"] == ["good.png"]
    assert all(p.read_bytes() != secret for p in files)
    assert looked_out(seen, places) == []


def import_twice(run: Callable[[bool], Report], dest: Path) -> tuple[Report, list[str]]:
    """Without skipping the first reference stops the import with the one reason; then skipping, spied."""
    with pytest.raises(FormatError) as error:
        run(False)
    assert error.value.reason == OUTSIDE and not dest.exists()
    with spying() as seen:
        report = run(True)
    return report, seen


# ------------------------------------------------------------------------------------------ formats


def test_coco_file_names(tmp_path: Path, places: dict[str, Path]) -> None:
    src = tmp_path / "src"
    write_image(src / "images" / "good.png", size=SIZE)
    names = ["good.png", *references(places, src, src / "images")]
    images = [{"id": i, "file_name": n, "width": 64, "height": 48} for i, n in enumerate(names, 1)]
    data = {"images": images, "annotations": [], "categories": [{"id": 1, "name": "cat"}]}
    (src / "coco.json").write_text(json.dumps(data))
    dest = tmp_path / "ds"
    report, seen = import_twice(
        lambda skip: coco.import_dataset(src / "coco.json", dest, skip_invalid=skip), dest
    )
    check(report, 15, dest, places, seen)


def test_cvat_image_names(tmp_path: Path, places: dict[str, Path]) -> None:
    src = tmp_path / "src"
    write_image(src / "images" / "good.png", size=SIZE)
    names = ["good.png", *references(places, src / "images", src / "images")]
    images = "".join(
        f'<image id="{i}" name={quoteattr(n)} width="64" height="48"/>' for i, n in enumerate(names)
    )
    labels = "<meta><task><labels><label><name>cat</name></label></labels></task></meta>"
    xml = f"<annotations><version>1.1</version>{labels}{images}</annotations>"
    (src / "annotations.xml").write_text(xml)
    dest = tmp_path / "ds"
    report, seen = import_twice(lambda skip: cvat.import_dataset(src, dest, skip_invalid=skip), dest)
    check(report, 15, dest, places, seen)


def test_voc_filenames(tmp_path: Path, places: dict[str, Path]) -> None:
    src = tmp_path / "src"
    write_image(src / "JPEGImages" / "good.png", size=SIZE)
    names = ["good.png", *references(places, src / "JPEGImages", src / "JPEGImages")]
    for number, name in enumerate(names):
        size = "<size><width>64</width><height>48</height><depth>3</depth></size>"
        xml = f"<annotation><filename>{escape(name)}</filename><path>{escape(name)}</path>{size}</annotation>"
        (src / "Annotations").mkdir(exist_ok=True)
        (src / "Annotations" / f"{number:03d}.xml").write_text(xml)
    dest = tmp_path / "ds"
    report, seen = import_twice(lambda skip: voc.import_dataset(src, dest, skip_invalid=skip), dest)
    check(report, 15, dest, places, seen)


def test_label_studio_image_urls(tmp_path: Path, places: dict[str, Path]) -> None:
    src = tmp_path / "src"
    write_image(src / "good.png", size=SIZE)
    urls = ["good.png", *references(places, src, src)]
    for target in places.values():
        urls += [f"/data/local-files/?d={target}", f"/data/local-files/?d=../../{target.name}"]
        urls += [f"file://{target}"]
    tasks = [{"id": i, "data": {"image": url}} for i, url in enumerate(urls)]
    (src / "tasks.json").write_text(json.dumps(tasks))
    dest = tmp_path / "ds"
    report, seen = import_twice(lambda skip: labelstudio.import_dataset(src, dest, skip_invalid=skip), dest)
    check(report, 30, dest, places, seen)


def test_yolo_images_and_labels_linked_out(tmp_path: Path, places: dict[str, Path]) -> None:
    src = tmp_path / "src"
    write_image(src / "images" / "train" / "good.png", size=SIZE)
    (src / "labels" / "train").mkdir(parents=True)
    (src / "labels" / "train" / "good.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    for kind, target in places.items():  # a link as an image, and an image whose label file is a link
        (src / "images" / "train" / f"link_{kind}.png").symlink_to(target)
        write_image(src / "images" / "train" / f"labelled_{kind}.png", size=SIZE)
        (src / "labels" / "train" / f"labelled_{kind}.txt").symlink_to(target)
    (src / "data.yaml").write_text("train: images/train\nnames: [cat]\n")
    dest = tmp_path / "ds"
    report, seen = import_twice(lambda skip: yolo.import_dataset(src, dest, skip_invalid=skip), dest)
    check(report, 10, dest, places, seen)


def outside_folders(places: dict[str, Path], src: Path) -> list[str]:
    """data.yaml entries leading out: folders there or not, a file, host folders; absolute, up, linked."""
    targets = [places["folder"], places["missing"], places["secret"], Path("/etc/ssh"), Path("/no/such/dir")]
    entries = []
    for number, target in enumerate(targets):
        (src / f"link{number}").symlink_to(target)
        entries += [str(target), os.path.relpath(target, src), f"link{number}", f"link{number}/sub"]
    return entries


def test_yolo_data_yaml_folders_outside_get_one_answer_whether_there_or_not(
    tmp_path: Path, places: dict[str, Path]
) -> None:
    """Item 7: /etc/ssh (there) and a missing folder get the same answer; only inside is looked at."""
    src = tmp_path / "src"
    write_image(src / "images" / "train" / "good.png", size=SIZE)
    reasons = set()
    entries = outside_folders(places, src)
    for entry in entries:
        (src / "data.yaml").write_text(
            yaml.safe_dump({"train": "images/train", "val": entry, "names": ["a"]})
        )
        with spying() as seen, pytest.raises(FormatError) as error:
            yolo.import_dataset(src, tmp_path / "ds")
        assert error.value.item == "val" and looked_out(seen, places) == []
        reasons.add(error.value.reason.replace(repr(entry), "ENTRY"))
    assert reasons == {f"folder ENTRY lies outside the YOLO folder {src}"}
    config = {"path": "/etc", "train": "ssh", "names": ["a"]}  # a base folder outside
    (src / "data.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(FormatError, match="folder 'ssh' lies outside the YOLO folder"):
        yolo.import_dataset(src, tmp_path / "ds")
    (src / "data.yaml").write_text("train: images/missing\nnames: [a]\n")  # inside and missing: not found
    with pytest.raises(FormatError, match="folder 'images/missing' not found"):
        yolo.import_dataset(src, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


# ------------------------------------------------------------------------------------ Hugging Face

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def save_paths(folder: Path, paths: list[str], good: Path) -> None:
    """``save_to_disk`` of rows whose image is ``{"bytes": None, "path": ...}``, as ``datasets`` before 4.0
    wrote them. 5.x embeds local files on save: that step is turned off here, and so is the size estimate
    that stats each path (a shard count); the files written are ``datasets``' own."""
    rows: list[dict[str, Any]] = [{"bytes": good.read_bytes(), "path": "good.png"}]
    rows += [{"bytes": None, "path": path} for path in paths]
    features = datasets.Features({"image": datasets.Image()})
    part = datasets.Dataset.from_dict({"image": rows}, features=features)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.arrow_writer, "embed_table_storage", lambda table, **_: table)
        patch.setattr(datasets.arrow_dataset, "xgetsize", lambda path, **_: 0)
        part.save_to_disk(str(folder))
    saved = datasets.load_from_disk(str(folder)).cast_column("image", datasets.Image(decode=False))
    assert [row["image"] for row in saved][1:] == rows[1:]  # the paths are stored as written


def test_hugging_face_paths(tmp_path: Path, places: dict[str, Path]) -> None:
    src = tmp_path / "src"
    good = write_image(tmp_path / "good.png", size=SIZE)
    staging = tmp_path / "links"
    paths = references(places, src, staging)
    save_paths(src, paths, good)
    for link in staging.iterdir():
        link.rename(src / link.name)
    dest = tmp_path / "ds"
    report, seen = import_twice(lambda skip: hf.import_dataset(src, dest, skip_invalid=skip), dest)
    check(report, 15, dest, places, seen)
    assert [s.item for s in report.skipped] == [f"train[{i}]" for i in range(1, 16)]


def test_hugging_face_json_naming_files_outside_is_refused_before_datasets_reads_them(
    tmp_path: Path, places: dict[str, Path]
) -> None:
    src = tmp_path / "src"
    save_paths(src, [], write_image(tmp_path / "good.png", size=SIZE))
    kept = (src / "state.json").read_text()
    state = json.loads(kept)
    for target in (places["passwd"], places["missing"], places["folder"]):
        for name in (str(target), os.path.relpath(target, src)):
            state["_data_files"] = [{"filename": name}]
            (src / "state.json").write_text(json.dumps(state))
            with spying() as seen, pytest.raises(FormatError) as error:
                hf.import_dataset(src, tmp_path / "ds")
            assert (error.value.item, error.value.reason) == ("state.json", OUTSIDE)
            assert looked_out(seen, places) == []
    (src / "state.json").write_text(kept)
    (src / "dataset_dict.json").write_text(json.dumps({"splits": ["../outside"]}))
    with pytest.raises(FormatError, match="split '../outside': " + OUTSIDE):
        hf.import_dataset(src, tmp_path / "ds")


def test_hugging_face_on_the_command_line(tmp_path: Path, places: dict[str, Path]) -> None:
    src = tmp_path / "src"
    save_paths(src, [str(p) for p in places.values()], write_image(tmp_path / "good.png", size=SIZE))
    runner = CliRunner()
    with spying() as seen:
        result = runner.invoke(app, ["import", "hf", str(src), str(tmp_path / "ds"), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "1 images, 0 boxes" in result.output and f"skipped 5 (5 {OUTSIDE})" in result.output
    assert "root:" not in result.output and looked_out(seen, places) == []
    stopped = runner.invoke(app, ["import", "hf", str(src), str(tmp_path / "ds2")])
    assert stopped.exit_code == 2 and f"train[1]: {OUTSIDE}" in stopped.output


@dataclass
class Up:
    """An upload as the browser sends it."""

    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def test_hugging_face_zip_on_the_import_page(
    tmp_path: Path, places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Import page's use case with a zip of the saved folder (a zip holds no links: paths only)."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    src = tmp_path / "src"
    paths = [str(p) for p in places.values()] + ["../../../../../../../../etc/passwd"]
    save_paths(src, paths, write_image(tmp_path / "good.png", size=SIZE))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(src.rglob("*")):
            archive.write(path, f"saved/{path.relative_to(src).as_posix()}")
    upload = Up("saved.zip", buffer.getvalue())
    with pytest.raises(FormatError) as error:
        uc.import_upload(tmp_path / "sets", "hfds", "hf", [upload])
    assert (error.value.item, error.value.reason) == ("train[1]", OUTSIDE)
    assert error.value.source == "saved.zip/saved" and "root:" not in str(error.value)
    with spying() as seen:
        report = uc.import_upload(tmp_path / "sets", "hfds", "hf", [upload], skip_invalid=True)
    check(report, 6, tmp_path / "sets" / "hfds", places, seen)


# ------------------------------------------------------------------------------------ the rule


def test_locate_resolves_inside_and_never_looks_outside(tmp_path: Path, places: dict[str, Path]) -> None:
    root = tmp_path / "root"
    write_image(root / "a" / "b.png", size=SIZE)
    (root / "up").symlink_to("a")
    (root / "loop").symlink_to("loop")
    (root / "abs_in").symlink_to(root / "a")
    (root / "out").symlink_to(places["folder"])
    inside = Confinement(root)
    with spying() as seen:
        assert inside.locate("up/b.png") == root / "a" / "b.png"
        assert inside.locate("abs_in/../a/b.png") == root / "a" / "b.png"
        assert inside.locate(str(root / "a" / "b.png")) == root / "a" / "b.png"
        assert inside.locate("b.png", root / "up") == root / "a" / "b.png"
        assert inside.locate("a/missing/x.png") == root / "a" / "missing" / "x.png"
        for leading_out in ("..", "a/../../x", "/etc/passwd", "out", "out/x", "up/../../x", "loop"):
            assert inside.locate(leading_out) is None, leading_out
    assert looked_out(seen, places) == []


# ------------------------------------------------------------------------------------------- exports


@pytest.mark.parametrize("fmt", ["yolo", "voc", "cvat", "labelstudio"])
def test_no_export_copies_an_image_linked_from_outside(tmp_path: Path, places: dict[str, Path], fmt: str) -> None:
    """The library (and so the CLI) refuses to export an image that is a link out, whatever skip_invalid says;
    COCO's Roboflow layout skips it when asked (it places each image itself)."""
    from formats_sample import two_split_dataset

    from opsml_image import formats

    dataset = two_split_dataset(tmp_path / "data")
    (dataset.image_dir / "train" / "a.png").unlink()
    (dataset.image_dir / "train" / "a.png").symlink_to(places["secret"])
    spec = formats.get(fmt)
    with pytest.raises(FormatError, match=r"train/a\.png: .*outside the dataset folder.*remove the link"):
        spec.export(dataset, tmp_path / "out", spec.options(), skip_invalid=True)
    assert not (tmp_path / "out").exists()
    assert spec.export(dataset, tmp_path / "val", spec.options(), split="validation").images == 1
    options = coco.CocoOptions(layout="roboflow")
    report = coco.export(dataset, tmp_path / "rf", options, split="train", skip_invalid=True)
    assert [s.item for s in report.skipped] == ["a.png"] and not (tmp_path / "rf" / "train" / "a.png").exists()
