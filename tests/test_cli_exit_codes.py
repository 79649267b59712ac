"""The README's promise for every command: bad input (a usage error, an invalid value) exits 2, an operation
refused or failed exits 1, each with one ``error:`` line (or click's usage box) and never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner, Result

from opsml_image.cli import app
from opsml_image.demo import copy_demo

runner = CliRunner()
PASSWORD = "correct horse battery\n"
CARD = ["--name", "signs", "--team", "vision", "--email", "ana@example.com"]

#: (arguments, standard input, a part of the message); {demo} is a dataset folder, {none} a missing path.
BAD_INPUT: list[tuple[list[str], str | None, str]] = [
    (["validate", "{none}"], None, "is not a folder"),
    (["validate", "{demo}", "--limit", "-1"], None, "--limit"),
    (["validate", "{demo}", "--metadata", "../x.jsonl"], None, "must be a file name inside"),
    (["info", "{none}"], None, "is not a folder"),
    (["register", "{none}", *CARD], None, "is not a folder"),
    (["register", "{none}", "--approved-only", *CARD], None, "is not a folder"),
    (["register", "{demo}", *CARD[:-1], "not-an-email"], None, "is not an email address"),
    (["register", "{demo}", *CARD, "--version-type", "huge"], None, "major, minor or patch"),
    (["register", "{demo}", *CARD, "--version", "1.x"], None, "not a semantic version"),
    (["register", "{demo}", "--name", "A B!", *CARD[2:]], None, "is not allowed"),
    (["register", "{demo}", *CARD, "--tag", "nokv"], None, "key=value"),
    (["register", "{demo}", "--team", "vision"], None, "Missing option"),
    (["cards", "list", "--team", "A B!"], None, "is not allowed"),
    (["cards", "download", "signs", "{none}", "--version", "1.x"], None, "not a semantic version"),
    (["cards", "diff", "signs", "1.0.0", "two"], None, "not a semantic version"),
    (["cards", "gc", "--wait", "-1"], None, "--wait"),
    (["cards", "gc", "--name", "A B!"], None, "is not allowed"),
    (["serve", "--port", "99999"], None, "--port"),
    (["serve", "--data-dir", "{none}"], None, "is not a folder"),
    (["quality", "{none}"], None, "is not a folder"),
    (["quality", "{demo}", "--fail-on", "nosuch"], None, "unknown kind nosuch"),
    (["quality", "{demo}", "--near", "65"], None, "--near"),
    (["history", "{none}"], None, "is not a folder"),
    (["history", "{demo}", "--since", "yesterday"], None, "not an ISO date"),
    (["history", "{demo}", "--limit", "0"], None, "--limit"),
    (["review", "summary", "{none}"], None, "is not a folder"),
    (["review", "export", "{none}", "{demo}/review.jsonl"], None, "is not a folder"),
    (["store", "take-over", "{none}"], None, "is not a folder"),
    (["users", "add", "ana", "--role", "boss", "--password-stdin"], PASSWORD, "unknown role 'boss'"),
    (["users", "add", "ana", "--role", "admin", "--password-stdin"], "short\n", "at least 8 characters"),
    (["users", "add", "ana", "--role", "admin", "--password-stdin"], "", "no password on standard input"),
    (["users", "add", "ana", "--role", "admin"], None, "give a password (--password-stdin) or an e-mail"),
    (["users", "add", "../etc", "--role", "admin", "--password-stdin"], PASSWORD, "invalid user name"),
    (["users", "add", "ana", "--role", "admin", "--email", "ana@"], None, "invalid e-mail"),
    (["users", "add", "ana", "--password-stdin"], PASSWORD, "Missing option"),
    (["users", "list", "--format", "csv"], None, "No such option"),
    (["users", "set-role", "ana", "boss"], None, "unknown role 'boss'"),
    (["users", "passwd", "ana", "--password-stdin"], "short\n", "at least 8 characters"),
    (["users", "passwd", "ana"], None, "--password-stdin"),
    (["users", "remove"], None, "Missing argument"),
    (["no-such-command"], None, "No such command"),
]

#: An operation refused or failed on good input: exit 1 (``{bad}`` is a folder whose validation fails).
REFUSED: list[tuple[list[str], str | None, str]] = [
    (["validate", "{bad}"], None, "image.missing"),
    (["register", "{bad}", *CARD], None, "fails validation"),
    (["register", "{demo}", *CARD, "--version", "1.0.0"], None, "already registered"),
    (["cards", "download", "nocard", "{none}"], None, "no data card nocard"),
    (["cards", "diff", "nocard", "1.0.0", "1.1.0"], None, "no data card nocard"),
    (["users", "add", "ana", "--role", "reviewer", "--password-stdin"], PASSWORD, "already a user named ana"),
    (["users", "set-role", "nobody", "admin"], None, "no user named nobody"),
    (["users", "set-role", "ana", "annotator"], None, "ana is the last admin"),
    (["users", "passwd", "nobody", "--password-stdin"], PASSWORD, "no user named nobody"),
    (["users", "remove", "nobody"], None, "no user named nobody"),
    (["users", "remove", "ana"], None, "ana is the last admin"),
]


def _case_id(value: object) -> str | None:
    return " ".join(value) if isinstance(value, list) else None


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A home, registry and app database of their own; the demo dataset and a folder that fails validation."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "storage"))
    for name in ("OPSML_IMAGE_STORE_URI", "OPSML_IMAGE_DIR"):
        monkeypatch.delenv(name, raising=False)
    # serve never starts a server here: every case is decided before it would
    monkeypatch.setattr(sys.modules["opsml_image.cli.serve"].subprocess, "call", _no_server)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metadata.jsonl").write_text(json.dumps({"file_name": "gone.png"}) + "\n")
    return {"demo": str(copy_demo(tmp_path / "demo")), "none": str(tmp_path / "missing"), "bad": str(bad)}


def _no_server(*args: Any, **kwargs: Any) -> int:
    raise AssertionError(f"serve started a server: {args}")


def invoke(args: list[str], stdin: str | None, paths: dict[str, str]) -> Result:
    return runner.invoke(app, [arg.format(**paths) for arg in args], input=stdin)


def _one_readable_error(result: Result, message: str) -> None:
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@pytest.mark.parametrize(("args", "stdin", "message"), BAD_INPUT, ids=_case_id)
def test_bad_input_exits_2(paths: dict[str, str], args: list[str], stdin: str | None, message: str) -> None:
    result = invoke(args, stdin, paths)
    assert result.exit_code == 2, result.output
    _one_readable_error(result, message)


@pytest.mark.parametrize(("args", "stdin", "message"), REFUSED, ids=_case_id)
def test_a_refused_or_failed_operation_exits_1(
    paths: dict[str, str], args: list[str], stdin: str | None, message: str
) -> None:
    assert (
        invoke(["users", "add", "ana", "--role", "admin", "--password-stdin"], PASSWORD, paths).exit_code == 0
    )
    assert invoke(["register", "{demo}", *CARD, "--version", "1.0.0"], None, paths).exit_code == 0
    result = invoke(args, stdin, paths)
    assert result.exit_code == 1, result.output
    _one_readable_error(result, message)
    if args[0] == "users":  # the account is still there, unchanged
        listed = json.loads(invoke(["users", "list", "--json"], None, paths).output.splitlines()[0])
        assert (listed["name"], listed["role"]) == ("ana", "admin")


def test_serve_with_an_unreadable_app_database_exits_1(paths: dict[str, str], monkeypatch) -> None:
    monkeypatch.setenv("OPSML_IMAGE_STORE_URI", "nosuchdialect://x")
    result = invoke(["serve"], None, paths)
    assert result.exit_code == 1, result.output
    _one_readable_error(result, "cannot open the app database")


def test_each_format_command_refuses_a_missing_source_with_2(paths: dict[str, str]) -> None:
    """``export <format>`` and ``import <format>`` (made from the registered formats)."""
    for group in ("export", "import"):
        for name in _commands()[group]:
            args = [group, name, "{none}", "{none}-out"]
            result = invoke(args, None, paths)
            assert result.exit_code == 2, (args, result.output)
            _one_readable_error(result, "error: ")


def test_every_command_has_a_bad_input_case() -> None:
    tested = {" ".join(args[:2]) if args[0] in _groups() else args[0] for args, _, _ in BAD_INPUT}
    every = {f"{group} {name}" if name else group for group, names in _commands().items() for name in names}
    formats = {c for c in every if c.split()[0] in ("export", "import")}
    assert every - formats - tested == set()


def _commands() -> dict[str, list[str]]:
    """Each top-level command (``{"validate": [""]}``) or group with its commands (``{"users": [...]}``)."""
    root = get_command(app)
    ctx = root.make_context("opsml_image", ["--help"], resilient_parsing=True)
    found: dict[str, list[str]] = {}
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        sub = getattr(command, "list_commands", None)
        found[name] = list(sub(ctx)) if sub else [""]
    return found


def _groups() -> set[str]:
    return {name for name, subs in _commands().items() if subs != [""]}


def test_to_hf_dataset_without_datasets_says_pip_install(monkeypatch: pytest.MonkeyPatch, paths) -> None:
    """The README's other promise about a missing optional package (``make run`` does not install
    ``datasets``); here, beside the CLI's, because tests/registry/ belongs to the registry's owners."""
    from opsml_image.dataset import ImageDataset
    from opsml_image.registry.loaders import to_hf_dataset

    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(ImportError, match=r"pip install datasets") as raised:
        to_hf_dataset(ImageDataset(image_dir=paths["demo"]))
    assert raised.value.name == "datasets"


def test_a_disk_error_during_an_export_exits_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A failure is not bad input: an OSError while writing exits 1, with one line."""
    import dataclasses
    import errno

    from typer.testing import CliRunner

    from opsml_image import formats
    from opsml_image.cli import app
    from opsml_image.demo import copy_demo

    def full(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    original = formats.unregister("yolo")
    formats.register(dataclasses.replace(original, export=full))
    try:
        data = copy_demo(tmp_path / "data")
        result = CliRunner().invoke(app, ["export", "yolo", str(data), str(tmp_path / "out")])
    finally:
        formats.unregister("yolo")
        formats.register(original)
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and "Traceback" not in result.output
