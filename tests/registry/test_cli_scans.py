"""``register DIR`` from cold walks the folder for the registry once and reads each metadata file once: the
registry's scan lists the files it stores and later only stats them again; validation and the card's counts
come from one read. Before, the registry walked the folder twice and read each metadata file twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml_image.cli import app

from .conftest import make_dataset
from .counting import count_folder_reads


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "storage"))
    return make_dataset(tmp_path / "data")


def register(data: Path) -> dict:
    args = ["register", str(data), "--name", "signs", "--team", "vision", "--email", "ana@example.com"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_cli_register_from_cold_scans_once_and_reads_the_metadata_once(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_folder_reads(monkeypatch, data)
    card = register(data)
    assert card["validated"] and card["facts"]["records"] == 5 and card["facts"]["boxes"] == 10
    assert reads.scans == 1  # the registry's walk (was 2: the scan, then a second one to see no change)
    assert sorted(reads.metadata) == ["train/metadata.jsonl", "validation/metadata.jsonl"]  # was 2 each
    # The root's listings: opening the folder (its splits, its stale temp files), the validator's walk
    # (links out, special files) and the registry's scan; was 7 (the card opened the folder once more).
    assert reads.walks == 4
