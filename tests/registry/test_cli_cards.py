from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import free_port
from opsml_image.cli import app

from .conftest import make_dataset

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "storage"))
    return make_dataset(tmp_path / "data")


def _register(data: Path, *extra: str):  # type: ignore[no-untyped-def]
    args = ["register", str(data), "--name", "Street Signs", "--team", "vision", "--email", "ana@example.com"]
    return runner.invoke(app, [*args, *extra])


def test_register_list_download_diff(env: Path, tmp_path: Path) -> None:
    first = _register(env, "--tag", "source=dashcam", "--description", "frames")
    assert first.exit_code == 0, first.output
    assert "registered vision/street-signs 1.0.0" in first.output and "5 images" in first.output
    second = _register(env, "--version-type", "major", "--json")
    assert second.exit_code == 0, second.output
    record = json.loads(second.output.strip().splitlines()[-1])
    assert record["version"] == "2.0.0" and record["facts"]["boxes"] == 10

    listed = runner.invoke(app, ["cards", "list", "--name", "street-signs"])
    assert listed.exit_code == 0
    lines = [line for line in listed.output.splitlines() if "vision/street-signs" in line]
    assert [line.split()[1] for line in lines] == ["2.0.0", "1.0.0"]
    as_json = runner.invoke(app, ["cards", "list", "--json"])
    assert [json.loads(line)["tags"] for line in as_json.output.splitlines()] == [{}, {"source": "dashcam"}]

    dest = tmp_path / "restored"
    down = runner.invoke(app, ["cards", "download", "street-signs", str(dest), "--version", "1.0.0"])
    assert down.exit_code == 0, down.output
    assert (dest / "train" / "metadata.jsonl").read_bytes() == (env / "train" / "metadata.jsonl").read_bytes()

    diff = runner.invoke(app, ["cards", "diff", "street-signs", "1.0.0", "2.0.0"])
    assert diff.exit_code == 0 and "no changes" in diff.output


def test_errors_are_one_line_and_non_zero(env: Path, tmp_path: Path) -> None:
    bad_name = runner.invoke(app, ["register", str(env), "--name", "a/b", "--team", "t", "--email", "a@b.co"])
    assert bad_name.exit_code == 2 and "not allowed" in bad_name.output and "Traceback" not in bad_name.output
    bad_version = _register(env, "--version", "1.x")
    assert bad_version.exit_code == 2 and "not a semantic version" in bad_version.output
    bad_tag = _register(env, "--tag", "nokey")
    assert bad_tag.exit_code == 2 and "key=value" in bad_tag.output
    assert _register(env, "--version", "1.0.0").exit_code == 0
    duplicate = _register(env, "--version", "1.0.0")
    assert duplicate.exit_code == 1 and "already registered" in duplicate.output
    missing = runner.invoke(app, ["cards", "download", "nothing", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "no data card" in missing.output
    no_dir = runner.invoke(
        app, ["register", str(tmp_path / "nope"), "--name", "a", "--team", "t", "--email", "a@b.co"]
    )
    assert no_dir.exit_code == 2 and "not a folder" in no_dir.output


def test_invalid_dataset_needs_force(env: Path) -> None:
    (env / "train" / "train_000.jpg").unlink()
    refused = _register(env)
    assert refused.exit_code == 1 and "fails validation" in refused.output and "force" in refused.output
    forced = _register(env, "--force")
    assert forced.exit_code == 0 and "validation errors" in forced.output


def test_unreachable_database(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", f"postgresql+psycopg://x@127.0.0.1:{free_port()}/db")
    result = runner.invoke(app, ["cards", "list"])
    assert result.exit_code == 1 and "cannot reach the registry database" in result.output
    assert "Traceback" not in result.output
