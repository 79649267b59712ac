"""Use case: register from the working store (reusing the verdict of a validation of the same files), the
form's defaults from this folder's own last card, the previous version for the diff."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml_image import dataset as dataset_module
from opsml_image.annotation import ImageAnnotation
from opsml_image.demo import copy_demo
from opsml_image.registry import CardRegistry
from opsml_image.usecases import register as uc
from opsml_image.usecases.validate import validate_and_record
from opsml_image.usecases.workspace import UserError, Workspace, open_workspace

FORM = uc.RegisterForm(name="demo", team="vision", contact="ann@example.com", tags="source=demo")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def ws(home: Path, tmp_path: Path) -> Iterator[Workspace]:
    workspace = open_workspace(copy_demo(tmp_path / "data"), flush_delay=0.05)
    yield workspace
    workspace.close()


@pytest.fixture
def registry(home: Path) -> Iterator[CardRegistry]:
    found = CardRegistry("data")
    yield found
    found.close()


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = dataset_module.read_lines

    def counting(path, *args, **kwargs):  # noqa: ANN001, ANN202
        reads.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(dataset_module, "read_lines", counting)
    return reads


def test_register_after_validate_reads_the_metadata_no_more(
    ws: Workspace, registry: CardRegistry, monkeypatch: pytest.MonkeyPatch
):
    splits = len(ws.dataset.splits)
    reads = count_reads(monkeypatch)
    verdict = validate_and_record(ws)
    assert len(reads) == splits  # Validate: each split's metadata.jsonl once
    card = uc.register(ws, registry, FORM, verdict=verdict)
    assert len(reads) == splits  # Register: not once more (before: 3-4 reads per file)
    assert card.version == "1.0.0" and card.validated
    facts = card.facts
    assert facts is not None and facts.records == ws.dataset.stats().records  # the counts are right
    assert card.tags == {"source": "demo", uc.SOURCE_TAG: str(ws.path)}


def test_register_without_a_verdict_reads_once(
    ws: Workspace, registry: CardRegistry, monkeypatch: pytest.MonkeyPatch
):
    reads = count_reads(monkeypatch)
    card = uc.register(ws, registry, FORM)
    assert len(reads) == len(ws.dataset.splits) and card.version == "1.0.0"


def test_a_verdict_of_other_files_is_not_reused(
    ws: Workspace, registry: CardRegistry, monkeypatch: pytest.MonkeyPatch
):
    verdict = validate_and_record(ws)
    path = ws.dataset.split("train").metadata_path
    path.write_text(path.read_text() + json.dumps({"file_name": "gone.jpg"}) + "\n")
    ws.store.sync()
    with pytest.raises(UserError, match="validation finds 1 error"):
        uc.register(ws, registry, FORM, verdict=verdict)
    assert registry.list_cards() == []


def test_pending_edits_are_registered(ws: Workspace, registry: CardRegistry):
    verdict = validate_and_record(ws)
    version = ws.store.version("train", "scene_001.jpg")
    ws.store.save(ImageAnnotation(file_name="scene_001.jpg", split="train", caption="fresh"), version)
    card = uc.register(ws, registry, FORM, verdict=verdict)  # flushed first: the verdict is of older files
    assert card.version == "1.0.0"
    assert b"fresh" in ws.dataset.split("train").metadata_path.read_bytes()


def test_required_fields_and_registry_refusals_are_user_errors(ws: Workspace, registry: CardRegistry):
    form = uc.RegisterForm(name=" ", team="vision", contact="")
    assert form.missing() == ["Name", "Contact email"]
    with pytest.raises(UserError, match="Name, Contact email"):
        uc.register(ws, registry, form)
    with pytest.raises(UserError, match="not an email address"):
        uc.register(ws, registry, uc.RegisterForm(name="demo", team="vision", contact="nobody"))


def test_form_defaults_come_from_this_folders_own_card(ws: Workspace, registry: CardRegistry, tmp_path: Path):
    empty = uc.form_defaults(ws, registry)
    assert empty.source is None and empty.form.name == "data" and empty.form.team == ""
    uc.register(ws, registry, FORM)
    other = open_workspace(copy_demo(tmp_path / "other"), flush_delay=0.05)
    try:
        uc.register(
            other, registry, uc.RegisterForm(name="other-set", team="robots", contact="bo@example.com")
        )
        mine = uc.form_defaults(ws, registry)
        assert mine.source == "vision/demo v1.0.0"
        assert (mine.form.name, mine.form.team, mine.form.contact) == ("demo", "vision", "ann@example.com")
        assert mine.form.tags == "source=demo"  # the app's source tag is not shown
        theirs = uc.form_defaults(other, registry)
        assert (theirs.form.name, theirs.form.team) == ("other-set", "robots")
    finally:
        other.close()


def test_previous_version_and_diff(ws: Workspace, registry: CardRegistry):
    first = uc.register(ws, registry, FORM)
    assert uc.previous_version(registry, first) is None and uc.diff_to_previous(registry, first) is None
    version = ws.store.version("train", "scene_001.jpg")
    ws.store.save(ImageAnnotation(file_name="scene_001.jpg", split="train", caption="v2"), version)
    second = uc.register(ws, registry, uc.RegisterForm(**{**FORM.__dict__, "bump": "patch"}))
    assert second.version == "1.0.1"
    assert uc.previous_version(registry, second) == "1.0.0"
    diff = uc.diff_to_previous(registry, second)
    assert diff is not None and diff.changed_records == ["train/scene_001.jpg"]
    assert [row["version"] for row in uc.versions_of(registry, second)] == ["1.0.1", "1.0.0"]


def test_tags_round_trip():
    assert uc.parse_tags("a=1, b , =x,c=") == {"a": "1", "b": "", "": "x", "c": ""}
    assert uc.format_tags({"a": "1", "b": "", uc.SOURCE_TAG: "/x"}) == "a=1, b"
