"""``export voc|cvat|labelstudio|hf`` and ``import voc|cvat|labelstudio|hf`` on the command line: a round
trip of the demo dataset through each, the summary printed, and a refused input as one line with status 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from formats_sample import view
from typer.testing import CliRunner

from opsml_image import ImageDataset
from opsml_image.cli import app
from opsml_image.demo import DEMO_DIR

runner = CliRunner()


@pytest.mark.parametrize("fmt", ["voc", "cvat", "labelstudio", "hf"])
def test_round_trip_on_the_command_line(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if fmt == "hf":
        pytest.importorskip("datasets")
        monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = runner.invoke(app, ["export", fmt, str(DEMO_DIR), str(tmp_path / "out")])
    assert out.exit_code == 0, out.output
    assert "12 images, 59 boxes" in out.stdout
    back = runner.invoke(app, ["import", fmt, str(tmp_path / "out"), str(tmp_path / "back")])
    assert back.exit_code == 0, back.output
    dataset, restored = ImageDataset(image_dir=DEMO_DIR), ImageDataset(image_dir=tmp_path / "back")
    assert restored.category_names() == dataset.category_names()
    got, want = view(restored), view(dataset)
    assert got.keys() == want.keys()
    for key, boxes in want.items():
        assert [n for _, n in got[key]] == [n for _, n in boxes]
        assert [b for b, _ in got[key]] == [pytest.approx(b, rel=1e-6) for b, _ in boxes]


def test_a_refused_import_is_one_line_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "voc" / "Annotations").mkdir(parents=True)
    (tmp_path / "voc" / "Annotations" / "1.xml").write_text("<annotation>")
    result = runner.invoke(app, ["import", "voc", str(tmp_path / "voc"), str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert "Annotations/1.xml: not valid XML" in result.output and "Traceback" not in result.output
    skipped = runner.invoke(
        app, ["import", "voc", str(tmp_path / "voc"), str(tmp_path / "ds"), "--skip-invalid"]
    )
    assert skipped.exit_code == 2 and "no image could be imported (all skipped)" in skipped.output
    assert not (tmp_path / "ds").exists()


def test_export_of_a_split_and_warnings(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["export", "cvat", str(DEMO_DIR), str(tmp_path / "out"), "--split", "validation"]
    )
    assert result.exit_code == 0, result.output
    assert "3 images" in result.stdout and "warning: CVAT for images cannot hold captions" in result.output
