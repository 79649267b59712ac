"""AppTest of the Team page: statuses, per annotator and per reviewer tables, plots, the CSV download;
annotators refused; an admin assigns a split and listed images (a wrong line named)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import TEAM_PASSWORD, open_app
from opsml_image.auth import Accounts
from opsml_image.dataset import ImageDataset
from opsml_image.review import ReviewBoard
from opsml_image.store import WorkStore

PASSWORD = TEAM_PASSWORD


@pytest.fixture
def board(app_demo: Path) -> Iterator[ReviewBoard]:
    store = WorkStore.open(ImageDataset(image_dir=app_demo))
    store.sync()
    found = ReviewBoard(store)
    for name in ("scene_001.jpg", "scene_002.jpg"):
        found.submit(("train", name), "anna")
    found.decide(("train", "scene_001.jpg"), "rex", True, found.item(("train", "scene_001.jpg")).rev)
    rev = found.item(("train", "scene_002.jpg")).rev
    found.decide(("train", "scene_002.jpg"), "rex", False, rev, "add the cars", ["missing box"])
    yield found
    store.close()


def log_in(name: str) -> AppTest:
    at = open_app()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="FormSubmitter:login-Log in").click().run()
    at.switch_page("pages/team.py").run()
    assert not at.exception, at.exception
    return at


def test_team_page_tables_plots_and_csv(team: Accounts, board: ReviewBoard):
    at = log_in("rex")
    assert at.title[0].value == "Team"
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Approved"] == "1" and metrics["Rejected"] == "1"
    people, reviewers = (d.value for d in at.dataframe)
    anna = people[people["user"] == "anna"].iloc[0]
    assert (anna["submitted"], anna["approved"], anna["rejected"], anna["approval_rate"]) == (2, 1, 1, 0.5)
    assert list(reviewers["decisions"]) == [2]
    assert len(at.get("arrow_vega_lite_chart")) >= 2 or len(at.get("vega_lite_chart")) >= 2
    assert not [e for e in at.expander if "Assign" in e.label]  # reviewers do not assign


def test_annotators_are_refused(team: Accounts, board: ReviewBoard):
    at = log_in("anna")
    assert not at.dataframe
    shown = " ".join(str(e.value) for e in at.error)
    assert "not available to you" in shown or "for reviewers and admins" in shown


def test_admin_assigns_a_split_and_listed_images(team: Accounts, board: ReviewBoard):
    at = log_in("ada")
    at.selectbox(key="team_assign_to").select("anna")
    at.selectbox(key="team_assign_split").select("validation")
    at.button(key="team_assign").click().run()
    assert any("to anna" in str(s.value) for s in at.success)
    validation = board.store.keys()  # every validation image now assigned to anna
    assigned = [k for k in validation if k[0] == "validation"]
    assert assigned and all(board.item(k).assigned_to == "anna" for k in assigned)
    at.radio(key="team_assign_what").set_value("Listed images").run()
    at.text_area(key="team_assign_keys").input("train/scene_003.jpg\ntrain/nope.jpg").run()
    at.button(key="team_assign").click().run()
    assert any("line 2: there is no image train/nope.jpg" in str(e.value).replace("\\", "") for e in at.error)
    at.text_area(key="team_assign_keys").input("train/scene_003.jpg").run()
    at.button(key="team_assign").click().run()
    assert board.item(("train", "scene_003.jpg")).assigned_to == "anna"


def test_admin_assigns_a_selection_from_browse(team: Accounts, board: ReviewBoard):
    at = log_in("ada")
    at.switch_page("pages/browse.py").run()
    assert not at.exception, at.exception
    picked = [("train", "scene_004.png"), ("train", "scene_005.jpg")]
    at.multiselect(key="browse_assign_keys").set_value(picked).run()
    at.selectbox(key="browse_assign_to").select("anna")
    at.button(key="browse_assign").click().run()
    assert any("Assigned 2 image(s) to anna" in str(s.value).replace("\\", "") for s in at.success), at.success
    assert all(board.item(k).assigned_to == "anna" for k in picked)
    rex = log_in("rex")
    rex.switch_page("pages/browse.py").run()
    assert not rex.get("multiselect") or all(m.key != "browse_assign_keys" for m in rex.multiselect)
