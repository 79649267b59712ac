"""The demo dataset shipped in opsml_image/demo_data/ and the copy_demo helper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from opsml_image.demo import DEMO_DIR, copy_demo

SPLITS = {"train": 9, "validation": 3}
CATEGORIES = ["car", "house", "tree"]


def _records(split: str) -> list[dict]:
    lines = (DEMO_DIR / split / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_layout_and_categories() -> None:
    assert json.loads((DEMO_DIR / "categories.json").read_text()) == CATEGORIES
    assert "CC0" in (DEMO_DIR / "LICENSE.md").read_text()
    for split, n in SPLITS.items():
        images = sorted(p.name for p in (DEMO_DIR / split).iterdir() if p.suffix in {".jpg", ".png"})
        assert len(images) == n
        assert sorted(r["file_name"] for r in _records(split)) == images  # every image has one record


def test_metadata_format() -> None:
    all_records = [r for split in SPLITS for r in _records(split)]
    caption_only = [r for r in all_records if set(r) == {"file_name", "caption"}]
    assert len(caption_only) == 2
    used = set()
    for split in SPLITS:
        raw = (DEMO_DIR / split / "metadata.jsonl").read_bytes()
        assert raw.endswith(b"\n") and b"\r" not in raw and b"null" not in raw
        records = _records(split)
        assert any(set(r) == {"file_name", "caption", "categories", "objects"} for r in records)
        for r in records:
            assert list(r)[:2] == ["file_name", "caption"] and r["caption"]
            if "objects" in r:
                assert list(r) == ["file_name", "caption", "categories", "objects"]
                cats = r["objects"]["categories"]
                assert r["categories"] == sorted(set(cats))
                assert all(0 <= c < len(CATEGORIES) for c in cats)
                used.update(cats)
    assert used == {0, 1, 2}


def test_boxes_inside_images() -> None:
    for split in SPLITS:
        for r in _records(split):
            if "objects" not in r:
                continue
            with Image.open(DEMO_DIR / split / r["file_name"]) as im:
                width, height = im.size
            boxes, cats = r["objects"]["bbox"], r["objects"]["categories"]
            assert len(boxes) == len(cats) > 0
            for x, y, w, h in boxes:
                assert all(round(v, 1) == v for v in (x, y, w, h))
                assert w > 0 and h > 0
                assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (r["file_name"], x, y, w, h)


def test_image_variety_and_total_size() -> None:
    sizes, formats = set(), set()
    for path in DEMO_DIR.rglob("*"):
        if path.suffix in {".jpg", ".png"}:
            with Image.open(path) as im:
                sizes.add(im.size)
                formats.add(im.format)
    assert len(sizes) >= 3 and any(h > w for w, h in sizes)
    assert formats == {"JPEG", "PNG"}
    total = sum(p.stat().st_size for p in DEMO_DIR.rglob("*") if p.is_file())
    assert total <= 3 * 1024 * 1024


def test_loads_with_hf_imagefolder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("imagefolder", data_dir=str(DEMO_DIR), cache_dir=str(tmp_path / "hf-cache"))
    assert {name: len(split) for name, split in ds.items()} == SPLITS
    for split in SPLITS:
        expected = {r["file_name"]: r for r in _records(split)}
        rows = list(ds[split])
        assert len(rows) == len(expected)
        by_size: dict[tuple[int, int], list[dict]] = {}
        for r in expected.values():
            with Image.open(DEMO_DIR / split / r["file_name"]) as im:
                by_size.setdefault(im.size, []).append(r)
        for row in rows:
            # imagefolder drops file_name; match rows to records by caption (captions are unique)
            rec = next(r for r in expected.values() if r["caption"] == row["caption"])
            assert row["image"].size in by_size
            if "objects" in rec:
                assert row["objects"]["bbox"] == rec["objects"]["bbox"]
                assert row["objects"]["categories"] == rec["objects"]["categories"]
                assert row["categories"] == rec["categories"]
            else:
                assert not row["objects"] or not row["objects"]["bbox"]


def test_copy_demo(tmp_path: Path) -> None:
    dest = copy_demo(tmp_path / "new" / "demo")
    assert dest == tmp_path / "new" / "demo"
    copied = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    shipped = sorted(p.relative_to(DEMO_DIR) for p in DEMO_DIR.rglob("*") if "__pycache__" not in p.parts)
    assert copied == shipped
    meta = Path("train", "metadata.jsonl")
    assert (dest / meta).read_bytes() == (DEMO_DIR / meta).read_bytes()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert (copy_demo(empty) / "categories.json").exists()

    user = tmp_path / "user"
    (user / "train").mkdir(parents=True)
    (user / "train" / "metadata.jsonl").write_text("mine\n")
    assert copy_demo(user) == user
    assert (user / "train" / "metadata.jsonl").read_text() == "mine\n"
    assert sorted(p.name for p in user.rglob("*")) == ["metadata.jsonl", "train"]

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError):
        copy_demo(a_file)
