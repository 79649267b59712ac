"""CLI working-store commands: ``store take-over DIR`` (mounted by ``opsml_image.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsml_image.cli.support import fail, open_dataset
from opsml_image.store import StoreError, WorkStore

__all__ = ["store_app"]

store_app = typer.Typer(no_args_is_help=True, add_completion=False)


@store_app.command("take-over")
def take_over(
    data_dir: Annotated[Path, typer.Argument(help="The dataset folder another, gone store holds.")],
) -> None:
    """Give the folder to this process's store (OPSML_IMAGE_HOME / OPSML_IMAGE_STORE_URI) when the store
    its marker names is provably gone; exit 1 when that store may still be in use."""
    dataset = open_dataset(data_dir)
    try:
        store = WorkStore.open(dataset, take_over=True)
    except StoreError as error:
        raise fail(error, 1) from None
    where = store.engine.url.render_as_string(hide_password=True).split("?")[0]
    store.close()
    typer.echo(f"{data_dir}: held by this store now ({where})")
