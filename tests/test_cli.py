"""``python -m opsml_image validate|info``: a report, and the exit code says whether there are errors."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from opsml_image.cli import app

runner = CliRunner()


def folder(tmp_path, make_image, line):
    make_image(tmp_path / "a.png", size=(40, 40))
    (tmp_path / "metadata.jsonl").write_text(line + "\n")
    return tmp_path


def test_validate_clean_folder_exits_0(tmp_path, make_image):
    root = folder(tmp_path, make_image, '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 5, 5]], "categories": [0]}}')
    result = runner.invoke(app, ["validate", str(root)])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


def test_validate_reports_and_exits_1_on_errors(tmp_path, make_image):
    root = folder(tmp_path, make_image, '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 50, 5]], "categories": [0]}}')
    result = runner.invoke(app, ["validate", str(root)])
    assert result.exit_code == 1
    assert "metadata.jsonl:1 [objects.bbox[0]] error box.outside" in result.output
    as_json = runner.invoke(app, ["validate", str(root), "--json"])
    assert json.loads(as_json.output.splitlines()[0])["code"] == "box.outside"


def test_validate_a_missing_folder_exits_2_without_traceback(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "is not a folder" in result.output and "Traceback" not in result.output


def test_info_prints_counts(tmp_path, make_image):
    root = folder(tmp_path, make_image, '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 5, 5]], "categories": [0]}}')
    (root / "categories.json").write_text('["cat"]')
    result = runner.invoke(app, ["info", str(root)])
    assert result.exit_code == 0
    assert "1 images, 1 records, 1 boxes" in result.output and "category 0 cat: 1 boxes" in result.output


def test_module_entry_point(tmp_path, make_image):
    root = folder(tmp_path, make_image, '{"file_name": "gone.png"}')
    proc = subprocess.run([sys.executable, "-m", "opsml_image", "validate", str(root)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "image.missing" in proc.stdout


def test_export_and_import_coco_from_the_shell(tmp_path):
    from opsml_image.demo import DEMO_DIR, copy_demo

    root = copy_demo(tmp_path / "demo")
    out = runner.invoke(app, ["export", "coco", str(root), str(tmp_path / "val.json"), "--split", "validation"])
    assert out.exit_code == 0, out.output
    images = json.loads((tmp_path / "val.json").read_text())["images"]
    assert len(images) == len(list((DEMO_DIR / "validation").glob("*.*g")))
    assert runner.invoke(app, ["export", "coco", str(root), str(tmp_path / "train.json"), "--split", "train"]).exit_code == 0
    (root / "validation" / "metadata.jsonl").unlink()
    one = runner.invoke(app, ["import", "coco", str(tmp_path / "val.json"), str(root / "validation")])
    assert one.exit_code == 2 and "import every split file at once" in one.output
    (root / "train" / "metadata.jsonl").unlink()
    back = runner.invoke(app, ["import", "coco", str(tmp_path / "train.json"), str(tmp_path / "val.json"), str(root)])
    assert back.exit_code == 0 and "12 images, 59 boxes" in back.output, back.output
    assert runner.invoke(app, ["validate", str(root)]).exit_code == 0


def test_export_needs_a_split_when_there_are_several(tmp_path):
    from opsml_image.demo import copy_demo

    root = copy_demo(tmp_path / "demo")
    out = runner.invoke(app, ["export", "coco", str(root), str(tmp_path / "x.json")])
    assert out.exit_code == 2 and "choose a split" in out.output


def test_yolo_round_trip_from_the_shell(tmp_path):
    from opsml_image import ImageDataset
    from opsml_image.demo import copy_demo

    root = copy_demo(tmp_path / "demo")
    assert runner.invoke(app, ["export", "yolo", str(root), str(tmp_path / "yolo")]).exit_code == 0
    out = runner.invoke(app, ["import", "yolo", str(tmp_path / "yolo"), str(tmp_path / "back")])
    assert out.exit_code == 0 and "12 images, 59 boxes" in out.output, out.output
    assert ImageDataset(image_dir=tmp_path / "back").splits.keys() == {"train", "validation"}
