"""What the registry knows of a format: :class:`Format`, its options, and how an upload is searched.

A format module ends with one ``FORMAT = Format(...)``, and :mod:`opsml_image.formats` registers it. The
``export``/``import`` commands of the CLI and the Import / Export page are made from the registered formats:
a format's key, label and texts name it there, and its options (a frozen dataclass whose fields are made
with :func:`option`) become CLI options and, when they are a flag or a choice, widgets on the page.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from opsml_image.confine import open_regular
from opsml_image.dataset import ImageDataset
from opsml_image.formats.base import Report

__all__ = [
    "Side",
    "Source",
    "NotFound",
    "Exporter",
    "Importer",
    "NoOptions",
    "option",
    "OptionField",
    "option_fields",
    "Format",
    "files_found",
    "head",
    "NEW_FOLDER",
    "NEW_DATASET",
]

#: Which command an option belongs to.
Side = Literal["import", "export"]
#: What :attr:`Format.find` gives the import: one file or folder, or several files.
Source = Path | list[Path]

O = TypeVar("O")  # noqa: E741 - a format's options
O_contra = TypeVar("O_contra", contravariant=True)

NEW_FOLDER = "The folder to write (new or empty)."
NEW_DATASET = "The dataset folder to make (new or empty)."


class NotFound(LookupError):
    """An upload (or folder) without the files a format reads; the message says what is missing."""


class Exporter(Protocol[O_contra]):
    """``export(dataset, dest, options, *, split=None, skip_invalid=False) -> Report``."""

    def __call__(
        self,
        dataset: ImageDataset,
        dest: Path,
        options: O_contra,
        /,
        *,
        split: str | None = None,
        skip_invalid: bool = False,
    ) -> Report: ...


class Importer(Protocol[O_contra]):
    """``import_dataset(source, dest, options, *, skip_invalid=False) -> Report``; ``source`` is what
    :attr:`Format.find` gives (a path, or a list of paths for a format taking several files)."""

    def __call__(
        self, source: Any, dest: Path, options: O_contra, /, *, skip_invalid: bool = False
    ) -> Report: ...


@dataclass(frozen=True)
class NoOptions:
    """The options of a format that has none."""


def option(
    default: Any,
    help: str,
    *,
    side: Side,
    label: str | None = None,
    choices: Mapping[str, str] | None = None,
) -> Any:
    """A field of a format's options: its default, what it does (CLI help), the command it belongs to, and
    for the page a label and, for a ``Literal`` choice, a label for each value."""
    metadata = {"help": help, "side": side, "label": label, "choices": dict(choices or {})}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class OptionField:
    """One option of a format, as the CLI and the page offer it."""

    name: str
    type: Any
    default: Any
    help: str
    side: Side
    label: str
    choices: dict[str, str]

    @property
    def values(self) -> tuple[Any, ...]:
        """The values of a ``Literal`` choice (empty for other options)."""
        return typing.get_args(self.type) if typing.get_origin(self.type) is Literal else ()

    @property
    def on_page(self) -> bool:
        """A flag or a choice (the page offers it); paths and free text are for the command line only, since
        an upload holds its own files and a page never names the server's."""
        return self.type is bool or bool(self.values)


def option_fields(options: type, side: Side | None = None) -> list[OptionField]:
    """The options of ``options`` (a dataclass of :func:`option` fields), of one ``side`` or all."""
    hints = typing.get_type_hints(options)
    found = []
    for item in fields(options):
        meta = item.metadata
        if "side" not in meta or item.default is MISSING:
            raise TypeError(f"{options.__name__}.{item.name}: make option fields with formats.option()")
        if side is None or meta["side"] == side:
            label = meta["label"] or item.name.replace("_", " ").capitalize()
            hint, default, choices = hints[item.name], item.default, meta["choices"]
            found.append(OptionField(item.name, hint, default, meta["help"], meta["side"], label, choices))
    return found


@dataclass(frozen=True, eq=False)
class Format(Generic[O]):
    """One annotation format, as the registry, the CLI and the Import / Export page know it.

    ``key`` names the CLI commands (``export coco``) and the page's choice, ``label`` is shown; ``takes``
    says what an upload must hold (the page), ``reads`` what the import's SOURCE is and ``writes`` what an
    export writes (the CLI). ``find`` gives the source to import in an unpacked upload (or raises
    :class:`NotFound`); ``detect`` tells whether a file or folder holds the format (default: ``find`` finds
    something), so an import can guess the format. ``export`` and ``import_dataset`` convert, with
    ``options``, a frozen dataclass of :func:`option` fields (:class:`NoOptions` for none).

    ``download`` is the options a download from the page starts from when they are not the defaults (COCO
    offers its images too); ``loose`` the suffixes of annotation files the page takes without a zip (none:
    a zip only); ``many`` whether the import takes several files (COCO split files); ``one_file`` the suffix
    of an export that is one file for some options and split count (else the export is a folder);
    ``available`` whether this installation can convert it (Hugging Face needs ``datasets``).
    """

    key: str
    label: str
    takes: str
    reads: str
    writes: str
    find: Callable[[Path], Source]
    export: Exporter[O]
    import_dataset: Importer[O]
    options: type[O]
    detect: Callable[[Path], bool] | None = None
    download: O | None = None
    loose: tuple[str, ...] = ()
    many: bool = False
    export_dest: str = NEW_FOLDER
    import_dest: str = NEW_DATASET
    one_file: Callable[[O, int], str | None] | None = None
    available: Callable[[], bool] | None = None

    def detects(self, path: Path) -> bool:
        """Whether ``path`` (a file, or a folder such as an unpacked upload) holds this format's files."""
        if self.detect is not None:
            return self.detect(path)
        if not path.is_dir():
            return False
        try:
            self.find(path)
        except NotFound:
            return False
        return True

    def is_available(self) -> bool:
        return self.available is None or self.available()

    def defaults(self, side: Side) -> O:
        """The options an import or a download starts from."""
        if side == "export" and self.download is not None:
            return self.download
        return self.options()

    def fields(self, side: Side | None = None) -> list[OptionField]:
        """This format's options of one ``side`` (all when None)."""
        return option_fields(self.options, side)

    def file_suffix(self, options: O, splits: int) -> str | None:
        """The suffix of an export of ``splits`` splits with ``options`` when it is one file, else None."""
        return self.one_file(options, splits) if self.one_file is not None else None


def files_found(root: Path, pattern: str, *, folder: bool = False) -> list[Path]:
    """Files (or folders) below ``root`` matching ``pattern``, shallowest first; hidden ones left out."""
    hits = [p for p in root.rglob(pattern) if (p.is_dir() if folder else p.is_file())]
    hits = [p for p in hits if not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(hits, key=lambda p: (len(p.relative_to(root).parts), str(p)))


def head(path: Path, size: int = 1 << 20) -> bytes:
    """The first ``size`` bytes of a regular file (empty when it cannot be read), to tell its format."""
    try:
        with open_regular(path) as handle:
            return handle.read(size)
    except OSError:
        return b""
