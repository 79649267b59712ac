"""CLI ``quality DIR [--json] [--near BITS] [--fail-on KIND ...]`` (mounted by ``opsml_image.cli``): the
Quality page's findings for a folder as it is on disk, its image signatures cached under the app home.

Exit 0, or 1 when a kind named by ``--fail-on`` (a kind such as ``leakage``, or a family such as ``box``)
was found; 2 for bad input (a folder that cannot be opened, an unknown kind).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from opsml_image import quality as lib
from opsml_image.cli.support import fail, open_dataset
from opsml_image.quality.cache import CacheError

__all__ = ["quality"]

#: Findings printed per kind without ``--json``.
SHOWN = 20


def quality(
    data_dir: Annotated[Path, typer.Argument(help="The dataset folder (metadata.jsonl or split folders).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: summary and findings.")
    ] = False,
    near: Annotated[
        int,
        typer.Option(
            min=0, max=64, help="Near-duplicate threshold: perceptual-hash bits (of 64) that may differ."
        ),
    ] = lib.DEFAULT_NEAR,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            metavar="KIND",
            help="Exit 1 when a finding of this kind (or family: box, duplicate...) is found; repeat or "
            "separate with commas.",
        ),
    ] = None,
) -> None:
    """Duplicates, leakage across splits, suspicious boxes and class balance of a dataset folder."""
    wanted = _kinds(fail_on or [])
    dataset = open_dataset(data_dir)
    try:
        report = lib.check_dataset(dataset, lib.Settings(near=near))
    except (CacheError, OSError, ValueError) as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(_as_json(report)))
    else:
        _print(data_dir, report)
    failed = sorted({f.kind for f in report.findings if any(lib.matches(f.kind, k) for k in wanted)})
    if failed and not as_json:
        typer.secho(f"failing on: {', '.join(failed)}", err=True, fg="red")
    raise typer.Exit(1 if failed else 0)


def _kinds(given: list[str]) -> list[str]:
    """The kinds and families of ``--fail-on`` (comma-separated values split); exit 2 on an unknown one."""
    kinds = [k.strip() for value in given for k in value.split(",") if k.strip()]
    known = set(lib.KINDS) | {kind.split(".")[0] for kind in lib.KINDS}
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise fail(f"unknown kind {', '.join(unknown)}; kinds: {', '.join(lib.KINDS)}", 2)
    return kinds


def _as_json(report: lib.Report) -> dict[str, object]:
    return {
        "images": report.images,
        "near": report.settings.near,
        "summary": report.summary(),
        "findings": [f.to_dict() for f in report.findings],
        "unreadable": [
            {"split": s, "file_name": n, "reason": why} for (s, n), why in report.unreadable.items()
        ],
        "balance": {
            "splits": [
                {"split": s.split, "images": s.images, "with_boxes": s.boxed} for s in report.balance.splits
            ],
            "classes": [
                {"split": c.split, "category": c.category, "boxes": c.boxes, "images": c.images}
                for c in report.balance.classes
            ],
        },
    }


def _print(data_dir: Path, report: lib.Report) -> None:
    counts = report.summary()
    unread = f", {len(report.unreadable):,} not read" if report.unreadable else ""
    typer.echo(f"{data_dir}: {report.images:,} images checked ({report.hashed:,} hashed now{unread})")
    for kind, findings in report.by_kind().items():
        severity, meaning = lib.KINDS.get(kind, ("warning", kind))
        color = {"error": "red", "warning": "yellow"}.get(severity)
        typer.secho(f"{kind} ({severity}): {len(findings):,}, {meaning}", fg=color, bold=True)
        for finding in findings[:SHOWN]:
            typer.echo(f"  {finding.message}")
            if len(finding.keys) > 1:
                typer.echo("    " + ", ".join(f"{s}/{n}" for s, n in finding.keys))
            elif finding.keys and not finding.boxes and finding.kind != lib.Kind.IMAGE_UNBOXED:
                typer.echo(f"    {finding.keys[0][0]}/{finding.keys[0][1]}")
            elif finding.boxes:
                typer.echo(f"    in {finding.keys[0][0]}/{finding.keys[0][1]}")
        if len(findings) > SHOWN:
            typer.echo(f"  ... {len(findings) - SHOWN:,} more (--json lists all)")
    total = sum(counts.values())
    typer.echo(
        f"{total:,} finding(s)" + ("" if total else ": no duplicates, no leakage, no suspicious boxes")
    )
