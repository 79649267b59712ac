"""Validation issues: the last validation report's rows, per-image error/warning counts (the ``has_errors``
filter), and re-checking one edited image against the validator's rules.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image import rules
from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.images import ImageInfo, probe
from opsml_image.store.errors import Key
from opsml_image.store.rows import dumps
from opsml_image.store.schema import ISSUE, Scope, read_meta, write_meta
from opsml_image.validation import Issue, ValidationReport

_ISSUE_COLUMNS = "file, line, field, code, message, severity, file_name, split"
_SET_COUNTS = sa.text(
    "UPDATE store_image SET errors = :e, warnings = :w "
    "WHERE dataset = :d AND split_order = :o AND file_name = :n"
)


def store_report(conn: Connection, scope: Scope, report: ValidationReport) -> None:
    """Replace the stored issues and per-image counts with those of ``report``."""
    counts: dict[Key, list[int]] = {}
    for issue in report.issues:
        if issue.file_name is not None and issue.split is not None:
            slot = counts.setdefault((issue.split, issue.file_name), [0, 0])
            slot[0 if issue.severity == "error" else 1] += 1
    d = {"d": scope.dataset}
    conn.execute(sa.text("DELETE FROM store_issue WHERE dataset = :d"), d)
    if report.issues:
        conn.execute(ISSUE.insert(), [_issue_row(scope, i) for i in report.issues])
    conn.execute(
        sa.text(
            "UPDATE store_image SET errors = 0, warnings = 0 "
            "WHERE dataset = :d AND (errors > 0 OR warnings > 0)"
        ),
        d,
    )
    updates = [
        {"e": e, "w": w, "d": scope.dataset, "o": scope.orders.get(k[0], 9), "n": k[1]}
        for k, (e, w) in counts.items()
    ]
    if updates:
        conn.execute(_SET_COUNTS, updates)
    summary = {"at": time.time(), "counts": dict(report.counts), "truncated": report.truncated}
    write_meta(conn, scope, "validated", dumps(summary))


def _issue_row(scope: Scope, i: Issue) -> dict[str, Any]:
    return {"dataset": scope.dataset, "file": i.file, "line": i.line, "field": i.field, "code": i.code,
            "message": i.message, "severity": i.severity, "file_name": i.file_name,
            "split": i.split}  # fmt: skip


def stored(conn: Connection, scope: Scope, code: str | None, offset: int, limit: int) -> list[Issue]:
    """Stored issues (of one code when given), in report order."""
    condition = "dataset = :d AND code = :code" if code else "dataset = :d"
    found = conn.execute(
        sa.text(
            f"SELECT {_ISSUE_COLUMNS} FROM store_issue WHERE {condition} "
            "ORDER BY id LIMIT :limit OFFSET :offset"
        ),
        {"d": scope.dataset, "code": code, "limit": max(0, limit), "offset": max(0, offset)},
    )
    return [Issue(*r) for r in found]


def counts(conn: Connection, scope: Scope) -> dict[str, int]:
    """Stored issues per code, most frequent first."""
    found = conn.execute(
        sa.text(
            "SELECT code, count(*) AS n FROM store_issue WHERE dataset = :d "
            "GROUP BY code ORDER BY n DESC, code"
        ),
        {"d": scope.dataset},
    )
    return {c: int(n) for c, n in found}


def summary(conn: Connection, scope: Scope) -> dict[str, Any] | None:
    """The last stored validation: ``at``, ``counts`` per code, ``truncated``; None before any."""
    text = read_meta(conn, scope, "validated")
    return orjson.loads(text) if text is not None else None


def keys(conn: Connection, scope: Scope, code: str) -> list[Key]:
    """The images the stored issues of ``code`` name, once each, in report order."""
    found = conn.execute(
        sa.text(
            "SELECT split, file_name FROM store_issue WHERE dataset = :d AND code = :code AND "
            "file_name IS NOT NULL AND split IS NOT NULL GROUP BY split, file_name ORDER BY min(id)"
        ),
        {"d": scope.dataset, "code": code},
    )
    return [(r[0], r[1]) for r in found]


def recheck(
    conn: Connection, scope: Scope, dataset: ImageDataset, key: Key, annotation: ImageAnnotation | None
) -> None:
    """Re-validate one edited image (record rules, image file, boxes inside) and replace its stored issues.

    Only after a validation was stored; a removed record leaves the image without issues until the next
    validation (which reports it as unlabeled if its file is still there).
    """
    if read_meta(conn, scope, "validated") is None:
        return
    split, file_name = key
    problems = problems_of(dataset, key, annotation) if annotation is not None else []
    label = dataset.split(split).metadata_label
    conn.execute(
        sa.text("DELETE FROM store_issue WHERE dataset = :d AND split = :split AND file_name = :n"),
        {"d": scope.dataset, "split": split, "n": file_name},
    )
    if problems:
        conn.execute(
            ISSUE.insert(),
            [
                _issue_row(
                    scope, Issue(label, None, p.field, p.code, p.message, p.severity, file_name, split)
                )
                for p in problems
            ],
        )
    errors = sum(p.severity == "error" for p in problems)
    conn.execute(
        _SET_COUNTS,
        {
            "e": errors,
            "w": len(problems) - errors,
            "d": scope.dataset,
            "o": scope.order(split),
            "n": file_name,
        },
    )


def problems_of(dataset: ImageDataset, key: Key, annotation: ImageAnnotation) -> list[rules.Problem]:
    """The validator's rules for one edited image, as :mod:`opsml_image.rules` states them."""
    record = annotation.to_record()
    problems = list(rules.record_problems(record))
    info = probe(dataset.image_path(*key))
    if isinstance(info, rules.Problem):
        problems.append(info)
    elif isinstance(info, ImageInfo) and "objects" in record:
        problems.extend(rules.boxes_outside_problems(record["objects"]["bbox"], info.width, info.height))
    names = dataset.category_names_or_problem()
    if isinstance(names, list) and names:
        problems.extend(rules.unknown_category_problems(record, len(names)))
    return problems
