"""Register the open dataset from the working store: the form and its defaults, the card, its history.

A registration hands the registry the verdict of this session's last validation
(``CardRegistry.register_card(card, verdict=...)``): the registry compares the files it judged with its own
scan and reuses its report and counts while they are the same, so the folder is walked once and the
metadata not read again; else the registry validates anew. Cards registered here carry the folder they came
from (tag :data:`SOURCE_TAG`), so the next form is prefilled from this folder's own last card, never
another dataset's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from opsml_image.auth import LOCAL_ADMIN, Action, User
from opsml_image.registry.card import DataCard
from opsml_image.registry.errors import DatasetInvalidError
from opsml_image.registry.registry import CardDiff, CardRegistry
from opsml_image.registry.versions import newest_first, parse
from opsml_image.usecases.access import check
from opsml_image.usecases.errors import Invalid, edge
from opsml_image.usecases.validate import Verdict
from opsml_image.usecases.workspace import Workspace
from opsml_image.validation import ValidationReport

__all__ = [
    "Bump",
    "BUMPS",
    "SOURCE_TAG",
    "CardDiff",
    "CardRegistry",
    "DataCard",
    "StageProgress",
    "RegisterForm",
    "FormDefaults",
    "form_defaults",
    "offers_approved_only",
    "open_registry",
    "register",
    "parse_tags",
    "format_tags",
    "versions_of",
    "previous_version",
    "diff_to_previous",
]

Bump = Literal["minor", "major", "patch"]
BUMPS: tuple[Bump, ...] = ("minor", "major", "patch")
#: The tag naming the folder a card was registered from (the form's defaults come from its newest card).
SOURCE_TAG = "source_folder"
#: ``progress(stage, done, total)`` with stages ``validate`` (bytes), ``upload`` (bytes), ``commit``.
StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RegisterForm:
    """What the person fills in: the card's name, team, contact, tags (``key=value, ...``), description."""

    name: str
    team: str
    contact: str
    tags: str = ""
    description: str = ""
    bump: Bump = "minor"

    def missing(self) -> list[str]:
        """The required fields left empty, as the form labels them."""
        required = (("Name", self.name), ("Team", self.team), ("Contact email", self.contact))
        return [label for label, value in required if not value.strip()]


@dataclass(frozen=True)
class FormDefaults:
    """The form's starting values, and the card they come from (None: nothing registered from here yet)."""

    form: RegisterForm
    source: str | None


def open_registry() -> CardRegistry:
    """The data card registry (``CardRegistry("data")``: its database and storage under the app's home or
    as configured)."""
    with edge("The registry cannot be opened: "):
        return CardRegistry("data")


def offers_approved_only(user: User | None) -> bool:
    """True when registering "approved images only" is offered: a team member acts (single-user mode has no
    review)."""
    return user is not None and user != LOCAL_ADMIN


def form_defaults(ws: Workspace, registry: CardRegistry) -> FormDefaults:
    """Prefilled from the newest card registered from this folder; else the folder's name and empty fields."""
    folder = str(ws.path)
    with edge("The registry cannot be read: "):
        cards = registry.list_cards()
    own = [row for row in cards if (row.get("tags") or {}).get(SOURCE_TAG) == folder]
    if not own:
        name = ws.path.name.lower().replace(" ", "-")
        return FormDefaults(RegisterForm(name=name, team="", contact=""), None)
    last = max(own, key=lambda row: (str(row["created_at"]), parse(row["version"])))
    form = RegisterForm(
        name=last["name"],
        team=last["team"],
        contact=last.get("user_email") or "",
        tags=format_tags(last.get("tags") or {}),
        description=last.get("description") or "",
    )
    return FormDefaults(form, f"{last['team']}/{last['name']} v{last['version']}")


def parse_tags(text: str) -> dict[str, str]:
    """``key=value, other`` -> ``{"key": "value", "other": ""}``."""
    tags: dict[str, str] = {}
    for part in text.split(","):
        if part.strip():
            key, _, value = part.partition("=")
            tags[key.strip()] = value.strip()
    return tags


def format_tags(tags: dict[str, str]) -> str:
    """Tags as the form shows them (the source folder tag is the app's, not shown)."""
    return ", ".join(f"{k}={v}" if v else k for k, v in tags.items() if k != SOURCE_TAG)


def register(
    ws: Workspace,
    registry: CardRegistry,
    form: RegisterForm,
    progress: StageProgress | None = None,
    verdict: Verdict | None = None,
    *,
    user: User | None = LOCAL_ADMIN,
) -> DataCard:
    """Register the folder with pending edits written first; the registered card.

    ``verdict`` (this session's last validation) goes to the registry, which reuses it while its scan of
    the folder finds the files it judged, else validates the folder once. ``progress(stage, done, total)``
    may be called from the registry's worker threads. :class:`Invalid` when the form is incomplete or
    validation fails, a :class:`UserError` when the registry refuses; :class:`Refused` unless ``user`` is
    an admin.
    """
    check(user, Action.REGISTER)
    missing = form.missing()
    if missing:
        raise Invalid(f"Fill in the required field(s): {', '.join(missing)}.")
    judged = verdict.judged if verdict is not None and verdict.path == ws.path else None
    with edge("Not registered: "):
        ws.store.flush()
        try:
            card = DataCard(
                data=ws.dataset,
                name=form.name,
                team=form.team,
                user_email=form.contact,
                tags={**parse_tags(form.tags), SOURCE_TAG: str(ws.path)},
                description=form.description,
            )
            return registry.register_card(card, version_type=form.bump, progress=progress, verdict=judged)
        except DatasetInvalidError as error:
            found = error.report
            errors = f"{found.errors:,}" if isinstance(found, ValidationReport) else "some"
            raise Invalid(
                f"Not registered: validation finds {errors} error(s); fix them on the Validate page."
            ) from None


def versions_of(registry: CardRegistry, card: DataCard) -> list[dict[str, Any]]:
    """Every registered version of the card's name and team, newest first."""
    with edge("The registry cannot be read: "):
        return registry.list_cards(name=card.name, team=card.team)


def previous_version(registry: CardRegistry, card: DataCard) -> str | None:
    """The newest version older than ``card``'s (the one to compare with), None for a first version."""
    if card.version is None:
        return None
    current = parse(card.version)
    older = [row["version"] for row in versions_of(registry, card) if parse(row["version"]) < current]
    return next(iter(newest_first(older)), None)


def diff_to_previous(registry: CardRegistry, card: DataCard) -> CardDiff | None:
    """What changed since the previous version (None for a first version)."""
    previous = previous_version(registry, card)
    if previous is None or card.version is None:
        return None
    with edge("The registry cannot compare the versions: "):
        return registry.diff(card.name, previous, card.version, team=card.team)
