"""One quality check: every finding of a dataset's annotations and image signatures, as a :class:`Report`.

:func:`check` is pure (annotations and signatures in, a report out); :func:`check_dataset` reads a folder
(its metadata and, through the signature cache, its images). The app's use case feeds :func:`check` from
the working store instead, so it sees edits not yet written back.

**Label-error hints** (model proposals that disagree with a label) have no rule here yet: they need a
model's proposals. They plug in as ``hints``: each is called with the annotations and signatures and
returns findings of its own kind (say ``label.suspect``), which the report, the page, the CLI and
:func:`summary` treat like any other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.quality.balance import MOST, Balance, balance, balance_findings
from opsml_image.quality.boxes import BoxRules, box_findings
from opsml_image.quality.cache import Progress, SignatureCache, Signed
from opsml_image.quality.duplicates import DEFAULT_NEAR, duplicate_findings
from opsml_image.quality.findings import KINDS, Finding, Key, count_kinds, sort_keys
from opsml_image.quality.signatures import Signature
from opsml_image.rules import Problem

__all__ = ["Hints", "Settings", "Report", "check", "check_dataset", "image_files", "image_keys", "summary"]

#: A source of findings from outside the rules (the seam for label-error hints from model proposals).
Hints = Callable[[Mapping[Key, ImageAnnotation], Mapping[Key, Signature]], Iterable[Finding]]
_DUPLICATE_KINDS = frozenset(("leakage", "duplicate.exact", "duplicate.near"))


@dataclass(frozen=True)
class Settings:
    """What a check looks for: the near-duplicate threshold in bits (None: same bytes only), the box rules,
    and the share of boxed images from which an image without boxes is reported."""

    near: int | None = DEFAULT_NEAR
    boxes: BoxRules = field(default_factory=BoxRules)
    most: float = MOST


@dataclass(frozen=True)
class Report:
    """What a check found: findings (kinds in :data:`KINDS` order, then images in store order), the class
    balance, the images checked and those that could not be read (with why), the signatures it used."""

    findings: list[Finding]
    balance: Balance
    images: int
    unreadable: dict[Key, str]
    settings: Settings
    signatures: Mapping[Key, Signature] = field(repr=False, compare=False)
    hashed: int = 0

    def summary(self) -> dict[str, int]:
        """Findings counted by kind, every kind present (what a data card records)."""
        return count_kinds(self.findings)

    def by_kind(self) -> dict[str, list[Finding]]:
        """The findings grouped by kind, kinds with findings only, in :data:`KINDS` order."""
        grouped: dict[str, list[Finding]] = {}
        for finding in self.findings:
            grouped.setdefault(finding.kind, []).append(finding)
        return grouped

    def with_near(self, near: int | None) -> Report:
        """The same report at another near-duplicate threshold (the signatures are reused: no file read)."""
        if near == self.settings.near:
            return self
        kept = [f for f in self.findings if f.kind not in _DUPLICATE_KINDS]
        found = _ordered(kept + duplicate_findings(self.signatures, near))
        return replace(self, findings=found, settings=replace(self.settings, near=near), hashed=0)


def check(
    annotations: Mapping[Key, ImageAnnotation],
    signed: Signed,
    settings: Settings = Settings(),  # noqa: B008 - frozen
    names: Sequence[str] = (),
    hints: Sequence[Hints] = (),
) -> Report:
    """Every finding of the images ``annotations`` (one per image, an empty one for an image without a
    record) and their ``signed`` image files; ``names`` name the classes in messages."""
    signatures = signed.signatures
    found = duplicate_findings(signatures, settings.near)
    for key in sort_keys(annotations):
        sig = signatures.get(key)
        size = (sig.width, sig.height) if sig is not None else None
        found.extend(box_findings(key, annotations[key].boxes, size, settings.boxes, names))
    boxes = {key: annotations[key].boxes for key in annotations}
    counted = balance(boxes)
    found.extend(balance_findings(counted, boxes, names, settings.most))
    for hint in hints:
        found.extend(hint(annotations, signatures))
    return Report(
        findings=_ordered(found),
        balance=counted,
        images=len(annotations),
        unreadable=dict(signed.unreadable),
        settings=settings,
        signatures=signatures,
        hashed=signed.hashed,
    )


def image_keys(dataset: ImageDataset, annotations: Mapping[Key, ImageAnnotation]) -> dict[Key, None]:
    """Every image of a dataset: those with records and those on disk, in store order."""
    return dict.fromkeys(sort_keys({**dict.fromkeys(annotations), **dict.fromkeys(dataset.image_files())}))


def image_files(dataset: ImageDataset, keys: Iterable[Key]) -> list[tuple[Key, str | Path]]:
    """``(key, path)`` of each image (the folder checked in place once, not once per image)."""
    dataset.check_in_place()
    folders = {name: os.fspath(split.directory) for name, split in dataset.splits.items()}
    return [(key, os.path.join(folders[key[0]], key[1])) for key in keys if key[0] in folders]


def check_dataset(
    dataset: ImageDataset,
    settings: Settings = Settings(),  # noqa: B008 - frozen
    *,
    cache: SignatureCache | None = None,
    progress: Progress | None = None,
    hints: Sequence[Hints] = (),
) -> Report:
    """:func:`check` of a dataset folder as it is on disk: its metadata read once, its image files signed
    through ``cache`` (default: the app home's, :class:`SignatureCache`)."""
    records = dataset.annotations()
    keys = image_keys(dataset, records)
    annotations = {key: records.get(key) or ImageAnnotation(file_name=key[1], split=key[0]) for key in keys}
    files = image_files(dataset, keys)
    own = cache is None
    cache = cache or SignatureCache()
    try:
        signed = cache.sign(dataset.image_dir, files, progress)
    finally:
        if own:
            cache.close()
    names = dataset.category_names_or_problem()
    return check(annotations, signed, settings, [] if isinstance(names, Problem) else names, hints)


def summary(
    subject: ImageDataset | Report | Iterable[Finding],
    settings: Settings = Settings(),  # noqa: B008 - frozen
) -> dict[str, int]:
    """Findings counted by kind, every kind present: of a report, of findings, or of a dataset folder
    checked now (its image signatures cached). For a data card's quality summary."""
    if isinstance(subject, ImageDataset):
        subject = check_dataset(subject, settings)
    if isinstance(subject, Report):
        return subject.summary()
    return count_kinds(subject)


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    rank = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(findings, key=lambda f: rank.get(f.kind, len(rank)))  # stable: images stay in order
