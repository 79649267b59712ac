"""The package has no import cycles, as the project's import-cycles tool counts them (every import, also
those inside functions and under ``TYPE_CHECKING``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT.parent / "shared" / "tools" / "import_cycles.py"

pytestmark = pytest.mark.skipif(not TOOL.is_file(), reason=f"the import-cycles tool is not at {TOOL}")


def run_tool(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), str(package)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_opsml_image_has_no_import_cycles() -> None:
    result = run_tool(ROOT / "opsml_image")
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


def test_the_tool_reports_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def f():\n    from pkg.a import x\n")
    result = run_tool(package)
    assert result.returncode == 1 and "pkg.a <-> pkg.b" in result.stdout
