"""Validation of a dataset folder: every problem collected into one report (file, line, field, code, message).

The validator streams each ``metadata.jsonl`` line by line, checks every record with :mod:`opsml_image.rules`,
reads each referenced image's header once (cached) to check it exists, is a complete image, is not a
decompression bomb, and holds its boxes, then reports images no record mentions. It keeps no records in
memory: only the set of file names seen (to find unlabeled images) and the issues themselves (capped).
"""

from __future__ import annotations

import gc
import os
import posixpath
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from opsml_image import features, rules
from opsml_image.confine import Confinement, survey
from opsml_image.images import ImageInfo, is_image_file, probe
from opsml_image.jsonl import read_lines
from opsml_image.rules import CODES, Problem, Severity

__all__ = [
    "Issue",
    "ValidationReport",
    "validate_lines",
    "validate_file",
    "validate_dataset",
    "ValidationError",
    "DatasetSource",
    "SplitSource",
]

#: ``progress(done, total)``: metadata bytes validated so far, of all splits.
Progress = Callable[[int, int], None]
#: Records per split whose inferred features are compared across splits (Hugging Face samples the first rows).
FEATURE_SAMPLE = 1000


class SplitSource(Protocol):
    """What validation reads of one split (``opsml_image.dataset.Split`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def directory(self) -> Path: ...
    @property
    def prefix(self) -> str: ...
    @property
    def metadata_label(self) -> str: ...
    def read_lines(self, on_progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any]]: ...
    def size(self) -> int: ...


class DatasetSource(Protocol):
    """What validation reads of a dataset (``opsml_image.dataset.ImageDataset`` is one)."""

    @property
    def image_dir(self) -> Path: ...
    @property
    def splits(self) -> Mapping[str, SplitSource]: ...
    def category_names_or_problem(self) -> list[str] | Problem: ...


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where it is (file relative to the dataset root, line, field) and what is wrong."""

    file: str
    line: int | None
    field: str | None
    code: str
    message: str
    severity: Severity
    file_name: str | None = None
    split: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" [{self.field}]" if self.field else ""
        return f"{where}{at} {self.severity} {self.code}: {self.message}"


