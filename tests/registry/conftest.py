"""Fixtures for the registry tests: a small real dataset, and a registry on SQLite or on the real PostgreSQL."""

from __future__ import annotations

import filecmp
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import fresh_database, write_image
from opsml_image.registry import CardRegistry, DataCard
from opsml_image.registry import hashing as hashing_module

CATEGORIES = ["car", "house", "tree"]


def make_dataset(root: Path, train: int = 3, validation: int = 2) -> Path:
    """A split dataset: ``train/`` and ``validation/`` with real JPEG/PNG images, records with boxes, names."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "categories.json").write_text(json.dumps(CATEGORIES))
    for split, count in (("train", train), ("validation", validation)):
        lines = []
        for i in range(count):
            ext = "png" if i % 2 else "jpg"
            name = f"{split}_{i:03d}.{ext}"
            write_image(root / split / name, size=(64, 48), color=(10 * i, 80, 200 - 10 * i))
            record = {
                "file_name": name,
                "caption": f"{split} scene {i}",
                "objects": {
                    "bbox": [[1.0, 2.0, 10.0, 12.0], [20.0, 5.0, 8.0, 8.0]],
                    "categories": [i % 3, 1],
                },
            }
            lines.append(json.dumps(record))
        (root / split / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return root


def same_tree(a: Path, b: Path) -> bool:
    """The two folders hold the same files with the same bytes."""
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(filecmp.cmp(a / f, b / f, shallow=False) for f in files_a)


def make_card(root: Path, name: str = "street-signs", **kwargs: object) -> DataCard:
    from opsml_image import ImageDataset

    fields = {"team": "vision", "user_email": "ana@example.com", **kwargs}
    return DataCard(data=ImageDataset(image_dir=root), name=name, **fields)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPSML_TRACKING_URI", raising=False)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the hash cache keep files written a moment ago (tests cannot wait out the racy window)."""
    monkeypatch.setattr(hashing_module, "RACY_NS", 0)


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.fixture(params=["sqlite", "postgres"])
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh registry database: a SQLite file, or a new database on the test PostgreSQL server."""
    yield from fresh_database(request, tmp_path, request.param, "registry")


@pytest.fixture
def registry(tracking_uri: str, tmp_path: Path) -> Iterator[CardRegistry]:
    reg = CardRegistry("data", tracking_uri=tracking_uri, storage_uri=tmp_path / "storage")
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An in-process S3 endpoint (moto's server) on 127.0.0.1 with dummy credentials; yields its URL."""
    import os

    from moto.server import ThreadedMotoServer

    saved = {
        k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_storage(s3_endpoint: str) -> tuple[str, dict]:
    """``(s3://bucket/prefix, storage_options)`` in a new bucket."""
    import s3fs

    options = {"client_kwargs": {"endpoint_url": s3_endpoint}, "skip_instance_cache": True}
    bucket = f"bucket-{uuid.uuid4().hex[:10]}"
    s3fs.S3FileSystem(**options).mkdir(bucket)
    return f"s3://{bucket}/registry", options
