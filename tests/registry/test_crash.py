"""A registering process killed with SIGKILL (no exception, no cleanup) leaves a consistent registry,
whose leftovers garbage collection removes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opsml_image.registry import CardRegistry

from .conftest import make_card, make_dataset, same_tree

REPO = Path(__file__).resolve().parents[2]

#: The child registers the dataset and stops dead at a chosen point, announcing it on stdout first.
CHILD = textwrap.dedent(
    """
    import sys, time
    from opsml_image import DataCard, ImageDataset
    from opsml_image.registry import CardRegistry, storage

    data_dir, tracking_uri, storage_uri, where = sys.argv[1:5]

    def halt():
        print("HALTED", flush=True)
        time.sleep(120)  # the parent kills us here

    def progress(stage, done, total):
        if where == "upload" and stage == "upload" and 0 < done < total:
            halt()

    if where == "version-folder":  # after the card row is inserted, mid-way through the version folder
        write = storage.atomic_write_bytes
        def write_then_halt(path, data):
            write(path, data)
            halt()
        storage.atomic_write_bytes = write_then_halt

    registry = CardRegistry("data", tracking_uri=tracking_uri, storage_uri=storage_uri, workers=1)
    card = DataCard(data=ImageDataset(image_dir=data_dir), name="street-signs", team="vision",
                    user_email="ana@example.com")
    registry.register_card(card, progress=progress)
    print("FINISHED", flush=True)
    """
)


@pytest.mark.parametrize("where", ["upload", "version-folder"])
def test_a_killed_registration_leaves_no_card_and_a_retry_works(
    tracking_uri: str, tmp_path: Path, where: str
) -> None:
    data = make_dataset(tmp_path / "data", train=6, validation=2)
    storage = tmp_path / "storage"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), tracking_uri, str(storage), where],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "HALTED", f"the child did not reach {where}: {line!r} {child.stderr.read()}"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL

    registry = CardRegistry("data", tracking_uri=tracking_uri, storage_uri=storage)
    try:
        assert registry.list_cards() == []  # nothing points at the partial data
        report = registry.collect_garbage()  # the killed registration's lock died with it
        [leftovers] = report.cards
        assert not leftovers.skipped
        if where == "upload":
            assert len(leftovers.temp_files) == 1  # the blob being copied when the process died
        else:
            assert leftovers.version_folders == ["1.0.0"] and leftovers.temp_files == []
        assert registry.store.temp_files("vision", "street-signs") == []
        card = registry.register_card(make_card(data))
        assert card.version == "1.0.0"
        restored = registry.download_data(registry.load_card(name="street-signs"), tmp_path / "restored")
        assert Path(restored.image_dir) == tmp_path / "restored"
        assert same_tree(data, tmp_path / "restored")
    finally:
        registry.close()
