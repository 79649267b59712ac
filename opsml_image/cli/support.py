"""What every command shares: opening a dataset folder, and one readable line for an error."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from pydantic import ValidationError

from opsml_image.dataset import ImageDataset

__all__ = ["error_message", "open_dataset", "fail", "reported"]


def error_message(error: Exception) -> str:
    """The message of an error; for a pydantic error, its messages without URLs and type tags."""
    if isinstance(error, ValidationError):
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
    return str(error)


def fail(error: Exception | str, code: int = 1) -> typer.Exit:
    """Print an error in red on stderr and return the ``typer.Exit`` to raise."""
    typer.secho(f"error: {error if isinstance(error, str) else error_message(error)}", err=True, fg="red")
    return typer.Exit(code)


def open_dataset(data_dir: Path, metadata: str = "metadata.jsonl") -> ImageDataset:
    """Open a dataset folder or exit with status 2 and a readable message."""
    try:
        return ImageDataset(image_dir=data_dir, metadata=metadata)
    except ValueError as error:
        raise fail(error, 2) from None


@contextlib.contextmanager
def reported(*errors: type[Exception]) -> Iterator[None]:
    """Turn the given errors (default: OSError, ValueError, KeyError) into one red line and exit status 1."""
    caught = errors or (OSError, ValueError, KeyError)
    try:
        yield
    except caught as error:
        raise fail(error) from None
