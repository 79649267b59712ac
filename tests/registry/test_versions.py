from __future__ import annotations

import pytest
import semver

from opsml_image.registry import InvalidVersionError, VersionExistsError
from opsml_image.registry.versions import check_new, newest_first, next_version, parse, version_key


def v(text: str) -> semver.Version:
    return semver.Version.parse(text)


@pytest.mark.parametrize("text", ["1.0.0", "v2.3.4", "1.2.0-rc.1", "1.2.0-rc.1+build.5", "0.0.1+sha.abc"])
def test_parse_accepts_semver(text: str) -> None:
    assert str(parse(text)) == text.removeprefix("v")


@pytest.mark.parametrize("text", ["1", "1.0", "1.x.0", "01.0.0", "1.0.0-", "latest", ""])
def test_parse_rejects_non_semver(text: str) -> None:
    with pytest.raises(InvalidVersionError, match="not a semantic version"):
        parse(text)


def test_first_version_is_1_0_0() -> None:
    assert next_version([], "major") == v("1.0.0")
    assert next_version([], "patch") == v("1.0.0")


@pytest.mark.parametrize(
    ("latest", "kind", "expected"),
    [
        ("1.2.3", "major", "2.0.0"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "patch", "1.2.4"),
        ("2.0.0-rc.1", "major", "2.0.0"),
        ("1.3.0-rc.1", "minor", "1.3.0"),
        ("1.3.1-rc.1", "minor", "1.4.0"),
        ("1.3.1-rc.1", "patch", "1.3.1"),
        ("1.3.1+b7", "patch", "1.3.2"),
    ],
)
def test_bumps_from_the_newest(latest: str, kind: str, expected: str) -> None:
    assert next_version([v("0.9.0"), v(latest), v("1.0.0")], kind) == v(expected)  # type: ignore[arg-type]


def test_bad_version_type() -> None:
    with pytest.raises(InvalidVersionError):
        next_version([v("1.0.0")], "huge")  # type: ignore[arg-type]


def test_check_new_refuses_same_precedence() -> None:
    existing = [v("1.0.0"), v("1.1.0+b1")]
    assert check_new(v("1.2.0"), existing) == v("1.2.0")
    with pytest.raises(VersionExistsError, match="already registered"):
        check_new(v("1.0.0"), existing)
    with pytest.raises(VersionExistsError):
        check_new(v("1.1.0+b2"), existing)  # build metadata does not make a version new


def test_version_key_drops_build_only() -> None:
    assert version_key(v("1.2.0-rc.1+b5")) == "1.2.0-rc.1"


def test_newest_first_orders_prereleases_before_release() -> None:
    assert newest_first(["1.0.0", "1.10.0", "1.2.0", "1.10.0-rc.1", "1.9.9"]) == [
        "1.10.0",
        "1.10.0-rc.1",
        "1.9.9",
        "1.2.0",
        "1.0.0",
    ]
