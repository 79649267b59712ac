"""CLI format commands: ``export FORMAT DATA_DIR DEST`` and ``import FORMAT SOURCE DEST``, one of each a
registered format (mounted by ``opsml_image.cli``).

The commands are made from the registry of :mod:`opsml_image.formats` whenever the CLI runs, not written out
per format: a format's key names them, its texts are their help, and each field of its options becomes an
option (``--images``, ``--bbox-format``, ``--layout``). A format registered later (a plug-in) has its
commands too.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from opsml_image import formats
from opsml_image.cli.support import fail, open_dataset
from opsml_image.formats import Format
from opsml_image.formats.base import Report
from opsml_image.formats.format import Side

__all__ = ["export_app", "import_app", "export_command", "import_command"]

#: A click command of typer's own click (typer vendors it; its types are not public).
Command = Any

DataDir = Annotated[Path, typer.Argument(help="The dataset folder.")]
SkipInvalid = Annotated[
    bool, typer.Option("--skip-invalid", help="Leave out bad items (listed with counts) instead of stopping.")
]
Split = Annotated[str | None, typer.Option(help="Only this split (train, validation, test).")]


@contextlib.contextmanager
def format_errors() -> Iterator[None]:
    """An error as one red line: bad input (a file that cannot be converted, a missing source) exits 2; a
    failure (a disk error, a missing package) exits 1."""
    try:
        yield
    except (ValueError, KeyError, FileNotFoundError, NotADirectoryError) as error:
        raise fail(error, 2) from None
    except (OSError, ImportError) as error:
        raise fail(error, 1) from None


def show(report: Report) -> None:
    """The report's summary line, then what was skipped (by reason) and each warning."""
    typer.echo(report.summary())
    for item in report.skipped[:20]:
        typer.echo(f"skipped {item.item}: {item.reason}", err=True)
    if len(report.skipped) > 20:
        typer.echo(f"... and {len(report.skipped) - 20:,} more skipped", err=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)


def export_command(fmt: Format[Any]) -> Command:
    """``export <key> DATA_DIR DEST [--split] [--skip-invalid] [export options]``."""

    def run(data_dir: Path, dest: Path, split: str | None, skip_invalid: bool, **values: Any) -> None:
        dataset = open_dataset(data_dir)
        with format_errors():
            options = fmt.options(**values)
            show(fmt.export(dataset, dest, options, split=split, skip_invalid=skip_invalid))

    parameters = [
        _parameter("data_dir", DataDir),
        _parameter("dest", Annotated[Path, typer.Argument(help=fmt.export_dest)]),
        _parameter("split", Split, None),
        _parameter("skip_invalid", SkipInvalid, False),
        *_options(fmt, "export"),
    ]
    return _command(fmt.key, run, parameters, fmt.writes)


def import_command(fmt: Format[Any]) -> Command:
    """``import <key> SOURCE[...] DEST [--skip-invalid] [import options]``."""

    def run(dest: Path, skip_invalid: bool, source: Any = None, sources: Any = None, **values: Any) -> None:
        with format_errors():
            options = fmt.options(**values)
            given = sources if fmt.many else source
            show(fmt.import_dataset(given, dest, options, skip_invalid=skip_invalid))

    source = (
        _parameter("sources", Annotated[list[Path], typer.Argument(help=fmt.reads)])
        if fmt.many
        else _parameter("source", Annotated[Path, typer.Argument(help=fmt.reads)])
    )
    parameters = [
        source,
        _parameter("dest", Annotated[Path, typer.Argument(help=fmt.import_dest)]),
        _parameter("skip_invalid", SkipInvalid, False),
        *_options(fmt, "import"),
    ]
    return _command(fmt.key, run, parameters, f"Make a dataset folder from {fmt.label}.")


def _parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation
    )


def _options(fmt: Format[Any], side: Side) -> list[inspect.Parameter]:
    """One CLI option a field of the format's options of ``side``."""
    return [
        _parameter(field.name, Annotated[field.type, typer.Option(help=field.help)], field.default)
        for field in fmt.fields(side)
    ]


def _command(name: str, run: Callable[..., None], parameters: list[inspect.Parameter], help: str) -> Command:
    """The click command typer makes of ``run`` called with ``parameters``."""
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    single = typer.Typer(add_completion=False)
    single.command(name, help=help)(run)
    return typer.main.get_command(single)


class _FormatCommands(TyperGroup):
    """A group with one command a registered format, made when it is listed or called."""

    make: Callable[[Format[Any]], Command]

    def list_commands(self, ctx: Any) -> list[str]:
        return [fmt.key for fmt in formats.registered()]

    def get_command(self, ctx: Any, cmd_name: str) -> Command | None:
        try:
            fmt = formats.get(cmd_name)
        except KeyError:
            return None
        return type(self).make(fmt)


class _ExportCommands(_FormatCommands):
    make = staticmethod(export_command)


class _ImportCommands(_FormatCommands):
    make = staticmethod(import_command)


export_app = typer.Typer(cls=_ExportCommands, no_args_is_help=True, add_completion=False)
import_app = typer.Typer(cls=_ImportCommands, no_args_is_help=True, add_completion=False)
