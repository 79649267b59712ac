"""Roles and what each may do: the one table the use-case layer checks with :func:`require`.

Annotators browse, annotate and submit; reviewers also review, apply fixes and edit classes; admins may do
everything (register, open folders, create datasets, import, manage users, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opsml_image.auth.errors import Forbidden

__all__ = ["Role", "Action", "User", "ROLE_ACTIONS", "LOCAL_ADMIN", "can", "require"]


class Role(StrEnum):
    """A user's role, from the least to the most trusted."""

    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Action(StrEnum):
    """Something a user asks the app or library to do."""

    BROWSE = "browse"
    ANNOTATE = "annotate"
    SUBMIT = "submit"
    VALIDATE = "validate"
    EXPORT = "export"
    REVIEW = "review"
    APPLY_FIX = "apply_fix"
    EDIT_CLASSES = "edit_classes"
    REGISTER = "register"
    OPEN_FOLDER = "open_folder"
    CREATE_DATASET = "create_dataset"
    IMPORT = "import"
    VIEW_HISTORY = "view_history"
    MANAGE_USERS = "manage_users"


_ANNOTATOR = frozenset({Action.BROWSE, Action.ANNOTATE, Action.SUBMIT, Action.VALIDATE, Action.EXPORT})
_REVIEWER = _ANNOTATOR | {Action.REVIEW, Action.APPLY_FIX, Action.EDIT_CLASSES}

#: What each role may do.
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ANNOTATOR: _ANNOTATOR,
    Role.REVIEWER: _REVIEWER,
    Role.ADMIN: frozenset(Action),
}


@dataclass(frozen=True, slots=True)
class User:
    """An account as the app sees it (never its password hash)."""

    name: str
    role: Role
    email: str | None = None

    @property
    def label(self) -> str:
        """How to show the user: ``name (role)``."""
        return f"{self.name} ({self.role})"


#: The implicit user of single-user mode (no account configured): the local admin.
LOCAL_ADMIN = User("local", Role.ADMIN)


def can(user: User | None, action: Action | str) -> bool:
    """True when ``user`` may do ``action`` (nobody logged in may do nothing)."""
    return user is not None and Action(action) in ROLE_ACTIONS[user.role]


def require(user: User | None, action: Action | str) -> None:
    """Raise :class:`Forbidden` unless ``user`` may do ``action``."""
    if user is None:
        raise Forbidden(f"log in to {Action(action).value.replace('_', ' ')}")
    if not can(user, action):
        wanted = Action(action).value.replace("_", " ")
        raise Forbidden(f"{user.name} is {_article(user.role)} {user.role}: only {_who(action)} may {wanted}")


def _who(action: Action | str) -> str:
    roles = [role.value + "s" for role in Role if Action(action) in ROLE_ACTIONS[role]]
    return " and ".join(roles)


def _article(role: Role) -> str:
    return "an" if role.value[0] in "aeiou" else "a"
