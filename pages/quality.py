"""Quality: duplicates, leakage across splits, suspicious boxes and class balance, grouped by kind with
counts and example tiles (the boxes in question drawn) that link to Annotate; the duplicate-box fix
previewed, applied and undone. A thin view over :mod:`opsml_image.usecases.quality` (reviewers and admins:
the role check is there). The check runs in the background; the page follows its progress."""

from __future__ import annotations

from typing import Any

import streamlit as st

from opsml_image.usecases import quality as uc
from opsml_image.usecases.workspace import Workspace
from pages import _gallery
from pages import _session as session
from pages import _widgets as ui

#: Session state: the threshold slider, this session's planned and applied fixes.
NEAR = "quality_near"
PLANS = "quality_plans"
APPLIED = "quality_applied"
TILE = (208, 156)
#: Example tiles per kind, table rows per kind, groups open at first.
TILES_SHOWN = 12
ROWS_SHOWN = 500
OPEN_GROUPS = 3
#: Seconds a run waits for a running check before drawing its progress instead.
WAIT = 3.0
ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}


@st.cache_data(show_spinner=False, max_entries=1024)
def tile(path: str, mtime_ns: int, boxes: tuple[Any, ...], names: tuple[str, ...]) -> bytes:
    """An example's tile (cached by content; ``mtime_ns`` keys a replaced image anew)."""
    return uc.render_example(path, boxes, names, TILE)


@st.cache_data(show_spinner=False, max_entries=32)
def large(path: str, mtime_ns: int, boxes: tuple[Any, ...], names: tuple[str, ...]) -> bytes:
    return uc.render_preview(path, boxes, names)


def applied() -> list[tuple[str, uc.AppliedFix]]:
    """This session's applied fixes: ``(folder, fix)``, oldest first."""
    found: list[tuple[str, uc.AppliedFix]] = st.session_state.setdefault(APPLIED, [])
    return found


def plans() -> dict[str, list[uc.FixChange]]:
    found: dict[str, list[uc.FixChange]] = st.session_state.setdefault(PLANS, {})
    return found


# ------------------------------------------------------------------------------------------ the check


def current_status(ws: Workspace, near: int, again: bool) -> uc.Status:
    """The check's status, after waiting up to :data:`WAIT` s (with a progress bar) for a running one."""
    state = uc.status(ws, user=session.current_user(), near=near, again=again)
    bar = None
    waited = 0.0
    while state.running and waited < WAIT:
        if bar is None:
            bar = st.progress(0.0, text="Checking data quality...")
        bar.progress(state.fraction, text=ui.plain(state.line() or ""))
        uc.wait(ws, 0.25)
        waited += 0.25
        state = uc.status(ws, user=session.current_user(), near=near)
    if bar is not None:
        bar.empty()
    return state


@st.fragment(run_every=1.0)
def progress(ws: Workspace, near: int) -> None:
    """A running check's progress, every second; the page runs again when it ends."""
    state = uc.status(ws, user=session.current_user(), near=near)
    if not state.running:
        st.rerun()
    st.progress(state.fraction, text=ui.plain(state.line() or ""))


# ------------------------------------------------------------------------------------------ findings


def table(findings: list[uc.Finding]) -> None:
    """Every finding of a kind as a row: its message, its images, a link to the first one on Annotate."""
    import pandas as pd

    rows = [
        {
            "finding": f.message,
            "images": ", ".join(f"{split}/{name}" for split, name in f.keys),
            "open": ui.annotate_url(*f.keys[0]) if f.keys else None,
        }
        for f in findings[:ROWS_SHOWN]
    ]
    frame = pd.DataFrame(rows, columns=["finding", "images", "open"])
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height="auto" if len(rows) <= 10 else 400,
        column_config={
            "finding": st.column_config.TextColumn("finding", width="large"),
            "open": st.column_config.LinkColumn("image", display_text="Annotate", width="small"),
        },
    )
    if len(findings) > len(rows):
        st.caption(f"Showing the first {len(rows):,} of {len(findings):,}.")


