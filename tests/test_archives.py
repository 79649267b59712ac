"""Safe zip extraction: hand-made malicious zips are refused naming the entry and leave nothing behind."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from opsml_image.archives import ArchiveError, Limits, extract_zip


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def patch_central(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Set a field of the first central directory header (``offset`` from its signature)."""
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt) :]


def refused(data: bytes, tmp_path: Path, **kwargs) -> ArchiveError:
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError) as caught:
        extract_zip(io.BytesIO(data), dest, label="up.zip", **kwargs)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == [], "no temp folder left behind"
    return caught.value


def test_extracts_files_and_folders(tmp_path: Path) -> None:
    data = make_zip(
        [("a.txt", b"hello"), ("sub/", b""), ("sub/b.bin", bytes(range(256))), ("x/y/z.txt", b"z")]
    )
    seen: list[tuple[int, int]] = []
    result = extract_zip(io.BytesIO(data), tmp_path / "out", progress=lambda d, t: seen.append((d, t)))
    out = tmp_path / "out"
    assert (out / "a.txt").read_bytes() == b"hello"
    assert (out / "sub" / "b.bin").read_bytes() == bytes(range(256))
    assert (out / "x" / "y" / "z.txt").read_text() == "z"
    assert (result.files, result.bytes, result.ignored) == (3, 5 + 256 + 1, [])
    assert seen[-1] == (4, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_from_a_path_and_into_an_empty_folder(tmp_path: Path) -> None:
    zip_path = tmp_path / "in.zip"
    zip_path.write_bytes(make_zip([("a.txt", b"1")], method=zipfile.ZIP_STORED))
    (tmp_path / "out").mkdir()
    extract_zip(zip_path, tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_text() == "1"


def test_mac_debris_is_left_out_and_listed(tmp_path: Path) -> None:
    data = make_zip([("a.txt", b"1"), ("__MACOSX/._a.txt", b"x"), ("d/.DS_Store", b"x"), ("d/._b", b"x")])
    result = extract_zip(io.BytesIO(data), tmp_path / "out")
    assert result.ignored == ["__MACOSX/._a.txt", "d/.DS_Store", "d/._b"]
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["a.txt"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "zip slip"),
        ("ok/../../evil.txt", "zip slip"),
        ("./a.txt", "zip slip"),
        ("/etc/evil.txt", "absolute path"),
        ("C:/Windows/evil.txt", "drive letter"),
        ("c:evil.txt", "drive letter"),
        ("..\\evil.txt", "backslash"),
        ("sub\\..\\..\\evil.txt", "backslash"),
        ("a//b.txt", "empty path component"),
        ("bell\x07.txt", "control character"),
        ("x" * 256 + ".txt", "longer than 255 bytes"),
    ],
)
def test_names_leaving_the_folder_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    error = refused(make_zip([("fine.txt", b"ok"), (name, b"evil")]), tmp_path)
    assert error.entry == name and reason in error.reason
    assert str(error).startswith(f"up.zip: {name}: ")
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (stat.S_IFLNK | 0o777, "symbolic link"),
        (stat.S_IFIFO | 0o644, "special file"),
        (stat.S_IFCHR | 0o644, "special file"),
        (stat.S_IFBLK | 0o644, "special file"),
        (stat.S_IFSOCK | 0o644, "special file"),
    ],
)
def test_links_and_special_entries_are_refused(tmp_path: Path, mode: int, reason: str) -> None:
    error = refused(make_zip([(unix_entry("link", mode), b"/etc/passwd")]), tmp_path)
    assert error.entry == "link" and reason in error.reason


def test_regular_unix_modes_are_fine(tmp_path: Path) -> None:
    data = make_zip(
        [(unix_entry("run.sh", stat.S_IFREG | 0o755), b"#!"), (unix_entry("d/", stat.S_IFDIR), b"")]
    )
    extract_zip(io.BytesIO(data), tmp_path / "out")
    assert (tmp_path / "out" / "run.sh").read_bytes() == b"#!" and (tmp_path / "out" / "d").is_dir()


