"""Who is acting and what they may do: log-in and log-out, page and action checks, data roots, each user's
last folder, the change history and user management, for the app (the pages stay thin).

Every action function of the use-case layer takes the acting :class:`~opsml_image.auth.User` (keyword
``user``; library and CLI callers act as :data:`~opsml_image.auth.LOCAL_ADMIN`, the single-user mode) and
calls :func:`check` first, so a forbidden action is refused here whatever the page showed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsml_image.annotation import ImageAnnotation
from opsml_image.auth import (
    LOCAL_ADMIN,
    Account,
    AccountError,
    Accounts,
    Action,
    AuthError,
    Forbidden,
    Role,
    User,
    can,
    data_roots,
    require,
    resolve_in_roots,
)
from opsml_image.store import Change, Key, StoreError, WorkStore
from opsml_image.usecases.workspace import UserError, Workspace, dataset_problem

__all__ = [
    "LOCAL_ADMIN",
    "PAGE_ACTIONS",
    "AuthError",
    "HistoryRow",
    "LastFolders",
    "add_user",
    "check",
    "changes",
    "creation_parent",
    "describe_change",
    "image_history",
    "log_in",
    "log_out",
    "oidc_user",
    "open_folder",
    "page_allowed",
    "remove_user",
    "set_email",
    "set_password",
    "set_role",
    "signed_in",
    "store_changes",
    "users",
]

#: What a user must be allowed to do to see each page (``pages/<name>.py``); a page not listed needs a
#: logged-in user only.
PAGE_ACTIONS: dict[str, Action] = {
    "browse": Action.BROWSE,
    "annotate": Action.ANNOTATE,
    "validate": Action.VALIDATE,
    "quality": Action.REVIEW,
    "register": Action.REGISTER,
    "review": Action.REVIEW,
    "team": Action.REVIEW,
    "new_dataset": Action.CREATE_DATASET,
    "transfer": Action.EXPORT,
    "users": Action.MANAGE_USERS,
    "history": Action.VIEW_HISTORY,
}


def check(user: User | None, action: Action | str) -> str:
    """Refuse with :class:`~opsml_image.auth.Forbidden` unless ``user`` may do ``action``; returns the
    name to record as the author of the change."""
    require(user, action)
    assert user is not None
    return user.name


def page_allowed(user: User | None, page: str) -> bool:
    """True when ``user`` may see the page named ``page`` (``"register"`` or ``"pages/register.py"``)."""
    name = Path(page).stem
    return user is not None and can(user, PAGE_ACTIONS.get(name, Action.BROWSE))


# ------------------------------------------------------------------------------------------ signing in


def log_in(accounts: Accounts, name: str, password: str, client: str) -> tuple[User, str]:
    """The user and a new session token, or :class:`~opsml_image.auth.AuthError` (its ``retry_after``
    says how long the next attempt waits)."""
    user = accounts.authenticate(name, password, client=client)
    return user, accounts.issue_session(user)


def log_out(accounts: Accounts, token: str | None) -> None:
    """End the session server-side (a copied cookie no longer works)."""
    accounts.revoke(token)


def signed_in(accounts: Accounts, token: str | None) -> User | None:
    """The session's user with the role they have now (None once revoked, expired or removed);
    :data:`LOCAL_ADMIN` in single-user mode."""
    return accounts.current_user(token)


def oidc_user(accounts: Accounts, email: str | None) -> User:
    """The account of an e-mail signed in through OIDC, or :class:`Forbidden` saying what to do."""
    found = accounts.user_by_email(email) if email else None
    if found is None:
        shown = email or "(the provider sent no e-mail)"
        raise Forbidden(
            f"No account has the e-mail {shown}. Ask an admin to add one: python -m opsml_image users add "
            "NAME --role annotator --email ADDRESS"
        )
    return found


# ------------------------------------------------------------------------------------------ folders


def open_folder(user: User | None, path: str | Path, roots: Sequence[Path] | None = None) -> Path:
    """The real dataset folder ``path`` names, for admins only and only inside a data root; the refusal
    for a path outside reads the same whether it exists or not. A folder that holds no dataset (a data
    root that is not one itself, say) is refused: it would open on an error."""
    check(user, Action.OPEN_FOLDER)
    allowed = list(roots) if roots is not None else data_roots()
    real = resolve_in_roots(_given(path), allowed)
    problem = dataset_problem(real, allowed)
    if problem:
        raise UserError(problem)
    return real


def creation_parent(
    user: User | None,
    parent: str | Path,
    action: Action = Action.CREATE_DATASET,
    roots: Sequence[Path] | None = None,
) -> Path:
    """The real folder a new dataset may be made in (inside a data root), for whoever may ``action``."""
    check(user, action)
    return resolve_in_roots(_given(parent), list(roots) if roots is not None else data_roots())


def _given(path: str | Path) -> str | Path:
    text = path.strip() if isinstance(path, str) else path
    if not os.fspath(text):
        raise UserError("Give a folder.")
    return text


_folder_tables = sa.MetaData()
#: Each user's last opened folder, in the app's database beside the accounts.
last_folder_table = sa.Table(
    "app_last_folder",
    _folder_tables,
    sa.Column("user_name", sa.String(64), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)


class LastFolders:
    """The folder each user opened last (a new browser session of theirs starts there): in the app's
    database when given its engine (kept over restarts, shared by servers), else in memory."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[str, Path] = {}
        self._engine = engine
        if engine is not None:
            _folder_tables.create_all(engine, checkfirst=True)

    def get(self, user: User) -> Path | None:
        if self._engine is None:
            with self._lock:
                return self._by_user.get(user.name)
        query = sa.select(last_folder_table.c.path).where(last_folder_table.c.user_name == user.name)
        with self._engine.connect() as conn:
            found = conn.execute(query).scalar()
        return Path(found) if found else None

    @staticmethod
    def usable(
        folder: Path | None, roots: Sequence[Path], opens: Callable[[Path], object] | None = None
    ) -> Path | None:
        """The real path of a remembered ``folder`` while it lies inside a data root and opens as a dataset
        (``opens(path)``, when given, opens it: an error from it says it does not); else None, and the
        session starts on the start-up folder instead of on an error."""
        if folder is None:
            return None
        try:
            real = resolve_in_roots(folder, list(roots))
        except PermissionError:
            return None
        if dataset_problem(real, roots):
            return None
        try:
            if opens is not None:
                opens(real)
        except (UserError, StoreError, OSError, ValueError):
            return None
        return real

    def set(self, user: User, path: Path) -> None:
        if self._engine is None:
            with self._lock:
                self._by_user[user.name] = Path(path)
            return
        row = {"user_name": user.name, "path": os.fspath(path), "at": time.time()}
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.delete(last_folder_table).where(last_folder_table.c.user_name == user.name))
                conn.execute(sa.insert(last_folder_table).values(**row))
        except sa.exc.IntegrityError:
            pass  # the same user opened a folder on another server at this moment: that one is kept


