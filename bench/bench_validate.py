"""Benchmark: streaming validation of metadata.jsonl against raw orjson parsing and naive pydantic.

Generates synthetic metadata (about 5 boxes a record) of 100k and 1M records and measures in one run:

* baseline: ``[orjson.loads(l) for l in lines]`` with the garbage collector disabled;
* ours: ``validate_file`` (schemas + every rule; image checks excluded: the images do not exist);
* naive: ``ImageRecord.model_validate_json(line)`` per line, models kept in a list, default GC settings;
* peak RSS of validating the largest file, in a fresh process.

Usage: ``python bench/bench_validate.py [--sizes 100000 1000000]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsml_image.schema import ImageRecord  # noqa: E402
from opsml_image.validation import validate_file  # noqa: E402


def generate(path: Path, count: int, seed: int = 7) -> None:
    """Write ``count`` synthetic records with 1-9 boxes (5 on average) to ``path``."""
    rng = random.Random(seed)
    with open(path, "wb") as out:
        for i in range(count):
            n = rng.randint(1, 9)
            boxes = [
                [
                    round(rng.uniform(0, 500), 1),
                    round(rng.uniform(0, 400), 1),
                    round(rng.uniform(1, 100), 1),
                    round(rng.uniform(1, 60), 1),
                ]
                for _ in range(n)
            ]
            record = {
                "file_name": f"img_{i:07d}.jpg",
                "objects": {"bbox": boxes, "categories": [rng.randint(0, 9) for _ in range(n)]},
            }
            if i % 3 == 0:
                record["caption"] = f"a synthetic scene number {i}"
                record["categories"] = sorted(set(record["objects"]["categories"]))
            out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def baseline(path: Path) -> None:
    gc.disable()
    try:
        with open(path, "rb") as f:
            lines = f.readlines()
        [orjson.loads(line) for line in lines]
    finally:
        gc.enable()


def naive(path: Path) -> None:
    with open(path, "rb") as f:
        [ImageRecord.model_validate_json(line) for line in f]


def ours(path: Path) -> None:
    report = validate_file(path)
    assert report.ok, report.summary()


def peak_rss_mb(path: Path) -> float:
    """Peak resident memory of a fresh process validating ``path`` (VmHWM: exec resets it, ru_maxrss not)."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {root!r}); from opsml_image.validation import validate_file; "
        f"assert validate_file({str(path)!r}).ok; "
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return int(out.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--naive-max", type=int, default=1_000_000, help="skip the naive run above this size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"metadata_{size}.jsonl"
            generate(path, size)
            mb = path.stat().st_size / 1e6
            runs = 3 if size <= 100_000 else 1
            t_base = best_of(runs, partial(baseline, path))
            t_ours = best_of(runs, partial(ours, path))
            print(f"{size:>9,} records ({mb:,.0f} MB)")
            print(f"  orjson, GC off: {t_base:7.2f} s")
            ratio = t_ours / t_base
            print(f"  validate_file : {t_ours:7.2f} s  vs baseline {ratio:5.2f}x (goal <= 2.5x)")
            if size <= args.naive_max:
                t_naive = best_of(1, partial(naive, path))
                speedup = t_naive / t_ours
                print(f"  naive pydantic: {t_naive:7.2f} s  ours {speedup:5.2f}x faster (goal >= 4x)")
            rss = peak_rss_mb(path)
            print(f"  peak RSS      : {rss:7.0f} MB (goal <= 300 MB)")


if __name__ == "__main__":
    main()
