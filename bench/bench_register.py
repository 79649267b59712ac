"""Benchmark: registering a dataset folder vs ``cp -r`` of the same folder, in the same run.

Generates N valid JPEG images (random noise, ~90 KB each; each file made unique by a JPEG comment
segment) plus a ``metadata.jsonl`` with boxes and a ``categories.json``, then measures, interleaved and
repeated, with ``sync`` before each timing and, by default, a ``sync`` inside it, so each clock stops when
the copy is on disk (otherwise the page cache's writeback of the previous run lands in the next timing, and
``cp -r`` alone varied 0.6-6 s here):

* ``cp -r`` of the folder (a subprocess);
* a first registration into a fresh registry (SQLite, local storage, empty hash cache): validate,
  hash, copy every image into content-addressed blobs, commit;
* re-registering the unchanged folder (a new version; nothing copied).

Prints each timing, the medians and the ratios against ``cp -r`` (targets: first <= 1.3x, unchanged
<= 0.1x). Usage: ``python bench/bench_register.py [--images 10000] [--repeat 3] [--durable] [--no-sync]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsml_image import ImageDataset  # noqa: E402
from opsml_image.registry import CardRegistry, DataCard  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "register"


def generate(root: Path, count: int, width: int, height: int) -> int:
    """Write ``count`` distinct valid JPEGs and their metadata; returns the folder's size in bytes."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pool = []
    for _ in range(32):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
        pool.append(buffer.getvalue())
    total = 0
    with open(root / "metadata.jsonl", "w") as meta:
        for i in range(count):
            jpeg = pool[i % len(pool)]
            tag = f"opsml-bench {i}".encode()
            comment = b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag
            data = jpeg[:2] + comment + jpeg[2:]
            name = f"img_{i:05d}.jpg"
            (root / name).write_bytes(data)
            total += len(data)
            box = [float(i % 50), float(i % 40), 60.0, 40.0]
            record = {"file_name": name, "objects": {"bbox": [box], "categories": [i % 3]}}
            meta.write(json.dumps(record) + "\n")
    (root / "categories.json").write_text(json.dumps(["car", "house", "tree"]))
    return total + (root / "metadata.jsonl").stat().st_size


def timed(action, to_disk: bool) -> float:  # type: ignore[no-untyped-def]
    """Seconds ``action`` takes after a sync; with ``to_disk``, until its writes reached the disk."""
    os.sync()
    start = time.perf_counter()
    action()
    if to_disk:
        os.sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--durable", action="store_true", help="fsync every stored blob")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--no-sync",
        dest="to_disk",
        action="store_false",
        help="stop the clock when the call returns, not when its writes reached the disk (noisier here)",
    )
    args = parser.parse_args()

    source = OUT / "source"
    start = time.perf_counter()
    size = generate(source, args.images, args.width, args.height)
    print(
        f"dataset: {args.images:,} images, {size / 1e6:,.0f} MB,"
        f" generated in {time.perf_counter() - start:.1f} s"
    )
    print(f"durable={args.durable} workers={args.workers} repeat={args.repeat} timed to disk={args.to_disk}")

    cp_times, first_times, again_times = [], [], []
    for rep in range(args.repeat):
        work = OUT / f"run{rep}"
        if work.exists():
            shutil.rmtree(work)
        os.sync()
        work.mkdir(parents=True)
        cp_times.append(
            timed(
                lambda w=work: subprocess.run(["cp", "-r", str(source), str(w / "copy")], check=True),
                args.to_disk,
            )
        )
        registry = CardRegistry(
            "data",
            tracking_uri=f"sqlite:///{work / 'registry.db'}",
            storage_uri=work / "storage",
            hash_cache=work / "hashes.sqlite",
            durable=args.durable,
            workers=args.workers,
        )

        def register(reg: CardRegistry = registry) -> None:
            card = DataCard(
                data=ImageDataset(image_dir=source), name="bench", team="perf", user_email="bench@example.com"
            )
            reg.register_card(card)

        first_times.append(timed(register, args.to_disk))
        again_times.append(timed(register, args.to_disk))
        versions = [row["version"] for row in registry.list_cards()]
        assert versions == ["1.1.0", "1.0.0"], versions
        registry.close()
        print(
            f"run {rep + 1}: cp -r {cp_times[-1]:.2f} s | first registration {first_times[-1]:.2f} s"
            f" | unchanged re-registration {again_times[-1]:.3f} s"
        )
        shutil.rmtree(work)
        os.sync()

    cp, first, again = (statistics.median(t) for t in (cp_times, first_times, again_times))
    print(f"median: cp -r {cp:.2f} s, first {first:.2f} s, unchanged {again:.3f} s")
    print(f"ratio first registration / cp -r     = {first / cp:.2f}x (target <= 1.3x)")
    print(f"ratio unchanged re-registration / cp -r = {again / cp:.3f}x (target <= 0.1x)")


if __name__ == "__main__":
    main()
