"""Benchmark of the working store (:mod:`opsml_image.store`) at 100k images against 1k.

Generates two synthetic datasets in a temp folder (``--out`` to keep them): ``N`` records in one
``metadata.jsonl`` (captions, image categories, 0-6 boxes of 10 categories) and ``N`` real 8x8 PNG files
(the same bytes written N times; 5 % of the files have no record, 2 % of the records no file), then
measures in one run:

* the first :meth:`WorkStore.sync` (read + index everything);
* :meth:`WorkStore.page` of 48 at offset 0 and at a deep offset, unfiltered and by category;
* :meth:`WorkStore.count` with filters;
* :meth:`WorkStore.save` p50/p95 over 200 saves (each a committed, fsynced transaction);
* :meth:`WorkStore.flush` after one edit against a raw ``cp`` of the metadata file.

Goals: save p95 near 0.5 ms at 100k on SQLite and 100k/1k <= 1.5; page time independent of the dataset
size. ``--uri`` runs on a PostgreSQL database instead of a SQLite file per size (each size is its own
dataset there, keyed by its folder).

    python bench/bench_store.py [--sizes 1000 100000] [--out DIR] [--uri postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import orjson
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsml_image.annotation import Box  # noqa: E402
from opsml_image.dataset import ImageDataset  # noqa: E402
from opsml_image.store import Filter, WorkStore  # noqa: E402

WORDS = [
    "street",
    "house",
    "tree",
    "car",
    "road",
    "sunny",
    "morning",
    "dusk",
    "river",
    "bridge",
    "dog",
    "cat",
    "person",
    "bicycle",
]


def make_dataset(root: Path, n: int, seed: int = 7) -> Path:
    """Write ``n`` records and ~``n`` 8x8 PNG files under ``root``."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    png = BytesIO()
    Image.new("RGB", (8, 8), (120, 30, 200)).save(png, format="PNG")
    data = png.getvalue()
    with open(root / "metadata.jsonl", "wb") as out:
        for i in range(n):
            name = f"img_{i:07d}.png"
            if rng.random() >= 0.02:  # 2 % of the records name a missing file
                (root / name).write_bytes(data)
            if rng.random() < 0.05:  # 5 % of the images have no record
                continue
            k = rng.randint(0, 6)
            record = {
                "file_name": name,
                "caption": " ".join(rng.choices(WORDS, k=8)),
                "categories": sorted(set(rng.choices(range(10), k=2))),
                "objects": {
                    "bbox": [
                        [rng.randint(0, 4), rng.randint(0, 4), rng.randint(1, 4), rng.randint(1, 4)]
                        for _ in range(k)
                    ],
                    "categories": [rng.randrange(10) for _ in range(k)],
                },
            }
            out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    (root / "categories.json").write_bytes(orjson.dumps([f"class_{i}" for i in range(10)]))
    return root


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def bench(root: Path, n: int, uri: str | None = None) -> dict[str, float]:
    results: dict[str, float] = {}
    dataset_dir = make_dataset(root / f"ds_{n}", n)
    dataset = ImageDataset(image_dir=dataset_dir)
    store = WorkStore.open(dataset, uri or root / f"store_{n}.db")
    start = time.perf_counter()
    store.sync()
    results["sync_first_s"] = time.perf_counter() - start
    start = time.perf_counter()
    store.sync()
    results["sync_unchanged_ms"] = (time.perf_counter() - start) * 1000
    total = store.count()
    results["images"] = total
    deep = max(0, total - 100)
    results["page48_offset0_ms"] = timed(lambda: store.page(Filter(), 0, 48))
    results["page48_deep_ms"] = timed(lambda: store.page(Filter(), deep, 48))
    cat = Filter(category=3)
    results["page48_cat_deep_ms"] = timed(lambda: store.page(cat, max(0, store.count(cat) - 100), 48))
    results["keys48_deep_ms"] = timed(lambda: store.keys(Filter(), deep, 48))
    results["count_all_ms"] = timed(lambda: store.count())
    results["count_category_ms"] = timed(lambda: store.count(Filter(category=3)))
    results["count_unlabeled_ms"] = timed(lambda: store.count(Filter(annotated=False)))
    results["count_split_ms"] = timed(lambda: store.count(Filter(split="train")))  # the sidebar, per split
    results["count_text_ms"] = timed(lambda: store.count(Filter(text="BRIDGE dog")))
    results["count_cat_split_ann_ms"] = timed(
        lambda: store.count(Filter(category=3, split="train", annotated=True))
    )
    results["position_deep_ms"] = timed(lambda: store.position(("train", f"img_{n - 50:07d}.png")))
    results["next_unlabeled_ms"] = timed(lambda: store.next_unlabeled(("train", f"img_{n // 2:07d}.png")))
    results["category_counts_ms"] = timed(store.category_counts)
    results["progress_ms"] = timed(store.progress)

    rng = random.Random(1)
    keys = store.keys(Filter(annotated=True), 0, total)
    times = []
    for _ in range(200):
        key = rng.choice(keys)
        annotation = store.get(*key)
        assert annotation is not None
        annotation.boxes.append(Box(1.234, 1.0, 2.0, 2.0, rng.randrange(10)))
        version = store.version(*key)
        start = time.perf_counter()
        store.save(annotation, expected_version=version)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    results["save_p50_ms"] = statistics.median(times)
    results["save_p95_ms"] = times[int(len(times) * 0.95) - 1]
    store.flush()

    annotation = store.get(*keys[len(keys) // 2])
    assert annotation is not None
    annotation.caption = "one edit"
    store.save(annotation, store.version(annotation.split, annotation.file_name))
    start = time.perf_counter()
    store.flush()
    results["flush_1_edit_ms"] = (time.perf_counter() - start) * 1000
    metadata = dataset_dir / "metadata.jsonl"
    start = time.perf_counter()
    subprocess.run(["cp", str(metadata), str(root / f"copy_{n}.jsonl")], check=True)
    results["cp_metadata_ms"] = (time.perf_counter() - start) * 1000
    results["metadata_mb"] = metadata.stat().st_size / 1e6
    start = time.perf_counter()
    reindexed = store.sync()
    results["sync_after_flush_ms"] = (time.perf_counter() - start) * 1000
    assert not reindexed, "sync() re-indexed after our own flush"
    store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--out", type=Path, default=None, help="keep the generated data here")
    parser.add_argument(
        "--uri", default=None, help="a PostgreSQL store URL (default: a SQLite file per size)"
    )
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="opsml-bench-"))
    try:
        table = {n: bench(root, n, args.uri) for n in args.sizes}
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    small, big = min(table), max(table)
    print(f"{'metric':<26}" + "".join(f"{n:>14,}" for n in table) + f"{'ratio':>10}")
    for metric in table[big]:
        values = "".join(f"{table[n][metric]:>14.2f}" for n in table)
        ratio = table[big][metric] / table[small][metric] if table[small][metric] else float("nan")
        print(f"{metric:<26}{values}{ratio:>10.2f}")
    save_ratio = table[big]["save_p95_ms"] / table[small]["save_p95_ms"]
    print(
        f"\nsave p95 at {big:,}: {table[big]['save_p95_ms']:.2f} ms (goal ~0.5 on SQLite), "
        f"ratio {big:,}/{small:,}: "
        f"{save_ratio:.2f} (goal <= 1.5)"
    )
    print(
        f"flush after 1 edit at {big:,}: {table[big]['flush_1_edit_ms']:.1f} ms vs cp of metadata.jsonl "
        f"{table[big]['cp_metadata_ms']:.1f} ms "
        f"({table[big]['flush_1_edit_ms'] / table[big]['cp_metadata_ms']:.1f}x)"
    )
    print(
        f"page of 48 at offset 0 / deep at {big:,}: {table[big]['page48_offset0_ms']:.2f} / "
        f"{table[big]['page48_deep_ms']:.2f} ms (at {small:,}: {table[small]['page48_offset0_ms']:.2f} / "
        f"{table[small]['page48_deep_ms']:.2f} ms)"
    )


if __name__ == "__main__":
    main()
