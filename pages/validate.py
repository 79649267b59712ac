"""Validate: runs by itself when the dataset changed since its last check; issues grouped by code (the first
groups open), broken lines shown raw with an edit or drop, safe fixes previewed; every change undoable."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from opsml_image.usecases import Workspace
from opsml_image.usecases import validate as uc
from pages import _session as session
from pages import _widgets as ui

#: Session state: this session's last verdict (Register reuses it), planned and applied fixes.
VERDICT = "validate_verdict"
PLANS = "validate_plans"
APPLIED = "validate_applied"
ROWS_SHOWN = 500
LINES_SHOWN = 20
OPEN_GROUPS = 3

Undoable = uc.AppliedFix | uc.LineFix


class ProgressBar:
    """A progress bar shown on the first report (a current verdict shows none)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.bar: DeltaGenerator | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = st.progress(0.0, text=self.text)
        self.bar.progress(
            min(1.0, done / total) if total else 1.0, text=f"{self.text} {done:,} of {total:,} bytes"
        )

    def done(self) -> None:
        if self.bar is not None:
            self.bar.empty()


def verdict_now(ws: Workspace, again: bool = False) -> uc.Verdict:
    """This session's verdict while current, else the store's, else a new validation (``again``: always)."""
    bar = ProgressBar("Validating...")
    job = ws.validation  # the background validation started when the folder opened: wait for it, not twice
    while not again and job is not None and not job.wait(0.25):
        bar(*job.progress())
    if again:
        verdict = uc.validate_and_record(ws, bar)
    else:
        verdict = uc.current_verdict(ws, st.session_state.get(VERDICT), bar)
    bar.done()
    st.session_state[VERDICT] = verdict
    return verdict


def applied() -> list[tuple[str, Undoable]]:
    """This session's undoable changes: ``(folder, change)``, oldest first."""
    found: list[tuple[str, Undoable]] = st.session_state.setdefault(APPLIED, [])
    return found


def plans() -> dict[tuple[str, str], list[uc.FixChange]]:
    found: dict[tuple[str, str], list[uc.FixChange]] = st.session_state.setdefault(PLANS, {})
    return found


def rerun_with(message: str, icon: str) -> None:
    st.toast(ui.plain(message), icon=icon)
    st.rerun()


# ------------------------------------------------------------------------------------------ issues


def issue_table(ws: Workspace, code: str, count: int) -> None:
    import pandas as pd

    issues = uc.issues(ws, code, ROWS_SHOWN)
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


def broken_lines(ws: Workspace, code: str, count: int) -> None:
    """Each broken line as raw text, with an editor to rewrite it in place and a button to drop it."""
    for issue in uc.issues(ws, code, LINES_SHOWN):
        line = uc.broken_line(ws, issue)
        where = f"{issue.file}, line {issue.line}"
        if line is None:
            st.text(f"{where}: no longer in the file (validate again).")
            continue
        st.text(f"{where}: {issue.message}")
        st.text(line.text)  # the raw line, as text
        if not uc.can_fix(session.current_user()):
            continue  # reviewers and admins mend lines
        key = f"line:{issue.file}:{line.number}:{hash(line.raw)}"
        with st.form(key, border=False):
            text = st.text_area(
                "The line as it should be (one JSON record)", value=line.text, key=f"{key}:text", height=80
            )
            cols = st.columns([1, 1, 3])
            save = cols[0].form_submit_button("Save line", type="primary", icon=":material/save:")
            drop = cols[1].form_submit_button("Drop line", icon=":material/delete:")
        if save or drop:
            with ui.guard("Saving the line"):
                fix = (
                    uc.mend_line(ws, line, text, user=session.current_user())
                    if save
                    else uc.drop_broken_line(ws, line, user=session.current_user())
                )
                applied().append((str(ws.path), fix))
                rerun_with(f"{where} {fix.action}", ":material/edit_note:")
    if count > LINES_SHOWN:
        st.caption(f"Showing the first {LINES_SHOWN:,} of {count:,} broken lines.")


