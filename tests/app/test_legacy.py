"""The one Streamlit workaround (pages/_legacy.py) still meets the Streamlit behaviour it relies on.

Fails when Streamlit stops serving a ``pages/`` file as a legacy page before ``st.navigation`` ran, or when
the internal it reads (``PagesManager.uses_pages_directory``) goes away or changes meaning.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT


def test_the_internal_the_workaround_reads_exists():
    assert isinstance(getattr(PagesManager, "uses_pages_directory", None), bool | type(None))


def test_a_deep_link_first_run_is_a_legacy_run_and_goes_through_app_py(app_demo: Path, monkeypatch):
    from pages import _legacy

    seen: list[bool] = []
    real = _legacy.served_as_legacy_page
    monkeypatch.setattr(_legacy, "served_as_legacy_page", lambda: seen.append(real()) or seen[-1])
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    at.switch_page("pages/browse.py")  # the first run of the server is a deep link
    at.run()
    assert not at.exception, at.exception
    assert True in seen, "Streamlit no longer serves a pages/ file as a legacy page first: drop the workaround"
    # the run went through app.py: the page, then the sidebar
    assert at.title[0].value == "Browse"
    assert any("OpsML Image" in m.value for m in at.sidebar.markdown), [m.value for m in at.sidebar.markdown]


def test_after_navigation_ran_no_page_is_a_legacy_page(app_demo: Path):
    from pages._legacy import served_as_legacy_page

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert served_as_legacy_page() is False
