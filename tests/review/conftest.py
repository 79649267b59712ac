"""Fixtures for the review tests: a small dataset folder, its working store on SQLite or on the real
PostgreSQL server (a new database per test), and a review board with a clock the test moves."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from conftest import write_image
from opsml_image.dataset import ImageDataset
from opsml_image.review import ReviewBoard
from opsml_image.store import WorkStore


class Clock:
    """A settable clock (epoch seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


def build(root: Path, train: int = 6, validation: int = 2) -> ImageDataset:
    """``train``/``validation`` images t00.png ... (t00 has a box of class 0), classes car and tree."""
    lines = {"train": [], "validation": []}
    for split, n, prefix in (("train", train, "t"), ("validation", validation, "v")):
        for i in range(n):
            name = f"{prefix}{i:02d}.png"
            write_image(root / split / name, size=(32, 24))
            record: dict = {"file_name": name}
            if i == 0:
                record["objects"] = {"bbox": [[1, 1, 5, 5]], "categories": [0]}
            lines[split].append(orjson.dumps(record) + b"\n")
        if n:
            (root / split / "metadata.jsonl").write_bytes(b"".join(lines[split]))
    (root / "categories.json").write_bytes(orjson.dumps(["car", "tree"]))
    return ImageDataset(image_dir=root)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_uri(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[str]:
    """A fresh store database: a SQLite file, or a new database on the PostgreSQL server."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    database = f"review_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    yield server.rsplit("/", 1)[0] + f"/{database}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def dataset(tmp_path: Path) -> ImageDataset:
    return build(tmp_path / "data")


@pytest.fixture
def store(dataset: ImageDataset, store_uri: str) -> Iterator[WorkStore]:
    opened = WorkStore.open(dataset, store_uri)
    opened.sync()
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def board(store: WorkStore, clock: Clock) -> ReviewBoard:
    return ReviewBoard(store, clock=clock)


@pytest.fixture
def work(store: WorkStore, board: ReviewBoard) -> Callable[..., int]:
    """``work(key, user, boxes=1, reviewer=False)``: save boxes on the image as ``user`` and record it."""
    from opsml_image.annotation import Box

    def save(key: tuple[str, str], user: str, boxes: int = 1, reviewer: bool = False) -> int:
        annotation = store.get(*key)
        assert annotation is not None
        annotation.boxes = [Box(1 + i, 1, 4, 4, 1) for i in range(boxes)]
        version = store.save(annotation, store.version(*key), user=user)
        board.on_save(key, user, reviewer=reviewer, version=version, n_boxes=boxes)
        return version

    return save


@pytest.fixture
def dataset_dir_image(dataset: ImageDataset) -> Callable[[str], None]:
    """``add(name)``: write a new image file into the train split folder."""

    def add(name: str) -> None:
        write_image(dataset.split("train").directory / name, size=(32, 24))

    return add
