"""Validate: run the core validation with a progress bar, list issues by code, apply safe fixes (undoable)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from opsml_image.rules import CODES
from pages import _shared as ui

#: Codes with a one-click fix in :mod:`opsml_image.fixes`: the button's label and what it does.
FIXES: dict[str, tuple[str, str]] = {
    "box.outside": ("Clip boxes to their image", "cuts every box that sticks out to the image bounds"),
    "image.missing": ("Drop records of missing files", "removes the records whose image file does not exist"),
}
EMPTY_FIX = (
    "record.empty",
    "Remove empty records",
    "removes records with no caption, no categories and no boxes",
)
ROWS_SHOWN = 500


def run_validation(ws: ui.Workspace) -> None:
    """Validate now (:func:`pages._shared.validate_now`) and keep the summary for this session."""
    report = ui.validate_now(ws)
    st.session_state["validate_summary"] = {
        "records": report.records,
        "images": report.images_checked,
        "errors": report.errors,
        "warnings": report.warnings,
        "counts": dict(report.counts),
        "truncated": report.truncated,
        "token": ui.store_token(ws),
    }


def summary(ws: ui.Workspace) -> dict[str, Any] | None:
    found = st.session_state.get("validate_summary")
    if found is not None and found["token"][0] == str(ws.path):  # a summary of this folder, maybe stale
        return found
    stored = ws.store.validation_summary()  # after a restart: the store's record of the last validation
    if stored is None:
        return None
    truncated = bool(stored.get("truncated"))
    # all issue rows were kept: count them (saves since re-checked their images); else the exact counts
    counts = stored["counts"] if truncated else ws.store.issue_counts()
    return {
        "records": None,
        "images": None,
        "errors": sum(n for c, n in counts.items() if ui.severity(c) == "error"),
        "warnings": sum(n for c, n in counts.items() if ui.severity(c) == "warning"),
        "counts": counts,
        "truncated": truncated,
        "token": None,
    }


def issue_table(ws: ui.Workspace, code: str, count: int) -> None:
    import pandas as pd

    issues = ws.store.issues(code, 0, ROWS_SHOWN)
    rows = [
        {
            "file": i.file,
            "line": i.line,
            "field": i.field,
            "message": i.message,
            "open": ui.annotate_url(i.split, i.file_name) if i.split and i.file_name else None,
        }
        for i in issues
    ]
    frame = pd.DataFrame(rows, columns=["file", "line", "field", "message", "open"])
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height="auto" if len(rows) <= 10 else 400,
        column_config={
            "line": st.column_config.NumberColumn("line", format="%d", width="small"),
            "message": st.column_config.TextColumn("message", width="large"),
            "open": st.column_config.LinkColumn("image", display_text="Annotate", width="small"),
        },
    )
    if count > len(rows):
        st.caption(f"Showing the first {len(rows):,} of {count:,} issues.")


def fix_panel(ws: ui.Workspace, code: str, label: str, what: str) -> None:
    """Preview a fix (what each change does), then apply it; applied fixes can be undone below."""
    from opsml_image import fixes

    plans = st.session_state.setdefault("validate_plans", {})
    cols = st.columns([1, 2], vertical_alignment="center")
    if cols[0].button(f"Preview: {label}", key=f"preview:{code}", icon=":material/visibility:"):
        plans[code] = fixes.plan(ws.store, code)
    cols[1].caption(f"Safe fix: {what}. You see every change before it is applied, and can undo it.")
    changes = plans.get(code)
    if changes is None:
        return
    if not changes:
        st.info("Nothing to fix.")
        return
    import pandas as pd

    st.markdown(f"**Preview: {len(changes):,} change(s)**")
    preview = pd.DataFrame(
        [{"image": f"{c.key[0]}/{c.key[1]}", "change": c.summary} for c in changes[:ROWS_SHOWN]],
        columns=["image", "change"],
    )
    st.dataframe(preview, hide_index=True, width="stretch", height="auto" if len(preview) <= 8 else 300)
    cols = st.columns(2)
    if cols[0].button(
        f"Apply {len(changes):,} change(s)", key=f"apply:{code}", type="primary", icon=":material/build:"
    ):
        ids = fixes.apply(ws.store, changes)
        ws.flusher.notify()
        st.session_state.setdefault("validate_applied", []).append(
            {"code": code, "label": label, "ids": list(ids), "n": len(changes)}
        )
        plans.pop(code, None)
        run_validation(ws)
        st.toast(f"{label}: {len(changes):,} change(s) applied", icon=":material/build:")
        st.rerun()
    if cols[1].button("Cancel", key=f"cancel:{code}"):
        plans.pop(code, None)
        st.rerun()


def applied_fixes(ws: ui.Workspace) -> None:
    applied = st.session_state.get("validate_applied") or []
    if not applied:
        return
    from opsml_image import fixes

    st.subheader("Applied fixes")
    for index, item in reversed(list(enumerate(applied))):
        cols = st.columns([3, 1], vertical_alignment="center")
        cols[0].write(f"**{item['label']}** ({item['code']}): {item['n']:,} change(s)")
        if cols[1].button("Undo", key=f"undo:{index}:{item['ids'][:1]}", icon=":material/undo:"):
            fixes.undo(ws.store, item["ids"])
            ws.flusher.notify()
            applied.pop(index)
            run_validation(ws)
            st.toast(f"Undone: {item['label']}", icon=":material/undo:")
            st.rerun()


def body(ws: ui.Workspace) -> None:
    st.title("Validate")
    st.write("Checks every record and image of the dataset (after saving pending edits to `metadata.jsonl`).")
    if st.button("Run validation", type="primary", icon=":material/play_arrow:", key="validate_run"):
        run_validation(ws)
    result = summary(ws)
    if result is None:
        st.info("Not validated yet: press **Run validation**.", icon=":material/info:")
        return
    cols = st.columns(4)
    cols[0].metric("Errors", f"{result['errors']:,}")
    cols[1].metric("Warnings", f"{result['warnings']:,}")
    if result["records"] is not None:
        cols[2].metric("Records", f"{result['records']:,}")
        cols[3].metric("Images checked", f"{result['images']:,}")
    if result["token"] is not None and result["token"] != ui.store_token(ws):
        st.info(
            "The dataset was edited since this validation: run it again to update.", icon=":material/update:"
        )
    counts: dict[str, int] = result["counts"]
    if not counts:
        st.success("No problems found: the dataset is valid.", icon=":material/check_circle:")
    elif result["errors"] == 0:
        st.success(
            "No errors (only warnings): the dataset can be registered.", icon=":material/check_circle:"
        )
    else:
        st.error(f"{result['errors']:,} error(s): fix them before registering.", icon=":material/error:")
    for code, count in sorted(counts.items(), key=lambda item: (ui.severity(item[0]) != "error", -item[1])):
        severity, meaning = CODES.get(code, ("error", code))
        icon = ":material/error:" if severity == "error" else ":material/warning:"
        label = f"**{code}** · {count:,} {severity}(s) · {meaning}"
        with st.expander(label, icon=icon, key=f"validate_expander:{code}:{count}"):
            if code in FIXES:
                with ui.guard("The fix"):
                    fix_panel(ws, code, *FIXES[code])
            issue_table(ws, code, count)
    previewing = EMPTY_FIX[0] in st.session_state.get("validate_plans", {})
    with (
        st.expander("Clean-up", icon=":material/cleaning_services:", expanded=previewing),
        ui.guard("The fix"),
    ):
        fix_panel(ws, EMPTY_FIX[0], EMPTY_FIX[1], EMPTY_FIX[2])
    with ui.guard("Undo"):
        applied_fixes(ws)


ui.run_page(body, "The Validate page")
