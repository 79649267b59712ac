"""The command line: ``python -m opsml_image validate DIR`` and friends (typer).

Each command lives in the module of its concern; this file only mounts them, one line each.
"""

from __future__ import annotations

import typer

from opsml_image.cli.dataset import info, validate
from opsml_image.cli.formats import export_app, import_app
from opsml_image.cli.history import history
from opsml_image.cli.quality import quality
from opsml_image.cli.registry import cards_app, register
from opsml_image.cli.review import review_app
from opsml_image.cli.serve import serve
from opsml_image.cli.store import store_app
from opsml_image.cli.users import users_app

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Label, validate and register image datasets."
)

app.command("register")(register)
app.add_typer(cards_app, name="cards", help="List, download and compare registered data cards.")
app.add_typer(export_app, name="export", help="Write a dataset in another format (one command a format).")
app.add_typer(
    import_app, name="import", help="Make a dataset folder from another format (one command a format)."
)
app.command("validate")(validate)
app.command("quality")(quality)
app.command("info")(info)
app.command("serve")(serve)
app.add_typer(users_app, name="users", help="Add, list, change and remove the app's accounts.")
app.command("history")(history)
app.add_typer(review_app, name="review", help="Review status counts and export of a dataset folder.")
app.add_typer(store_app, name="store", help="The working store that holds a dataset folder.")


def main() -> None:
    """Run the command line."""
    app()
