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
    session_hours,
)
from opsml_image.store import Change, Key, WorkStore
from opsml_image.usecases.errors import Invalid, NotFound, Refused, UserError, edge
from opsml_image.usecases.workspace import Workspace, dataset_problem

__all__ = [
    "LOCAL_ADMIN",
    "PAGE_ACTIONS",
    "ROLES",
    "Account",
    "Accounts",
    "HistoryRow",
    "LastFolders",
    "add_user",
    "assignees",
    "check",
    "changes",
    "creation_parent",
    "describe_change",
    "has_accounts",
    "image_history",
    "log_in",
    "log_out",
    "may_assign",
    "oidc_user",
    "open_accounts",
    "open_folder",
    "page_allowed",
    "page_refusal",
    "remove_user",
    "roots",
    "session_hours",
    "session_user",
    "set_email",
    "set_password",
    "set_role",
    "signed_in",
    "store_changes",
    "users",
]

#: The roles by name, from the least to the most trusted (what the Users page offers).
ROLES: tuple[str, ...] = tuple(role.value for role in Role)

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
    """Refuse with :class:`~opsml_image.usecases.errors.Refused` (a :class:`~opsml_image.auth.Forbidden`)
    unless ``user`` may do ``action``; returns the name to record as the author of the change."""
    try:
        require(user, action)
    except Forbidden as error:
        raise Refused(str(error)) from None
    assert user is not None
    return user.name


def page_allowed(user: User | None, page: str) -> bool:
    """True when ``user`` may see the page named ``page`` (``"register"`` or ``"pages/register.py"``)."""
    name = Path(page).stem
    return user is not None and can(user, PAGE_ACTIONS.get(name, Action.BROWSE))


def page_refusal(user: User | None, page: str) -> str | None:
    """Why ``user`` may not see the page named ``page``; None when they may."""
    try:
        check(user, PAGE_ACTIONS.get(Path(page).stem, Action.BROWSE))
    except Refused as error:
        return str(error)
    return None


def may_assign(user: User | None) -> bool:
    """True when ``user`` may assign work to others (admins)."""
    return user is not None and user.role == Role.ADMIN


# ------------------------------------------------------------------------------------------ signing in


def open_accounts() -> Accounts:
    """The accounts in the app's database (``OPSML_IMAGE_STORE_URI``, else ``<home>/app.db``)."""
    with edge("The accounts database cannot be opened: "):
        return Accounts()


def has_accounts(accounts: Accounts) -> bool:
    """True once an account exists (team mode: everyone signs in)."""
    with edge("The accounts database cannot be read: "):
        return accounts.has_accounts()


def log_in(accounts: Accounts, name: str, password: str, client: str) -> tuple[User, str]:
    """The user and a new session token; :class:`Refused` when the name or password is wrong (the next
    attempt waits a little longer)."""
    with edge():
        try:
            user = accounts.authenticate(name, password, client=client)
        except AuthError as error:
            raise Refused(str(error)) from None
        return user, accounts.issue_session(user)


def log_out(accounts: Accounts, token: str | None) -> None:
    """End the session server-side (a copied cookie no longer works)."""
    accounts.revoke(token)


def signed_in(accounts: Accounts, token: str | None) -> User | None:
    """The session's user with the role they have now (None once revoked, expired or removed);
    :data:`LOCAL_ADMIN` in single-user mode."""
    return accounts.current_user(token)


def session_user(accounts: Accounts, token: str | None = None, email: str | None = None) -> User | None:
    """Who a team-mode session is: the account of its OIDC ``email`` when given ("" names nobody), else
    of its ``token``, with the role they have now; None when nobody (valid) is signed in."""
    if email is not None:
        return accounts.user_by_email(email) if email else None
    return accounts.session_user(token)


