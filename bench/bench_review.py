"""Benchmark of team review (:mod:`opsml_image.review`) at 100k images against 1k.

For each size it writes a synthetic dataset (``bench_store.make_dataset``: N records and ~N 8x8 PNG files),
indexes it, and gives review a history: 20 % of the images approved, 2 % rejected (spread over the
annotators), 1 % in progress under expired leases of people gone, and 500 submitted images waiting in the
queue (the same queue at both sizes: the page must not grow with the dataset). Then it measures:

* the review queue page: a page of 50 plus the count, unfiltered, by annotator and by class (median);
* "next image" with 8 annotator processes at once (each: next, submit, ``--think`` ms of work — random
  0.5-1.5x, default 200 ms, far less than a person takes — ``--rounds`` times): p50 / p95 / max of the
  lease call and the number of images handed out twice (must be 0). On SQLite every write transaction
  waits for the one writer and its fsync (~2-3 ms here), so with ``--think 0`` (8 processes writing back
  to back) the p95 is the queue of the others' commits, not the cost of a hand-out.

Goals (issue 10): queue page 100k / 1k <= 1.5; lease p95 <= 20 ms with 0 double leases at 100k, on SQLite
and on PostgreSQL (``--uri postgresql+psycopg://...``: both sizes in that database, keyed by folder).

    python bench/bench_review.py [--sizes 1000 100000] [--rounds 100] [--workers 8] [--think MS] [--uri URL]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import make_dataset  # noqa: E402

from opsml_image.dataset import ImageDataset  # noqa: E402
from opsml_image.review import QueueFilter, ReviewBoard  # noqa: E402
from opsml_image.store import WorkStore  # noqa: E402

QUEUE = 500


def seed_history(store: WorkStore, board: ReviewBoard, workers: int, seed: int = 3) -> None:
    """Rows for approved, rejected, abandoned-in-progress and submitted images (one bulk transaction)."""
    rng = random.Random(seed)
    now = time.time()
    scope = store.scope
    with store.engine.connect() as conn, conn.begin():
        rows = conn.execute(
            sa.text("SELECT split, split_order, file_name, version FROM store_image WHERE dataset = :d"),
            {"d": scope.dataset},
        ).all()
        rng.shuffle(rows)
        n = len(rows)
        plan = [
            ("submitted", min(QUEUE, n // 4)),
            ("approved", n // 5),
            ("rejected", n // 50),
            ("in_progress", n // 100),
        ]
        values, at = [], 0
        for status, count in plan:
            for row in rows[at : at + count]:
                annotator = f"a{rng.randrange(workers)}" if status != "in_progress" else "gone"
                values.append(
                    {
                        "d": scope.dataset, "o": row.split_order, "n": row.file_name, "split": row.split,
                        "status": status, "annotator": annotator,
                        "reviewer": "rita" if status in ("approved", "rejected") else None,
                        "lease_user": "gone" if status == "in_progress" else None,
                        "lease_until": now - 3600 if status == "in_progress" else 0,
                        "submitted_at": now - 10_000 + at if status != "in_progress" else None,
                        "v": row.version, "comment": "fix it" if status == "rejected" else None,
                    }
                )  # fmt: skip
                at += 1
        conn.execute(
            sa.text(
                "INSERT INTO review_item (dataset, split_order, file_name, split, status, annotator, "
                "reviewer, lease_user, lease_until, submitted_at, submitted_version, comment, rev) "
                "VALUES (:d, :o, :n, :split, :status, :annotator, :reviewer, :lease_user, :lease_until, "
                ":submitted_at, :v, :comment, 1)"
            ),
            values,
        )
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE review_item")
        else:
            conn.exec_driver_sql("ANALYZE")


def median_ms(fn, repeat: int = 21) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def annotator(args: tuple[str, str, str, int, float, float]) -> tuple[list[tuple[str, str]], list[float]]:
    """One annotator process: ``rounds`` times next image (timed), submit, then ``think`` ms of work."""
    folder, uri, user, rounds, start_at, think = args
    rng = random.Random(user)
    store = WorkStore.open(ImageDataset(image_dir=Path(folder)), uri)
    board = ReviewBoard(store)
    keys, times = [], []
    current = None
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(rounds):
        start = time.perf_counter()
        item = board.next_image(user, current)
        times.append((time.perf_counter() - start) * 1000)
        if item is None:
            break
        board.submit(item.key, user)
        keys.append(item.key)
        current = item.key
        time.sleep(rng.uniform(0.5, 1.5) * think / 1000)
    store.close()
    return keys, times


def bench(root: Path, n: int, uri: str | None, workers: int, rounds: int, think: float) -> dict[str, float]:
    results: dict[str, float] = {}
    dataset = ImageDataset(image_dir=make_dataset(root / f"ds_{n}", n))
    location = uri or f"sqlite:///{root / f'store_{n}.db'}"
    store = WorkStore.open(dataset, location)
    store.sync()
    board = ReviewBoard(store)
    seed_history(store, board, workers)
    results["images"] = store.count()
    for name, f in (
        ("queue_page", QueueFilter()),
        ("queue_page_annotator", QueueFilter(annotator="a1")),
        ("queue_page_class", QueueFilter(category=3)),
    ):
        results[f"{name}_ms"] = median_ms(lambda f=f: (board.queue(f, 0, 50), board.queue_count(f)))
    deep = max(0, min(QUEUE, n // 4) - 50)
    results["queue_deep_page_ms"] = median_ms(lambda: board.queue(QueueFilter(), deep, 50))
    store.close()

    start_at = time.time() + 3.0
    jobs = [(str(dataset.image_dir), location, f"a{i}", rounds, start_at, think) for i in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        done = pool.map(annotator, jobs)
    keys = [key for got, _ in done for key in got]
    times = sorted(t for _, spent in done for t in spent)
    results["lease_calls"] = len(times)
    results["lease_p50_ms"] = statistics.median(times)
    results["lease_p95_ms"] = times[int(len(times) * 0.95) - 1]
    results["lease_max_ms"] = times[-1]
    results["double_leases"] = len(keys) - len(set(keys))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--rounds", type=int, default=100, help="next-image calls per annotator")
    parser.add_argument("--workers", type=int, default=8, help="concurrent annotator processes")
    parser.add_argument(
        "--think", type=float, default=200, help="mean ms an annotator works between hand-outs (0: none)"
    )
    parser.add_argument("--out", type=Path, default=None, help="keep the generated data here")
    parser.add_argument(
        "--uri", default=None, help="a PostgreSQL store URL (default: a SQLite file per size)"
    )
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="opsml-bench-review-"))
    try:
        table = {n: bench(root, n, args.uri, args.workers, args.rounds, args.think) for n in args.sizes}
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    small, big = min(table), max(table)
    backend = "PostgreSQL" if args.uri else "SQLite"
    print(f"{backend}: {args.workers} annotators x {args.rounds} rounds, ~{args.think:.0f} ms work between")
    print(f"{'metric':<26}" + "".join(f"{n:>14,}" for n in table) + f"{'ratio':>10}")
    for metric in table[big]:
        values = "".join(f"{table[n][metric]:>14.2f}" for n in table)
        ratio = table[big][metric] / table[small][metric] if table[small][metric] else float("nan")
        print(f"{metric:<26}{values}{ratio:>10.2f}")
    queue_ratio = table[big]["queue_page_ms"] / table[small]["queue_page_ms"]
    print(
        f"\nqueue page {big:,}/{small:,}: {queue_ratio:.2f} (goal <= 1.5); lease p95 at {big:,}: "
        f"{table[big]['lease_p95_ms']:.2f} ms (goal <= 20), double leases: {table[big]['double_leases']:.0f}"
    )
    print(json.dumps({"backend": backend, "results": table}))


if __name__ == "__main__":
    main()
