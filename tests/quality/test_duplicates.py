"""Duplicates, near-duplicates and leakage: planted copies (re-encoded JPEG, resized, slightly cropped, the
same bytes) across splits are leakage; distinct but similar images on the far side of the threshold are not
linked, those at it are."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml_image.quality import Kind, Signature, signature
from opsml_image.quality.duplicates import DEFAULT_NEAR, duplicate_findings, groups
from opsml_image.quality.hamming import distance
from opsml_image.quality.signatures import perceptual_hash
from quality.scenes import cropped, planted, reencoded, resized, save, scene


def sig(content: str, phash: int) -> Signature:
    return Signature(content, phash, 320, 240)


def test_copies_move_the_perceptual_hash_by_a_few_bits_and_other_scenes_by_many():
    for seed in range(6):
        original = perceptual_hash(scene(seed))
        for copy in (reencoded(scene(seed)), resized(scene(seed)), cropped(scene(seed))):
            assert distance(original, perceptual_hash(copy)) <= DEFAULT_NEAR, seed
        for other in range(seed + 1, 6):
            assert distance(original, perceptual_hash(scene(other))) > 2 * DEFAULT_NEAR - 4, (seed, other)


def test_planted_copies_across_splits_are_leakage(tmp_path: Path):
    root = planted(tmp_path / "ds")
    files = {(split, p.name): p for split in ("train", "validation", "test") for p in (root / split).iterdir()
             if p.suffix in (".png", ".jpg")}  # fmt: skip
    found = duplicate_findings({key: signature(path) for key, path in files.items()}, DEFAULT_NEAR)
    leaks = {f.keys: f.message for f in found if f.kind == Kind.LEAKAGE}
    assert set(leaks) == {
        (("train", "scene_0.png"), ("validation", "from_0.jpg")),  # re-encoded JPEG
        (("train", "scene_1.png"), ("validation", "from_1.png")),  # resized to half
        (("train", "scene_2.png"), ("test", "from_2.png")),  # cropped by 2% each side
        (("train", "scene_3.png"), ("test", "from_3.png")),  # the same bytes
    }
    assert (
        "identical images (same bytes) across splits: 1 in train, 1 in test"
        in leaks[(("train", "scene_3.png"), ("test", "from_3.png"))]
    )
    assert "near-identical" in leaks[(("train", "scene_0.png"), ("validation", "from_0.jpg"))]
    exact = [f for f in found if f.kind == Kind.DUPLICATE]
    assert [f.keys for f in exact] == [(("train", "scene_4.png"), ("train", "scene_4_copy.png"))]
    assert exact[0].severity == "warning" and all(f.severity == "error" for f in found if f.kind == "leakage")
    assert len(found) == 5  # scenes 5, 6 and 7 have no copy


@pytest.mark.parametrize(
    ("moved", "apart"),
    [
        (6, 10),
        (8, 12),
    ],  # scene 0 with its 7th or 9th ellipse moved: at the default threshold, one step beyond
)
def test_similar_images_on_each_side_of_the_threshold(tmp_path: Path, moved: int, apart: int):
    a = save(scene(0), tmp_path / "train" / "a.png")
    b = save(scene(0, moved=moved), tmp_path / "validation" / "b.png")
    signatures = {("train", "a.png"): signature(a), ("validation", "b.png"): signature(b)}
    assert distance(*(s.phash for s in signatures.values())) == apart
    found = duplicate_findings(signatures, DEFAULT_NEAR)
    assert [f.kind for f in found] == (["leakage"] if apart <= DEFAULT_NEAR else [])


def test_a_distinct_image_with_a_patch_is_not_a_near_duplicate(tmp_path: Path):
    a = save(scene(1), tmp_path / "a.png")
    b = save(scene(1, patch=True), tmp_path / "b.png")
    signatures = {("train", "a.png"): signature(a), ("train", "b.png"): signature(b)}
    assert distance(*(s.phash for s in signatures.values())) > DEFAULT_NEAR
    assert duplicate_findings(signatures, DEFAULT_NEAR) == []


def test_the_threshold_is_inclusive_and_none_links_same_bytes_only():
    signatures = {("train", "a"): sig("x", 0), ("train", "b"): sig("y", 0b1111), ("train", "c"): sig("x", 0)}
    assert [(f.kind, f.keys) for f in duplicate_findings(signatures, 4)] == [
        ("duplicate.near", (("train", "a"), ("train", "b"), ("train", "c")))
    ]
    assert [(f.kind, len(f.keys)) for f in duplicate_findings(signatures, 3)] == [("duplicate.exact", 2)]
    assert [(f.kind, len(f.keys)) for f in duplicate_findings(signatures, None)] == [("duplicate.exact", 2)]


def test_equal_perceptual_hashes_of_different_bytes_are_near_duplicates_at_zero():
    found = duplicate_findings({("train", "a"): sig("x", 7), ("test", "b"): sig("y", 7)}, 0)
    assert [f.kind for f in found] == ["leakage"]
    assert "within 0 of 64 bits" in found[0].message


def test_a_chain_of_small_steps_is_one_group_with_its_largest_step():
    signatures = {
        ("train", "a"): sig("a", 0),
        ("train", "b"): sig("b", 0b11),
        ("train", "c"): sig("c", 0b11_1100),
    }
    assert groups(signatures, 4) == [([("train", "a"), ("train", "b"), ("train", "c")], 4)]


def test_groups_list_images_in_store_order():
    signatures = {("test", "z"): sig("x", 1), ("validation", "y"): sig("x", 1), ("train", "w"): sig("x", 1)}
    (found,) = duplicate_findings(signatures, DEFAULT_NEAR)
    assert found.keys == (("train", "w"), ("validation", "y"), ("test", "z"))
    assert found.message.endswith("1 in train, 1 in validation, 1 in test")
