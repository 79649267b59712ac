"""CLI registry commands: ``register DIR`` and ``cards list|download|diff|gc`` (mounted by the CLI).

Every registry error is printed as one readable line and exits with status 1 (2 for bad input), never a
traceback. Registration and download show a progress bar.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsml_image.cli.review import approved_folder
from opsml_image.cli.support import fail, open_dataset
from opsml_image.dataset import ImageDataset
from opsml_image.registry.errors import InvalidNameError, InvalidVersionError, RegistryError

if TYPE_CHECKING:
    from opsml_image.registry.card import DataCard

__all__ = ["cards_app", "register"]

cards_app = typer.Typer(no_args_is_help=True, add_completion=False, help="List, download and compare cards.")

_STAGES = {"validate": "Validating", "upload": "Storing", "download": "Downloading"}


def register(
    data_dir: Annotated[Path, typer.Argument(help="The dataset folder (metadata.jsonl or split folders).")],
    name: Annotated[str, typer.Option(help="Card name (lower case, a-z 0-9 - _).")],
    team: Annotated[str, typer.Option(help="Team owning the card.")],
    email: Annotated[str, typer.Option("--email", help="Contact email of the registrant.")],
    tag: Annotated[list[str] | None, typer.Option(help="A tag as key=value (repeatable).")] = None,
    description: Annotated[str, typer.Option(help="What the dataset is.")] = "",
    version_type: Annotated[str, typer.Option(help="Bump from the latest: major, minor or patch.")] = "minor",
    version: Annotated[str | None, typer.Option(help="An explicit new semantic version.")] = None,
    force: Annotated[bool, typer.Option(help="Register even if validation finds errors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the registered card as JSON.")] = False,
    approved_only: Annotated[
        bool, typer.Option("--approved-only", help="Register only the images approved in review.")
    ] = False,
) -> None:
    """Validate a dataset folder and register it as a new data card version."""
    tags = _parse_tags(tag or [])
    with contextlib.ExitStack() as approved:
        if approved_only:  # a consistent copy of the approved images; counts and reviewers as tags
            folder = approved.enter_context(approved_folder(data_dir))
            dataset, tags = folder.dataset, {**tags, **folder.tags}
        else:
            dataset = open_dataset(data_dir)
        card = _register(dataset, name, team, email, tags, description, version_type, version, force)
    if as_json:
        typer.echo(json.dumps(card.to_record(), default=str))
        return
    facts = card.facts
    assert facts is not None
    typer.secho(f"registered {card.team}/{card.name} {card.version}", fg="green")
    typer.echo(f"  uid  {card.uid}\n  uri  {card.uri}")
    typer.echo(
        f"  {facts.images:,} images, {facts.records:,} records, {facts.boxes:,} boxes,"
        f" {facts.total_bytes:,} bytes"
    )
    if not card.validated:
        typer.secho("  registered with --force: the dataset has validation errors", fg="yellow")
    if approved_only:
        counts = ", ".join(
            f"{k.removeprefix('review.')} {v}" for k, v in card.tags.items() if k.startswith("review.")
        )
        typer.echo(f"  review: {counts}")


def _register(
    dataset: ImageDataset,
    name: str,
    team: str,
    email: str,
    tags: dict[str, str],
    description: str,
    version_type: str,
    version: str | None,
    force: bool,
) -> DataCard:
    from opsml_image.registry.card import DataCard

    with _errors():
        card = DataCard(
            data=dataset, name=name, team=team, user_email=email, tags=tags, description=description
        )
        registry = _registry()
        with _progress_bar() as progress:
            registry.register_card(
                card,
                version_type=version_type,
                version=version,
                force=force,
                progress=progress,
            )
    return card


@cards_app.command("list")
def list_cards(
    name: Annotated[str | None, typer.Option(help="Only this card name.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List registered cards, newest version first."""
    with _errors():
        rows = _registry().list_cards(name=name, team=team)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    if not rows:
        typer.echo("no cards")
        return
    header = f"{'team/name':<40} {'version':<16} {'images':>8} {'boxes':>8} {'bytes':>14}  created"
    typer.echo(header)
    for r in rows:
        label = f"{r['team']}/{r['name']}"
        typer.echo(
            f"{label:<40} {r['version']:<16} {r['images']:>8,} {r['boxes']:>8,} {r['total_bytes']:>14,}"
            f"  {r['created_at'][:19]}"
        )


