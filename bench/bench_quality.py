"""Benchmark of the data-quality check (:mod:`opsml_image.quality`).

1. **Near-duplicate search** on synthetic precomputed 64-bit hashes (uniformly random, 1 % of them copies
   of others with 1-8 bits flipped, so there is something to find): multi-index hashing
   (:func:`~opsml_image.quality.hamming.near_pairs`) against a brute-force all-pairs pass
   (:func:`~opsml_image.quality.hamming.brute_pairs`: numpy, one vectorised row at a time), at 100,000
   and at 10,000 hashes: the index at 100k against brute force at 10k, and both at equal size. The two
   answers at 10k are compared.
2. **The first full check of a folder**: ``--images`` small synthetic JPEGs (128x96, split 80/10/10 with two
   boxes each, 1 % copied across splits), made by this script; the first check (every image read, content
   and perceptual hashes, the findings; an empty signature cache) and a second one (all from the cache),
   against hashing alone (reading and xxh3-hashing every image file, what a registration does).

Medians of ``--rounds`` interleaved runs.

    python bench/bench_quality.py [--hashes 100000] [--small 10000] [--near 10] [--images 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsml_image.dataset import ImageDataset  # noqa: E402
from opsml_image.quality import DEFAULT_NEAR, SignatureCache, check_dataset  # noqa: E402
from opsml_image.quality.hamming import brute_pairs, near_pairs, plan  # noqa: E402
from opsml_image.registry.hashing import hash_file  # noqa: E402


def hashes(n: int, seed: int = 7) -> np.ndarray:
    """``n`` random 64-bit hashes, 1 % of them near copies (1-8 bits flipped) of others."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    copies = n // 100
    source, target = rng.integers(0, n, size=copies), rng.integers(0, n, size=copies)
    flips = np.zeros(copies, dtype=np.uint64)
    for _ in range(8):
        on = rng.random(copies) < 0.5
        flips[on] |= np.uint64(1) << rng.integers(0, 64, size=int(on.sum())).astype(np.uint64)
    values[target] = values[source] ^ flips
    return values


def median_s(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def search(large: int, small: int, near: int, rounds: int) -> dict[str, float]:
    big, little = hashes(large), hashes(small)
    found = near_pairs(little, near)
    assert np.array_equal(found, brute_pairs(little, near)), "the index and brute force disagree"
    times: dict[str, list[float]] = {
        "index_large": [],
        "index_small": [],
        "brute_small": [],
        "brute_large": [],
    }
    for _ in range(rounds):  # interleaved: a loaded machine slows all four alike
        times["index_large"].append(median_s(lambda: near_pairs(big, near), 1))
        times["index_small"].append(median_s(lambda: near_pairs(little, near), 1))
        times["brute_small"].append(median_s(lambda: brute_pairs(little, near), 1))
        times["brute_large"].append(median_s(lambda: brute_pairs(big, near), 1))
    result = {key: statistics.median(values) for key, values in times.items()}
    result["pairs_large"] = len(near_pairs(big, near))
    result["pairs_small"] = len(found)
    return result


def make_folder(root: Path, n: int, seed: int = 3) -> Path:
    """``n`` 128x96 JPEG scenes split 80/10/10, two boxes each; 1 % of validation/test copies of train."""
    rng = random.Random(seed)
    counts = {"train": n * 8 // 10, "validation": n // 10}
    counts["test"] = n - counts["train"] - counts["validation"]
    box = {"bbox": [[8.0, 8.0, 40.0, 30.0], [60.0, 40.0, 50.0, 40.0]], "categories": [0, 1]}
    for split, count in counts.items():
        folder = root / split
        folder.mkdir(parents=True)
        records = []
        for i in range(count):
            name = f"{split}_{i:06d}.jpg"
            if split != "train" and rng.random() < 0.01:
                shutil.copyfile(
                    root / "train" / f"train_{rng.randrange(counts['train']):06d}.jpg", folder / name
                )
            else:
                image = Image.new("RGB", (128, 96), tuple(rng.randrange(256) for _ in range(3)))
                draw = ImageDraw.Draw(image)
                for _ in range(6):
                    x, y = rng.randrange(128), rng.randrange(96)
                    draw.ellipse((x, y, x + rng.randrange(8, 50), y + rng.randrange(8, 40)),
                                 fill=tuple(rng.randrange(256) for _ in range(3)))  # fmt: skip
                image.save(folder / name, quality=85)
            records.append(json.dumps({"file_name": name, "objects": box}))
        (folder / "metadata.jsonl").write_text("\n".join(records) + "\n")
    (root / "categories.json").write_text('["car", "tree"]')
    return root


def full_check(n: int, near: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        folder = make_folder(Path(tmp) / "ds", n)
        dataset = ImageDataset(image_dir=folder)
        files = [p for p in folder.rglob("*.jpg")]
        db = Path(tmp) / "quality.db"

        def first() -> None:
            db.unlink(missing_ok=True)
            cache = SignatureCache(db)
            check_dataset(dataset, cache=cache)
            cache.close()

        def again() -> None:
            cache = SignatureCache(db)
            check_dataset(dataset, cache=cache)
            cache.close()

        def hashing() -> None:
            for path in files:
                hash_file(path)

        hashing()  # the files in the page cache for every contender
        times: dict[str, list[float]] = {"hashing": [], "first": [], "again": []}
        for _ in range(rounds):
            times["hashing"].append(median_s(hashing, 1))
            times["first"].append(median_s(first, 1))
            times["again"].append(median_s(again, 1))
        cache = SignatureCache(db)
        report = check_dataset(dataset, cache=cache)
        cache.close()
        result = {key: statistics.median(values) for key, values in times.items()}
        result["images"] = report.images
        result["leakage"] = report.summary()["leakage"]
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--near", type=int, default=DEFAULT_NEAR)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    found = search(args.hashes, args.small, args.near, args.rounds)
    large, small = f"{args.hashes:,}", f"{args.small:,}"
    index_large, index_small, brute = found["index_large"], found["index_small"], found["brute_small"]
    chunks = plan(args.hashes, args.near).chunks
    print(f"near-duplicate search, radius {args.near} of 64 bits (chunks at {large}: {chunks})")
    print(f"  index at {large}: {index_large:.3f} s ({found['pairs_large']:,.0f} pairs)")
    print(f"  index at {small}: {index_small:.3f} s ({found['pairs_small']:,.0f} pairs, as brute force)")
    print(f"  brute force at {small}: {brute:.3f} s")
    print(f"  at equal size ({small}): brute force / index = {brute / index_small:.2f}x")
    print(f"  index at {large} / brute force at {small} = {index_large / brute:.1f}x")
    brute_large = found["brute_large"]
    print(f"  brute force at {large}: {brute_large:.3f} s = {brute_large / index_large:.2f}x the index")
    growth = f"index {index_large / index_small:.0f}x, brute force {brute_large / brute:.0f}x"
    print(f"  growth from {small} to {large}: {growth}")

    check = full_check(args.images, args.near, args.rounds)
    hashing, first, again = check["hashing"], check["first"], check["again"]
    print(
        f"full check of a {check['images']:,.0f}-image folder ({check['leakage']:.0f} leakage groups found)"
    )
    print(f"  hashing alone (read + xxh3-128 every file): {hashing:.2f} s")
    print(f"  first check (empty cache): {first:.2f} s = {first / hashing:.1f}x hashing alone")
    print(f"  check again (cached): {again:.2f} s = {again / hashing:.2f}x hashing alone")


if __name__ == "__main__":
    main()