def oidc_user(accounts: Accounts, email: str | None) -> User:
    """The account of an e-mail signed in through OIDC, or :class:`Refused` saying what to do."""
    found = accounts.user_by_email(email) if email else None
    if found is None:
        shown = email or "(the provider sent no e-mail)"
        raise Refused(
            f"No account has the e-mail {shown}. Ask an admin to add one: python -m opsml_image users add "
            "NAME --role annotator --email ADDRESS"
        )
    return found


# ------------------------------------------------------------------------------------------ folders


def roots(startup: Path | None = None) -> list[Path]:
    """The data roots: ``OPSML_IMAGE_DATA_ROOTS``, else the start-up folder and ``<home>/datasets``."""
    return data_roots(startup)


def open_folder(user: User | None, path: str | Path, roots: Sequence[Path] | None = None) -> Path:
    """The real dataset folder ``path`` names, for admins only and only inside a data root; the refusal
    for a path outside reads the same whether it exists or not. A folder that holds no dataset (a data
    root that is not one itself, say) is refused: it would open on an error."""
    check(user, Action.OPEN_FOLDER)
    allowed = list(roots) if roots is not None else data_roots()
    real = _inside(_given(path), allowed)
    problem = dataset_problem(real, allowed)
    if problem:
        raise (Invalid if real.exists() else NotFound)(problem)
    return real


def creation_parent(
    user: User | None,
    parent: str | Path,
    action: Action = Action.CREATE_DATASET,
    roots: Sequence[Path] | None = None,
) -> Path:
    """The real folder a new dataset may be made in (inside a data root), for whoever may ``action``."""
    check(user, action)
    return _inside(_given(parent), list(roots) if roots is not None else data_roots())


def _inside(path: str | Path, roots: list[Path]) -> Path:
    """:func:`~opsml_image.auth.resolve_in_roots`, a path outside (or no plain folder) :class:`Refused`."""
    try:
        return resolve_in_roots(path, roots)
    except Forbidden as error:
        raise Refused(str(error)) from None


def _given(path: str | Path) -> str | Path:
    text = path.strip() if isinstance(path, str) else path
    if not os.fspath(text):
        raise Invalid("Give a folder.")
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
                with edge():
                    opens(real)
        except UserError:
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
    with edge("The history cannot be read: "):
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
    with edge("The history cannot be read: "):
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
    with edge("The accounts cannot be read: "):
        return accounts.list_users()


def assignees(accounts: Accounts, user: User | None) -> list[str]:
    """The account names work can be assigned to (admins only); none when the accounts cannot be read
    (the page then asks for a name)."""
    if not may_assign(user):
        raise Refused("Only admins may assign work.")
    try:
        return [account.name for account in accounts.list_users()]
    except sa.exc.SQLAlchemyError:
        return []


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
        raise Invalid("Not added: the first account must be an admin (it ends single-user mode).")
    with edge("Not added: "):
        return accounts.add_user(name, role, password=password or None, email=email or None)


def set_role(accounts: Accounts, user: User | None, name: str, role: Role | str) -> User:
    """Change a user's role (admins only); it applies at that user's next action."""
    check(user, Action.MANAGE_USERS)
    with edge("Not changed: "):
        return accounts.set_role(name, role)


def set_password(accounts: Accounts, user: User | None, name: str, password: str) -> None:
    """Give ``name`` a new password (admins only); that user's sessions end."""
    check(user, Action.MANAGE_USERS)
    with edge("Not changed: "):
        accounts.set_password(name, password)


def set_email(accounts: Accounts, user: User | None, name: str, email: str | None) -> None:
    """Set or clear the e-mail an OIDC sign-in maps to ``name`` (admins only)."""
    check(user, Action.MANAGE_USERS)
    with edge("Not changed: "):
        accounts.set_email(name, email)


def remove_user(accounts: Accounts, user: User | None, name: str) -> None:
    """Remove an account and end its sessions (admins only; never yourself)."""
    if name == check(user, Action.MANAGE_USERS):
        raise Refused("You cannot remove your own account: ask another admin.")
    with edge("Not removed: "):
        accounts.remove_user(name)
