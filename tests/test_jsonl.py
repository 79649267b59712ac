"""Streaming JSON-lines reading (line numbers, encodings, bad lines) and atomic, line-preserving writing."""

from __future__ import annotations

import math

import pytest

from opsml_image.jsonl import MetadataError, iter_objects, read_lines, rewrite_lines, write_objects
from opsml_image.rules import Problem


def lines_of(path, **kw):
    return [(n, v.code if isinstance(v, Problem) else v) for n, v in read_lines(path, **kw)]


def test_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"file_name": "a.png"}\r\n\r\n   \n{"file_name": "b.png"}\r\n')
    assert lines_of(path) == [(1, {"file_name": "a.png"}), (4, {"file_name": "b.png"})]


def test_bad_lines_become_problems_with_their_number(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        b'{"file_name": "a.png"}\n{"file_name": \n\xff\xfe{}\n[1, 2]\n{"file_name": "b.png", "x"'
    )
    got = lines_of(path)
    assert got == [
        (1, {"file_name": "a.png"}),
        (2, "line.json"),
        (3, "line.encoding"),
        (4, [1, 2]),
        (5, "line.json"),
    ]
    last = list(read_lines(path))[-1][1]
    assert "does not end with a newline" in last.message


def test_nan_and_infinity_parse_so_rules_can_name_them(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"file_name": "a.png", "objects": {"bbox": [[NaN, 1, Infinity, 2]], "categories": [0]}}\n'
    )
    [(_, obj)] = read_lines(path)
    assert math.isnan(obj["objects"]["bbox"][0][0])


def test_a_50_mb_line_is_reported_and_skipped_without_holding_it(tmp_path):
    path = tmp_path / "m.jsonl"
    with open(path, "wb") as f:
        f.write(
            b'{"file_name": "a.png"}\n{"file_name": "' + b"x" * 50_000_000 + b'"}\n{"file_name": "b.png"}\n'
        )
    got = list(read_lines(path))
    assert [n for n, _ in got] == [1, 2, 3]
    assert got[1][1].code == "line.too_long" and "50,000,0" in got[1][1].message
    assert got[2][1] == {"file_name": "b.png"}


def test_strict_reading_raises_naming_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"file_name": "a.png"}\nnot json\n')
    with pytest.raises(MetadataError, match=r"m\.jsonl:2.*line\.json") as error:
        list(iter_objects(path))
    assert error.value.line == 2


def test_round_trip_is_the_identity(tmp_path):
    records = [
        {"file_name": "a.png", "caption": "é ✓", "objects": {"bbox": [[1.5, 2, 3, 4]], "categories": [0]}},
        {"file_name": "b.png", "extra": {"nested": [1, None]}},
    ]
    path = write_objects(tmp_path / "m.jsonl", records)
    loaded = [obj for _, obj in iter_objects(path)]
    assert loaded == records
    again = write_objects(tmp_path / "n.jsonl", loaded)
    assert again.read_bytes() == path.read_bytes()


def test_failed_write_leaves_the_old_file_untouched(tmp_path):
    path = write_objects(tmp_path / "m.jsonl", [{"file_name": "a.png"}])
    before = path.read_bytes()

    def records():
        yield {"file_name": "b.png"}
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_objects(path, records())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]


def test_rewrite_keeps_untouched_lines_byte_for_byte(tmp_path):
    path = tmp_path / "m.jsonl"
    original = (
        b'{"file_name": "a.png",  "caption": "spaced"}\r\n{"file_name": "b.png"}\n\n{"file_name": "c.png"}'
    )
    path.write_bytes(original)
    rewrite_lines(
        path, replace={2: [{"file_name": "b.png", "caption": "new"}], 4: []}, append=[{"file_name": "d.png"}]
    )
    assert path.read_bytes() == (
        b'{"file_name": "a.png",  "caption": "spaced"}\r\n{"file_name":"b.png","caption":"new"}\n\n'
        b'{"file_name":"d.png"}\n'
    )


def test_rewrite_appends_after_a_file_without_final_newline(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"file_name": "a.png"}')
    rewrite_lines(path, append=[{"file_name": "b.png"}])
    assert path.read_bytes() == b'{"file_name": "a.png"}\n{"file_name":"b.png"}\n'


def test_nul_and_lone_surrogates_are_problems_of_their_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        b'{"file_name": "a\\u0000.png"}\n'
        b'{"file_name": "a.png", "caption": "\\ud800"}\n'
        b'{"file_name": "a.png", "caption": "a \\\\u0000 written out is fine"}\n'
        b'{"file_name": "a.png", "caption": "\\ud83d\\ude00 a pair is fine"}\n'
    )
    found = list(read_lines(path))
    assert [(n, v.code, v.field) for n, v in found[:2]] == [
        (1, "string.nul", "file_name"),
        (2, "string.surrogate", "caption"),
    ]
    assert found[2][1]["caption"] == "a \\u0000 written out is fine"
    assert found[3][1]["caption"].startswith("\U0001f600")
    with pytest.raises(MetadataError, match=r"m.jsonl:1 \[file_name\]: .* \(string.nul\)"):
        list(iter_objects(path))


def test_a_folder_or_fifo_is_not_a_metadata_file(tmp_path):
    import os

    with pytest.raises(MetadataError, match="it is a folder, not a regular file"):
        list(read_lines(tmp_path))
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(MetadataError, match=r"is a FIFO \(named pipe\)"):
        list(read_lines(tmp_path / "pipe"))  # returns at once: no writer is waited for
    with pytest.raises(MetadataError, match="is a FIFO"):
        rewrite_lines(tmp_path / "pipe", append=[{"file_name": "a.png"}])
