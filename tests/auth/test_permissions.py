"""The role table: what each role may do, and the refusal's wording."""

from __future__ import annotations

import pytest

from opsml_image.auth import LOCAL_ADMIN, ROLE_ACTIONS, Action, Forbidden, Role, User, can, require

ANNOTATOR = User("ann", Role.ANNOTATOR)
REVIEWER = User("rev", Role.REVIEWER)
ADMIN = User("adm", Role.ADMIN)
EVERYONE = {Action.BROWSE, Action.ANNOTATE, Action.SUBMIT, Action.VALIDATE, Action.EXPORT}
REVIEWERS = {Action.REVIEW, Action.APPLY_FIX, Action.EDIT_CLASSES}
ADMINS = {
    Action.REGISTER,
    Action.OPEN_FOLDER,
    Action.CREATE_DATASET,
    Action.IMPORT,
    Action.VIEW_HISTORY,
    Action.MANAGE_USERS,
}


def test_the_table_of_the_issue() -> None:
    assert set(ROLE_ACTIONS[Role.ANNOTATOR]) == EVERYONE
    assert set(ROLE_ACTIONS[Role.REVIEWER]) == EVERYONE | REVIEWERS
    assert set(ROLE_ACTIONS[Role.ADMIN]) == set(Action) == EVERYONE | REVIEWERS | ADMINS


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(
    "user", [ANNOTATOR, REVIEWER, ADMIN, LOCAL_ADMIN, None], ids=lambda u: getattr(u, "name", "nobody")
)
def test_require_matches_can_for_every_role_and_action(user: User | None, action: Action) -> None:
    if can(user, action):
        require(user, action)
    else:
        with pytest.raises(Forbidden):
            require(user, action)
    assert can(user, action.value) == can(user, action)


def test_refusals_say_who_may() -> None:
    with pytest.raises(Forbidden, match="ann is an annotator: only reviewers and admins may apply fix"):
        require(ANNOTATOR, Action.APPLY_FIX)
    with pytest.raises(Forbidden, match="rev is a reviewer: only admins may register"):
        require(REVIEWER, "register")
    with pytest.raises(Forbidden, match="log in to browse"):
        require(None, Action.BROWSE)
    with pytest.raises(ValueError):
        can(ADMIN, "format_disk")
