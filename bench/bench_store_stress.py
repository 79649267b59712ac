"""Stress of the shared working store: several processes, each started from its own working directory,
save to one dataset folder at once; no acknowledged save may be lost.

Each process opens the folder's store the way the app does (``WorkStore.open(dataset)``: the default
SQLite file under the user's data directory, or ``OPSML_IMAGE_STORE_URI``), reads a random image, edits
its caption to a unique token (and its number of boxes) and saves it with the version it read, as Annotate
does: with its review status, in one transaction (``WorkStore.edit_with`` and ``ReviewBoard.writer``; leases
last a few milliseconds here, so the edit rule rarely refuses). A :class:`StaleEdit` is a reported conflict,
a refusal of the edit rule a refused save, anything else returned is an acknowledged save. Processes also
flush now and then.

Afterwards every image's acknowledged saves must form one chain (each save built on the version the
previous one made, ending at the image's final state in ``metadata.jsonl``): an acknowledged save
outside the chain was lost (overwritten without its writer being told). And every image's review status
must name the author and the boxes of its last save (a status written apart from its save could name an
earlier one).

    python bench/bench_store_stress.py [--processes 8] [--saves 125] [--images 200] [--uri URL | --postgres]

With neither ``--uri`` nor ``--postgres`` it runs on SQLite; ``--postgres`` starts a throwaway server
(``initdb``/``pg_ctl`` from /usr/lib/postgresql, as the tests do) and runs there too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsml_image.annotation import Box  # noqa: E402
from opsml_image.dataset import ImageDataset  # noqa: E402
from opsml_image.review import EditRefused, ReviewBoard  # noqa: E402
from opsml_image.store import StaleEdit, WorkStore  # noqa: E402

_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478da63f8cfc0"
    "00000301010018dd8db00000000049454e44ae426082"
)


@dataclass
class Outcome:
    """What a stress run found."""

    acknowledged: int
    conflicts: int
    lost: int
    seconds: float
    final_mismatch: int
    refused: int = 0
    status_mismatch: int = 0

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.acknowledged} acknowledged saves, {self.lost} lost, {self.conflicts} conflicts "
            f"reported as StaleEdit, {self.refused} refused by the edit rule, {self.final_mismatch} images "
            f"whose file differs from the last save, {self.status_mismatch} whose review status does not "
            f"name their last save ({self.seconds:.1f} s)"
        )


def make_folder(root: Path, images: int) -> Path:
    """A flat dataset folder of ``images`` 1x1 PNGs, each with a record."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "metadata.jsonl", "wb") as out:
        for i in range(images):
            (root / f"img_{i:04d}.png").write_bytes(_PNG)
            out.write(orjson.dumps({"file_name": f"img_{i:04d}.png", "caption": "start"}) + b"\n")
    return root


def worker(folder: str, saves: int, images: int, seed: int, out: str) -> None:
    """One process: ``saves`` read-edit-save rounds on random images (each with its review status, as
    Annotate saves); writes its acks, conflicts and refusals."""
    rng = random.Random(seed)
    store = WorkStore.open(ImageDataset(image_dir=Path(folder)))
    store.sync()
    board = ReviewBoard(store)
    user = f"worker-{seed}"
    acks, conflicts, refused = [], 0, 0
    for i in range(saves):
        name = f"img_{rng.randrange(images):04d}.png"
        annotation = store.get("train", name)
        version = store.version("train", name)
        assert annotation is not None
        token = f"p{seed}-{i}"
        annotation.caption = token
        annotation.boxes = [Box(0, 0, 1, 1, 0)] * (i % 3)
        time.sleep(rng.random() * 0.002)  # an editor's think time: other processes save meanwhile
        try:
            change, _ = store.edit_with(
                board.writer(user, reviewer=False), ("train", name), annotation, version, user=user
            )
        except StaleEdit:
            conflicts += 1
            continue
        except EditRefused:
            refused += 1
            continue
        acks.append({"name": name, "token": token, "expected": version, "version": change.version})
        if i % 25 == 24:
            store.flush()
    store.flush()
    store.close()
    Path(out).write_text(json.dumps({"acks": acks, "conflicts": conflicts, "refused": refused}))


def run(folder: Path, processes: int, saves: int, images: int, env: dict[str, str], work: Path) -> Outcome:
    """Start the processes (each from its own new working directory), wait, and check the outcome."""
    start = time.perf_counter()
    children = []
    for p in range(processes):
        cwd = work / f"cwd-{p}"
        cwd.mkdir(parents=True, exist_ok=True)
        out = work / f"out-{p}.json"
        code = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            f"import bench_store_stress as b; b.worker({str(folder)!r}, {saves}, {images}, {p}, {str(out)!r})"
        )
        children.append((subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env), out))
    for child, _ in children:
        if child.wait(timeout=600) != 0:
            raise RuntimeError(f"a stress worker failed with exit code {child.returncode}")
    seconds = time.perf_counter() - start
    acks: list[dict] = []
    conflicts = refused = 0
    for _, out in children:
        result = json.loads(out.read_text())
        acks += result["acks"]
        conflicts += result["conflicts"]
        refused += result["refused"]
    final = {
        record["file_name"]: record.get("caption")
        for record in map(orjson.loads, (folder / "metadata.jsonl").read_bytes().splitlines())
    }
    lost, mismatch = _check(acks, final)
    return Outcome(len(acks), conflicts, lost, seconds, mismatch, refused, _status_mismatch(folder, env))