def fix_panel(ws: Workspace, offer: uc.FixOffer) -> None:
    """Preview a fix (every change it makes), then apply it; applied fixes can be undone below."""
    if not uc.can_fix(session.current_user()):
        st.caption(f"Safe fix: {offer.what}. Reviewers and admins can apply it.")
        return
    planned = plans()
    key = (str(ws.path), offer.code)
    cols = st.columns([1, 2], vertical_alignment="center")
    if cols[0].button(f"Preview: {offer.label}", key=f"preview:{offer.code}", icon=":material/visibility:"):
        planned[key] = uc.preview_fix(ws, offer.code)
    cols[1].caption(f"Safe fix: {offer.what}. You see every change before it is applied, and can undo it.")
    changes = planned.get(key)
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
    actions = st.columns(2)
    if actions[0].button(
        f"Apply {len(changes):,} change(s)",
        key=f"apply:{offer.code}",
        type="primary",
        icon=":material/build:",
    ):
        planned.pop(key, None)
        done = uc.apply_fix(ws, offer, changes, user=session.current_user())
        applied().append((str(ws.path), done))
        rerun_with(f"{offer.label}: {done.changes:,} change(s) applied", ":material/build:")
    if actions[1].button("Cancel", key=f"cancel:{offer.code}"):
        planned.pop(key, None)
        st.rerun()


def undo_list(ws: Workspace) -> None:
    """This session's changes to this folder, newest first, each with Undo."""
    entries = applied()
    mine = [(index, change) for index, (path, change) in enumerate(entries) if path == str(ws.path)]
    if not mine:
        return
    st.subheader("Applied fixes")
    for index, change in reversed(mine):
        cols = st.columns([3, 1], vertical_alignment="center")
        if isinstance(change, uc.AppliedFix):
            cols[0].text(f"{change.offer.label} ({change.offer.code}): {change.changes:,} change(s)")
            key = f"undo:{index}:{change.ids[:1]}"
        else:
            cols[0].text(f"{change.label}, line {change.edit.number} {change.action}")
            key = f"undo:{index}:line{change.edit.number}"
        if cols[1].button("Undo", key=key, icon=":material/undo:"):
            if isinstance(change, uc.AppliedFix):
                uc.undo_fix(ws, change, user=session.current_user())
            else:
                uc.undo_line_fix(ws, change, user=session.current_user())
            entries.pop(index)
            rerun_with("Undone", ":material/undo:")


# ------------------------------------------------------------------------------------------ page


def body(ws: Workspace) -> None:
    st.title("Validate")
    st.write(
        "Checks every record and image of the dataset (pending edits are written to `metadata.jsonl` first). "
        "It runs by itself when the dataset changed since the last check."
    )
    again = st.button("Validate again", icon=":material/refresh:", key="validate_run")
    verdict = verdict_now(ws, again)
    cols = st.columns(4)
    cols[0].metric("Errors", f"{verdict.errors:,}")
    cols[1].metric("Warnings", f"{verdict.warnings:,}")
    if verdict.records is not None and verdict.images_checked is not None:
        cols[2].metric("Records", f"{verdict.records:,}")
        cols[3].metric("Images checked", f"{verdict.images_checked:,}")
    if not verdict.counts:
        st.success("No problems found: the dataset is valid.", icon=":material/check_circle:")
    elif verdict.ok:
        st.success(
            "No errors (only warnings): the dataset can be registered.", icon=":material/check_circle:"
        )
    else:
        st.error(f"{verdict.errors:,} error(s): fix them before registering.", icon=":material/error:")
    previewing = {code for path, code in plans() if path == str(ws.path)}
    for rank, group in enumerate(verdict.groups()):
        code, count = group.code, group.count
        icon = ":material/error:" if group.error else ":material/warning:"
        label = f"**{ui.plain(code)}** · {count:,} {group.severity}(s) · {ui.plain(group.meaning)}"
        expanded = rank < OPEN_GROUPS or code in previewing
        with st.expander(label, icon=icon, expanded=expanded, key=f"validate_expander:{code}:{count}"):
            offer = uc.FIX_OFFERS.get(code)
            if offer is not None:
                with ui.guard("The fix"):
                    fix_panel(ws, offer)
            if code in uc.LINE_CODES:
                with ui.guard("The broken lines"):
                    broken_lines(ws, code, count)
            else:
                issue_table(ws, code, count)
    with (
        st.expander("Clean-up", icon=":material/cleaning_services:", expanded=uc.CLEANUP.code in previewing),
        ui.guard("The fix"),
    ):
        fix_panel(ws, uc.CLEANUP)
    with ui.guard("Undo"):
        undo_list(ws)


ui.run_page(body, "The Validate page")