@cards_app.command("download")
def download(
    name: Annotated[str, typer.Argument(help="Card name.")],
    dest: Annotated[Path, typer.Argument(help="Folder to restore the dataset into (new or empty).")],
    version: Annotated[str | None, typer.Option(help="Version (default: the latest).")] = None,
    team: Annotated[str | None, typer.Option(help="Team (needed when the name exists in several).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace DEST if it is not empty.")] = False,
) -> None:
    """Restore a registered dataset folder byte for byte (hashes verified)."""
    with _errors():
        registry = _registry()
        card = registry.load_card(name=name, version=version, team=team)
        with _progress_bar() as progress:
            registry.download_data(card, dest, overwrite=overwrite, progress=progress)
    typer.secho(f"downloaded {card.team}/{card.name} {card.version} to {dest}", fg="green")


@cards_app.command("gc")
def collect_garbage(
    name: Annotated[str | None, typer.Option(help="Only this card name.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would go; delete nothing.")] = False,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for running registrations.")] = 0.0,
) -> None:
    """Delete stored data no registered version needs (left by failed or interrupted registrations)."""
    with _errors():
        report = _registry().collect_garbage(name=name, team=team, dry_run=dry_run, wait=wait)
    for card in report.cards:
        if card.skipped:
            typer.secho(f"{card.team}/{card.name}: skipped: {card.skipped}", fg="yellow")
        elif not card.empty:
            typer.echo(
                f"{card.team}/{card.name}: {len(card.blobs):,} blob(s) ({card.bytes:,} bytes), "
                f"{len(card.temp_files):,} partial file(s), version folders {card.version_folders or '-'}"
            )
    typer.echo(report.summary())
    if report.skipped:
        raise typer.Exit(1)


@cards_app.command("diff")
def diff(
    name: Annotated[str, typer.Argument(help="Card name.")],
    v1: Annotated[str, typer.Argument(help="The older version.")],
    v2: Annotated[str, typer.Argument(help="The newer version.")],
    team: Annotated[str | None, typer.Option(help="Team (needed when the name exists in several).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the difference as JSON.")] = False,
) -> None:
    """List images and records added, removed or changed between two versions."""
    from dataclasses import asdict

    from opsml_image.registry.versions import parse

    with _errors():
        for version in (v1, v2):  # a malformed version is bad input, whether the card exists or not
            parse(version)
        result = _registry().diff(name, v1, v2, team=team)
    if as_json:
        typer.echo(json.dumps(asdict(result)))
        return
    typer.echo(result.summary())
    signs = {"added": "+", "removed": "-", "changed": "~"}
    for field in ("images", "records"):
        for kind, sign in signs.items():
            for item in getattr(result, f"{kind}_{field}"):
                typer.echo(f"  {sign} {field[:-1]} {item}")
    for item in result.changed_files:
        typer.echo(f"  ~ file {item}")


def _registry() -> Any:
    from opsml_image.registry.registry import CardRegistry

    return CardRegistry("data")


def _parse_tags(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"--tag {item!r} must be key=value", 2)
        tags[key.strip()] = value.strip()
    return tags


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn registry errors into one red line and a non-zero exit (2 for bad input, 1 otherwise)."""
    try:
        yield
    except (InvalidNameError, InvalidVersionError) as error:
        raise fail(error, 2) from None
    except RegistryError as error:
        raise fail(error) from None


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar with one task per stage, as a ``progress(stage, done, total)`` callback."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description:<12}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage == "commit":
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield update
