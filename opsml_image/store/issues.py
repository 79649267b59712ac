"""Validation issues: the last validation report's rows, per-image error/warning counts (the ``has_errors``
filter), and an edited image's issues.

An edit's problems are found before its transaction opens (:func:`problems_of` reads the image file and
``categories.json``); inside it, :func:`replace` only swaps the image's rows. An image's ``errors`` and
``warnings`` counts say whether it has issue rows (both are written together, and a re-index keeps them), so
an edit of an image without issues deletes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
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
from opsml_image.store.schema import IMAGE, ISSUE, Scope, read_meta, write_meta
from opsml_image.validation import Issue, ValidationReport

#: The ``store_meta`` key of the last stored validation (its summary); edits re-check images once it is set.
VALIDATED = "validated"

_FIELDS = ("file", "line", "field", "code", "message", "severity", "file_name", "split")
_COLUMNS = [ISSUE.c[name] for name in _FIELDS]
_SET_COUNTS = (
    IMAGE.update()
    .where(
        IMAGE.c.dataset == sa.bindparam("d"),
        IMAGE.c.split_order == sa.bindparam("o"),
        IMAGE.c.file_name == sa.bindparam("n"),
    )
    .values(errors=sa.bindparam("e"), warnings=sa.bindparam("w"))
)
_DELETE_OF_IMAGE = ISSUE.delete().where(
    ISSUE.c.dataset == sa.bindparam("d"),
    ISSUE.c.split == sa.bindparam("split"),
    ISSUE.c.file_name == sa.bindparam("n"),
)


def store_report(conn: Connection, scope: Scope, report: ValidationReport) -> None:
    """Replace the stored issues and per-image counts with those of ``report``."""
    counts: dict[Key, list[int]] = {}
    for issue in report.issues:
        if issue.file_name is not None and issue.split is not None:
            slot = counts.setdefault((issue.split, issue.file_name), [0, 0])
            slot[0 if issue.severity == "error" else 1] += 1
    conn.execute(ISSUE.delete().where(ISSUE.c.dataset == scope.dataset))
    if report.issues:
        conn.execute(ISSUE.insert(), [_issue_row(scope, i) for i in report.issues])
    conn.execute(
        IMAGE.update()
        .where(IMAGE.c.dataset == scope.dataset, sa.or_(IMAGE.c.errors > 0, IMAGE.c.warnings > 0))
        .values(errors=0, warnings=0)
    )
    updates = [
        {"e": e, "w": w, "d": scope.dataset, "o": scope.orders.get(k[0], 9), "n": k[1]}
        for k, (e, w) in counts.items()
    ]
    if updates:
        conn.execute(_SET_COUNTS, updates)
    summary = {"at": time.time(), "counts": dict(report.counts), "truncated": report.truncated}
    write_meta(conn, scope, VALIDATED, dumps(summary))


def _issue_row(scope: Scope, i: Issue) -> dict[str, Any]:
    return {"dataset": scope.dataset, **{name: getattr(i, name) for name in _FIELDS}}


def stored(conn: Connection, scope: Scope, code: str | None, offset: int, limit: int) -> list[Issue]:
    """Stored issues (of one code when given), in report order."""
    query = sa.select(*_COLUMNS).where(ISSUE.c.dataset == scope.dataset)
    if code:
        query = query.where(ISSUE.c.code == code)
    found = conn.execute(query.order_by(ISSUE.c.id).limit(max(0, limit)).offset(max(0, offset)))
    return [Issue(*r) for r in found]


def counts(conn: Connection, scope: Scope) -> dict[str, int]:
    """Stored issues per code, most frequent first."""
    n = sa.func.count().label("n")
    found = conn.execute(
        sa.select(ISSUE.c.code, n)
        .where(ISSUE.c.dataset == scope.dataset)
        .group_by(ISSUE.c.code)
        .order_by(n.desc(), ISSUE.c.code)
    )
    return {c: int(count) for c, count in found}


def summary(conn: Connection, scope: Scope) -> dict[str, Any] | None:
    """The last stored validation: ``at``, ``counts`` per code, ``truncated``; None before any."""
    text = read_meta(conn, scope, VALIDATED)
    return orjson.loads(text) if text is not None else None


def keys(conn: Connection, scope: Scope, code: str) -> list[Key]:
    """The images the stored issues of ``code`` name, once each, in report order."""
    found = conn.execute(
        sa.select(ISSUE.c.split, ISSUE.c.file_name)
        .where(
            ISSUE.c.dataset == scope.dataset,
            ISSUE.c.code == code,
            ISSUE.c.file_name.is_not(None),
            ISSUE.c.split.is_not(None),
        )
        .group_by(ISSUE.c.split, ISSUE.c.file_name)
        .order_by(sa.func.min(ISSUE.c.id))
    )
    return [(r[0], r[1]) for r in found]


def tally(problems: Sequence[rules.Problem]) -> tuple[int, int]:
    """``(errors, warnings)`` among ``problems``."""
    errors = sum(p.severity == "error" for p in problems)
    return errors, len(problems) - errors


def replace(
    conn: Connection, scope: Scope, key: Key, label: str, problems: Sequence[rules.Problem], had: bool
) -> None:
    """Replace one edited image's issue rows by ``problems`` (``label``: its metadata file as issues name it;
    ``had``: it may have rows now). Its counts are the caller's to write, with its row."""
    split, file_name = key
    if had:
        conn.execute(_DELETE_OF_IMAGE, {"d": scope.dataset, "split": split, "n": file_name})
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


def problems_of(dataset: ImageDataset, key: Key, annotation: ImageAnnotation) -> list[rules.Problem]:
    """The validator's rules for one edited image, as :mod:`opsml_image.rules` states them (reads the image's
    header and ``categories.json``: call it outside any transaction)."""
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
