"""Semantic versions (SemVer 2.0, via the ``semver`` library): parse, bump, order, and the uniqueness key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import semver

from opsml_image.registry.errors import InvalidVersionError, VersionExistsError

__all__ = [
    "VersionType",
    "FIRST_VERSION",
    "parse",
    "next_version",
    "check_new",
    "version_key",
    "newest_first",
]

VersionType = Literal["major", "minor", "patch"]
FIRST_VERSION = semver.Version(1, 0, 0)


def parse(text: str | semver.Version) -> semver.Version:
    """A version from ``MAJOR.MINOR.PATCH[-prerelease][+build]`` (a leading ``v`` is accepted)."""
    if isinstance(text, semver.Version):
        return text
    cleaned = str(text).strip().removeprefix("v")
    try:
        return semver.Version.parse(cleaned)
    except (ValueError, TypeError):
        raise InvalidVersionError(
            f"{text!r} is not a semantic version: use MAJOR.MINOR.PATCH, e.g. 1.2.0 or 1.2.0-rc.1+build.5"
        ) from None


def version_key(version: semver.Version) -> str:
    """The version without build metadata: two versions with the same key have the same precedence."""
    return str(version.replace(build=None))


def next_version(existing: Iterable[semver.Version], version_type: VersionType = "minor") -> semver.Version:
    """The version after the newest of ``existing`` (``1.0.0`` when there is none)."""
    latest = max(existing, default=None)
    if latest is None:
        return FIRST_VERSION
    # A pre-release whose lower parts are zero is finalised, as npm's semver.inc does: 2.0.0-rc.1 -> 2.0.0
    pre = bool(latest.prerelease)
    if version_type == "major":
        return latest.finalize_version() if pre and latest.minor == latest.patch == 0 else latest.bump_major()
    if version_type == "minor":
        return latest.finalize_version() if pre and latest.patch == 0 else latest.bump_minor()
    if version_type == "patch":
        return latest.finalize_version() if pre else latest.bump_patch()
    raise InvalidVersionError(f"version_type must be major, minor or patch, not {version_type!r}")


def check_new(version: semver.Version, existing: Iterable[semver.Version]) -> semver.Version:
    """``version`` if no existing version has its precedence, else :class:`VersionExistsError`."""
    key = version_key(version)
    for other in existing:
        if version_key(other) == key:
            raise VersionExistsError(f"version {version} is already registered (as {other})")
    return version


def newest_first(versions: Iterable[str]) -> list[str]:
    """Version strings sorted by SemVer precedence, newest first."""
    return sorted(versions, key=parse, reverse=True)
