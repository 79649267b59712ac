"""Settings: one frozen value built from the environment; README's Configuration table lists its variables;
every value is checked; nothing outside ``config`` reads the environment for a setting, nor at import time."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import platformdirs
import pytest
from typer.testing import CliRunner

from opsml_image import config
from opsml_image.config import ENV_NAMES, Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PACKAGE = ROOT / "opsml_image"


def readme_rows() -> list[tuple[list[str], str]]:
    """The rows of README's "## Configuration" table: (variables named in the first cell, default cell)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):  # not the header, its rule, or the text after the table
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]), cells[1]))
    return rows


def test_the_readme_table_documents_exactly_the_settings() -> None:
    rows = readme_rows()
    assert rows and all(names for names, _ in rows), rows
    documented = [name for names, _ in rows for name in names]
    assert len(documented) == len(set(documented)), "a variable documented twice"
    assert set(documented) == set(ENV_NAMES)
    assert len(ENV_NAMES) == len(set(ENV_NAMES)) == len(dataclasses.fields(Settings))


def test_the_readme_numeric_defaults_are_the_settings_defaults() -> None:
    defaults = {item.metadata["env"]: item.default for item in dataclasses.fields(Settings)}
    checked = 0
    for names, default in readme_rows():
        if len(names) == 1 and re.fullmatch(r"`\d+`", default):
            assert defaults[names[0]] == int(default.strip("`")), names[0]
            checked += 1
    assert checked >= 5


def test_every_field_names_its_variable_and_has_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for item in dataclasses.fields(Settings):
        assert re.fullmatch(r"OPSML_(IMAGE_)?[A-Z_]+", item.metadata["env"]), item.name
    defaults = Settings.from_env({})
    assert defaults == Settings.from_env({name: "  " for name in ENV_NAMES})  # blank is unset
    assert defaults.home == Path(platformdirs.user_data_dir("opsml-image")).resolve()
    assert (defaults.store_uri, defaults.tracking_uri, defaults.storage_uri, defaults.secret) == (None,) * 4
    assert (defaults.max_pixels, defaults.session_hours, defaults.lease_minutes) == (100_000_000, 12.0, 15.0)
    assert (defaults.trusted_proxies, defaults.allowed_origins, defaults.cookie_secure) == ((), (), False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.max_pixels = 1  # type: ignore[misc]


def test_values_are_parsed_and_normalised(tmp_path: Path) -> None:
    got = Settings.from_env(
        {
            "OPSML_IMAGE_HOME": str(tmp_path / "h" / ".." / "home"),
            "OPSML_IMAGE_DIR": "~/data",
            "OPSML_IMAGE_STORE_URI": "postgresql+psycopg://ana:pw@db/labels",
            "OPSML_IMAGE_MAX_LINE_BYTES": " 1024 ",
            "OPSML_IMAGE_DATA_ROOTS": f"{tmp_path / 'a'}{os.pathsep}{os.pathsep} {os.pathsep}~/b",
            "OPSML_IMAGE_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8 ,,::1,fd00::1/8 ",
            "OPSML_IMAGE_ALLOWED_ORIGINS": "https://Labels.Example.com/, http://[::1]:8080,wss://x.test",
            "OPSML_IMAGE_COOKIE_SECURE": "Yes",
            "OPSML_IMAGE_SESSION_HOURS": "0.5",
            "OPSML_IMAGE_LEASE_MINUTES": "2",
            "SOMETHING_ELSE": "ignored",
        }
    )
    assert got.home == (tmp_path / "home").resolve()
    assert got.dataset_dir == (Path.home() / "data").resolve()
    assert got.store_uri == "postgresql+psycopg://ana:pw@db/labels" and "pw" not in repr(got)
    assert got.max_line_bytes == 1024 and got.max_pixels == 100_000_000
    assert got.data_roots == (tmp_path / "a", Path.home() / "b")
    assert got.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8")
    assert got.allowed_origins == ("https://labels.example.com", "http://[::1]:8080", "wss://x.test")
    assert (
        got.cookie_secure is True
        and Settings.from_env({"OPSML_IMAGE_COOKIE_SECURE": "off"}).cookie_secure is False
    )
    assert (got.session_hours, got.lease_minutes) == (0.5, 2.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OPSML_IMAGE_MAX_PIXELS", "lots", "OPSML_IMAGE_MAX_PIXELS must be a whole number above 0, got 'lots'"),
        ("OPSML_IMAGE_MAX_UPLOAD_BYTES", "0", "OPSML_IMAGE_MAX_UPLOAD_BYTES must be a whole number above 0, got '0'"),
        ("OPSML_IMAGE_MAX_ARCHIVE_BYTES", "1.5e9", "OPSML_IMAGE_MAX_ARCHIVE_BYTES must be a whole number"),
        ("OPSML_IMAGE_TRUSTED_PROXIES", "10.0.0.1,proxy.local", "OPSML_IMAGE_TRUSTED_PROXIES: 'proxy.local' is not"),
        ("OPSML_IMAGE_TRUSTED_PROXIES", "10.0.0.0/33", "OPSML_IMAGE_TRUSTED_PROXIES: '10.0.0.0/33' is not"),
        ("OPSML_IMAGE_COOKIE_SECURE", "maybe", "OPSML_IMAGE_COOKIE_SECURE must be 1 or 0 (true/false, yes/no, on/off), got 'maybe'"),
        ("OPSML_IMAGE_ALLOWED_ORIGINS", "labels.example.com", "OPSML_IMAGE_ALLOWED_ORIGINS: 'labels.example.com' is not an origin"),
        ("OPSML_IMAGE_ALLOWED_ORIGINS", "https://x.test/app", "'https://x.test/app' is not an origin"),
        ("OPSML_IMAGE_SESSION_HOURS", "soon", "OPSML_IMAGE_SESSION_HOURS must be a number of hours, got 'soon'"),
        ("OPSML_IMAGE_SESSION_HOURS", "9000", "OPSML_IMAGE_SESSION_HOURS must be between 0 and 8784, got '9000'"),
        ("OPSML_IMAGE_LEASE_MINUTES", "nan", "OPSML_IMAGE_LEASE_MINUTES must be a number of minutes, not 'nan'"),
        ("OPSML_IMAGE_LEASE_MINUTES", "-1", "OPSML_IMAGE_LEASE_MINUTES must be more than 0 minutes, not '-1'"),
        ("OPSML_TRACKING_URI", "not a url", "OPSML_TRACKING_URI: 'not a url' is not a SQLAlchemy URL"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_error_naming_the_variable_and_value(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env({name: value})


def test_every_bad_value_is_named_in_one_error_and_no_password_is_shown() -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env(
            {
                "OPSML_IMAGE_MAX_LINE_BYTES": "-5",
                "OPSML_IMAGE_COOKIE_SECURE": "2",
                "OPSML_IMAGE_STORE_URI": "postgresql://ana:s3cret@db:port/labels",
            }
        )
    text = str(caught.value)
    assert "OPSML_IMAGE_MAX_LINE_BYTES" in text and "OPSML_IMAGE_COOKIE_SECURE" in text
    assert "OPSML_IMAGE_STORE_URI: 'postgresql://ana:***@db:port/labels'" in text and "s3cret" not in text


def test_settings_are_built_once_per_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "one"))
    first = config.settings()
    assert config.settings() is first  # a steady process: built once
    fast = [os.fsdecode(value) if isinstance(value, bytes) else value for value in config._snapshot()]
    assert fast == [os.environ.get(name) for name in config._KEYED]  # the snapshot reads os.environ's values
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "two"))
    assert config.settings().home == (tmp_path / "two").resolve()  # a changed environment: fresh settings
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "one"))
    assert config.settings() == first
    monkeypatch.setenv("OPSML_IMAGE_MAX_PIXELS", "many")
    with pytest.raises(ValueError, match="OPSML_IMAGE_MAX_PIXELS must be a whole number above 0, got 'many'"):
        config.home()