def tiles(ws: Workspace, kind: str, findings: list[uc.Finding], names: tuple[str, ...]) -> None:
    """Example tiles of a kind's first findings, each linking to its image on Annotate."""
    shown = uc.examples(ws, findings, TILES_SHOWN)
    if not shown:
        return
    made = []
    for example in shown:
        caption = example.caption
        try:
            if example.path is None:
                raise ValueError(example.problem or "the image cannot be shown")
            data = tile(example.path, example.mtime_ns, example.boxes, names)
        except Exception as error:  # noqa: BLE001 - a bad image is one tile's problem, not the page's
            caption = ui.describe_relative(error, ws.path)
            data = uc.render_blank(TILE)
        href = ui.annotate_url(example.split, example.file_name)
        made.append(_gallery.Tile(example.split, example.file_name, data, caption, href))
    action = _gallery.gallery(made, TILE, key=f"quality_tiles:{kind}")
    if action is not None and action.kind == "annotate":
        ui.open_in_annotate(action.split, action.file_name)
    elif action is not None:
        example = next(e for e in shown if e.key == (action.split, action.file_name))
        preview(ws, example, names)


@st.dialog("Preview", width="large")
def preview(ws: Workspace, example: uc.Example, names: tuple[str, ...]) -> None:
    """One example large with the boxes in question, and a way to Annotate."""
    st.text(f"{example.split}/{example.file_name}")
    st.text(example.caption)
    if example.path is not None:
        try:
            st.image(large(example.path, example.mtime_ns, example.boxes, names))
        except Exception as error:  # noqa: BLE001 - shown as a readable message
            st.warning(ui.plain(ui.describe_relative(error, ws.path)), icon=":material/broken_image:")
    if st.button("Annotate this image", icon=":material/edit:", key="quality_preview_annotate"):
        ui.open_in_annotate(example.split, example.file_name)


def fix_panel(ws: Workspace, report: uc.Report) -> None:
    """Preview the duplicate-box fix (every change), then apply it; applied fixes can be undone below."""
    user = session.current_user()
    offer = uc.DROP_DUPLICATES
    if not uc.can_fix(user):
        st.caption(f"Safe fix: {offer.what}. Reviewers and admins can apply it.")
        return
    planned = plans()
    key = str(ws.path)
    cols = st.columns([1, 2], vertical_alignment="center")
    if cols[0].button(f"Preview: {offer.label}", key="quality_preview_fix", icon=":material/visibility:"):
        planned[key] = uc.preview_drop_duplicates(ws, report, user=user)
    cols[1].caption(f"Safe fix: {offer.what}. You see every change before it is applied, and can undo it.")
    changes = planned.get(key)
    if changes is None:
        return
    if not changes:
        st.info("Nothing to fix.")
        return
    import pandas as pd

    st.markdown(f"**Preview: {len(changes):,} change(s)**")
    rows = [{"image": f"{c.key[0]}/{c.key[1]}", "change": c.summary} for c in changes[:ROWS_SHOWN]]
    frame = pd.DataFrame(rows, columns=["image", "change"])
    st.dataframe(frame, hide_index=True, width="stretch", height="auto" if len(rows) <= 8 else 300)
    actions = st.columns(2)
    if actions[0].button(
        f"Apply {len(changes):,} change(s)", key="quality_apply_fix", type="primary", icon=":material/build:"
    ):
        planned.pop(key, None)
        done = uc.apply_drop_duplicates(ws, changes, user=user)
        applied().append((key, done))
        st.toast(f"{offer.label}: {done.changes:,} change(s) applied", icon=":material/build:")
        st.rerun()
    if actions[1].button("Cancel", key="quality_cancel_fix"):
        planned.pop(key, None)
        st.rerun()


def undo_list(ws: Workspace) -> None:
    """This session's fixes to this folder, newest first, each with Undo."""
    entries = applied()
    mine = [(index, fix) for index, (path, fix) in enumerate(entries) if path == str(ws.path)]
    if not mine:
        return
    st.subheader("Applied fixes")
    for index, fix in reversed(mine):
        cols = st.columns([3, 1], vertical_alignment="center")
        cols[0].text(f"{fix.offer.label}: {fix.changes:,} change(s)")
        if cols[1].button("Undo", key=f"quality_undo:{index}:{fix.ids[:1]}", icon=":material/undo:"):
            uc.undo_drop_duplicates(ws, fix, user=session.current_user())
            entries.pop(index)
            st.toast("Undone", icon=":material/undo:")
            st.rerun()


