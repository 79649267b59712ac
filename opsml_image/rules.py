"""The validation rules of one record, shared by the pydantic models and the streaming validator.

Every rule has its own code. The checks run on plain JSON values (what ``orjson.loads`` returns), so the
validator never builds a model per line: a cheap whole-record test (a handful of C-level calls, whatever
the number of boxes) passes clean records, and only a record that fails it is examined box by box.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

#: Every code the validator can report, with its severity and a one-line meaning.
CODES: dict[str, tuple[Severity, str]] = {
    "line.encoding": ("error", "the line is not valid UTF-8"),
    "line.json": ("error", "the line is not valid JSON"),
    "line.too_long": ("error", "the line is longer than the allowed maximum"),
    "record.type": ("error", "the line is not a JSON object"),
    "file_name.missing": ("error", "the record has no file_name"),
    "file_name.type": ("error", "file_name is not a non-empty string"),
    "file_name.absolute": ("error", "file_name is an absolute path"),
    "file_name.parent": ("error", "file_name goes up with '..'"),
    "file_name.scheme": ("error", "file_name is a URL, not a relative path"),
    "string.nul": ("error", "a string (value or key) holds a NUL character (\\u0000)"),
    "string.surrogate": ("error", "a string (value or key) holds a lone UTF-16 surrogate (invalid Unicode)"),
    "caption.type": ("error", "caption is not a string"),
    "categories.type": ("error", "categories is not a list of integer ids >= 0"),
    "objects.type": ("error", "objects is not an object"),
    "objects.bbox_missing": ("error", "objects has no bbox"),
    "objects.categories_missing": ("error", "objects has no categories"),
    "objects.length": ("error", "bbox and categories differ in length"),
    "bbox.type": ("error", "bbox is not a list of boxes"),
    "box.shape": ("error", "a box is not a list of 4 numbers [x, y, w, h]"),
    "box.number": ("error", "a box coordinate is not a number"),
    "box.finite": ("error", "a box coordinate is NaN or infinite"),
    "box.size": ("error", "a box has a width or height <= 0"),
    "box.outside": ("error", "a box lies (partly) outside its image"),
    "category.unknown": ("warning", "a category id has no name in categories.json"),
    "image.missing": ("error", "the image file does not exist"),
    "image.unreadable": ("error", "the file is not a readable image (corrupt, truncated or not an image)"),
    "image.too_large": ("error", "the image declares more pixels than allowed (decompression bomb)"),
    "file.outside": ("error", "a file or folder is a link to a place outside the dataset folder"),
    "file.special": ("error", "a path is a FIFO, socket, device or folder where a regular file belongs"),
    "image.unlabeled": ("warning", "an image in the folder has no record (Hugging Face drops it)"),
    "split.features": ("warning", "split metadata files have different keys (Hugging Face refuses to load)"),
    "layout.hf_split_folders": (
        "warning",
        "images in split-named subfolders of a flat dataset (Hugging Face loads them as splits, no boxes)",
    ),
    "objects.null_first": ("warning", "a per-box list starts with null (Hugging Face shifts its values)"),
    "categories_file.invalid": ("error", "categories.json is not a JSON list of unique names"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """A rule broken by a value: which code, at which field, and a message for a person."""

    code: str
    field: str | None
    message: str

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]


_NUMBER_TYPES = frozenset((int, float))
_INT_TYPES = frozenset((int,))
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def is_finite(value: int | float) -> bool:
    """True for a number a float can hold that is neither NaN nor infinite (a 400-digit integer is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def file_name_problem(value: Any) -> Problem | None:
    """Check that ``file_name`` is a relative path that stays inside the dataset folder."""
    if type(value) is not str or not value.strip():
        return Problem("file_name.type", "file_name", f"file_name must be a non-empty string, got {value!r}")
    if ":" not in value and ".." not in value and value[0] not in "/\\":
        return None
    if value[0] in "/\\" or _DRIVE.match(value):
        return Problem("file_name.absolute", "file_name", f"file_name must be relative, got {value!r}")
    if _SCHEME.match(value) and "://" in value:
        return Problem(
            "file_name.scheme", "file_name", f"file_name must be a relative path, not a URL: {value!r}"
        )
    if ".." in re.split(r"[\\/]", value):
        return Problem("file_name.parent", "file_name", f"file_name must not go up with '..': {value!r}")
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def shown(text: str) -> str:
    """``text`` with NUL characters and lone surrogates as ``\\u0000``-style escapes (safe to print)."""
    text = text.replace("\x00", "\\u0000")
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def string_problem(value: str, field: str | None) -> Problem | None:
    """``string.nul`` or ``string.surrogate`` for a string holding one (two C-level searches when clean)."""
    where = field or "a string"
    at = value.find("\x00")
    if at >= 0:
        return Problem("string.nul", field, f"{where} holds a NUL character (\\u0000) at character {at + 1}")
    match = _SURROGATE.search(value)
    if match:
        return Problem(
            "string.surrogate",
            field,
            f"{where} holds a lone surrogate \\u{ord(match.group()):04x} at character {match.start() + 1}, "
            "which is not valid Unicode",
        )
    return None


def string_problems(value: Any, field: str = "") -> Iterator[Problem]:
    """Every string (dict key or value, at any depth) of a JSON value holding a NUL or a lone surrogate."""
    if type(value) is str:
        problem = string_problem(value, field or None)
        if problem:
            yield problem
    elif type(value) is dict:
        for key, item in value.items():
            path = f"{field}.{shown(key)}" if field else shown(key)
            problem = string_problem(key, f"{path} (key)")
            if problem:
                yield problem
            yield from string_problems(item, path)
    elif type(value) is list:
        for i, item in enumerate(value):
            if type(item) in (str, dict, list):
                yield from string_problems(item, f"{field}[{i}]")


def category_list_problems(value: Any, field: str = "objects.categories") -> Iterator[Problem]:
    """Check a list of category ids: integers >= 0 (booleans are not ids)."""
    if value is None and field == "categories":
        return
    if type(value) is list and (not value or (set(map(type, value)) <= _INT_TYPES and min(value) >= 0)):
        return
    if type(value) is not list:
        yield Problem("categories.type", field, f"{field} must be a list of integer ids, got {_kind(value)}")
        return
    for i, item in enumerate(value):
        if type(item) is not int or item < 0:
            yield Problem(
                "categories.type", f"{field}[{i}]", f"{field}[{i}] must be an integer id >= 0, got {item!r}"
            )


def box_list_problems(value: Any, field: str = "objects.bbox") -> Iterator[Problem]:
    """Check a list of boxes: each exactly 4 finite numbers ``[x, y, w, h]`` with ``w > 0`` and ``h > 0``."""
    if type(value) is not list:
        yield Problem("bbox.type", field, f"{field} must be a list of [x, y, w, h] boxes, got {_kind(value)}")
        return
    if _boxes_look_valid(value):
        return
    for i, box in enumerate(value):
        yield from _box_problems(box, f"{field}[{i}]")


def _boxes_look_valid(boxes: list[Any]) -> bool:
    """One pass of C-level calls that accepts every valid list of boxes (and may reject a few valid ones)."""
    if not boxes:
        return True
    try:
        if set(map(type, boxes)) != {list} or set(map(len, boxes)) != {4}:
            return False
        flat = [v for box in boxes for v in box]
        return (
            set(map(type, flat)) <= _NUMBER_TYPES
            and math.isfinite(sum(flat))
            and min(flat[2::4]) > 0
            and min(flat[3::4]) > 0
        )
    except (TypeError, OverflowError):
        return False


#: Decimals a stored box keeps: the canvas, the store and the fixes all round to it.
BOX_DIGITS = 2


def is_box(value: Any) -> bool:
    """True for a valid box: a list of 4 finite numbers ``[x, y, w, h]`` with ``w > 0`` and ``h > 0``."""
    return next(_box_problems(value, ""), None) is None


def _box_problems(box: Any, field: str) -> Iterator[Problem]:
    if type(box) is not list or len(box) != 4:
        got = f"{len(box)} values" if type(box) is list else _kind(box)
        yield Problem("box.shape", field, f"{field} must be 4 numbers [x, y, w, h], got {got}")
        return
    for name, v in zip("xywh", box, strict=True):
        if type(v) not in _NUMBER_TYPES:
            yield Problem("box.number", f"{field}.{name}", f"{field}: {name} must be a number, got {v!r}")
            return
        if not is_finite(v):
            yield Problem("box.finite", f"{field}.{name}", f"{field}: {name} must be finite, got {v!r}")
            return
    if box[2] <= 0 or box[3] <= 0:
        yield Problem(
            "box.size", field, f"{field}: width and height must be > 0, got w={box[2]!r}, h={box[3]!r}"
        )


def length_problem(boxes: Any, categories: Any, field: str = "objects") -> Problem | None:
    """Check that there is exactly one category per box."""
    if type(boxes) is list and type(categories) is list and len(boxes) != len(categories):
        return Problem(
            "objects.length",
            field,
            f"{field} has {len(boxes)} boxes but {len(categories)} categories; they must match one to one",
        )
    return None


def record_problems(obj: Any) -> list[Problem]:
    """Every rule a parsed JSON line breaks that can be checked without the image (empty when clean)."""
    if type(obj) is not dict:
        return [Problem("record.type", None, f"a record must be a JSON object, got {_kind(obj)}")]
    problems: list[Problem] = []
    if "file_name" not in obj:
        problems.append(Problem("file_name.missing", "file_name", "the record has no file_name"))
    else:
        problem = file_name_problem(obj["file_name"])
        if problem:
            problems.append(problem)
    caption = obj.get("caption")
    if caption is not None and type(caption) is not str:
        problems.append(Problem("caption.type", "caption", f"caption must be a string, got {_kind(caption)}"))
    categories = obj.get("categories")
    if categories is not None:
        problems.extend(category_list_problems(categories, "categories"))
    objects = obj.get("objects")
    if objects is not None:
        problems.extend(objects_problems(objects))
    return problems


def objects_problems(objects: Any) -> Iterator[Problem]:
    """Check the ``objects`` value of a record: ``{"bbox": [...], "categories": [...]}``, both required."""
    if type(objects) is not dict:
        yield Problem(
            "objects.type",
            "objects",
            f"objects must be an object with bbox and categories, got {_kind(objects)}",
        )
        return
    if "bbox" not in objects:
        yield Problem("objects.bbox_missing", "objects.bbox", "objects must have a bbox list")
    else:
        yield from box_list_problems(objects["bbox"])
    if "categories" not in objects:
        yield Problem(
            "objects.categories_missing", "objects.categories", "objects must have a categories list"
        )
    else:
        yield from category_list_problems(objects["categories"])
    problem = length_problem(objects.get("bbox"), objects.get("categories"))
    if problem:
        yield problem


def null_first_problems(objects: dict[str, Any]) -> Iterator[Problem]:
    """Per-box lists besides bbox and categories that start with null and hold a value later: as Hugging
    Face ``datasets`` loads the folder, pyarrow moves their values to other boxes and rows (a trailing null
    is read right)."""
    for key, values in objects.items():
        if key in ("bbox", "categories") or type(values) is not list or not values or values[0] is not None:
            continue
        if any(value is not None for value in values):
            field = f"objects.{key}"
            yield Problem(
                "objects.null_first",
                field,
                f"{field} starts with null: Hugging Face datasets would move its values to other boxes and "
                f"rows; give box 1 a {key}, or drop the key",
            )


#: How far (in pixels) a box edge may pass the image border and still count as inside (float rounding).
OUTSIDE_TOLERANCE = 1e-6


def box_outside_problem(box: list[float], width: int, height: int, field: str) -> Problem | None:
    """Check that a box ``[x, y, w, h]`` lies inside an image of the given size."""
    x, y, w, h = box
    eps = OUTSIDE_TOLERANCE
    if x >= -eps and y >= -eps and x + w <= width + eps and y + h <= height + eps:
        return None
    return Problem(
        "box.outside",
        field,
        f"{field} = [{x:g}, {y:g}, {w:g}, {h:g}] lies outside the {width}x{height} image",
    )


def boxes_outside_problems(
    boxes: list[list[float]], width: int, height: int, field: str = "objects.bbox"
) -> Iterator[Problem]:
    """Check well-formed boxes against an image size: one test for the list, box by box if it fails."""
    if not boxes:
        return
    eps = OUTSIDE_TOLERANCE
    if (
        min(b[0] for b in boxes) >= -eps
        and min(b[1] for b in boxes) >= -eps
        and max(b[0] + b[2] for b in boxes) <= width + eps
        and max(b[1] + b[3] for b in boxes) <= height + eps
    ):
        return
    for i, box in enumerate(boxes):
        problem = box_outside_problem(box, width, height, f"{field}[{i}]")
        if problem:
            yield problem


def unknown_category_problems(obj: dict[str, Any], n_names: int) -> Iterator[Problem]:
    """Category ids of a record (image-level and per box) beyond the ``n_names`` names of categories.json."""
    objects = obj.get("objects")
    for where, ids in (
        ("categories", obj.get("categories")),
        ("objects.categories", objects.get("categories") if type(objects) is dict else None),
    ):
        if type(ids) is list and ids and all(type(i) is int for i in ids) and max(ids) >= n_names:
            unknown = sorted({i for i in ids if i >= n_names})
            message = (
                f"{where} uses id(s) {unknown} but categories.json names only {n_names} (0..{n_names - 1})"
            )
            yield Problem("category.unknown", where, message)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    name = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value))
    return name or f"a {type(value).__name__} ({value!r})"