# ------------------------------------------------------------------------------------------ history


@dataclass(frozen=True)
class HistoryRow:
    """One change as the history tables show it."""

    id: int
    at: str
    timestamp: float
    user: str
    split: str
    file_name: str
    action: str
    what: str


def image_history(ws: Workspace, user: User | None, key: Key, limit: int = 50) -> list[HistoryRow]:
    """Who changed this image, when and what, newest first (for anyone who may browse)."""
    check(user, Action.BROWSE)
    return [_row(change) for change in ws.store.history(limit, key=key)]


def changes(
    ws: Workspace,
    user: User | None,
    *,
    who: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[HistoryRow]:
    """The dataset's latest changes, newest first, of one user and/or since a time (admins only)."""
    return store_changes(ws.store, user, who=who, since=since, limit=limit)


def store_changes(
    store: WorkStore,
    user: User | None,
    *,
    who: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[HistoryRow]:
    """:func:`changes` of a store opened without a workspace (the CLI's ``history``)."""
    check(user, Action.VIEW_HISTORY)
    return [_row(change) for change in store.history(limit, user=who or None, since=since)]


def _row(change: Change) -> HistoryRow:
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(change.at))
    split, file_name = change.key
    return HistoryRow(
        change.id, at, change.at, change.user or "-", split, file_name, change.action, describe_change(change)
    )


def describe_change(change: Change) -> str:
    """What a change did, in a few words: boxes, caption, image categories, record added or removed."""
    before, after = change.before, change.after
    if before is None and after is None:
        return "nothing"
    if after is None:
        return "record removed"
    if before is None:
        before = ImageAnnotation(file_name=after.file_name, split=after.split)
        prefix = "record added: "
    else:
        prefix = ""
    parts = []
    if len(before.boxes) != len(after.boxes):
        parts.append(f"boxes {len(before.boxes)} -> {len(after.boxes)}")
    elif list(before.boxes) != list(after.boxes):
        parts.append("boxes changed")
    if before.caption != after.caption:
        parts.append("caption set" if after.caption else "caption removed")
    if list(before.categories) != list(after.categories):
        parts.append("image categories changed")
    return prefix + (", ".join(parts) or "no visible change")


# ------------------------------------------------------------------------------------------ users


def users(accounts: Accounts, user: User | None) -> list[Account]:
    """Every account (admins only)."""
    check(user, Action.MANAGE_USERS)
    return accounts.list_users()


def add_user(
    accounts: Accounts,
    user: User | None,
    name: str,
    role: Role | str,
    password: str | None,
    email: str | None,
) -> User:
    """Add an account (admins only); UserError with the reason when refused. The first account must be an
    admin: adding it ends single-user mode, and someone must be able to manage the others."""
    check(user, Action.MANAGE_USERS)
    if not accounts.has_accounts() and str(role).strip().lower() != Role.ADMIN.value:
        raise UserError("Not added: the first account must be an admin (it ends single-user mode).")
    try:
        return accounts.add_user(name, role, password=password or None, email=email or None)
    except AccountError as error:
        raise UserError(f"Not added: {error}") from None


def set_role(accounts: Accounts, user: User | None, name: str, role: Role | str) -> User:
    """Change a user's role (admins only); it applies at that user's next action."""
    check(user, Action.MANAGE_USERS)
    try:
        return accounts.set_role(name, role)
    except AccountError as error:
        raise UserError(f"Not changed: {error}") from None


def set_password(accounts: Accounts, user: User | None, name: str, password: str) -> None:
    """Give ``name`` a new password (admins only); that user's sessions end."""
    check(user, Action.MANAGE_USERS)
    try:
        accounts.set_password(name, password)
    except AccountError as error:
        raise UserError(f"Not changed: {error}") from None


def set_email(accounts: Accounts, user: User | None, name: str, email: str | None) -> None:
    """Set or clear the e-mail an OIDC sign-in maps to ``name`` (admins only)."""
    check(user, Action.MANAGE_USERS)
    try:
        accounts.set_email(name, email)
    except AccountError as error:
        raise UserError(f"Not changed: {error}") from None


def remove_user(accounts: Accounts, user: User | None, name: str) -> None:
    """Remove an account and end its sessions (admins only; never yourself)."""
    if name == check(user, Action.MANAGE_USERS):
        raise UserError("You cannot remove your own account: ask another admin.")
    try:
        accounts.remove_user(name)
    except AccountError as error:
        raise UserError(f"Not removed: {error}") from None