def test_the_readers_keep_their_meaning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    home = (tmp_path / "home").resolve()
    assert config.home() == home and stat.S_IMODE(home.stat().st_mode) == 0o700
    assert config.tracking_uri() == f"sqlite:///{home / 'registry.db'}"
    assert config.storage_uri() == str(home / "storage")
    assert config.store_uri() is None and config.dataset_dir() is None and config.trusted_proxies() == []


def test_serve_names_a_bad_setting_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from opsml_image.cli import app

    monkeypatch.setenv("OPSML_IMAGE_SESSION_HOURS", "forever")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2, result.output
    assert "OPSML_IMAGE_SESSION_HOURS must be a number of hours, got 'forever'" in result.output


def _environment_reads(path: Path) -> list[str]:
    """The source lines of ``path`` that touch ``os.environ`` or ``os.getenv``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "getenvb", "environb"):
            found.append(lines[node.lineno - 1].strip())
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [
                f"from os import {a.name}" for a in node.names if a.name.startswith(("environ", "getenv"))
            ]
    return found


def test_only_config_reads_the_environment_for_a_setting() -> None:
    allowed = {
        "config.py": None,  # the one reader
        "web/peers.py": "FORWARDED_ALLOW_IPS",  # uvicorn's own variable, not a project setting
        "cli/serve.py": "os.environ.copy()",  # handed on to the app's process, unread
    }
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        for line in _environment_reads(path):
            if where not in allowed or (allowed[where] is not None and allowed[where] not in line):
                offending.append(f"{where}: {line}")
    assert offending == []


def test_no_module_reads_a_setting_at_import_time() -> None:
    """Every module imports with every setting set to garbage: settings are read when used.

    ``from opsml_image.images import MAX_PIXELS`` (or ``jsonl.MAX_LINE_BYTES``), the former constants now
    read when used, still reads at import: such a module is named in a warning until it calls
    ``images.max_pixels()`` / ``config.settings()`` instead; any other failure fails the test.
    """
    modules = sorted(
        ".".join(("opsml_image", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
        if path.name != "__main__.py"
    )
    env = {**os.environ, **{name: "not://a value" for name in ENV_NAMES}}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, *modules], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failed: dict[str, str] = json.loads(result.stdout)
    shim = re.compile(r'opsml_image[/\\](images|jsonl)\.py", line \d+, in __getattr__')
    assert {name: text for name, text in failed.items() if not shim.search(text)} == {}
    if failed:
        warnings.warn(
            f"read a former constant at import (use images.max_pixels()): {sorted(failed)}", stacklevel=1
        )


#: Imports each module named; prints, as JSON, the tracebacks of those that fail other than for a missing
#: optional dependency.
_IMPORT_ALL = """
import importlib, json, sys, traceback
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("opsml_image"):
            failed[name] = traceback.format_exc()
    except Exception:
        failed[name] = traceback.format_exc()
print(json.dumps(failed))
"""
