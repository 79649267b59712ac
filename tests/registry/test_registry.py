"""CardRegistry end to end, on SQLite and on the real PostgreSQL (the ``tracking_uri`` fixture)."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
import xxhash

from conftest import free_port, write_image
from opsml_image import ImageDataset
from opsml_image.registry import (
    AmbiguousCardError,
    CardNotFoundError,
    CardRegistry,
    DatasetChangedError,
    DatasetInvalidError,
    IntegrityError,
    InvalidVersionError,
    RegistryConnectionError,
    RegistryError,
    StorageError,
    VersionExistsError,
)
from opsml_image.registry import registry as registry_module
from opsml_image.registry import storage as storage_module
from opsml_image.registry.hashing import hash_bytes, scan

from .conftest import make_card, make_dataset, same_tree
from .test_storage import FailingMemoryFS


def test_register_fills_the_card(registry: CardRegistry, dataset_dir: Path) -> None:
    card = make_card(
        dataset_dir, name="Street Signs", tags={"source": "dashcam"}, description="dashcam frames"
    )
    events: list[tuple[str, int, int]] = []
    registry.register_card(card, progress=lambda *e: events.append(e))
    assert card.version == "1.0.0" and len(card.uid or "") == 32 and card.created_at is not None
    assert card.uri == str(Path(registry.store.root) / "vision" / "street-signs" / "v1.0.0")
    assert (Path(card.uri) / "manifest.json").is_file() and (
        Path(card.uri) / "files" / "categories.json"
    ).is_file()
    facts = card.facts
    assert facts is not None and card.validated is True
    assert (facts.images, facts.records, facts.boxes, facts.annotated_images) == (5, 5, 10, 5)
    assert facts.splits == {"train": 3, "validation": 2}
    assert [(c.id, c.name, c.boxes) for c in facts.categories] == [
        (0, "car", 2),
        (1, "house", 7),
        (2, "tree", 1),
    ]
    sizes = sum(p.stat().st_size for p in dataset_dir.rglob("*") if p.is_file())
    assert facts.total_bytes == sizes and facts.files == 8
    stages = [e[0] for e in events]
    assert {"validate", "upload", "commit"} <= set(stages)
    assert events[-1] == ("commit", 1, 1)
    uploads = [e for e in events if e[0] == "upload"]
    assert uploads[-1][1] == uploads[-1][2] == sizes


def test_versions_bump_and_list_newest_first(registry: CardRegistry, dataset_dir: Path) -> None:
    got = [registry.register_card(make_card(dataset_dir)).version]
    for kind in ("minor", "patch", "major"):
        got.append(registry.register_card(make_card(dataset_dir), version_type=kind).version)  # type: ignore[arg-type]
    got.append(registry.register_card(make_card(dataset_dir), version="3.0.0-rc.1+build.7").version)
    got.append(registry.register_card(make_card(dataset_dir), version_type="major").version)
    assert got == ["1.0.0", "1.1.0", "1.1.1", "2.0.0", "3.0.0-rc.1+build.7", "3.0.0"]
    rows = registry.list_cards(name="street-signs")
    assert [r["version"] for r in rows] == ["3.0.0", "3.0.0-rc.1+build.7", "2.0.0", "1.1.1", "1.1.0", "1.0.0"]
    assert set(rows[0]) >= {"uid", "team", "name", "version", "created_at", "images", "total_bytes", "uri"}
    assert registry.list_cards(name="other") == []
    assert registry.load_card(name="street-signs").version == "3.0.0"
    assert registry.load_card(name="street-signs", version="3.0.0-rc.1").version == "3.0.0-rc.1+build.7"


def test_newest_card_is_the_last_registered_not_the_highest_version(
    registry: CardRegistry, dataset_dir: Path
) -> None:
    assert registry.newest_card() is None
    registry.register_card(make_card(dataset_dir), version="2.0.0")
    registry.register_card(make_card(dataset_dir, name="other"))
    assert registry.newest_card()["name"] == "other"  # type: ignore[index]
    registry.register_card(make_card(dataset_dir), version="1.5.0")
    newest = registry.newest_card()
    assert newest is not None and (newest["name"], newest["version"]) == ("street-signs", "1.5.0")


def test_bad_versions_register_nothing(registry: CardRegistry, dataset_dir: Path) -> None:
    registry.register_card(make_card(dataset_dir), version="1.2.0")
    with pytest.raises(VersionExistsError, match="already registered"):
        registry.register_card(make_card(dataset_dir), version="1.2.0")
    with pytest.raises(VersionExistsError):
        registry.register_card(make_card(dataset_dir), version="1.2.0+other-build")
    with pytest.raises(InvalidVersionError):
        registry.register_card(make_card(dataset_dir), version="1.2")
    with pytest.raises(InvalidVersionError):
        registry.register_card(make_card(dataset_dir), version_type="huge")  # type: ignore[arg-type]
    assert [r["version"] for r in registry.list_cards()] == ["1.2.0"]
    assert registry.register_card(make_card(dataset_dir)).version == "1.3.0"


def test_card_registers_once(registry: CardRegistry, dataset_dir: Path) -> None:
    card = registry.register_card(make_card(dataset_dir))
    with pytest.raises(RegistryError, match="already registered"):
        registry.register_card(card)


def test_invalid_dataset_is_refused_unless_forced(registry: CardRegistry, dataset_dir: Path) -> None:
    (dataset_dir / "train" / "train_001.png").unlink()  # a record now points at a missing image
    with pytest.raises(DatasetInvalidError, match="fails validation") as caught:
        registry.register_card(make_card(dataset_dir))
    assert "train_001.png" in str(caught.value) and not caught.value.report.ok  # type: ignore[attr-defined]
    assert registry.list_cards() == []
    card = registry.register_card(make_card(dataset_dir), force=True)
    assert card.version == "1.0.0" and card.validated is False
    assert registry.list_cards()[0]["validated"] is False


def test_download_restores_the_exact_folder(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    (dataset_dir / "README.md").write_text("notes\n")
    (dataset_dir / ".hidden").write_bytes(b"\x00\x01")
    registry.register_card(make_card(dataset_dir))
    loaded = registry.load_card(name="street-signs", version="1.0.0")
    assert loaded.facts is not None and loaded.facts.images == 5 and loaded.tags == {}
    events: list[tuple[str, int, int]] = []
    dataset = registry.download_data(loaded, tmp_path / "restored", progress=lambda *e: events.append(e))
    assert same_tree(dataset_dir, tmp_path / "restored")
    assert isinstance(dataset, ImageDataset) and loaded.data is dataset
    assert dataset.validate().ok and list(dataset.splits) == ["train", "validation"]
    assert events[-1][0] == "download" and events[-1][1] == events[-1][2] > 0
    with pytest.raises(RegistryError, match="not empty"):
        registry.download_data(loaded, tmp_path / "restored")
    registry.download_data(loaded, tmp_path / "restored", overwrite=True)
    assert same_tree(dataset_dir, tmp_path / "restored")


def test_loading_needs_a_card_registered_in_this_registry(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    fresh = make_card(dataset_dir)
    with pytest.raises(RegistryError, match="not registered"):
        registry.download_data(fresh, tmp_path / "out")
    with pytest.raises(RegistryError, match="not registered"):
        registry.manifest(fresh)
    registered = registry.register_card(make_card(dataset_dir))
    other = CardRegistry(tracking_uri=f"sqlite:///{tmp_path / 'other.db'}", storage_uri=tmp_path / "other")
    try:
        with pytest.raises(CardNotFoundError, match=f"uid {registered.uid}"):
            other.download_data(registered, tmp_path / "out")
    finally:
        other.close()
    assert not (tmp_path / "out").exists()
    restored = registry.download_data(registered, tmp_path / "out")  # the card the registration filled
    assert same_tree(dataset_dir, restored.image_dir) and registered.data is restored
    assert set(registry.manifests("street-signs", "vision")) == {"1.0.0"}


def test_metadata_file_name_is_kept_and_part_of_the_reused_verdict(
    registry: CardRegistry, tmp_path: Path, no_racy_window: None
) -> None:
    from opsml_image.registry import DataCard

    root = tmp_path / "named"
    write_image(root / "a.jpg")
    (root / "labels.jsonl").write_text(json.dumps({"file_name": "a.jpg"}) + "\n")
    (root / "metadata.jsonl").write_text(json.dumps({"file_name": "missing.jpg"}) + "\n")

    def card(**data: object) -> DataCard:
        return DataCard(
            data=ImageDataset(image_dir=root, **data), name="named", team="vision", user_email="a@b.co"
        )

    first = registry.register_card(card(metadata="labels.jsonl"))
    assert first.validated is True and first.facts is not None and first.facts.metadata == "labels.jsonl"
    restored = registry.download_data(registry.load_card(name="named"), tmp_path / "restored")
    assert restored.metadata == "labels.jsonl" and restored.validate().ok
    # The same bytes read through metadata.jsonl are another dataset: validated afresh, and refused.
    with pytest.raises(DatasetInvalidError, match="missing.jpg"):
        registry.register_card(card())
    assert [r["version"] for r in registry.list_cards()] == ["1.0.0"]


@pytest.mark.parametrize("force", [False, True])
def test_a_split_folder_linked_outside_is_never_registered(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path, force: bool
) -> None:
    card = make_card(dataset_dir)  # opened while the folder was fine
    (dataset_dir / "train").rename(tmp_path / "train-elsewhere")
    (dataset_dir / "train").symlink_to(tmp_path / "train-elsewhere", target_is_directory=True)
    with pytest.raises(ValueError, match="train/metadata.jsonl is a link to a place outside the dataset folder"):
        ImageDataset(image_dir=dataset_dir)
    with pytest.raises(RegistryError, match="train is a link to a place outside the dataset folder"):
        registry.register_card(card, force=force)
    assert registry.list_cards() == []


def test_registered_versions_never_change(registry: CardRegistry, dataset_dir: Path, tmp_path: Path) -> None:
    original = tmp_path / "original"
    shutil.copytree(dataset_dir, original)
    registry.register_card(make_card(dataset_dir))
    write_image(dataset_dir / "train" / "train_000.jpg", color=(1, 2, 3))
    registry.register_card(make_card(dataset_dir))
    first = registry.download_data(registry.load_card(name="street-signs", version="1.0.0"), tmp_path / "v1")
    assert same_tree(original, first.image_dir)
    second = registry.download_data(registry.load_card(name="street-signs", version="1.1.0"), tmp_path / "v2")
    assert same_tree(dataset_dir, second.image_dir)


def test_unchanged_reregistration_copies_nothing(
    registry: CardRegistry, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, no_racy_window: None
) -> None:
    registry.register_card(make_card(dataset_dir))
    blobs = registry.store.existing_blobs("vision", "street-signs")
    calls: list[str] = []
    original_put = storage_module.ArtifactStore.put_blob

    def counting_put(self, team, name, entry, expected, advance):  # type: ignore[no-untyped-def]
        calls.append(entry.path)
        return original_put(self, team, name, entry, expected, advance)

    monkeypatch.setattr(storage_module.ArtifactStore, "put_blob", counting_put)
    validated: list[int] = []
    monkeypatch.setattr(registry_module, "judge", lambda data, *a, **kw: validated.append(1))
    again = registry.register_card(make_card(dataset_dir))
    assert again.version == "1.1.0" and again.validated is True
    assert calls == [] and validated == []  # no copy, and the verdict of identical bytes is reused
    assert registry.store.existing_blobs("vision", "street-signs") == blobs
    first, second = registry.list_cards()[::-1]
    assert first["content_digest"] == second["content_digest"]


def test_new_blobs_reach_the_disk_before_the_card_row_commits(
    registry: CardRegistry, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, no_racy_window: None
) -> None:
    synced: list[tuple[str, int]] = []
    original = storage_module.sync_filesystem
    monkeypatch.setattr(
        storage_module,
        "sync_filesystem",
        lambda path: synced.append((path, len(registry.list_cards()))) or original(path),
    )
    registry.register_card(make_card(dataset_dir))
    assert synced == [(registry.store.root, 0)]  # once, before any card row existed
    registry.register_card(make_card(dataset_dir))
    assert len(synced) == 1  # nothing new was written: nothing to sync


def test_one_changed_image_copies_one_blob(
    registry: CardRegistry, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, no_racy_window: None
) -> None:
    registry.register_card(make_card(dataset_dir))
    write_image(dataset_dir / "validation" / "validation_001.png", color=(9, 9, 9))
    calls: list[str] = []
    original_put = storage_module.ArtifactStore.put_blob
    monkeypatch.setattr(
        storage_module.ArtifactStore,
        "put_blob",
        lambda self, *a: calls.append(a[2].path) or original_put(self, *a),
    )
    registry.register_card(make_card(dataset_dir))
    assert calls == ["validation/validation_001.png"]


def test_diff_lists_images_and_records(registry: CardRegistry, dataset_dir: Path) -> None:
    registry.register_card(make_card(dataset_dir))
    write_image(dataset_dir / "train" / "train_000.jpg", color=(1, 2, 3))  # changed image
    (dataset_dir / "validation" / "validation_001.png").unlink()  # removed image and record
    write_image(dataset_dir / "train" / "extra.jpg")  # added image and record
    lines = (dataset_dir / "train" / "metadata.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    records[1]["caption"] = "a new caption"  # changed record, same image
    records.append({"file_name": "extra.jpg", "objects": {"bbox": [[1, 1, 5, 5]], "categories": [0]}})
    (dataset_dir / "train" / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    val = (dataset_dir / "validation" / "metadata.jsonl").read_text().splitlines()[:1]
    (dataset_dir / "validation" / "metadata.jsonl").write_text(val[0] + "\n")
    registry.register_card(make_card(dataset_dir))
    diff = registry.diff("street-signs", "1.0.0", "1.1.0")
    assert diff.added_images == ["train/extra.jpg"]
    assert diff.removed_images == ["validation/validation_001.png"]
    assert diff.changed_images == ["train/train_000.jpg"]
    assert diff.added_records == ["train/extra.jpg"]
    assert diff.removed_records == ["validation/validation_001.png"]
    assert diff.changed_records == ["train/train_001.png"]
    assert diff.changed_files == ["train/metadata.jsonl", "validation/metadata.jsonl"]
    assert registry.diff("street-signs", "1.0.0", "1.0.0").empty


def test_racing_registrations_get_distinct_consecutive_versions(
    tracking_uri: str, dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four registrations of one name reach the version allocation at the same moment (a barrier at their
    commit stage) and end as 1.0.0 ... 1.3.0, every one complete. On PostgreSQL all four read "no version
    yet" and pick 1.0.0 before any inserts (a second barrier): three meet the unique constraint and retry.
    On SQLite the write lock taken at BEGIN IMMEDIATE makes each wait for the one before: the allocations
    run one at a time and each sees every version committed before it."""
    racers = 4
    postgres = tracking_uri.startswith("postgresql")
    at_commit = threading.Barrier(racers, timeout=20)
    first_picks = threading.Barrier(racers, timeout=20)
    guard = threading.Lock()
    inside, most_inside = 0, 0
    picks: dict[str, list[tuple[int, str]]] = {}  # racer -> (versions it saw, version it took) per attempt
    real_next = registry_module.versions.next_version

    def next_version(existing, version_type="minor"):  # type: ignore[no-untyped-def]
        nonlocal inside, most_inside
        with guard:
            inside += 1
            most_inside = max(most_inside, inside)
            attempts = picks.setdefault(threading.current_thread().name, [])
        try:
            chosen = real_next(existing, version_type)
            attempts.append((len(existing), str(chosen)))
            if postgres and len(attempts) == 1:
                first_picks.wait()  # nobody inserts before all four have picked
            else:
                time.sleep(0.05)  # between reading the latest version and inserting the row
            return chosen
        finally:
            with guard:
                inside -= 1

    monkeypatch.setattr(registry_module.versions, "next_version", next_version)
    registries = [
        CardRegistry(tracking_uri=tracking_uri, storage_uri=tmp_path / "storage", hash_cache=None)
        for _ in range(racers)
    ]
    results: list[str] = []
    errors: list[BaseException] = []

    def meet(stage: str, done: int, total: int) -> None:
        if stage == "commit" and done == 0:
            at_commit.wait()  # all four have validated and stored: they allocate together

    def run(reg: CardRegistry) -> None:
        try:
            results.append(str(reg.register_card(make_card(dataset_dir), progress=meet).version))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(reg,), name=f"racer-{i}") for i, reg in enumerate(registries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(results) == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    assert len(picks) == racers
    first = sorted(attempts[0] for attempts in picks.values())
    retries = sum(len(attempts) - 1 for attempts in picks.values())
    if postgres:  # a real collision: all took 1.0.0 at once, and every loser retried past it
        assert first == [(0, "1.0.0")] * racers and most_inside == racers
        assert retries >= racers - 1
        assert all(seen > 0 for attempts in picks.values() for seen, _ in attempts[1:])
    else:  # the write lock queued them: one allocation at a time, none stale, none retried
        assert most_inside == 1 and retries == 0
        assert first == [(0, "1.0.0"), (1, "1.1.0"), (2, "1.2.0"), (3, "1.3.0")]
    rows = registries[0].list_cards()
    assert sorted(r["version"] for r in rows) == sorted(results) and len({r["uid"] for r in rows}) == racers
    for i, version in enumerate(sorted(results)):
        restored = (
            registries[0].download_data(registries[0].load_card(name="street-signs", version=version), tmp_path / f"r{i}")
        )
        assert same_tree(dataset_dir, restored.image_dir)
    for reg in registries:
        reg.close()


def test_storage_is_read_before_the_database_write_lock_is_taken(
    dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    db = tmp_path / "locked.db"
    reg = CardRegistry(tracking_uri=f"sqlite:///{db}", storage_uri=tmp_path / "storage", hash_cache=None)
    locked: list[bool] = []
    real_read = reg.store.read_blob

    def read_blob(*args):  # type: ignore[no-untyped-def]
        probe = sqlite3.connect(db, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            locked.append(False)
        except sqlite3.OperationalError:
            locked.append(True)  # a registration holds the write lock: every other one waits
        finally:
            probe.close()
        return real_read(*args)

    monkeypatch.setattr(reg.store, "read_blob", read_blob)
    card = reg.register_card(make_card(dataset_dir))
    assert locked == [False, False, False]  # categories.json and two metadata.jsonl
    assert (Path(card.uri or "") / "files" / "train" / "metadata.jsonl").read_bytes() == (
        dataset_dir / "train" / "metadata.jsonl"
    ).read_bytes()
    reg.close()


def test_storage_failing_half_way_leaves_no_card_and_retry_works(
    tracking_uri: str, dataset_dir: Path, tmp_path: Path
) -> None:
    fs = FailingMemoryFS()
    fs.budget = 3  # three files get through, then the storage fails
    root = f"memory://reg-{uuid.uuid4().hex}"
    failing = CardRegistry(tracking_uri=tracking_uri, storage_uri=root, fs=fs, workers=1, hash_cache=None)
    with pytest.raises(StorageError, match="simulated storage outage"):
        failing.register_card(make_card(dataset_dir))
    assert failing.list_cards() == []
    fs.budget = 1_000_000
    card = failing.register_card(make_card(dataset_dir))
    assert card.version == "1.0.0"  # no hole left by the failed attempt
    restored = failing.download_data(failing.load_card(name="street-signs"), tmp_path / "restored")
    assert same_tree(dataset_dir, restored.image_dir)
    failing.close()


def test_failure_while_committing_leaves_no_card(
    registry: CardRegistry, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise StorageError("simulated failure writing the version folder")

    with monkeypatch.context() as patch:
        patch.setattr(registry.store, "write_version", broken)
        with pytest.raises(StorageError, match="simulated"):
            registry.register_card(make_card(dataset_dir))
    assert registry.list_cards() == []
    assert registry.register_card(make_card(dataset_dir)).version == "1.0.0"


def test_any_failure_while_the_folder_changes_is_reported_as_the_change(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def validate_then_crash(data, *args, **kwargs):  # type: ignore[no-untyped-def]
        (dataset_dir / "train" / "train_000.jpg").unlink()
        raise RuntimeError("a reader tripped over the missing file")

    monkeypatch.setattr(registry_module, "judge", validate_then_crash)
    with pytest.raises(DatasetChangedError, match="changed during registration"):
        registry.register_card(make_card(dataset_dir))
    assert registry.list_cards() == []


def test_dataset_vanishing_mid_registration(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    def vanish(stage: str, done: int, total: int) -> None:
        if stage == "upload" and dataset_dir.exists():
            shutil.move(dataset_dir, tmp_path / "moved-away")

    with pytest.raises(DatasetChangedError, match="vanished"):
        registry.register_card(make_card(dataset_dir), progress=vanish)
    assert registry.list_cards() == []
    shutil.move(tmp_path / "moved-away", dataset_dir)
    assert registry.register_card(make_card(dataset_dir)).version == "1.0.0"


def test_image_changing_mid_registration(registry: CardRegistry, dataset_dir: Path) -> None:
    target = dataset_dir / "validation" / "validation_000.jpg"

    def tamper(stage: str, done: int, total: int) -> None:
        if stage == "upload" and done > 0 and target.stat().st_size < 5000:
            write_image(target, size=(100, 100), color=(0, 0, 0))

    with pytest.raises(DatasetChangedError, match="changed during registration"):
        registry.register_card(make_card(dataset_dir), progress=tamper)
    assert registry.list_cards() == []
    card = registry.register_card(make_card(dataset_dir))
    assert card.version == "1.0.0"


def test_hash_mismatch_against_the_cache_is_caught(
    registry: CardRegistry, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, no_racy_window: None
) -> None:
    registry.register_card(make_card(dataset_dir))
    known = registry.hash_cache.lookup(scan(dataset_dir))
    # Its blob gone from storage, an image is copied again and must hash to what was hashed before; make
    # the bytes read now hash differently (as if they changed under an unchanged stat).
    Path(registry.store.blob_path("vision", "street-signs", known["train/train_002.jpg"])).unlink()
    monkeypatch.setattr(storage_module, "new_hasher", lambda: xxhash.xxh3_128(seed=1))
    with pytest.raises(DatasetChangedError, match="changed during registration"):
        registry.register_card(make_card(dataset_dir))
    assert [r["version"] for r in registry.list_cards()] == ["1.0.0"]


def test_tampered_storage_fails_download(registry: CardRegistry, dataset_dir: Path, tmp_path: Path) -> None:
    card = registry.register_card(make_card(dataset_dir))
    image = (dataset_dir / "train" / "train_000.jpg").read_bytes()
    Path(registry.store.blob_path(card.team, card.name, hash_bytes(image))).write_bytes(b"corrupt")
    with pytest.raises(IntegrityError):
        registry.download_data(registry.load_card(name="street-signs"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_load_errors(registry: CardRegistry, dataset_dir: Path) -> None:
    with pytest.raises(CardNotFoundError, match="no data card"):
        registry.load_card(name="street-signs")
    registry.register_card(make_card(dataset_dir, team="vision"))
    registry.register_card(make_card(dataset_dir, team="audio"))
    with pytest.raises(AmbiguousCardError, match="give the team"):
        registry.load_card(name="street-signs")
    assert registry.load_card(name="street-signs", team="Audio").team == "audio"
    with pytest.raises(CardNotFoundError):
        registry.load_card(name="street-signs", team="vision", version="9.9.9")
    assert registry.load_card(uid=registry.list_cards(team="vision")[0]["uid"]).team == "vision"


def test_registry_without_data_or_of_other_type(registry: CardRegistry) -> None:
    from opsml_image.registry import DataCard

    with pytest.raises(RegistryError, match="no data"):
        registry.register_card(DataCard(name="x", team="y", user_email="a@b.co"))
    with pytest.raises(RegistryError, match="only the 'data' registry"):
        CardRegistry("model")


def test_records_held_in_memory_are_refused(registry: CardRegistry, tmp_path: Path) -> None:
    from opsml_image.registry import DataCard
    from opsml_image.schema import ImageMetadata, ImageRecord

    write_image(tmp_path / "mem" / "a.jpg")
    data = ImageDataset(
        image_dir=tmp_path / "mem", metadata=ImageMetadata(records=[ImageRecord(file_name="a.jpg")])
    )
    card = DataCard(data=data, name="mem", team="vision", user_email="a@b.co")
    with pytest.raises(RegistryError, match="held in memory"):  # the folder holds none of those records
        registry.register_card(card)
    assert registry.list_cards() == []
    data.write_metadata()
    card = DataCard(
        data=ImageDataset(image_dir=tmp_path / "mem"), name="mem", team="vision", user_email="a@b.co"
    )
    assert registry.register_card(card).version == "1.0.0"


def test_unreachable_database(tmp_path: Path) -> None:
    with pytest.raises(RegistryConnectionError, match="cannot reach"):
        CardRegistry(tracking_uri=f"postgresql+psycopg://x@127.0.0.1:{free_port()}/db", storage_uri=tmp_path)


def test_defaults_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_dataset(tmp_path / "data", train=1, validation=1)
    reg = CardRegistry("data")
    card = reg.register_card(make_card(data))
    assert Path(card.uri or "").is_relative_to(tmp_path / "home" / "storage")
    assert (tmp_path / "home" / "registry.db").is_file()
    reg.close()
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "other-storage"))
    other = CardRegistry("data")
    assert other.list_cards() == []
    assert other.register_card(make_card(data)).uri == str(
        tmp_path / "other-storage" / "vision" / "street-signs" / "v1.0.0"
    )
    other.close()


def test_s3_storage_end_to_end(s3_storage: tuple[str, dict], dataset_dir: Path, tmp_path: Path) -> None:
    uri, options = s3_storage
    reg = CardRegistry(
        tracking_uri=f"sqlite:///{tmp_path / 'r.db'}", storage_uri=uri, storage_options=options
    )
    card = reg.register_card(make_card(dataset_dir))
    assert card.uri == f"{uri}/vision/street-signs/v1.0.0"
    assert reg.register_card(make_card(dataset_dir)).version == "1.1.0"
    restored = reg.download_data(reg.load_card(name="street-signs", version="1.0.0"), tmp_path / "restored")
    assert same_tree(dataset_dir, restored.image_dir)
    distinct = {hash_bytes(p.read_bytes()) for p in dataset_dir.rglob("*") if p.is_file()}
    assert set(reg.store.existing_blobs("vision", "street-signs")) == distinct  # once for both versions
    reg.close()


def test_verdict_is_reused_only_under_the_same_rules(
    registry: CardRegistry, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, no_racy_window: None
) -> None:
    first = registry.register_card(make_card(dataset_dir))
    assert first.facts is not None and first.facts.rules_fingerprint == registry_module.rules_fingerprint()
    validated: list[int] = []
    real_judge = registry_module.judge

    def counting_judge(data, *args, **kwargs):  # type: ignore[no-untyped-def]
        validated.append(1)
        return real_judge(data, *args, **kwargs)

    monkeypatch.setattr(registry_module, "judge", counting_judge)
    registry.register_card(make_card(dataset_dir))
    assert validated == []  # same bytes, same rules: the verdict is reused
    monkeypatch.setattr(registry_module, "_validator_source", lambda: "the validator's code changed")
    again = registry.register_card(make_card(dataset_dir))
    assert validated == [1] and again.validated is True
    assert again.facts is not None and again.facts.rules_fingerprint == registry_module.rules_fingerprint()
    registry.register_card(make_card(dataset_dir))
    assert validated == [1]  # the new verdict is reused under the new rules
    monkeypatch.setenv("OPSML_IMAGE_MAX_PIXELS", str(64 * 48 - 1))  # a stricter limit: the images now fail
    with pytest.raises(DatasetInvalidError, match="image.too_large"):
        registry.register_card(make_card(dataset_dir))
    assert validated == [1, 1]
    assert [r["version"] for r in registry.list_cards()] == ["1.3.0", "1.2.0", "1.1.0", "1.0.0"]


def test_a_manifest_path_leaving_the_folder_is_refused(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from opsml_image.registry.db import cards
    from opsml_image.registry.manifest import Manifest, ManifestEntry

    card = registry.register_card(make_card(dataset_dir))
    loaded = registry.load_card(name="street-signs")
    manifest = registry.manifest(loaded)
    first = manifest.entries[0]
    forged = Manifest.of([*manifest.entries, ManifestEntry("../escape.jpg", first.digest, first.size)])
    data = forged.to_bytes(card.team, card.name, str(card.version))
    (Path(card.uri or "") / "manifest.json").write_bytes(data)
    with registry.engine.begin() as conn:  # as if the row had been written with it
        conn.execute(sa.update(cards).values(manifest_digest=hash_bytes(data)).where(cards.c.uid == card.uid))
    with pytest.raises(RegistryError, match="leaves the folder"):
        registry.download_data(registry.load_card(name="street-signs"), tmp_path / "out" / "restored")
    assert list((tmp_path / "out").iterdir()) == []


def test_the_rules_fingerprint_follows_the_validator_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    module = types.ModuleType("fake_rules")
    module.__file__ = str(tmp_path / "fake_rules.py")
    Path(module.__file__).write_text("RULE = 1\n")
    monkeypatch.setattr(registry_module, "VALIDATOR_MODULES", (module,))
    registry_module._validator_source.cache_clear()
    before = registry_module.rules_fingerprint()
    Path(module.__file__).write_text("RULE = 2\n")
    registry_module._validator_source.cache_clear()
    assert registry_module.rules_fingerprint() != before
    registry_module._validator_source.cache_clear()
