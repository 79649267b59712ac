"""Register after Validate in the app's use case walks the folder once: the registry's scan, which confirms
the files the verdict judged, so no metadata is read again. Before the verdict was handed to the registry it
walked the folder 5 times (9 listings of its root, 23 of its folders)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import write_image
from opsml_image.demo import copy_demo
from opsml_image.registry import CardRegistry
from opsml_image.usecases import register as uc
from opsml_image.usecases.validate import validate_and_record
from opsml_image.usecases.workspace import Workspace, open_workspace
from tests.registry.counting import count_folder_reads

FORM = uc.RegisterForm(name="demo", team="vision", contact="ann@example.com")
METADATA = ["train/metadata.jsonl", "validation/metadata.jsonl"]


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI"):
        monkeypatch.delenv(name, raising=False)
    workspace = open_workspace(copy_demo(tmp_path / "data"), flush_delay=0.05)
    yield workspace
    workspace.close()


@pytest.fixture
def registry(ws: Workspace) -> Iterator[CardRegistry]:
    found = CardRegistry("data")
    yield found
    found.close()


def test_register_after_validate_walks_the_folder_once(
    ws: Workspace, registry: CardRegistry, monkeypatch: pytest.MonkeyPatch
):
    reads = count_folder_reads(monkeypatch, ws.path)
    verdict = validate_and_record(ws)
    assert reads.scans == 1 and sorted(reads.metadata) == METADATA  # the files listed, the metadata read once
    reads.clear()
    card = uc.register(ws, registry, FORM, verdict=verdict)
    assert reads.scans == 1 and dict(reads.listings) == {".": 1, "train": 1, "validation": 1}
    assert reads.metadata == []
    assert card.validated and card.facts is not None
    expected = ws.dataset.stats()
    assert (card.facts.records, card.facts.images, card.facts.boxes) == (
        expected.records,
        expected.images,
        expected.boxes,
    )


def test_a_folder_changed_since_the_verdict_is_validated_again_in_the_same_scan(
    ws: Workspace, registry: CardRegistry, monkeypatch: pytest.MonkeyPatch
):
    verdict = validate_and_record(ws)
    write_image(ws.path / "train" / "extra.png")  # a file the verdict never judged (image.unlabeled)
    reads = count_folder_reads(monkeypatch, ws.path)
    card = uc.register(ws, registry, FORM, verdict=verdict)
    assert reads.scans == 1  # the registry's scan saw the new file and did not take the verdict
    assert sorted(reads.metadata) == METADATA  # validated again: one read gives the report and the counts
    assert card.validated and card.facts is not None and card.facts.files == len(verdict.judged.files) + 1  # type: ignore[union-attr]


def test_without_a_verdict_the_registry_validates_once(
    ws: Workspace, registry: CardRegistry, monkeypatch: pytest.MonkeyPatch
):
    reads = count_folder_reads(monkeypatch, ws.path)
    card = uc.register(ws, registry, FORM)
    assert card.version == "1.0.0"
    assert reads.scans == 1 and sorted(reads.metadata) == METADATA
