"""Fixtures for the working-store tests: a small real dataset, and store URIs on SQLite and on the real
PostgreSQL server (a new database per call, so each store starts empty)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from conftest import write_image
from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.store import WorkStore

# Hand-written lines (spaces, key order) that a rewrite must keep byte for byte.
TRAIN_LINES = [
    b'{"file_name": "a.png", "caption": "A red Car", "objects": {"bbox": [[1, 2, 10, 10]], "categories": [0]}}\n',
    b'{"file_name": "b.png",   "caption": "first half"}\n',
    b'{"caption": "c has tags", "file_name": "c.png", "categories": [1], "source": "web"}\n',
    b'{"file_name": "b.png", "objects": {"bbox": [[0, 0, 5, 5], [3, 3, 4, 4]], "categories": [1, 2]}}\n',
    b"\n",
    b'{"file_name": "e.png", "caption": "last"}\n',
]
VALIDATION_LINES = [
    b'{"file_name": "v1.png", "caption": "a tree", "objects": {"bbox": [[2, 2, 8, 8]], "categories": [2]}}\n',
]


def build(root: Path) -> ImageDataset:
    """train: a, b (two records), c, e + d.png without a record; validation: v1 + v2.png without a record."""
    for name in ("a", "b", "c", "d", "e"):
        write_image(root / "train" / f"{name}.png", size=(64, 48))
    for name in ("v1", "v2"):
        write_image(root / "validation" / f"{name}.png", size=(32, 32))
    (root / "train" / "metadata.jsonl").write_bytes(b"".join(TRAIN_LINES))
    (root / "validation" / "metadata.jsonl").write_bytes(b"".join(VALIDATION_LINES))
    (root / "categories.json").write_bytes(orjson.dumps(["car", "house", "tree"]))
    return ImageDataset(image_dir=root)


def save(store: WorkStore, annotation: ImageAnnotation, user: str | None = None) -> int:
    """Save at the image's current version (as an editor who just read it)."""
    return store.save(annotation, store.version(annotation.split, annotation.file_name), user=user)


def lines(dataset: ImageDataset, split: str = "train") -> list[bytes]:
    return dataset.split(split).metadata_path.read_bytes().splitlines(keepends=True)


@pytest.fixture
def new_store_uri(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> Iterator[Callable[[], str]]:
    """Factory of fresh store URIs on the test's backend: a new SQLite file, or a new PostgreSQL database."""
    made: list[str] = []
    server = request.getfixturevalue("postgres_url") if backend == "postgres" else None

    def new() -> str:
        if server is None:
            uri = f"sqlite:///{tmp_path / f'store-{len(made)}.db'}"
        else:
            database = f"store_{uuid.uuid4().hex[:12]}"
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {database}")
            admin.dispose()
            uri = server.rsplit("/", 1)[0] + f"/{database}"
        made.append(uri)
        return uri

    yield new
    if server is not None:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for uri in made:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {uri.rsplit('/', 1)[1]} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The store's backend: every store test runs on a SQLite file and on the real PostgreSQL server."""
    return str(request.param)


@pytest.fixture
def store_uri(new_store_uri: Callable[[], str]) -> str:
    """A fresh store database on the test's backend."""
    return new_store_uri()


@pytest.fixture
def dataset(tmp_path: Path) -> ImageDataset:
    return build(tmp_path / "data")


@pytest.fixture
def store(dataset: ImageDataset, store_uri: str) -> Iterator[WorkStore]:
    opened = WorkStore.open(dataset, store_uri)
    assert opened.sync() is True
    yield opened
    opened.close()


@pytest.fixture
def big(tmp_path: Path, store_uri: str) -> Iterator[WorkStore]:
    """60 train + 20 test records over tiny images; every 3rd unlabeled, captions name colours."""
    root = tmp_path / "big"
    records: dict[str, list[bytes]] = {"train": [], "test": []}
    for i in range(80):
        split = "train" if i < 60 else "test"
        name = f"img{i:03d}.png"
        write_image(root / split / name, size=(16, 16))
        record: dict = {"file_name": name, "caption": ("Red" if i % 2 else "blue") + f" thing {i}"}
        if i % 3:
            record["objects"] = {"bbox": [[0, 0, 4, 4]] * (i % 4 + 1), "categories": [i % 5] * (i % 4 + 1)}
        records[split].append(orjson.dumps(record) + b"\n")
    for split, rows in records.items():
        (root / split / "metadata.jsonl").write_bytes(b"".join(rows))
    opened = WorkStore.open(ImageDataset(image_dir=root), store_uri)
    opened.sync()
    yield opened
    opened.close()
