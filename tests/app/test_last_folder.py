"""AppTest: the data root itself is no dataset to open, and a remembered folder that no longer opens gives
way to the start-up folder (never an error on every new session)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from conftest import open_app, open_folder
from opsml_image.auth import LOCAL_ADMIN, Accounts
from opsml_image.demo import copy_demo
from opsml_image.usecases import access


def shown_folder(at) -> str:  # noqa: ANN001 - an AppTest
    """The name of the folder the sidebar shows open (its help is the folder's path)."""
    assert not at.exception, at.exception
    return next(t.value for t in at.sidebar.text if t.help and Path(t.help.replace("\\", "")).name == t.value)


def test_the_data_root_is_refused_and_never_remembered(app_demo: Path, tmp_path: Path):
    at = open_app()
    open_folder(at, tmp_path)  # the only data root: it holds the dataset "data", it is none itself
    assert any("is a data root, not a dataset" in e.value for e in at.error), [e.value for e in at.error]
    assert shown_folder(open_app()) == "data"
    other = copy_demo(tmp_path / "other")
    open_folder(at, other)
    assert shown_folder(at) == "other" and shown_folder(open_app()) == "other"


def test_a_remembered_folder_that_no_longer_opens_gives_way_to_the_start_up_folder(
    app_demo: Path, tmp_path: Path
):
    accounts = Accounts()
    folders = access.LastFolders(accounts.engine)
    folders.set(LOCAL_ADMIN, tmp_path)  # remembered by an older version: the data root itself
    assert shown_folder(open_app()) == "data"
    broken = copy_demo(tmp_path / "broken")
    folders.set(LOCAL_ADMIN, broken)
    assert shown_folder(open_app()) == "broken"
    for name in ("train", "validation"):
        (broken / name / "metadata.jsonl").unlink()
    st.cache_resource.clear()  # a restarted server
    assert shown_folder(open_app()) == "data"
    accounts.close()
