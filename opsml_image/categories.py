"""Category names: ``categories.json`` at the dataset root, a JSON list whose index is the category id.

Records keep integer ids (as the OpsML seed and COCO do); the names live beside them in one small file
that Hugging Face ``imagefolder`` ignores, so ``load_dataset("imagefolder", ...)`` still loads the folder.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from opsml_image.atomic import atomic_write_bytes
from opsml_image.confine import SpecialFileError, open_regular
from opsml_image.rules import Problem, string_problems

__all__ = ["CATEGORIES_FILE", "read_names", "write_names"]

CATEGORIES_FILE = "categories.json"


def read_names(root: str | Path) -> list[str] | Problem:
    """The category names (empty without ``categories.json``), or the Problem with that file."""
    path = Path(root) / CATEGORIES_FILE
    try:
        with open_regular(path) as handle:  # a FIFO or device is refused, never waited on
            names = orjson.loads(handle.read())
    except FileNotFoundError:
        return []
    except SpecialFileError as error:
        return Problem("file.special", None, f"{CATEGORIES_FILE} is {error.kind}, not a regular file")
    except (OSError, orjson.JSONDecodeError) as error:
        return Problem("categories_file.invalid", None, f"{CATEGORIES_FILE} is not valid JSON: {error}")
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        return Problem(
            "categories_file.invalid", None, f"{CATEGORIES_FILE} must be a JSON list of non-empty names"
        )
    if len(set(names)) != len(names):
        return Problem("categories_file.invalid", None, f"{CATEGORIES_FILE} lists a name twice")
    # string.nul (orjson refuses lone surrogates: those are invalid JSON above)
    return next(string_problems(names, "categories.json"), names)


def write_names(root: str | Path, names: list[str]) -> Path:
    """Write the category names atomically (index = id)."""
    cleaned = [name.strip() for name in names]
    if not all(cleaned) or len(set(cleaned)) != len(cleaned):
        raise ValueError("category names must be non-empty and unique")
    bad = next(string_problems(cleaned, "category names"), None)
    if bad:
        raise ValueError(bad.message)
    return atomic_write_bytes(
        Path(root) / CATEGORIES_FILE, orjson.dumps(cleaned, option=orjson.OPT_INDENT_2) + b"\n"
    )
