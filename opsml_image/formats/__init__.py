"""Conversions between a dataset folder and other annotation formats, one module a format, and the one
registry of formats that the CLI and the Import / Export page are made from.

Every format module has the same functions: ``export(dataset, dest, options=None, *, split=None,
skip_invalid=False) -> Report``, ``import_dataset(source, dest, options=None, *, skip_invalid=False) ->
Report``, the pure converters ``encode`` (from :class:`~opsml_image.annotation.ImageAnnotation`) and
``decode`` (to it), and ``FORMAT``, its :class:`~opsml_image.formats.format.Format`. Nothing is dropped
silently: a bad item stops the conversion with a :class:`~opsml_image.formats.base.FormatError` naming it, or
with ``skip_invalid`` is listed in the report.

* :mod:`~opsml_image.formats.coco`: COCO detection JSON (and Roboflow's layout, ``CocoOptions(layout=
  "roboflow")``); COCO → folder → COCO is the identity; the pure dict conversions are in
  :mod:`~opsml_image.formats.coco_convert`.
* :mod:`~opsml_image.formats.yolo`: YOLO text labels (``class cx cy w h``, normalised) with ``data.yaml``,
  Ultralytics and Roboflow layouts.
* ``voc``, ``cvat``, ``labelstudio``, ``hf``: Pascal VOC XML, CVAT for images XML, Label Studio JSON,
  Hugging Face datasets.

Adding a format is one module ending with ``FORMAT = Format(...)`` and one :func:`register` call below (or
from any code: a plug-in registers its own, and :func:`unregister` takes it away again).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from opsml_image.formats import base, coco, cvat, hf, labelstudio, voc, yolo
from opsml_image.formats.base import FormatError, Report
from opsml_image.formats.format import Format, NoOptions, NotFound, OptionField, option

__all__ = [
    "base",
    "coco",
    "cvat",
    "hf",
    "labelstudio",
    "voc",
    "yolo",
    "FormatError",
    "Report",
    "Format",
    "NoOptions",
    "NotFound",
    "OptionField",
    "option",
    "register",
    "unregister",
    "get",
    "registered",
    "available",
    "guess",
    "RESERVED",
]

#: Parameter names of the generated commands, which an option may not take.
RESERVED = frozenset(("source", "sources", "dest", "data_dir", "split", "skip_invalid", "options"))
_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_FORMATS: dict[str, Format[Any]] = {}


def register(fmt: Format[Any]) -> Format[Any]:
    """Add a format under its key (a new lower-case word); its options are checked here, so a bad one is
    refused at once rather than when a command or the page is made. Returns the format."""
    if not _KEY.match(fmt.key):
        raise ValueError(f"format key {fmt.key!r}: a lower-case word of letters, digits, '-' or '_'")
    if fmt.key in _FORMATS:
        raise ValueError(f"a format {fmt.key!r} is registered already")
    taken = sorted(f.name for f in fmt.fields() if f.name in RESERVED)
    if taken:
        raise ValueError(f"format {fmt.key!r}: option {taken[0]!r} is a name the commands use")
    _FORMATS[fmt.key] = fmt
    return fmt


def unregister(key: str) -> Format[Any]:
    """Remove the format ``key`` (a KeyError when there is none); returns it."""
    return _FORMATS.pop(key)


def get(key: str) -> Format[Any]:
    """The registered format ``key``; a KeyError names the registered ones."""
    try:
        return _FORMATS[key]
    except KeyError:
        raise KeyError(f"unknown format {key!r}; the formats are {', '.join(_FORMATS)}") from None


def registered() -> list[Format[Any]]:
    """Every registered format, in order of registration."""
    return list(_FORMATS.values())


def available() -> list[Format[Any]]:
    """The registered formats this installation can convert (Hugging Face only with ``datasets``)."""
    return [fmt for fmt in _FORMATS.values() if fmt.is_available()]


def guess(path: str | Path) -> Format[Any] | None:
    """The first available format whose files ``path`` (a file, or a folder such as an unpacked upload)
    holds, or None."""
    return next((fmt for fmt in available() if fmt.detects(Path(path))), None)


register(coco.FORMAT)
register(yolo.FORMAT)
register(voc.FORMAT)
register(cvat.FORMAT)
register(labelstudio.FORMAT)
register(hf.FORMAT)
