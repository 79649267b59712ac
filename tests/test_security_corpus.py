"""The attack corpus of issue 9 ("What was measured") through the library and the CLI.

Links out of the dataset folder, special files, NUL bytes, lone surrogates, a folder given as a metadata
file, and the debris of writes killed mid-way: each is an error with a code (or is cleaned up), never a
traceback, never a file read from outside, never a blocking open.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO_ROOT
from opsml_image import ImageDataset
from opsml_image.atomic import _HOST, STALE_AFTER, remove_stale_temps
from opsml_image.cli import app
from opsml_image.jsonl import MetadataError
from opsml_image.registry.hashing import scan
from opsml_image.schema import ImageMetadata

runner = CliRunner()
SECRET = "root:$6$do-not-leak$:19000:0:99999:7:::\n"
GOOD = '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 5, 5]], "categories": [0]}}'


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host file outside every dataset folder (a stand-in for /etc/shadow)."""
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "shadow").write_text(SECRET)
    return folder / "shadow"


@pytest.fixture
def dataset(tmp_path: Path, make_image) -> Path:
    root = tmp_path / "ds"
    root.mkdir()
    make_image(root / "a.png", size=(40, 40))
    (root / "metadata.jsonl").write_text(GOOD + "\n")
    return root


@pytest.fixture
def registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(home))
    monkeypatch.delenv("OPSML_TRACKING_URI", raising=False)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    return home


