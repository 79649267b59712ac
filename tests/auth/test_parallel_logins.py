"""Users signing in at the same moment all get a session (a deferred SQLite transaction failed with
"database is locked" when another log-in wrote between its read and its write)."""

from __future__ import annotations

import threading
from pathlib import Path

from opsml_image.auth import Accounts, User


def test_six_sessions_issued_at_once(tmp_path: Path) -> None:
    accounts = Accounts(f"sqlite:///{tmp_path / 'app.db'}")
    names = [f"user{i}" for i in range(6)]
    for name in names:
        accounts.add_user(name, "annotator", password="correct horse")
    start, errors, tokens = threading.Barrier(len(names)), [], []

    def sign_in(name: str) -> None:
        start.wait()
        try:
            for _ in range(5):
                tokens.append(accounts.issue_session(User(name, accounts.get_user(name).role)))  # type: ignore[union-attr]
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(tokens) == 30 and all(accounts.session_user(t) is not None for t in tokens)
    finally:
        accounts.close()