def _status_mismatch(folder: Path, env: dict[str, str]) -> int:
    """Images whose review status does not name their last save's author and boxes (read in a process
    with the workers' environment, which names the store)."""
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
        f"import bench_store_stress as b; print(b.status_mismatch({str(folder)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def status_mismatch(folder: str) -> int:
    """In a process of the workers' environment: see :func:`_status_mismatch`."""
    store = WorkStore.open(ImageDataset(image_dir=Path(folder)))
    try:
        board = ReviewBoard(store)
        wrong = 0
        for key in store.keys(limit=1_000_000):  # noqa: SIM118 (a page of keys, not a dict)
            last = store.history(1, key=key)
            if not last:
                continue
            item, annotation = board.item(key), store.get(*key)
            assert annotation is not None
            wrong += (item.annotator, item.n_boxes) != (last[0].user, len(annotation.boxes))
        return wrong
    finally:
        store.close()


def _check(acks: list[dict], final: dict[str, str | None]) -> tuple[int, int]:
    """``(acknowledged saves outside their image's chain, images whose file is not the last save)``."""
    by_name: dict[str, dict[int, list[dict]]] = {}
    for ack in acks:
        by_name.setdefault(ack["name"], {}).setdefault(ack["version"], []).append(ack)
    lost = mismatch = 0
    for name, by_version in by_name.items():
        chain, version = 0, 1  # every image starts at version 1
        while any(a["expected"] == version for a in by_version.get(version + 1, ())):
            version += 1
            chain += 1
        lost += sum(len(group) for group in by_version.values()) - chain  # two acks of one version: one lost
        last = {a["token"] for a in by_version[version]} if chain else {"start"}
        mismatch += final.get(name) not in last
    return lost, mismatch


def stress_env(user_data: Path) -> dict[str, str]:
    """The workers' environment: the default home under ``user_data`` (one for every cwd), leases of a
    few milliseconds (so the edit rule rarely refuses a save of an image another worker saved)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPSML_IMAGE_HOME", "OPSML_IMAGE_STORE_URI")}
    env["XDG_DATA_HOME"] = str(user_data)
    env["OPSML_IMAGE_LEASE_MINUTES"] = "0.00005"  # 3 ms
    return env


def stress(processes: int, saves: int, images: int, uri: str | None, label: str) -> Outcome:
    """One run in a fresh temporary folder and user data directory; the store at ``uri`` if given."""
    work = Path(tempfile.mkdtemp(prefix="opsml-stress-"))
    try:
        folder = make_folder(work / "dataset", images)
        env = stress_env(work / "user-data")
        if uri:
            env["OPSML_IMAGE_STORE_URI"] = uri
        outcome = run(folder, processes, saves, images, env, work)
        print(outcome.line(label), flush=True)
        return outcome
    finally:
        shutil.rmtree(work, ignore_errors=True)


def throwaway_postgres(base: Path) -> tuple[str, Callable[[], None]]:
    """Start a PostgreSQL server in ``base`` (as user ``postgres`` when root); its URL and a stop function."""
    import glob
    import socket

    bindir = Path(max(glob.glob("/usr/lib/postgresql/*/bin")))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"

    def pg(*args: str) -> None:
        subprocess.run([*prefix, str(bindir / args[0]), *args[1:]], check=True, capture_output=True, cwd=base)

    pg("initdb", "-D", str(data), "-A", "trust", "-U", "test")
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200"
    pg("pg_ctl", "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start")
    return f"postgresql+psycopg://test@127.0.0.1:{port}/postgres", lambda: pg(
        "pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--saves", type=int, default=125)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--uri", default=None, help="a PostgreSQL store URL (else SQLite)")
    parser.add_argument("--postgres", action="store_true", help="also run on a throwaway PostgreSQL server")
    args = parser.parse_args()
    shape = (args.processes, args.saves, args.images)
    outcomes = [stress(*shape, args.uri, "PostgreSQL" if args.uri else "SQLite")]
    if args.postgres and not args.uri:
        base = Path(tempfile.mkdtemp(prefix="opsml-stress-pg-"))
        try:
            url, stop = throwaway_postgres(base)
            try:
                outcomes.append(stress(*shape, url, "PostgreSQL"))
            finally:
                stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if any(o.lost or o.final_mismatch for o in outcomes):
        sys.exit("acknowledged saves were lost")
    if any(o.status_mismatch for o in outcomes):
        sys.exit("review statuses do not name their images' last saves")


if __name__ == "__main__":
    main()
