"""Mend one broken line of a metadata file in place: show its raw text, replace it or drop it, undo either.

A line that is not valid JSON (``line.json``) or not UTF-8 (``line.encoding``) never reaches the working
store, so it is mended here, in the file: :func:`read_line` gives its raw bytes, :func:`replace_line` checks
the new text (one JSON object that passes the record rules) and writes it in the line's place,
:func:`drop_line` removes the line. Both return a :class:`LineEdit` that :func:`undo` reverses byte for byte
(the old bytes, broken or not, are put back). Every write replaces the file atomically and first checks that
the line still holds the bytes it was read with (:class:`LineChanged` otherwise), so an edit never lands on
the wrong line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from opsml_image import rules
from opsml_image.atomic import atomic_writer
from opsml_image.jsonl import dumps

__all__ = [
    "LineChanged",
    "LineEdit",
    "read_line",
    "shown_text",
    "checked_record",
    "replace_line",
    "drop_line",
    "undo",
]

_CHUNK = 1 << 20


class LineChanged(ValueError):
    """The line no longer holds the bytes it was read with (the file changed since)."""


@dataclass(frozen=True)
class LineEdit:
    """One line mended: the file, the line number, its bytes before and after (None: the line was dropped)."""

    path: Path
    number: int
    before: bytes
    after: bytes | None


def read_line(path: str | Path, number: int) -> bytes:
    """The raw bytes of line ``number`` (from 1) with its line ending; ``ValueError`` when there is none."""
    with open(path, "rb", buffering=_CHUNK) as handle:
        for current, line in enumerate(handle, 1):
            if current == number:
                return line
    raise ValueError(f"{path} has no line {number}")


def shown_text(raw: bytes) -> str:
    """A line as text to show and edit: bytes that are not UTF-8 become U+FFFD, the line ending is dropped."""
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def checked_record(text: str, where: str) -> bytes:
    """``text`` as one JSON line, when it is a JSON object the record rules accept; else ``ValueError``
    naming ``where`` (the file and line), the field and the reason."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: invalid JSON at column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise ValueError(f"{where}: the JSON is nested too deeply") from None
    errors = [p for p in rules.record_problems(value) if p.severity == "error"]
    if errors:
        reasons = "; ".join(f"[{p.field}] {p.message}" if p.field else p.message for p in errors[:3])
        raise ValueError(f"{where}: {reasons}")
    return dumps(value)


def replace_line(path: str | Path, number: int, before: bytes, text: str) -> LineEdit:
    """Write ``text`` (checked by :func:`checked_record`) in place of line ``number``, which must still hold
    ``before``; the rest of the file is kept byte for byte."""
    after = checked_record(text, f"{Path(path).name}:{number}")
    _rewrite(Path(path), number, before, after)
    return LineEdit(Path(path), number, before, after)


def drop_line(path: str | Path, number: int, before: bytes) -> LineEdit:
    """Remove line ``number``, which must still hold ``before``."""
    _rewrite(Path(path), number, before, None)
    return LineEdit(Path(path), number, before, None)


def undo(edit: LineEdit) -> None:
    """Put the line's old bytes back (in place of the new text, or at its number again after a drop)."""
    if edit.after is None:
        _rewrite(edit.path, edit.number, None, edit.before)
    else:
        _rewrite(edit.path, edit.number, edit.after, edit.before)


def _rewrite(path: Path, number: int, expected: bytes | None, new: bytes | None) -> None:
    """Copy ``path`` atomically with line ``number`` changed: replaced by ``new`` (``expected`` must be what
    it holds; ``new`` None deletes it), or, with ``expected`` None, ``new`` inserted before it (or appended
    as the line after the last). A line written before another gets a line ending; the last one as given."""
    with atomic_writer(path) as out, open(path, "rb", buffering=_CHUNK) as source:
        ended = True

        def put(line: bytes) -> None:
            nonlocal ended
            if not ended:
                out.write(b"\n")
            out.write(line)
            ended = line.endswith(b"\n")

        count, found = 0, False
        for count, line in enumerate(source, 1):  # noqa: B007 - the count is read after the loop
            if count != number:
                put(line)
                continue
            found = True
            if expected is None:
                put(new or b"")
                put(line)
            elif line.rstrip(b"\r\n") != expected.rstrip(b"\r\n"):
                raise LineChanged(f"{path.name}:{number} changed since it was read: reload and try again")
            elif new is not None:
                put(new)
        if not found:
            if expected is not None or new is None or number != count + 1:
                raise LineChanged(f"{path.name} has no line {number} any more: reload and try again")
            put(new)