class ValidationError(ValueError):
    """Raised by strict validation on the first error, and by :meth:`ValidationReport.raise_for_errors`."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        super().__init__(str(issue))


@dataclass
class ValidationReport:
    """All issues of a validation run, with exact counts per code even when the stored list is capped."""

    issues: list[Issue] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    records: int = 0
    images_checked: int = 0
    max_issues: int = 10_000

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.counts.items() if CODES[code][0] == "error")

    @property
    def warnings(self) -> int:
        return sum(n for code, n in self.counts.items() if CODES[code][0] == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.errors == 0

    @property
    def truncated(self) -> bool:
        return sum(self.counts.values()) > len(self.issues)

    def add(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        if len(self.issues) < self.max_issues:
            self.issues.append(issue)

    def by_code(self) -> dict[str, list[Issue]]:
        """Stored issues grouped by code, most frequent code first."""
        groups: dict[str, list[Issue]] = {code: [] for code, _ in self.counts.most_common()}
        for issue in self.issues:
            groups[issue.code].append(issue)
        return groups

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(issue) for issue in self.issues]

    def raise_for_errors(self) -> None:
        """Raise :class:`ValidationError` for the first error, if any."""
        for issue in self.issues:
            if issue.severity == "error":
                raise ValidationError(issue)

    def summary(self) -> str:
        """A short text report: totals, then counts per code."""
        head = f"{self.records:,} records, {self.images_checked:,} images checked: "
        head += f"{self.errors:,} errors, {self.warnings:,} warnings"
        lines = [head]
        for code, count in self.counts.most_common():
            lines.append(f"  {count:>8,}  {code:<26} {CODES[code][1]}")
        return "\n".join(lines)


@dataclass
class _Context:
    """Where the lines come from and what to check them against."""

    report: ValidationReport
    source: str
    split: str | None = None
    image_root: Path | None = None
    prefix: str = ""
    names: list[str] | None = None
    strict: bool = False
    seen: set[str] | None = None
    confine: Confinement | None = None
    signature: Any = "null"
    sampled: int = 0

    def add(
        self, line: int | None, problem: Problem, file_name: str | None = None, file: str | None = None
    ) -> None:
        issue = Issue(
            file or self.source,
            line,
            problem.field,
            problem.code,
            problem.message,
            problem.severity,
            file_name,
            self.split,
        )
        if self.strict and issue.severity == "error":
            raise ValidationError(issue)
        self.report.add(issue)


def validate_lines(lines: Iterable[tuple[int, Any]], ctx: _Context) -> None:
    """Check parsed lines (``(number, value or Problem)``) and add their issues to ``ctx.report``."""
    report, check_record, seen = ctx.report, rules.record_problems, ctx.seen
    sizes: dict[str, ImageInfo | Problem] = {}
    n_names = len(ctx.names) if ctx.names else 0
    for number, obj in lines:
        if type(obj) is Problem:
            ctx.add(number, obj)
            continue
        report.records += 1
        problems = check_record(obj)
        if problems:
            for problem in problems:
                ctx.add(number, problem, obj.get("file_name") if type(obj) is dict else None)
            if type(obj) is not dict or any(p.field == "file_name" for p in problems):
                continue
        if ctx.sampled < FEATURE_SAMPLE:
            ctx.sampled += 1
            ctx.signature = features.merge(ctx.signature, features.kind(obj))
        file_name = obj["file_name"]
        objects = obj.get("objects")
        if n_names:
            for problem in rules.unknown_category_problems(obj, n_names):
                ctx.add(number, problem, file_name)
        if type(objects) is dict and len(objects) > 2:  # per-box values besides bbox and categories
            for problem in rules.null_first_problems(objects):
                ctx.add(number, problem, file_name)
        if seen is None:
            continue
        key = posixpath.normpath(file_name.replace("\\", "/"))
        seen.add(key)
        info = sizes.get(key)
        if info is None:
            assert ctx.image_root is not None  # seen is only set with an image root
            path = ctx.image_root / key
            outside = ctx.confine.outside_problem(path, ctx.prefix + key) if ctx.confine else None
            info = sizes[key] = outside or probe(path)
            report.images_checked += 1
            if type(info) is Problem:
                ctx.add(number, info, file_name)
        boxes_ok = objects is not None and not any(
            p.code.startswith(("box.", "bbox.", "objects.")) for p in problems
        )
        if type(info) is ImageInfo and boxes_ok:
            for problem in rules.boxes_outside_problems(objects["bbox"], info.width, info.height):
                ctx.add(number, problem, file_name)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: bulk parsing makes millions of short-lived containers and no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def validate_file(
    path: str | Path,
    image_root: str | Path | None = None,
    *,
    names: list[str] | None = None,
    strict: bool = False,
    max_issues: int = 10_000,
) -> ValidationReport:
    """Validate one metadata file; with ``image_root`` also check the images its records name."""
    report = ValidationReport(max_issues=max_issues)
    root = Path(image_root) if image_root is not None else None
    ctx = _Context(
        report,
        str(path),
        image_root=root,
        names=names,
        strict=strict,
        seen=set() if root else None,
        confine=Confinement(root) if root else None,
    )
    with _gc_paused():
        validate_lines(read_lines(path), ctx)
    return report


def validate_dataset(
    dataset: DatasetSource,
    *,
    check_images: bool = True,
    strict: bool = False,
    max_issues: int = 10_000,
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate every split of a dataset folder and return the report (strict: raise on the first error)."""
    report = ValidationReport(max_issues=max_issues)
    confine = Confinement(dataset.image_dir)
    # one walk finds links out and special files; without any link no image can lead out: no check per image
    found = survey(dataset.image_dir) if check_images else None
    ctx = _Context(report, "categories.json", strict=strict)
    outside = confine.outside_problem(dataset.image_dir / "categories.json", "categories.json", None)
    read = outside or dataset.category_names_or_problem()
    names = None if isinstance(read, Problem) else read
    if isinstance(read, Problem):
        ctx.add(None, read)
    signatures: dict[str, Any] = {}
    # paths below the root with an issue of their own (the folder walk does not report them again)
    reported = {"categories.json"} if isinstance(read, Problem) and read.code.startswith("file.") else set()
    splits = list(dataset.splits.values())
    total = sum(split.size() for split in splits) or 1
    done = 0
    for split in splits:
        ctx = _Context(
            report,
            split.metadata_label,
            split=split.name,
            image_root=split.directory,
            prefix=split.prefix,
            names=names,
            strict=strict,
            seen=set() if check_images else None,
            confine=confine if found and found.links else None,
        )
        metadata = split.directory / Path(split.metadata_label).name
        outside = confine.outside_problem(metadata, split.metadata_label, None)
        if outside:  # not read: its lines are someone else's file
            ctx.add(None, outside)
            reported.add(split.metadata_label)
            done += split.size()
            continue
        report_bytes = (lambda read, start=done: progress(start + read, total)) if progress else None
        with _gc_paused():
            validate_lines(split.read_lines(on_progress=report_bytes), ctx)
        done += split.size()
        signatures[split.name] = ctx.signature
        if check_images and ctx.seen is not None:
            _report_unlabeled(ctx, split.directory, split.prefix)
            reported.update(split.prefix + key for key in ctx.seen)
    if check_images and any(split.prefix == "" for split in splits):
        _report_split_folders(_Context(report, splits[0].metadata_label, strict=strict), dataset.image_dir)
    if found:
        ctx = _Context(report, "", strict=strict)
        for relative, problem in found.problems.items():
            if relative not in reported:
                ctx.add(None, problem, file=relative)
    if progress:
        progress(total, total)
    first = next(iter(signatures.items()), None)
    for name, signature in signatures.items():
        if first and signature != first[1]:
            detail = _describe_difference(first[1], signature)
            message = f"split {name!r} and split {first[0]!r} infer different features: {detail}"
            ctx.split = name
            ctx.add(None, Problem("split.features", None, message), file=splits[0].metadata_label)
    return report


