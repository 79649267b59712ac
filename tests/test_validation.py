"""Validation of a dataset folder: every bad input named by file, line, field and code; nothing modified."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from test_images import write_bomb_png

from opsml_image import ImageDataset, ValidationError
from opsml_image.validation import validate_file

GOOD = '{"file_name": "good.png", "objects": {"bbox": [[1, 1, 10, 10]], "categories": [0]}}'


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def make_folder(root: Path, bad_line: bytes, make_image) -> Path:
    make_image(root / "good.png", size=(100, 80))
    make_image(root / "other.png", size=(100, 80))
    (root / "metadata.jsonl").write_bytes(
        GOOD.encode() + b"\n" + bad_line + b"\n" + GOOD.replace("good", "other").encode() + b"\n"
    )
    return root


def extra_files(root: Path) -> None:
    (root / "text.png").write_text("I am not an image")
    data = (root / "good.png").read_bytes()
    (root / "cut.png").write_bytes(data[: len(data) // 2])
    write_bomb_png(root / "bomb.png")


BAD_LINES = {
    "invalid-json": (b'{"file_name": "good.png", ', "line.json", None),
    "not-an-object": (b'["good.png"]', "record.type", None),
    "missing-file-name": (b'{"caption": "no name"}', "file_name.missing", "file_name"),
    "bbox-3-numbers": (
        b'{"file_name": "good.png", "objects": {"bbox": [[1, 2, 3]], "categories": [0]}}',
        "box.shape",
        "objects.bbox[0]",
    ),
    "nan": (
        b'{"file_name": "good.png", "objects": {"bbox": [[NaN, 2, 3, 4]], "categories": [0]}}',
        "box.finite",
        "objects.bbox[0].x",
    ),
    "string-coordinate": (
        b'{"file_name": "good.png", "objects": {"bbox": [[1, "2", 3, 4]], "categories": [0]}}',
        "box.number",
        "objects.bbox[0].y",
    ),
    "negative-width": (
        b'{"file_name": "good.png", "objects": {"bbox": [[1, 2, -3, 4]], "categories": [0]}}',
        "box.size",
        "objects.bbox[0]",
    ),
    "box-outside": (
        b'{"file_name": "good.png", "objects": {"bbox": [[90, 2, 30, 4]], "categories": [0]}}',
        "box.outside",
        "objects.bbox[0]",
    ),
    "2-boxes-1-category": (
        b'{"file_name": "good.png", "objects": {"bbox": [[1, 2, 3, 4], [1, 2, 3, 4]], "categories": [0]}}',
        "objects.length",
        "objects",
    ),
    "absolute-path": (b'{"file_name": "/etc/passwd"}', "file_name.absolute", "file_name"),
    "parent-path": (b'{"file_name": "../escape.png"}', "file_name.parent", "file_name"),
    "missing-image": (b'{"file_name": "nowhere.png"}', "image.missing", "file_name"),
    "text-file-as-png": (b'{"file_name": "text.png"}', "image.unreadable", "file_name"),
    "truncated-png": (b'{"file_name": "cut.png"}', "image.unreadable", "file_name"),
    "decompression-bomb": (b'{"file_name": "bomb.png"}', "image.too_large", "file_name"),
    "non-utf8": (b'{"file_name": "good\xff.png"}', "line.encoding", None),
    "nul-in-file-name": (b'{"file_name": "good.png\\u0000.txt"}', "string.nul", "file_name"),
    "surrogate-in-caption": (
        b'{"file_name": "good.png", "caption": "\\udc80"}',
        "string.surrogate",
        "caption",
    ),
    "nul-in-extra-value": (
        b'{"file_name": "good.png", "meta": {"by": ["x\\u0000"]}}',
        "string.nul",
        "meta.by[0]",
    ),
}


@pytest.mark.parametrize("case", BAD_LINES, ids=list(BAD_LINES))
def test_bad_input_is_reported_with_file_line_field_and_nothing_is_modified(tmp_path, make_image, case):
    bad_line, code, field = BAD_LINES[case]
    root = make_folder(tmp_path, bad_line, make_image)
    extra_files(root)
    before = snapshot(root)
    report = ImageDataset(image_dir=root).validate()
    errors = [i for i in report.issues if i.severity == "error"]
    assert [(i.file, i.line, i.field, i.code) for i in errors] == [("metadata.jsonl", 2, field, code)], (
        report.summary()
    )
    assert errors[0].message
    assert not report.ok
    assert snapshot(root) == before


def test_truncated_last_line_and_50_mb_line(tmp_path, make_image):
    make_image(tmp_path / "good.png", size=(100, 80))
    with open(tmp_path / "metadata.jsonl", "wb") as f:
        f.write(
            GOOD.encode()
            + b'\n{"caption": "'
            + b"y" * 50_000_000
            + b'"}\n'
            + b'{"file_name": "good.png", "capt'
        )
    report = ImageDataset(image_dir=tmp_path).validate()
    assert [(i.line, i.code) for i in report.issues] == [(2, "line.too_long"), (3, "line.json")]
    assert "does not end with a newline" in report.issues[1].message


def test_all_problems_are_collected_and_strict_stops_at_the_first(tmp_path, make_image):
    make_image(tmp_path / "a.png", size=(50, 50))
    make_image(tmp_path / "unlisted.png", size=(50, 50))
    lines = [
        '{"file_name": "a.png", "objects": {"bbox": [[0, 0, 60, 10], [1, 1, 0, 1]], "categories": [0, 7]}}',
        '{"file_name": "missing.png"}',
        '{"file_name": "a.png", "caption": 5}',
    ]
    (tmp_path / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "categories.json").write_text('["cat", "dog"]')
    dataset = ImageDataset(image_dir=tmp_path)
    report = dataset.validate()
    found = sorted((i.line or 0, i.code) for i in report.issues)
    assert found == [
        (0, "image.unlabeled"),
        (1, "box.size"),
        (1, "category.unknown"),
        (2, "image.missing"),
        (3, "caption.type"),
    ]
    assert report.errors == 3 and report.warnings == 2
    assert "image.missing" in report.summary()
    with pytest.raises(ValidationError, match=r"metadata.jsonl:1 \[objects.bbox\[1\]\] error box.size"):
        dataset.validate(strict=True)
    with pytest.raises(ValidationError):
        report.raise_for_errors()


def test_boxes_outside_are_checked_once_sizes_are_known(tmp_path, make_image):
    make_image(tmp_path / "a.png", size=(50, 40))
    (tmp_path / "metadata.jsonl").write_text(
        '{"file_name": "a.png", "objects": {"bbox": [[0, 0, 50, 40], [10, 35, 5, 6], [-1, 0, 2, 2]], "categories": [0, 0, 0]}}\n'
    )
    report = ImageDataset(image_dir=tmp_path).validate()
    assert [(i.field, i.code) for i in report.issues] == [
        ("objects.bbox[1]", "box.outside"),
        ("objects.bbox[2]", "box.outside"),
    ]
    assert "50x40" in report.issues[0].message


def test_split_folders_with_different_keys_warn(tmp_path, make_image):
    for split in ("train", "test"):
        make_image(tmp_path / split / "a.png")
    (tmp_path / "train" / "metadata.jsonl").write_text('{"file_name": "a.png", "caption": "x"}\n')
    (tmp_path / "test" / "metadata.jsonl").write_text('{"file_name": "a.png"}\n')
    report = ImageDataset(image_dir=tmp_path).validate()
    assert [i.code for i in report.issues] == ["split.features"]
    assert report.ok


@pytest.mark.parametrize(
    ("train", "test", "detail"),
    [
        (
            '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [0]}}',
            '{"file_name": "a.png", "objects": {"bbox": [[1.5, 1, 2, 2]], "categories": [0]}}',
            "list<list<int>> vs list<list<float>>",
        ),
        (
            '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [0]}}',
            '{"file_name": "a.png", "objects": {"bbox": [], "categories": []}}',
            "list<list<int>> vs list<null>",
        ),
    ],
)
def test_split_features_hf_would_refuse_warn(tmp_path, make_image, train, test, detail):
    for split, line in (("train", train), ("test", test)):
        make_image(tmp_path / split / "a.png")
        (tmp_path / split / "metadata.jsonl").write_text(line + "\n")
    [issue] = ImageDataset(image_dir=tmp_path).validate().issues
    assert issue.code == "split.features" and detail in issue.message, issue.message


def test_int_and_float_boxes_in_one_split_are_fine(tmp_path, make_image):
    make_image(tmp_path / "a.png")
    (tmp_path / "metadata.jsonl").write_text(
        '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [0]}}\n'
        '{"file_name": "a.png", "objects": {"bbox": [[1.5, 1, 2, 2]], "categories": [0]}}\n'
    )
    assert ImageDataset(image_dir=tmp_path).validate().issues == []


def test_issue_list_is_capped_but_counts_are_exact(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"caption": "x"}\n' * 50)
    report = validate_file(path, max_issues=10)
    assert len(report.issues) == 10 and report.counts["file_name.missing"] == 50 and report.truncated


def test_invalid_categories_file_is_an_error(tmp_path, make_image):
    make_image(tmp_path / "a.png")
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png"}\n')
    (tmp_path / "categories.json").write_text(json.dumps(["cat", "cat"]))
    report = ImageDataset(image_dir=tmp_path).validate()
    assert [(i.file, i.code) for i in report.issues] == [("categories.json", "categories_file.invalid")]


def test_progress_reports_bytes_up_to_the_total(tmp_path, make_image):
    make_image(tmp_path / "a.png")
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png"}\n' * 10_000)
    calls = []
    ImageDataset(image_dir=tmp_path).validate(progress=lambda done, total: calls.append((done, total)))
    size = (tmp_path / "metadata.jsonl").stat().st_size
    assert len(calls) >= 3 and calls[-1] == (size, size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_validate_file_keeps_images_inside_its_root(tmp_path, make_image):
    make_image(tmp_path / "outside.png", size=(20, 20))
    root = tmp_path / "root"
    root.mkdir()
    (root / "in.png").symlink_to(tmp_path / "outside.png")
    os.mkfifo(root / "pipe.png")
    (root / "metadata.jsonl").write_text('{"file_name": "in.png"}\n{"file_name": "pipe.png"}\n')
    report = validate_file(root / "metadata.jsonl", root)
    assert [(i.line, i.code) for i in report.issues] == [(1, "file.outside"), (2, "file.special")]


def _hf_boxes(root: Path) -> int:
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(root))
    return sum(
        len(row["objects"]["bbox"]) if "objects" in part.column_names and row["objects"] else 0
        for part in loaded.values()
        for row in part
    )


def test_images_in_split_named_subfolders_of_a_flat_dataset_are_warned(
    tmp_path: Path, make_image, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsml_image.annotation import Box, ImageAnnotation

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    records = [ImageAnnotation(name, boxes=[Box(1, 1, 10, 10, 0)]) for name in ("train/a.png", "val/b.png")]
    root = tmp_path / "flat"
    for record in records:
        make_image(root / record.file_name, size=(100, 80))
    (root / "metadata.jsonl").write_text("".join(json.dumps(r.to_record()) + "\n" for r in records))
    assert _hf_boxes(root) == 0  # the oracle: Hugging Face reads the subfolders as splits, without boxes
    issues = ImageDataset(image_dir=root).validate().by_code()["layout.hf_split_folders"]
    assert [issue.severity for issue in issues] == ["warning", "warning"]
    assert "Hugging Face loads train/ as a split" in issues[0].message