def codes(root: Path, **options) -> dict[str, int]:
    return dict(ImageDataset(image_dir=root).validate(**options).counts)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it (a subprocess with a timeout: a blocking open fails the test, not hangs it)."""
    return subprocess.run(
        [sys.executable, "-m", "opsml_image", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def register_args(root: Path, *extra: str) -> list[str]:
    return ["register", str(root), "--name", "leak", "--team", "red", "--email", "a@b.c", *extra]


# ------------------------------------------------------------------ links out of the folder


def test_a_link_to_a_host_file_is_an_error_and_never_registered(dataset, outside, registry_env):
    (dataset / "notes.txt").symlink_to(outside)
    report = ImageDataset(image_dir=dataset).validate()
    [issue] = [i for i in report.issues if i.code == "file.outside"]
    assert issue.file == "notes.txt" and issue.severity == "error" and not report.ok
    assert str(outside) not in issue.message  # the target is not named

    for force in ([], ["--force"]):
        result = runner.invoke(app, register_args(dataset, *force))
        assert result.exit_code == 1, result.output
        assert "notes.txt is a link to a place outside the dataset folder" in result.output
        assert "Traceback" not in result.output and SECRET.strip() not in result.output
    assert "leak" not in runner.invoke(app, ["cards", "list"]).output


def test_a_linked_image_outside_is_reported_at_its_record_and_not_read(dataset, tmp_path, make_image):
    make_image(tmp_path / "elsewhere.png", size=(10, 10))  # 10x10: the 40x40 box check would fail if read
    (dataset / "b.png").symlink_to(tmp_path / "elsewhere.png")
    with (dataset / "metadata.jsonl").open("a") as handle:
        handle.write('{"file_name": "b.png", "objects": {"bbox": [[1, 1, 30, 30]], "categories": [0]}}\n')
    report = ImageDataset(image_dir=dataset).validate()
    assert dict(report.counts) == {"file.outside": 1}
    [issue] = report.issues
    assert (issue.file, issue.line, issue.file_name) == ("metadata.jsonl", 2, "b.png")
    with pytest.raises(Exception, match="b.png is a link to a place outside"):
        scan(dataset)


def test_a_split_folder_linked_outside_is_refused_at_open_and_its_metadata_not_read(
    tmp_path, make_image, outside
):
    root = tmp_path / "ds"
    (root / "validation").mkdir(parents=True)
    make_image(root / "validation" / "a.png", size=(40, 40))
    (root / "validation" / "metadata.jsonl").write_text(GOOD + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "metadata.jsonl").symlink_to(outside)  # its lines would be shown (mended) if read
    (root / "train").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(
        ValueError, match="train/metadata.jsonl is a link to a place outside the dataset folder"
    ):
        ImageDataset(image_dir=root)
    result = run_cli("validate", str(root))
    assert result.returncode == 2 and "train/metadata.jsonl is a link to a place outside" in result.stderr
    assert SECRET.strip() not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_a_metadata_file_linked_outside_is_refused_at_open(dataset, outside):
    (dataset / "metadata.jsonl").unlink()
    (dataset / "metadata.jsonl").symlink_to(outside)
    with pytest.raises(ValueError, match="metadata.jsonl is a link to a place outside the dataset folder"):
        ImageDataset(image_dir=dataset)


def test_links_inside_the_folder_stay_fine(dataset):
    (dataset / "same.png").symlink_to(dataset / "a.png")
    with (dataset / "metadata.jsonl").open("a") as handle:
        handle.write('{"file_name": "same.png"}\n')
    assert codes(dataset) == {}
    assert [e.path for e in scan(dataset)] == ["a.png", "metadata.jsonl", "same.png"]


def test_categories_json_linked_outside_is_not_read(dataset, outside):
    (dataset / "categories.json").symlink_to(outside)
    report = ImageDataset(image_dir=dataset).validate()
    assert report.counts["file.outside"] == 1
    assert all(SECRET.strip() not in i.message for i in report.issues)


# ------------------------------------------------------------------ FIFOs, sockets, devices


def test_a_fifo_named_as_an_image_is_refused_without_blocking(dataset):
    os.mkfifo(dataset / "pipe.png")
    with (dataset / "metadata.jsonl").open("a") as handle:
        handle.write('{"file_name": "pipe.png"}\n')
    os.mkfifo(dataset / "other.fifo")
    result = run_cli("validate", str(dataset), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "metadata.jsonl:2 [file_name] error file.special: " in result.stdout
    assert "pipe.png is a FIFO (named pipe), not a regular file" in result.stdout
    assert "other.fifo error file.special" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_fifo_given_as_a_metadata_file_raises_metadata_error_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "metadata.jsonl")
    outcome: list[BaseException] = []
    reader = threading.Thread(
        target=lambda: outcome.append(_raises(ImageMetadata.from_file, tmp_path / "metadata.jsonl")),
        daemon=True,
    )
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "from_file blocked on a FIFO"
    assert isinstance(outcome[0], MetadataError) and "FIFO" in str(outcome[0])


def test_a_device_is_refused(tmp_path):
    with pytest.raises(MetadataError, match="is a device"):
        ImageMetadata.from_file("/dev/zero")


def test_a_folder_given_to_from_file_raises_metadata_error(tmp_path):
    with pytest.raises(MetadataError, match="it is a folder, not a regular file") as caught:
        ImageMetadata.from_file(tmp_path)
    assert caught.value.problem.code == "file.special"


def _raises(call, *args) -> BaseException:
    try:
        call(*args)
    except BaseException as error:  # noqa: BLE001 - the test inspects it
        return error
    raise AssertionError("no error")


# ------------------------------------------------------------------ NUL bytes and lone surrogates

NUL_FILE_NAME = r'{"file_name": "a.png\u0000.jpg"}'
SURROGATE_CAPTION = r'{"file_name": "a.png", "caption": "bad \ud800 text"}'
NUL_EXTRA_KEY = r'{"file_name": "a.png", "note\u0000": "x"}'
SURROGATE_IN_EXTRA_LIST = r'{"file_name": "a.png", "tags": ["ok", "\udfff"]}'


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        (NUL_FILE_NAME, "string.nul", "file_name"),
        (SURROGATE_CAPTION, "string.surrogate", "caption"),
        (NUL_EXTRA_KEY, "string.nul", "note\\u0000 (key)"),
        (SURROGATE_IN_EXTRA_LIST, "string.surrogate", "tags[1]"),
    ],
    ids=["nul-file-name", "surrogate-caption", "nul-extra-key", "surrogate-in-list"],
)
@pytest.mark.parametrize("images", [True, False], ids=["images", "no-images"])
def test_bad_characters_are_errors_with_file_line_and_field(dataset, line, code, field, images):
    (dataset / "metadata.jsonl").write_text(GOOD + "\n" + line + "\n")
    report = ImageDataset(image_dir=dataset).validate(check_images=images)
    bad = [i for i in report.issues if i.severity == "error"]
    assert [(i.file, i.line, i.field, i.code) for i in bad] == [("metadata.jsonl", 2, field, code)]
    with pytest.raises(MetadataError, match=rf"metadata.jsonl:2 \[.*\]: .* \({code}\)"):
        ImageMetadata.from_file(dataset / "metadata.jsonl")


@pytest.mark.parametrize("line", [NUL_FILE_NAME, SURROGATE_CAPTION], ids=["nul", "surrogate"])
def test_the_cli_reports_bad_characters_without_a_traceback(dataset, tmp_path, line):
    (dataset / "metadata.jsonl").write_text(GOOD + "\n" + line + "\n")
    for args in (["validate", str(dataset)], ["validate", str(dataset), "--no-images"]):
        result = run_cli(*args)
        assert result.returncode == 1 and "metadata.jsonl:2" in result.stdout, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    export = run_cli("export", "coco", str(dataset), str(tmp_path / "out.json"))
    assert "Traceback" not in export.stdout + export.stderr


def test_the_dataset_still_opens_and_skips_the_bad_line(dataset):
    (dataset / "metadata.jsonl").write_text(GOOD + "\n" + SURROGATE_CAPTION + "\n")
    opened = ImageDataset(image_dir=dataset)
    assert [r.line for r in opened.iter_records()] == [1]
    assert list(opened.annotations()) == [("train", "a.png")]


def test_a_nul_in_a_category_name_is_an_error(dataset):
    (dataset / "categories.json").write_text('["cat", "d\\u0000og"]')
    report = ImageDataset(image_dir=dataset).validate()
    assert [(i.file, i.field, i.code) for i in report.issues] == [
        ("categories.json", "categories.json[1]", "string.nul")
    ]


# ------------------------------------------------------------------ crash debris


def test_debris_of_a_killed_write_is_never_a_dataset_file_and_goes_at_the_next_open(dataset):
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from opsml_image.atomic import atomic_writer
                with atomic_writer({str(dataset / "metadata.jsonl")!r}) as handle:
                    handle.write(b"x" * 3_000_000)
                    handle.flush()
                    print("writing", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    debris = [p for p in dataset.iterdir() if p.name.endswith(".tmp")]
    assert len(debris) == 1 and f".{_HOST}-{writer.pid}." in debris[0].name
    assert [e.path for e in scan(dataset)] == ["a.png", "metadata.jsonl"]  # in flight: never content
    assert codes(dataset) == {}
    ImageDataset(image_dir=dataset)
    assert debris[0].exists()  # its writer still runs: left alone
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert debris[0].exists() and (dataset / "metadata.jsonl").read_text() == GOOD + "\n"
    ImageDataset(image_dir=dataset)  # the next open
    assert not debris[0].exists()


def test_old_debris_is_removed_whoever_wrote_it_and_fresh_debris_of_other_hosts_kept(dataset):
    legacy = dataset / ".metadata.jsonl.k3j4l5m6.tmp"  # the name before host and pid were written
    other_host = dataset / ".metadata.jsonl.00000000-1.abcdefgh.tmp"
    user_file = dataset / ".notes.tmp"  # not a name atomic_writer makes: never deleted
    for path in (legacy, other_host, user_file):
        path.write_bytes(b"partial")
    past = time.time() - STALE_AFTER - 60
    os.utime(legacy, (past, past))
    os.utime(user_file, (past, past))
    assert remove_stale_temps(dataset) == [legacy]
    assert other_host.exists() and user_file.exists()
    assert remove_stale_temps(dataset, now=time.time() + STALE_AFTER + 60) == [other_host]


def test_a_fifo_as_categories_json_is_reported_once_without_blocking(dataset):
    os.mkfifo(dataset / "categories.json")
    result = run_cli("validate", str(dataset), "--json")
    issues = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(i["file"], i["code"]) for i in issues] == [("categories.json", "file.special")]