def _describe_difference(a: Any, b: Any, path: str = "") -> str:
    """Name the first (dotted) key whose inferred feature differs between two record signatures."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted({*a, *b}):
            if a.get(key) != b.get(key):
                return _describe_difference(a.get(key, "absent"), b.get(key, "absent"), f"{path}{key}.")
    return f"{path.rstrip('.')}: {_render(a)} vs {_render(b)}"


def _render(kind: Any) -> str:
    if isinstance(kind, tuple):
        return f"list<{_render(kind[1])}>"
    if isinstance(kind, dict):
        return "{" + ", ".join(f"{k}: {_render(v)}" for k, v in sorted(kind.items())) + "}"
    return str(kind)


#: Folder names Hugging Face ``imagefolder`` takes as splits (datasets.data_files' split keywords).
HF_SPLIT_WORDS = frozenset(
    ("train", "training", "validation", "valid", "val", "dev", "test", "testing", "eval", "evaluation")
)


def _report_split_folders(ctx: _Context, root: Path) -> None:
    """A flat dataset (root metadata.jsonl) with images in split-named subfolders: Hugging Face loads
    those folders as splits and ignores the root metadata, so their images come without boxes."""
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.lower() in HF_SPLIT_WORDS and entry.is_dir(follow_symlinks=False):
            count = sum(1 for _ in iter_image_files(Path(entry.path)))
            if count:
                message = (
                    f"{count:,} images in {entry.name}/ beside a root metadata.jsonl: Hugging Face loads "
                    f"{entry.name}/ as a split and reads them without their records; move the metadata into "
                    "one folder a split, or rename the subfolder"
                )
                ctx.add(None, Problem("layout.hf_split_folders", None, message), file=f"{entry.name}/")


def _report_unlabeled(ctx: _Context, directory: Path, prefix: str) -> None:
    assert ctx.seen is not None
    for relative in iter_image_files(directory):
        if relative not in ctx.seen:
            message = f"{prefix}{relative} has no record in metadata.jsonl"
            ctx.add(
                None, Problem("image.unlabeled", "file_name", message), relative, file=f"{prefix}{relative}"
            )


def iter_image_files(directory: Path) -> Iterator[str]:
    """Every image file below ``directory`` as a relative POSIX path, sorted, hidden ones skipped."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = Path(root).relative_to(directory).as_posix()
        for name in sorted(files):
            if not name.startswith(".") and is_image_file(name):
                yield name if base == "." else f"{base}/{name}"
