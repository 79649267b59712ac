"""Data roots: only folders inside them open, after symlinks; the same refusal whether a path exists or not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsml_image.auth import Forbidden, OutsideRootsError, data_roots, resolve_in_roots


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    first, second = tmp_path / "data", tmp_path / "more"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("OPSML_IMAGE_DATA_ROOTS", f"{first}{os.pathsep}{second}{os.pathsep}{first}")
    return [first.resolve(), second.resolve()]


def test_roots_from_the_environment(roots: list[Path]) -> None:
    assert data_roots() == roots  # duplicates dropped, order kept


def test_default_roots_are_the_start_folder_and_home_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSML_IMAGE_DATA_ROOTS", raising=False)
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPSML_IMAGE_DIR", str(tmp_path / "start"))
    assert data_roots() == [tmp_path.resolve() / "start", tmp_path.resolve() / "home" / "datasets"]
    assert data_roots(tmp_path / "given")[0] == tmp_path.resolve() / "given"
    monkeypatch.delenv("OPSML_IMAGE_DIR")
    assert data_roots() == [tmp_path.resolve() / "home" / "datasets"]


def test_inside_a_root(roots: list[Path]) -> None:
    (roots[1] / "set1").mkdir()
    assert resolve_in_roots(roots[1] / "set1") == roots[1] / "set1"
    assert resolve_in_roots(roots[0] / "new" / "not-yet") == roots[0] / "new" / "not-yet"  # may be created
    assert resolve_in_roots("relative/set") == roots[0] / "relative" / "set"  # relative to the first root
    assert resolve_in_roots(roots[0]) == roots[0]


def test_outside_gives_one_message_whether_the_path_exists_or_not(roots: list[Path], tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    messages = []
    for path in (tmp_path / "secret", tmp_path / "nothing-here", "/root/.ssh/id_rsa", "/etc/passwd"):
        with pytest.raises(OutsideRootsError) as caught:
            resolve_in_roots(path)
        messages.append(str(caught.value).replace(str(path), "PATH"))
    assert len(set(messages)) == 1 and messages[0].startswith("PATH is not inside a data root (allowed: ")


@pytest.mark.parametrize(
    "make",
    [
        lambda root, out: root / ".." / "escape",
        lambda root, out: (root / "link").symlink_to(out) or root / "link",
        lambda root, out: (root / "link").symlink_to(out) or root / "link" / "deeper",
        lambda root, out: root / "bad\x00name",
    ],
    ids=["dot-dot", "symlink", "below-a-symlink", "nul"],
)
def test_tricks_do_not_leave_the_roots(roots: list[Path], tmp_path: Path, make) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(OutsideRootsError, match="is not inside a data root"):
        resolve_in_roots(make(roots[0], outside))


def test_special_files_inside_a_root_are_refused(roots: list[Path]) -> None:
    os.mkfifo(roots[0] / "pipe")
    with pytest.raises(Forbidden, match="pipe is a FIFO"):
        resolve_in_roots(roots[0] / "pipe")
