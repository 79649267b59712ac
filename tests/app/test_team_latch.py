"""A server that has been in team mode never serves anonymous users, even with every account gone (the CLI
refuses to remove the last admin; this is the database emptied behind its back)."""

from __future__ import annotations

import sqlalchemy as sa

from conftest import open_app, sidebar_counts
from opsml_image.auth import Accounts
from opsml_image.auth.db import users


def test_no_accounts_left_still_asks_to_log_in(team: Accounts) -> None:
    at = open_app()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    with team.engine.begin() as conn:
        conn.execute(sa.delete(users))
    assert not team.has_accounts()
    at.run()  # the same server, a new run: not single-user mode, no local admin, no data
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert sidebar_counts(at) is None and not at.dataframe
