"""Use case: validate and record the verdict (one read of the metadata), freshness, fixes, broken-line mends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml_image import dataset as dataset_module
from opsml_image.annotation import ImageAnnotation
from opsml_image.demo import copy_demo
from opsml_image.usecases import Invalid, Stale
from opsml_image.usecases import validate as uc
from opsml_image.usecases.workspace import Workspace, open_workspace


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    workspace = open_workspace(copy_demo(tmp_path / "data"), flush_delay=0.05)
    yield workspace
    workspace.close()


def metadata(ws: Workspace, split: str = "train") -> Path:
    return ws.dataset.split(split).metadata_path


def append(ws: Workspace, raw: bytes, split: str = "train") -> int:
    """Append a raw line; its line number."""
    path = metadata(ws, split)
    data = path.read_bytes()
    path.write_bytes(data + raw)
    return data.count(b"\n") + 1


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read of a metadata file through the dataset's line reader, by path."""
    reads: list[str] = []
    real = dataset_module.read_lines

    def counting(path, *args, **kwargs):  # noqa: ANN001, ANN202
        reads.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(dataset_module, "read_lines", counting)
    return reads


def test_one_read_gives_the_report_and_the_statistics(ws: Workspace, monkeypatch: pytest.MonkeyPatch):
    expected = ws.dataset.stats()
    reads = count_reads(monkeypatch)
    verdict = uc.validate_and_record(ws)
    assert sorted(reads) == sorted(str(p) for p in ws.dataset.metadata_files())  # each file once
    assert verdict.ok and verdict.errors == 0 and verdict.records == expected.records
    assert verdict.stats == expected
    assert verdict.stamp == uc.folder_stamp(ws.path)
    assert ws.store.validation_summary() is not None


def test_counts_and_severity(ws: Workspace):
    append(ws, json.dumps({"file_name": "gone.jpg"}).encode() + b"\n")
    verdict = uc.validate_and_record(ws)
    assert not verdict.ok and verdict.counts == {"image.missing": 1} and verdict.errors == 1
    assert uc.severity("image.unlabeled") == "warning"
    assert uc.severity("no.such.code") == "error"
    assert verdict.by_severity()[0] == ("image.missing", 1)
    (group,) = verdict.groups()  # what the Validate and Register pages list: code, count, severity, meaning
    assert (group.code, group.count, group.severity, group.error) == ("image.missing", 1, "error", True)
    assert group.meaning == uc.meaning("image.missing") != "image.missing"
    assert uc.meaning("no.such.code") == "no.such.code"


def test_a_verdict_goes_stale_when_the_store_or_a_file_changes(ws: Workspace):
    verdict = uc.validate_and_record(ws)
    assert uc.is_current(ws, verdict)
    assert uc.current_verdict(ws, verdict) is verdict
    first = ws.store.get("train", "scene_001.jpg")
    assert first is not None
    version = ws.store.version("train", first.file_name)
    ws.store.save(ImageAnnotation(file_name=first.file_name, split="train", caption="edited"), version)
    assert not uc.is_current(ws, verdict)
    again = uc.current_verdict(ws, verdict)  # validates anew, edits written first
    assert again is not verdict and uc.is_current(ws, again)
    assert b"edited" in metadata(ws).read_bytes()
    append(ws, b"\n")  # a change outside the app
    assert not uc.is_current(ws, again)


def test_a_stored_verdict_after_a_restart(ws: Workspace):
    append(ws, json.dumps({"file_name": "gone.jpg"}).encode() + b"\n")
    uc.validate_and_record(ws)
    stored = uc.last_verdict(ws)
    assert stored is not None and stored.counts == {"image.missing": 1} and stored.errors == 1
    assert stored.records is None and stored.stamp is None
    assert uc.is_current(ws, stored)
    version = ws.store.version("train", "scene_001.jpg")
    ws.store.save(ImageAnnotation(file_name="scene_001.jpg", split="train", caption="later"), version)
    assert not uc.is_current(ws, stored)


def test_another_folders_verdict_is_never_current(ws: Workspace, tmp_path: Path):
    verdict = uc.validate_and_record(ws)
    other = uc.Verdict(tmp_path / "elsewhere", 0, 0, {}, False, verdict.at, mark=verdict.mark)
    assert not uc.is_current(ws, other)


def test_fix_preview_apply_undo(ws: Workspace):
    path = metadata(ws)
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["objects"]["bbox"][0] = [600.0, 400.0, 100.0, 100.0]  # outside its 640x480 image
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    ws.store.sync()
    assert uc.validate_and_record(ws).counts == {"box.outside": 1}
    offer = uc.FIX_OFFERS["box.outside"]
    changes = uc.preview_fix(ws, offer.code)
    assert [c.key for c in changes] == [("train", first["file_name"])]
    applied = uc.apply_fix(ws, offer, changes)
    assert applied.changes == 1 and applied.ids
    assert uc.validate_and_record(ws).ok  # written to metadata.jsonl first
    uc.undo_fix(ws, applied)
    assert uc.validate_and_record(ws).counts == {"box.outside": 1}


