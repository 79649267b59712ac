"""Races between processes on SQLite and PostgreSQL: hand-outs never give one image to two annotators,
and of several reviewers deciding the same images each image gets exactly one decision."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from opsml_image.review import ReviewBoard, Status
from opsml_image.store import WorkStore
from tests.review.conftest import build

WORKER = Path(__file__).with_name("race_worker.py")


def _run(mode: str, folder: Path, uri: str, users: list[str]) -> list[list[tuple[str, str]]]:
    start = time.time() + 5.0
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, str(folder), uri, user, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for user in users
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append([tuple(key) for key in json.loads(out.strip().splitlines()[-1])])
    return results


def test_four_processes_leasing_never_share_an_image(tmp_path: Path, store_uri: str) -> None:
    dataset = build(tmp_path / "data", train=30, validation=10)
    with WorkStore.open(dataset, store_uri) as store:
        store.sync()
        ReviewBoard(store)
    taken = _run("lease", dataset.image_dir, store_uri, ["p1", "p2", "p3", "p4"])
    everything = [key for keys in taken for key in keys]
    assert len(everything) == len(set(everything)) == 40
    assert sum(1 for keys in taken if keys) >= 2  # the processes really overlapped
    with WorkStore.open(dataset, store_uri) as store:
        assert ReviewBoard(store).status_counts()[Status.SUBMITTED] == 40


def test_four_reviewers_deciding_the_same_images_one_wins_each(tmp_path: Path, store_uri: str) -> None:
    dataset = build(tmp_path / "data", train=20, validation=0)
    with WorkStore.open(dataset, store_uri) as store:
        store.sync()
        board = ReviewBoard(store)
        for i in range(20):
            board.submit(("train", f"t{i:02d}.png"), "ana")
    won = _run("decide", dataset.image_dir, store_uri, ["r1", "r2", "r3", "r4"])
    everything = [key for keys in won for key in keys]
    assert len(everything) == len(set(everything)) == 20
    with WorkStore.open(dataset, store_uri) as store:
        board = ReviewBoard(store)
        assert board.status_counts()[Status.APPROVED] == 20
        winners = {board.item(key).reviewer for key in everything}
        assert winners <= {"r1", "r2", "r3", "r4"}
