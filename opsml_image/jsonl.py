"""Streaming JSON-lines IO for ``metadata.jsonl``: one line in memory at a time, atomic writes.

Lines are numbered from 1 as an editor shows them (blank lines count but yield nothing). A UTF-8 BOM on
the first line and CRLF endings are accepted. A line that cannot be read becomes a
:class:`~opsml_image.rules.Problem` with the line's number instead of an exception, so a reader can
report every bad line in one pass. So does a line whose strings (keys or values) hold a NUL character or a
lone surrogate (``string.nul``, ``string.surrogate``): no later step has to handle text that cannot be
printed, stored or encoded. A path that is not a regular file (a folder, a FIFO) raises
:class:`MetadataError` without being opened for a blocking read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from opsml_image import config
from opsml_image.atomic import atomic_writer
from opsml_image.confine import SpecialFileError, open_regular
from opsml_image.rules import Problem, string_problems

__all__ = ["MetadataError", "read_lines", "iter_objects", "write_objects", "rewrite_lines", "dumps"]

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


def __getattr__(name: str) -> int:
    """``MAX_LINE_BYTES``, the former constant, read when used (``config.settings().max_line_bytes``)."""
    if name == "MAX_LINE_BYTES":
        return config.settings().max_line_bytes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class MetadataError(ValueError):
    """A bad line or record, naming the file, line and field."""

    def __init__(self, file: str | Path, line: int | None, problem: Problem) -> None:
        self.file, self.line, self.problem = str(file), line, problem
        where = f"{file}:{line}" if line else str(file)
        field = f" [{problem.field}]" if problem.field else ""
        super().__init__(f"{where}{field}: {problem.message} ({problem.code})")


def read_lines(
    path: str | Path, max_line_bytes: int | None = None, on_progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, parsed JSON value or Problem)`` for every non-blank line of a file.

    A line longer than ``max_line_bytes`` (default ``OPSML_IMAGE_MAX_LINE_BYTES``) is skipped and reported;
    ``on_progress`` is called with the bytes read so far every 4096 lines and at the end.
    """
    limit = max_line_bytes or config.settings().max_line_bytes
    with _open_metadata(path) as handle:
        readline = handle.readline
        loads = orjson.loads
        number = 0
        while line := readline(limit + 1):
            number += 1
            if on_progress and not number & 4095:
                on_progress(handle.tell())
            if len(line) > limit and not line.endswith(b"\n"):
                size = len(line) + _skip_to_line_end(handle)
                message = f"line {number} is {size:,} bytes, more than the {limit:,} allowed"
                yield number, Problem("line.too_long", None, message)
                continue
            try:
                value = loads(line)
            except orjson.JSONDecodeError as error:
                if number == 1 and line.startswith(_BOM):
                    line = line[len(_BOM) :]
                if line.strip():
                    yield number, _first_string_problem(_parse_slowly(line, error))
                continue
            # orjson refuses lone surrogates, so only the \u0000 escape can put a bad character in a string
            yield number, _first_string_problem(value) if b"\\u0000" in line else value
        if on_progress:
            on_progress(handle.tell())


def iter_objects(
    path: str | Path, strict: bool = True, max_line_bytes: int | None = None
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, parsed value)``; a bad line raises :class:`MetadataError` (strict) or is skipped."""
    for number, value in read_lines(path, max_line_bytes):
        if type(value) is Problem:
            if strict:
                raise MetadataError(path, number, value)
            continue
        yield number, value


def dumps(obj: Mapping[str, Any]) -> bytes:
    """One record as a JSON line (compact, UTF-8, ending in a newline)."""
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def write_objects(path: str | Path, objects: Iterable[Mapping[str, Any]]) -> Path:
    """Write records as JSON lines, replacing ``path`` atomically; returns the path."""
    with atomic_writer(path) as handle:
        for obj in objects:
            handle.write(dumps(obj))
    return Path(path)


def rewrite_lines(
    path: str | Path,
    replace: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
    append: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """Rewrite a JSON-lines file atomically, keeping every untouched line byte for byte.

    ``replace`` maps a line number to the records written in its place (an empty sequence deletes the
    line); ``append`` records are added at the end. A missing file is treated as empty.
    """
    replace = replace or {}
    source = Path(path)
    with atomic_writer(source) as out:
        last = b"\n"
        if source.exists():
            with _open_metadata(source) as handle:
                for number, line in enumerate(handle, 1):
                    if number in replace:
                        for obj in replace[number]:
                            out.write(dumps(obj))
                        last = b"\n"
                    else:
                        out.write(line)
                        last = line[-1:]
        first = True
        for obj in append:
            if first and last != b"\n":
                out.write(b"\n")
            first = False
            out.write(dumps(obj))
    return source


def _open_metadata(path: str | Path) -> Any:
    """Open a metadata file for reading, or raise :class:`MetadataError` for a folder, FIFO or device."""
    try:
        return open_regular(path, buffering=_CHUNK)
    except SpecialFileError as error:
        kind = error.kind
    except IsADirectoryError:
        kind = "a folder"
    message = f"it is {kind}, not a regular file: it is not read"
    raise MetadataError(path, None, Problem("file.special", None, message))


def _first_string_problem(value: Any) -> Any:
    """The value, or the first ``string.nul``/``string.surrogate`` Problem of its strings."""
    if type(value) is Problem:
        return value
    return next(string_problems(value), value)


def _skip_to_line_end(handle: Any) -> int:
    skipped = 0
    while chunk := handle.readline(_CHUNK):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def _parse_slowly(line: bytes, error: orjson.JSONDecodeError) -> Any:
    """Explain a line orjson refused; NaN and Infinity (Python's JSON) parse so box rules can name them."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return Problem(
            "line.encoding",
            None,
            f"byte {bad.start + 1} is not valid UTF-8 ({line[bad.start : bad.start + 4]!r})",
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as slow:
        ending = (
            ""
            if line.endswith(b"\n")
            else " (the last line is cut short: the file does not end with a newline)"
        )
        return Problem("line.json", None, f"invalid JSON at column {slow.colno}: {slow.msg}{ending}")
    except (ValueError, RecursionError):
        return Problem("line.json", None, f"invalid JSON: {error}")
