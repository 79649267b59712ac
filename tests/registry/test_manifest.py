from __future__ import annotations

import pytest

from opsml_image.registry import IntegrityError
from opsml_image.registry.hashing import hash_bytes
from opsml_image.registry.manifest import Manifest, ManifestEntry

ENTRIES = [ManifestEntry("train/b.jpg", "22", 2), ManifestEntry("a.json", "11", 1)]


def test_round_trip_and_digest() -> None:
    manifest = Manifest.of(ENTRIES)
    assert [e.path for e in manifest.entries] == ["a.json", "train/b.jpg"]
    data = manifest.to_bytes("vision", "signs", "1.0.0")
    again = Manifest.from_bytes(data, hash_bytes(data))
    assert again == manifest
    assert again.content_digest == Manifest.of(reversed(ENTRIES)).content_digest
    assert manifest.total_bytes == 3


def test_content_digest_changes_with_content() -> None:
    changed = [ManifestEntry("train/b.jpg", "23", 2), ENTRIES[1]]
    assert Manifest.of(changed).content_digest != Manifest.of(ENTRIES).content_digest


def test_tampered_manifest_is_refused() -> None:
    data = Manifest.of(ENTRIES).to_bytes("vision", "signs", "1.0.0")
    with pytest.raises(IntegrityError, match="does not match"):
        Manifest.from_bytes(data.replace(b'"22"', b'"33"'), hash_bytes(data))
    with pytest.raises(IntegrityError, match="inconsistent"):
        Manifest.from_bytes(data.replace(b'"22"', b'"33"'))
