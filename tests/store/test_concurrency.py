"""Threads, several stores on one folder, and processes from different working directories."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from conftest import REPO_ROOT, write_image
from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.store import AutoFlusher, Filter, StaleEdit, WorkStore
from tests.store.conftest import lines, save


def _stress_module():
    spec = importlib.util.spec_from_file_location(
        "bench_store_stress", REPO_ROOT / "bench" / "bench_store_stress.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_autoflusher_flushes_after_delay_and_on_stop(store: WorkStore, dataset: ImageDataset) -> None:
    flusher = AutoFlusher(store, delay=0.2)
    e = store.get("train", "e.png")
    e.caption = "auto"
    save(store, e)
    flusher.notify()
    deadline = time.monotonic() + 5
    while store.dirty_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.dirty_count() == 0 and orjson.loads(lines(dataset)[5])["caption"] == "auto"
    e.caption = "on stop"
    save(store, e)
    flusher.notify()
    flusher.stop()
    assert not flusher.alive and flusher.last_error is None
    assert orjson.loads(lines(dataset)[5])["caption"] == "on stop"


def test_concurrent_saves_and_flushes(big: WorkStore) -> None:
    flusher = AutoFlusher(big, delay=0.01)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for key in big.keys(Filter(), offset, 20):
                a = big.get(*key)
                a.caption = f"edited {key[1]}"
                save(big, a)
                flusher.notify()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i * 20,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flusher.stop()
    assert not errors and big.dirty_count() == 0
    assert big.sync() is False
    reread = ImageDataset(image_dir=big.dataset.image_dir).annotations()
    assert all(a.caption == f"edited {a.file_name}" for a in reread.values())
    assert all(len(a.lines) == 1 for a in reread.values())


def test_flat_layout_add_category_and_upload_do_not_reindex(tmp_path: Path, store_uri: str) -> None:
    root = tmp_path / "flat"
    write_image(root / "a.png")
    (root / "metadata.jsonl").write_bytes(b'{"file_name": "a.png", "caption": "x"}\n')
    store = WorkStore.open(ImageDataset(image_dir=root), store_uri)
    assert store.sync() is True
    time.sleep(0.01)
    assert store.add_category("cat") == 0
    assert store.sync() is False
    write_image(root / "b.png")
    assert store.add_images("train", ["b.png"]) == 1
    assert store.sync() is False
    assert store.keys() == [("train", "a.png"), ("train", "b.png")]
    time.sleep(0.02)  # past the clock tick of the last stamp (coarse-grained file times on older kernels)
    write_image(root / "c.png")  # dropped in from outside: the folder stamp changed
    assert store.sync() is True and store.count() == 3
    store.close()


def test_two_servers_on_one_folder(store: WorkStore, dataset: ImageDataset) -> None:
    """A second store of the same folder (another server) sees saves at once, conflicts and refused undos."""
    other = WorkStore.open(ImageDataset(image_dir=dataset.image_dir), store.url)
    assert other.sync() is False  # indexed already, by the first
    a = store.get("train", "a.png")
    a.caption = "ana on server 1"
    save(store, a, user="ana")
    ana = store.history(1)[0]
    assert other.get("train", "a.png").caption == "ana on server 1"
    b = other.get("train", "a.png")
    b.caption = "ben on server 2"
    with pytest.raises(StaleEdit):
        other.save(b, 1)  # ben read version 1 before ana's save
    other.save(b, ana.version, user="ben")
    with pytest.raises(StaleEdit):
        store.undo(ana.id, user="ana")  # ben saved after ana: her undo would erase his edit
    new = ImageAnnotation(file_name="new.png", split="train", caption="x")
    store.save(new, 0)
    with pytest.raises(StaleEdit):
        other.save(new, 0)
    other.flush()
    assert {orjson.loads(line)["file_name"]: orjson.loads(line) for line in lines(dataset) if line.strip()}[
        "a.png"
    ]["caption"] == "ben on server 2"
    assert store.dirty_count() == 0
    other.close()


def test_racing_creations_of_one_image_report_stale(store: WorkStore, dataset: ImageDataset) -> None:
    """Threads of several stores create one new image at the same moment: one wins, the rest are stale."""
    stores = [WorkStore.open(ImageDataset(image_dir=dataset.image_dir), store.url) for _ in range(4)]
    results: list[object] = []
    barrier = threading.Barrier(len(stores))

    def create(s: WorkStore, i: int) -> None:
        barrier.wait()
        try:
            results.append(s.save(ImageAnnotation(file_name="race.png", split="train", caption=str(i)), 0))
        except StaleEdit as error:
            results.append(error)

    threads = [threading.Thread(target=create, args=(s, i)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(1) == 1 and sum(isinstance(r, StaleEdit) for r in results) == len(stores) - 1
    assert store.version("train", "race.png") == 1
    for s in stores:
        s.close()


def test_stress_check_counts_lost_saves() -> None:
    check = _stress_module()._check
    acks = [
        {"name": "a", "token": "t1", "expected": 1, "version": 2},
        {"name": "a", "token": "t2", "expected": 2, "version": 3},
        {"name": "b", "token": "u1", "expected": 1, "version": 2},
        {"name": "b", "token": "u2", "expected": 1, "version": 2},  # two acks of one version: one was lost
    ]
    assert check(acks, {"a": "t2", "b": "u2"}) == (1, 0)
    assert check(acks[:2], {"a": "t1"}) == (0, 1)


def test_processes_from_different_directories_lose_no_save(
    backend: str, new_store_uri, tmp_path: Path
) -> None:
    """A bounded run of bench/bench_store_stress.py: 4 processes x 30 saves on 20 images, own cwd each, each
    save with its review status in its transaction: none lost, every status naming its image's last save."""
    stress = _stress_module()
    folder = stress.make_folder(tmp_path / "dataset", 20)
    env = stress.stress_env(tmp_path / "user-data")
    if backend == "postgres":
        env["OPSML_IMAGE_STORE_URI"] = new_store_uri()
    outcome = stress.run(folder, 4, 30, 20, env, tmp_path / "work")
    assert outcome.lost == 0 and outcome.final_mismatch == 0 and outcome.status_mismatch == 0
    assert outcome.acknowledged + outcome.conflicts + outcome.refused == 120 and outcome.acknowledged > 60
    if backend == "sqlite":
        assert len(list((tmp_path / "user-data" / "opsml-image" / "stores").glob("*.db"))) == 1