@pytest.mark.parametrize(
    ("entries", "culprit", "reason"),
    [
        ([("a.txt", b"1"), ("a.txt", b"2")], "a.txt", "second entry"),
        ([("A.txt", b"1"), ("a.TXT", b"2")], "a.TXT", "second entry"),
        ([("caf\u00e9.txt", b"1"), ("cafe\u0301.txt", b"2")], "cafe\u0301.txt", "second entry"),
        ([("a", b"1"), ("a/b.txt", b"2")], "a/b.txt", "which is a file"),
        ([("a/b.txt", b"1"), ("a", b"2")], "a", "name of the folder"),
        ([("a", b"1"), ("a/", b"")], "a/", "name of the file"),
    ],
)
def test_duplicate_names_are_refused(tmp_path: Path, entries, culprit: str, reason: str) -> None:
    with pytest.warns(UserWarning) if entries[0][0] == entries[1][0] else _nothing():
        data = make_zip(entries)
    error = refused(data, tmp_path)
    assert error.entry == culprit and reason in error.reason


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def test_encrypted_entries_are_refused(tmp_path: Path) -> None:
    data = patch_central(make_zip([("secret.txt", b"x" * 100)]), 8, "<H", 0x1)
    error = refused(data, tmp_path)
    assert error.entry == "secret.txt" and "encrypted" in error.reason


def test_unsupported_compression_is_refused(tmp_path: Path) -> None:
    data = patch_central(make_zip([("a.txt", b"x" * 100)]), 10, "<H", 99)  # method 99: AES
    error = refused(data, tmp_path)
    assert error.entry == "a.txt" and "unsupported method" in error.reason


def test_a_high_ratio_entry_is_a_bomb(tmp_path: Path) -> None:
    error = refused(make_zip([("zeros.bin", bytes(8 << 20))]), tmp_path)
    assert error.entry == "zeros.bin" and "zip bomb" in error.reason
    small = make_zip([("zeros.bin", bytes(100_000))])  # small entries are never refused for their ratio
    extract_zip(io.BytesIO(small), tmp_path / "ok")


def test_total_size_and_entry_count_are_limited(tmp_path: Path) -> None:
    data = make_zip([("a.txt", b"x" * 60), ("b.txt", b"y" * 60)])
    error = refused(data, tmp_path, limits=Limits(max_bytes=100))
    assert error.entry == "b.txt" and "120 bytes, more than the 100 allowed" in error.reason
    error = refused(data, tmp_path, limits=Limits(max_entries=1))
    assert error.entry is None and "2 entries, more than the 1 allowed" in error.reason


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_IMAGE_MAX_ARCHIVE_BYTES", "1234")
    monkeypatch.setenv("OPSML_IMAGE_MAX_ARCHIVE_ENTRIES", "7")
    assert Limits.from_env() == Limits(max_entries=7, max_bytes=1234, max_ratio=Limits.max_ratio)


def test_an_entry_declaring_less_than_it_holds_is_refused(tmp_path: Path) -> None:
    data = make_zip([("a.txt", b"abc" * 1000)])
    data = patch_central(data, 24, "<I", 10)  # uncompressed size: 10 bytes declared, 3000 inflated
    error = refused(data, tmp_path)
    assert error.entry == "a.txt" and "corrupt" in error.reason


def test_corrupt_data_is_refused_and_removed(tmp_path: Path) -> None:
    data = bytearray(make_zip([("a.txt", b"first"), ("b.txt", bytes(range(256)) * 40)]))
    at = data.index(b"b.txt") + 5 + 20  # inside b.txt's compressed data
    data[at : at + 8] = b"\xff" * 8
    error = refused(bytes(data), tmp_path)
    assert error.entry == "b.txt" and "corrupt" in error.reason


def test_not_a_zip_and_a_busy_destination(tmp_path: Path) -> None:
    error = refused(b"plain text, not a zip", tmp_path)
    assert error.entry is None and "not a readable zip file" in error.reason
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep")
    with pytest.raises(ArchiveError, match="already exists and is not empty"):
        extract_zip(io.BytesIO(make_zip([("a.txt", b"1")])), tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["mine.txt"]
