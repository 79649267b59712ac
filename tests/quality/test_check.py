"""A whole check of a folder: its report, another threshold without reading files, the card summary, and
the seam for label-error hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsml_image.dataset import ImageDataset
from opsml_image.quality import KINDS, Finding, Settings, SignatureCache, check_dataset, summary
from quality.scenes import planted, save, scene, write_metadata


@pytest.fixture
def cache(tmp_path: Path):
    found = SignatureCache(tmp_path / "quality.db")
    yield found
    found.close()


def test_a_planted_folder(tmp_path: Path, cache: SignatureCache):
    root = planted(tmp_path / "ds")
    lines = (root / "train" / "metadata.jsonl").read_text().splitlines()
    record = json.loads(lines[0])  # scene_0.png: its box twice, and a tiny tree
    record["objects"] = {"bbox": [[10.0, 10.0, 100.0, 80.0], [11.0, 10.0, 100.0, 80.0], [200, 100, 2, 2]],
                         "categories": [0, 0, 1]}  # fmt: skip
    (root / "train" / "metadata.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    save(scene(11), root / "train" / "unlisted.png")  # on disk, no record
    settings = Settings(most=0.85)  # 7 of train's 8 images have boxes
    report = check_dataset(ImageDataset(image_dir=root), settings, cache=cache)
    assert report.images == 14 and report.hashed == 14 and not report.unreadable
    counts = report.summary()
    assert list(counts) == list(KINDS)
    assert {k: n for k, n in counts.items() if n} == {
        "leakage": 4,
        "duplicate.exact": 1,
        "box.duplicate": 1,
        "box.tiny": 1,
        "class.missing": 2,  # tree: a box in train only
        "image.unboxed": 1,
    }
    assert [f.kind for f in report.findings][:5] == ["leakage"] * 4 + ["duplicate.exact"]
    (dup,) = report.by_kind()["box.duplicate"]
    assert (dup.keys, dup.boxes) == ((("train", "scene_0.png"),), (0, 1))
    assert report.by_kind()["image.unboxed"][0].keys == (("train", "unlisted.png"),)
    again = check_dataset(ImageDataset(image_dir=root), settings, cache=cache)
    assert again.hashed == 0 and again.findings == report.findings


def test_another_threshold_reuses_the_signatures(tmp_path: Path, cache: SignatureCache):
    report = check_dataset(ImageDataset(image_dir=planted(tmp_path / "ds")), cache=cache)
    strict = report.with_near(0)
    assert strict.summary()["leakage"] == 2  # the same bytes, and the resized copy (an equal hash)
    assert strict.settings.near == 0 and report.with_near(report.settings.near) is report
    assert [f for f in strict.findings if not f.kind.startswith(("leakage", "duplicate"))] == [
        f for f in report.findings if not f.kind.startswith(("leakage", "duplicate"))
    ]
    assert strict.with_near(report.settings.near).findings == report.findings


def test_settings_none_checks_same_bytes_only(tmp_path: Path, cache: SignatureCache):
    report = check_dataset(ImageDataset(image_dir=planted(tmp_path / "ds")), Settings(near=None), cache=cache)
    assert report.summary()["leakage"] == 1 and report.summary()["duplicate.near"] == 0


def test_summary_of_a_folder_findings_or_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    dataset = ImageDataset(image_dir=planted(tmp_path / "ds"))
    counts = summary(dataset)
    assert counts["leakage"] == 4 and set(counts) == set(KINDS)
    assert (tmp_path / "home" / "quality.db").exists()
    assert summary(check_dataset(dataset)) == counts
    assert summary([]) == dict.fromkeys(KINDS, 0)


def test_hints_add_findings_of_their_own_kind(tmp_path: Path, cache: SignatureCache):
    root = tmp_path / "ds"
    save(scene(0), root / "a.png")
    write_metadata(root, [{"file_name": "a.png"}])

    def disagreeing_model(annotations, signatures):  # noqa: ANN001, ANN202 - the seam's signature
        return [
            Finding("label.suspect", "warning", (key,), "a model proposes another class")
            for key in annotations
        ]

    report = check_dataset(ImageDataset(image_dir=root), cache=cache, hints=[disagreeing_model])
    assert [f.kind for f in report.findings] == ["label.suspect"]
    assert report.summary()["label.suspect"] == 1 and list(report.summary())[:-1] == list(KINDS)