def test_dropping_a_missing_images_record_is_undone_after_the_flush(ws: Workspace):
    append(ws, json.dumps({"file_name": "gone.jpg"}).encode() + b"\n")
    ws.store.sync()
    uc.validate_and_record(ws)
    applied = uc.apply_fix(ws, uc.FIX_OFFERS["image.missing"], uc.preview_fix(ws, "image.missing"))
    assert uc.validate_and_record(ws).ok
    uc.undo_fix(ws, applied)
    assert uc.validate_and_record(ws).counts == {"image.missing": 1}


def test_a_stale_fix_is_refused_readably(ws: Workspace):
    append(ws, json.dumps({"file_name": "gone.jpg"}).encode() + b"\n")
    ws.store.sync()
    uc.validate_and_record(ws)
    changes = uc.preview_fix(ws, "image.missing")
    version = ws.store.version("train", "gone.jpg")
    ws.store.save(ImageAnnotation(file_name="gone.jpg", split="train", caption="meanwhile"), version)
    with pytest.raises(Stale, match="Preview the fix again"):
        uc.apply_fix(ws, uc.FIX_OFFERS["image.missing"], changes)


def broken(ws: Workspace, raw: bytes) -> uc.BrokenLine:
    number = append(ws, raw)
    ws.store.sync()
    verdict = uc.validate_and_record(ws)
    code = "line.encoding" if b"\xff" in raw else "line.json"
    assert verdict.counts == {code: 1}
    issue = ws.store.issues(code)[0]
    line = uc.broken_line(ws, issue)
    assert line is not None and line.number == number and line.label == "train/metadata.jsonl"
    return line


def test_a_broken_line_is_shown_raw_and_mended_in_place_undoably(ws: Workspace):
    before = metadata(ws).read_bytes()
    line = broken(ws, b'{"file_name": "scene_001.jpg", "caption": "oops",\n')
    assert line.text == '{"file_name": "scene_001.jpg", "caption": "oops",'
    with pytest.raises(Invalid, match=r"Not saved: .*metadata.jsonl:\d+: invalid JSON"):
        uc.mend_line(ws, line, '{"file_name": ')
    with pytest.raises(Invalid, match=r"\[file_name\]"):
        uc.mend_line(ws, line, '{"caption": "no file name"}')
    fix = uc.mend_line(ws, line, '{"file_name": "scene_001.jpg", "caption": "mended"}')
    assert fix.action == "edited"
    assert uc.validate_and_record(ws).ok
    assert metadata(ws).read_bytes().startswith(before)  # every other line byte for byte
    assert metadata(ws).read_bytes().endswith(b'"caption":"mended"}\n')
    uc.undo_line_fix(ws, fix)
    assert metadata(ws).read_bytes() == before + b'{"file_name": "scene_001.jpg", "caption": "oops",\n'


def test_a_line_that_is_not_utf8_is_dropped_and_put_back(ws: Workspace):
    raw = b'{"file_name": "scene_001.jpg", "caption": "caf\xff"}\n'
    line = broken(ws, raw)
    assert "\ufffd" in line.text
    original = metadata(ws).read_bytes()
    fix = uc.drop_broken_line(ws, line)
    assert fix.action == "dropped" and raw not in metadata(ws).read_bytes()
    assert uc.validate_and_record(ws).ok
    uc.undo_line_fix(ws, fix)
    assert metadata(ws).read_bytes() == original


def test_a_line_changed_since_it_was_read_is_not_overwritten(ws: Workspace):
    line = broken(ws, b"{not json\n")
    path = metadata(ws)
    path.write_bytes(path.read_bytes().replace(b"{not json\n", b"{still not json\n"))
    with pytest.raises(Stale, match="changed since it was read"):
        uc.drop_broken_line(ws, line)
    assert b"{still not json\n" in path.read_bytes()


def test_the_counts_of_the_one_read_equal_the_datasets_on_awkward_records(ws: Workspace):
    awkward = [
        b'{"file_name": "scene_001.jpg", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [7]}}\n',  # again
        b'{"file_name": "x.jpg", "objects": {"bbox": [[1, 1, 2, 2], [0, 0, 1, 1]], "categories": [1, "2"]}}\n',
        b'{"file_name": "y.jpg", "objects": {"bbox": [], "categories": []}}\n',
        b'{"file_name": "z.jpg", "objects": "not a dict"}\n',
        b'{"file_name": 3}\n',
        b"[1, 2]\n",
        b"{broken\n",
        b"\n",
    ]
    append(ws, b"".join(awkward))
    verdict = uc.validate_and_record(ws)
    assert verdict.stats == ws.dataset.stats()
