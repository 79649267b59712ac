"""Garbage collection: what no registered version needs goes; nothing else; never under a registration."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_image
from opsml_image.cli import app
from opsml_image.registry import CardBusyError, CardRegistry
from opsml_image.registry import locks as locks_module
from opsml_image.registry.hashing import scan
from opsml_image.registry.locks import card_lock

from .conftest import make_card, make_dataset, same_tree

TEAM, NAME = "vision", "street-signs"


def litter(registry: CardRegistry, tmp_path: Path) -> tuple[str, str, str]:
    """What a failed registration leaves: a blob no manifest names, a partial blob, a version folder."""
    stray = tmp_path / "stray" / "stray.png"
    write_image(stray, color=(1, 2, 3))
    entry = scan(stray.parent)[0]
    blob = registry.store.put_blob(TEAM, NAME, entry, None, lambda n: None).digest
    partial = Path(registry.store.blob_dir(TEAM, NAME)) / ".tmp-0123abcd"
    partial.write_bytes(b"half a blob")
    folder = Path(registry.store.version_dir(TEAM, NAME, "9.9.9"))
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes(b"{}")
    return blob, str(partial), "9.9.9"


def stored_files(registry: CardRegistry) -> set[str]:
    root = Path(registry.store.root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_collects_only_what_no_version_needs(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    registry.register_card(make_card(dataset_dir))
    original = tmp_path / "v1-original"
    registry.download_data(registry.load_card(name=NAME, version="1.0.0"), original)
    write_image(dataset_dir / "train" / "train_000.jpg", color=(200, 10, 10))  # v2 has other bytes for it
    registry.register_card(make_card(dataset_dir))
    blob, partial, folder = litter(registry, tmp_path)
    before = stored_files(registry)

    dry = registry.collect_garbage(dry_run=True)
    assert stored_files(registry) == before  # a dry run deletes nothing
    [card] = dry.cards
    assert (card.team, card.name) == (TEAM, NAME) and not card.skipped
    assert card.blobs == [blob] and card.bytes == os.path.getsize(registry.store.blob_path(TEAM, NAME, blob))
    assert card.temp_files == [partial] and card.version_folders == [folder]
    assert "would free" in dry.summary()

    done = registry.collect_garbage()
    assert done.blobs == 1 and done.bytes == card.bytes
    after = stored_files(registry)
    assert before - after == {
        str(Path(registry.store.blob_path(TEAM, NAME, blob)).relative_to(registry.store.root)),
        str(Path(partial).relative_to(registry.store.root)),
        f"{TEAM}/{NAME}/v{folder}/manifest.json",
    }
    # both versions still download byte for byte (v1's old train_000.jpg blob is still referenced)
    registry.download_data(registry.load_card(name=NAME, version="1.0.0"), tmp_path / "v1")
    registry.download_data(registry.load_card(name=NAME, version="1.1.0"), tmp_path / "v2")
    assert same_tree(original, tmp_path / "v1") and same_tree(dataset_dir, tmp_path / "v2")
    assert registry.collect_garbage().cards[0].empty


def test_a_card_with_no_version_at_all_is_collected_whole(registry: CardRegistry, tmp_path: Path) -> None:
    blob, _, _ = litter(registry, tmp_path)  # a first registration that failed
    report = registry.collect_garbage()
    assert report.blobs == 1 and report.cards[0].version_folders == ["9.9.9"]
    assert not os.path.exists(registry.store.blob_path(TEAM, NAME, blob))


def test_folders_this_registry_did_not_make_are_left_alone(registry: CardRegistry, tmp_path: Path) -> None:
    litter(registry, tmp_path)
    root = Path(registry.store.root)
    foreign = [
        root / "notes" / "misc" / "v1.0.0" / "readme.txt",  # a card-like path with a file we never write
        root / TEAM / NAME / "v2.0.0" / "notes.txt",
        root / TEAM / NAME / "vintage" / "manifest.json",  # not a version
        root / "Not A Card" / "x" / "v1.0.0" / "manifest.json",  # not a card name
    ]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep me")
    report = registry.collect_garbage()
    assert [(c.team, c.name) for c in report.cards] == [("notes", "misc"), (TEAM, NAME)]
    assert report.cards[1].version_folders == ["9.9.9"]
    assert all(path.exists() for path in foreign)


def test_a_card_whose_manifest_cannot_be_read_is_left_alone(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    registry.register_card(make_card(dataset_dir))
    blob, _, _ = litter(registry, tmp_path)
    Path(registry.store.version_dir(TEAM, NAME, "1.0.0"), "manifest.json").write_bytes(b"damaged")
    [card] = registry.collect_garbage().cards
    assert card.skipped and "not collected" in card.skipped and card.empty
    assert os.path.exists(registry.store.blob_path(TEAM, NAME, blob))


def test_a_running_registration_keeps_collection_off_its_card(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    blob, _, _ = litter(registry, tmp_path)
    storing, release = threading.Event(), threading.Event()

    def pause(stage: str, done: int, total: int) -> None:
        if stage == "upload":
            storing.set()
            release.wait(30)

    errors: list[BaseException] = []

    def run() -> None:
        try:
            registry.register_card(make_card(dataset_dir), progress=pause)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert storing.wait(30)
        [card] = registry.collect_garbage().cards
        assert card.skipped and "registration of this card is running" in card.skipped
        assert os.path.exists(registry.store.blob_path(TEAM, NAME, blob))
    finally:
        release.set()
        worker.join(60)
    assert not errors and registry.list_cards()[0]["version"] == "1.0.0"
    assert registry.collect_garbage().blobs == 1  # once it has finished


def test_a_registration_waits_for_a_collection_then_gives_up_with_a_readable_error(
    registry: CardRegistry, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks_module, "SHARED_WAIT_SECONDS", 0.3)
    with card_lock(registry.engine, TEAM, NAME, exclusive=True):
        with pytest.raises(CardBusyError, match="garbage collection of this card still runs"):
            registry.register_card(make_card(dataset_dir))
        registry.register_card(make_card(dataset_dir, name="other-card"))  # other cards are not held up
    assert registry.register_card(make_card(dataset_dir)).version == "1.0.0"


def test_cli_gc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "storage"))
    data = make_dataset(tmp_path / "data")
    runner = CliRunner()
    args = ["register", str(data), "--name", NAME, "--team", TEAM, "--email", "ana@example.com"]
    assert runner.invoke(app, args).exit_code == 0
    registry = CardRegistry("data")
    litter(registry, tmp_path)
    registry.close()
    dry = runner.invoke(app, ["cards", "gc", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "vision/street-signs: 1 blob(s)" in dry.output and "would free" in dry.output
    done = runner.invoke(app, ["cards", "gc", "--team", TEAM])
    assert done.exit_code == 0 and "freed" in done.output
    assert "freed 0 bytes" in runner.invoke(app, ["cards", "gc"]).output


def test_collects_on_s3_storage(s3_storage: tuple[str, dict], dataset_dir: Path, tmp_path: Path) -> None:
    uri, options = s3_storage
    registry = CardRegistry(
        tracking_uri=f"sqlite:///{tmp_path / 'r.db'}", storage_uri=uri, storage_options=options
    )
    try:
        registry.register_card(make_card(dataset_dir))
        stray = tmp_path / "stray" / "stray.png"
        write_image(stray, color=(1, 2, 3))
        blob = registry.store.put_blob(TEAM, NAME, scan(stray.parent)[0], None, lambda n: None).digest
        partial = f"{registry.store.blob_dir(TEAM, NAME)}/tmp/0123abcd.part"
        registry.store.fs.pipe_file(partial, b"half a blob")
        [card] = registry.collect_garbage().cards
        assert card.blobs == [blob] and card.temp_files == [partial] and card.version_folders == []
        assert blob not in registry.store.existing_blobs(TEAM, NAME)
        assert not registry.store.fs.exists(partial)
        restored = registry.download_data(registry.load_card(name=NAME), tmp_path / "restored")
        assert same_tree(dataset_dir, Path(restored.image_dir))
    finally:
        registry.close()
