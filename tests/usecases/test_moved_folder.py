"""Use case: an open folder swapped for a link (``mv ds ds.old && ln -s /outside ds``) is not followed by the
session that had it open: nothing is written into the new target, its images are not read, and the edits
stay in the store until the folder is back (or reopened)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from opsml_image.dataset import FolderMoved
from opsml_image.demo import copy_demo
from opsml_image.store import FolderReplaced
from opsml_image.usecases import annotate as ann
from opsml_image.usecases import browse
from opsml_image.usecases.workspace import Workspace, open_workspace

KEY = ("train", "scene_001.jpg")
MOVED = "moved, removed or replaced since it was opened"


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The dataset folder and an outside folder with the same layout and file names (another demo copy)."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    return copy_demo(tmp_path / "ds"), copy_demo(tmp_path / "outside")


@pytest.fixture
def ws(folders: tuple[Path, Path]) -> Iterator[Workspace]:
    workspace = open_workspace(folders[0], flush_delay=3600)  # flushed by the test only
    yield workspace
    workspace.close()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (links not followed) by relative path, with its bytes."""
    found: dict[str, bytes] = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def caption_of(root: Path, file_name: str) -> str | None:
    for line in (root / "train" / "metadata.jsonl").read_bytes().splitlines():
        record = orjson.loads(line)
        if record["file_name"] == file_name:
            return record.get("caption")
    raise AssertionError(f"no record of {file_name}")


def swap(ds: Path, outside: Path) -> Path:
    """``mv ds ds.old && ln -s outside ds``; returns ``ds.old``."""
    old = ds.with_name(ds.name + ".old")
    ds.rename(old)
    ds.symlink_to(outside, target_is_directory=True)
    return old


def move_back(ds: Path, old: Path) -> None:
    ds.unlink()
    old.rename(ds)


def save_caption(ws: Workspace, text: str) -> ann.Outcome:
    view = ann.open_image(ws, KEY)
    assert view is not None
    return ann.set_caption(ws, view, text)


def test_a_swapped_folder_is_neither_written_nor_read_and_the_edit_waits(
    ws: Workspace, folders: tuple[Path, Path]
) -> None:
    ds, outside = folders
    view = ann.open_image(ws, KEY)
    assert view is not None
    assert ann.set_caption(ws, view, "saved before the swap").saved
    before = snapshot(outside)
    old = swap(ds, outside)

    with pytest.raises(FolderReplaced, match=MOVED):
        ws.store.flush()  # the sidebar's "Save metadata.jsonl now" and the flusher
    with pytest.raises(FolderReplaced, match=MOVED):
        ws.store.sync()  # a re-index would read the outside folder into the store
    with pytest.raises(FolderReplaced, match=MOVED):
        ws.store.add_category("bus")
    with pytest.raises(FolderMoved, match=MOVED):
        ws.dataset.set_category_names(["car", "house", "tree", "bus"])
    with pytest.raises(FolderMoved, match=MOVED):
        browse.image_path(ws, *KEY)  # a tile, a preview or a thumbnail
    with pytest.raises(FolderMoved, match=MOVED):
        ann.open_image(ws, KEY)
    refused = ann.set_caption(ws, view, "saved after the swap")  # an editor who read the image before
    assert refused.status == "refused" and MOVED in refused.message

    ws.flusher.notify()
    ws.flusher.stop()  # flushes now: refused, and kept as its last error
    assert isinstance(ws.flusher.last_error, FolderReplaced)
    assert snapshot(outside) == before  # byte for byte, and no new file (no marker, no temp file)
    assert ws.store.dirty_count() == 1  # the edit stays in the store
    assert ws.store.get(*KEY).caption == "saved before the swap"  # type: ignore[union-attr]

    move_back(ds, old)
    assert ws.store.flush() == 1
    assert caption_of(ds, KEY[1]) == "saved before the swap"
    assert browse.image_path(ws, *KEY) == ds / "train" / KEY[1]
    assert snapshot(outside) == before


def test_an_edit_saved_before_the_swap_is_written_when_the_folder_is_reopened(
    folders: tuple[Path, Path],
) -> None:
    ds, outside = folders
    ws = open_workspace(ds, flush_delay=3600)
    assert save_caption(ws, "kept over the swap").saved
    before = snapshot(outside)
    old = swap(ds, outside)
    ws.close()  # its last flush is refused: nothing lost, nothing written outside
    assert snapshot(outside) == before and caption_of(old, KEY[1]) != "kept over the swap"
    move_back(ds, old)
    again = open_workspace(ds, flush_delay=3600)  # the same store flushes what is pending on opening
    try:
        assert again.store.dirty_count() == 0
        assert caption_of(ds, KEY[1]) == "kept over the swap"
    finally:
        again.close()


def test_a_folder_replaced_by_another_real_folder_is_not_followed(ws: Workspace, tmp_path: Path) -> None:
    ds = ws.path
    assert save_caption(ws, "before").saved
    ds.rename(tmp_path / "elsewhere")
    copy_demo(ds)  # a new folder at the same path (another inode)
    with pytest.raises(FolderReplaced, match=MOVED):
        ws.store.flush()
    assert caption_of(ds, KEY[1]) != "before"
