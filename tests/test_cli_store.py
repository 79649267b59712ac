"""``python -m opsml_image store take-over DIR``: only from a store that is provably gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml_image.cli import app
from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo
from opsml_image.store import WorkStore


def test_take_over_a_folder_whose_store_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = copy_demo(tmp_path / "data")
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home_a"))
    with WorkStore.open(ImageDataset(image_dir=data)) as first:
        old = first.db_path
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home_b"))
    runner = CliRunner()

    refused = runner.invoke(app, ["store", "take-over", str(data)])
    assert refused.exit_code == 1 and "held by another working store" in refused.output

    assert old is not None
    for path in old.parent.glob(old.name + "*"):
        path.unlink()  # the first store is gone for good
    taken = runner.invoke(app, ["store", "take-over", str(data)])
    assert taken.exit_code == 0, taken.output
    assert "held by this store now" in taken.output and str(tmp_path / "home_b") in taken.output
    with WorkStore.open(ImageDataset(image_dir=data)) as store:  # home B opens it as its own now
        assert store.claimed
