"""The pages' side of the layers, read from their source: they catch no error of the library's own (the use
cases raise one family, ``pages/_widgets.guard`` shows it), reach no store or dataset past the use cases, and
the import-linter contract forbids them every library module but the use cases (and the web half)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from conftest import REPO_ROOT

PAGES = REPO_ROOT / "pages"
#: Pages that have not moved to the use cases yet (what they import is in the contract's ignore_imports).
PENDING = {"annotate.py", "quality.py"}
#: What a page may catch: the use cases' family, and ``Exception`` as a last line of defence.
ALLOWED = {"UserError", "Refused", "Stale", "Invalid", "NotFound", "Exception"}


def pages() -> list[Path]:
    found = sorted(path for path in PAGES.glob("*.py") if path.name not in PENDING)
    assert len(found) > 10 and all((PAGES / name).is_file() for name in PENDING)
    return found


def caught(path: Path) -> list[tuple[int, str]]:
    """``(line, name)`` of every exception type an ``except`` of the file names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            found += [(node.lineno, ast.unparse(kind).rsplit(".", 1)[-1]) for kind in kinds]
    return found


def test_pages_catch_only_the_use_cases_error_family() -> None:
    wrong = [
        f"{path.name}:{line}: except {name}"
        for path in pages()
        for line, name in caught(path)
        if name not in ALLOWED
    ]
    assert wrong == [], "a page catches an error of the library's own: let ui.guard show the family"


def test_a_broad_except_in_a_page_says_why() -> None:
    lines = [
        f"{path.name}:{number}"
        for path in pages()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"except Exception\b", line) and "noqa: BLE001 -" not in line
    ]
    assert lines == []


def test_pages_reach_no_store_nor_dataset() -> None:
    reach = re.compile(r"\b(ws|workspace\(\))\.(store|dataset)\b|\.store\.\w+\(")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in pages()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reach.search(line)
    ]
    assert found == [], "a page calls the store or the dataset: add a use case (it checks the role)"


def test_the_pages_contract_forbids_every_library_module_but_the_use_cases() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert "pages" in config["root_packages"]
    contract = next(c for c in config["contracts"] if c["type"] == "forbidden" and c["source_modules"] == ["pages"]
                    and c.get("as_packages", True))  # fmt: skip
    library = REPO_ROOT / "opsml_image"
    modules = {
        f"opsml_image.{path.stem}"
        for path in library.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert set(contract["forbidden_modules"]) == modules - {"opsml_image.usecases", "opsml_image.web"}
    pending = {f"pages.{Path(name).stem}" for name in PENDING}
    assert {line.split(" -> ")[0] for line in contract.get("ignore_imports", [])} <= pending