def balance(report: uc.Report, names: tuple[str, ...]) -> None:
    """Boxes and images per class per split, and images with boxes per split."""
    import pandas as pd

    st.subheader("Class balance")
    splits = pd.DataFrame(
        [
            {"split": s.split, "images": s.images, "with boxes": s.boxed,
             "share": f"{s.boxed / s.images:.0%}" if s.images else "-"}
            for s in report.balance.splits
        ],
        columns=["split", "images", "with boxes", "share"],
    )  # fmt: skip
    st.dataframe(splits, hide_index=True, width="content")
    if not report.balance.classes:
        st.caption("No boxes yet.")
        return
    rows = [
        {
            "class": ui.label_of(c.category, list(names)),
            "split": c.split,
            "cell": f"{c.boxes:,} / {c.images:,}",
        }
        for c in report.balance.classes
    ]
    order = [s.split for s in report.balance.splits]
    frame = pd.DataFrame(rows).pivot(index="class", columns="split", values="cell").fillna("0 / 0")
    st.caption("Boxes / images holding them, per class and split.")
    st.dataframe(frame[[s for s in order if s in frame.columns]], width="content")


# ------------------------------------------------------------------------------------------ page


def body(ws: Workspace) -> None:
    st.title("Quality")
    st.write(
        "Duplicates and near-duplicates, the same image in two splits (leakage), suspicious boxes and the "
        "class balance. Each image is read once; a check again reads only the files that changed."
    )
    cols = st.columns([3, 1], vertical_alignment="bottom")
    near = cols[0].slider(
        "Near-duplicate threshold: perceptual-hash bits (of 64) two images may differ by",
        0,
        20,
        uc.DEFAULT_NEAR,
        key=NEAR,
    )
    again = cols[1].button("Check again", icon=":material/refresh:", key="quality_run")
    state = current_status(ws, near, again)
    if state.error:
        st.error(ui.plain(state.error), icon=":material/error:")
    if state.running:
        progress(ws, near)
    report = state.report
    if report is None:
        return
    if state.running:
        st.caption("The findings below are from the last check; a new one is running.")
    names = tuple(uc.class_names(ws))
    counts = report.summary()
    metrics = st.columns(3)
    metrics[0].metric("Images checked", f"{report.images:,}")
    metrics[1].metric("Findings", f"{sum(counts.values()):,}")
    metrics[2].metric("Images not read", f"{len(report.unreadable):,}")
    groups = report.by_kind()
    if not groups:
        st.success(
            "No findings: no duplicates, no leakage, no suspicious boxes.", icon=":material/check_circle:"
        )
    previewing = str(ws.path) in plans()
    for rank, (kind, findings) in enumerate(groups.items()):
        severity, meaning = uc.KINDS.get(kind, ("warning", kind))
        label = f"**{ui.plain(kind)}** · {len(findings):,} · {ui.plain(meaning)}"
        fixing = kind == uc.DROP_DUPLICATES.code
        expanded = rank < OPEN_GROUPS or (fixing and previewing)
        with st.expander(label, icon=ICONS.get(severity), expanded=expanded, key=f"quality_group:{kind}"):
            if fixing:
                with ui.guard("The fix"):
                    fix_panel(ws, report)
            table(findings)
            with ui.guard("The examples"):
                tiles(ws, kind, findings, names)
    if report.unreadable:
        with st.expander(f"Images not read · {len(report.unreadable):,}", icon=":material/broken_image:"):
            st.caption("Validate reports these too; they are left out of the duplicate search.")
            st.text(
                "\n".join(f"{s}/{n}: {why}" for (s, n), why in list(report.unreadable.items())[:ROWS_SHOWN])
            )
    with ui.guard("Undo"):
        undo_list(ws)
    with ui.guard("The class balance"):
        balance(report, names)


ui.run_page(body, "The Quality page")
