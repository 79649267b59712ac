"""Browse page render time at 100k vs 1k images (work must be O(page)), and a warm 48-thumbnail page.

Builds two synthetic flat datasets under ``bench/out/`` (1,000 and 100,000 images: one small JPEG
hard-linked N times, a metadata.jsonl with captions and 1-3 boxes per image), opens the real app with
``streamlit.testing.v1.AppTest`` on the Browse page, warms it (store indexed, thumbnails on disk and in
the tile cache), then times full script runs (sidebar + filters + 48 tiles) and prints the median, the
100k/1k ratio (target <= 1.5) and whether the warm page is under 200 ms.

    python bench/bench_browse.py [--small 1000] [--large 100000] [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO))


def make_dataset(n: int) -> Path:
    from PIL import Image, ImageDraw

    root = OUT / f"browse-{n}"
    done = root / ".complete"
    if done.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    sources: dict[int, Path] = {}

    def source(i: int) -> Path:  # a file can have at most ~65k hard links: a new source every 50k
        chunk = i // 50_000
        if chunk not in sources:
            path = OUT / f"source-{chunk}.jpg"
            if not path.exists():
                image = Image.new("RGB", (640, 480), (90, 140, 200))
                ImageDraw.Draw(image).rectangle([100, 200, 300, 400], fill=(200, 80, 60))
                image.save(path, quality=85)
            sources[chunk] = path
        return sources[chunk]

    rng = random.Random(n)
    words = ["sunny", "street", "house", "tree", "car", "evening", "road", "park", "city", "village"]
    with (root / "metadata.jsonl").open("w") as handle:
        for i in range(n):
            name = f"img_{i:06d}.jpg"
            target = root / name
            if not target.exists():
                os.link(source(i), target)
            boxes = [[rng.randint(0, 400), rng.randint(0, 300), rng.randint(20, 200), rng.randint(20, 150)]
                     for _ in range(rng.randint(1, 3))]  # fmt: skip
            record = {
                "file_name": name,
                "caption": " ".join(rng.choice(words) for _ in range(6)),
                "objects": {"bbox": [[float(v) for v in b] for b in boxes],
                            "categories": [rng.randint(0, 2) for _ in boxes]},
            }  # fmt: skip
            handle.write(json.dumps(record) + "\n")
    (root / "categories.json").write_text(json.dumps(["car", "house", "tree"]))
    done.touch()
    return root


def time_browse(data: Path, runs: int) -> tuple[float, float]:
    """(median, minimum) seconds of a warm Browse run on ``data``."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["OPSML_IMAGE_DIR"] = str(data)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    at.run()  # opens and indexes the dataset, makes the thumbnails
    if at.exception or at.error:
        raise SystemExit(f"the Browse page failed: {at.exception or [e.value for e in at.error]}")
    assert len(at.get("image")) == 48, len(at.get("image"))
    for _ in range(2):
        at.run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("OPSML_IMAGE_HOME", str(OUT / "home"))
    results = {}
    for n in (args.small, args.large):
        start = time.perf_counter()
        data = make_dataset(n)
        made = time.perf_counter() - start
        median, best = time_browse(data, args.runs)
        results[n] = median
        print(f"{n:>8,} images: warm Browse run median {median * 1000:7.1f} ms (best {best * 1000:.1f} ms)"
              f"  [dataset ready in {made:.1f} s]")  # fmt: skip
    ratio = results[args.large] / results[args.small]
    print(
        f"ratio {args.large:,} / {args.small:,} = {ratio:.2f} (target <= 1.5): "
        f"{'OK' if ratio <= 1.5 else 'TOO SLOW'}"
    )
    warm = results[args.large]
    print(f"warm 48-thumbnail page at {args.large:,}: {warm * 1000:.0f} ms (target <= 200 ms): "
          f"{'OK' if warm <= 0.2 else 'TOO SLOW'}")  # fmt: skip


if __name__ == "__main__":
    main()
