"""Register: a form prefilled from this folder's own last card (required fields marked), blocked while
validation fails, then the card, the version history and the diff to the previous version."""

from __future__ import annotations

import dataclasses
import threading

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from opsml_image.usecases import Workspace, review
from opsml_image.usecases import register as uc
from opsml_image.usecases import validate as checks
from opsml_image.usecases.register import CardDiff, CardRegistry, DataCard
from pages import _session as session
from pages import _widgets as ui

#: Session state: this session's last verdict (shared with Validate) and the card just registered.
VERDICT = "validate_verdict"
RESULT = "register_result"
#: The form's widgets, and the folder whose defaults they hold.
FIELDS = ("reg_name", "reg_team", "reg_contact", "reg_tags", "reg_description", "reg_bump")
FORM_FOLDER = "reg_folder"
STAGES = {"validate": "Validating", "upload": "Uploading", "commit": "Recording the card"}


# ------------------------------------------------------------------------------------------ before


def verdict_now(ws: Workspace) -> checks.Verdict:
    """This session's verdict while current (Validate's), else the store's, else a validation now."""
    bar: DeltaGenerator | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or st.progress(0.0, text="Validating before registration...")
        bar.progress(
            min(1.0, done / total) if total else 1.0, text=f"Validating: {done:,} of {total:,} bytes"
        )

    verdict = checks.current_verdict(ws, st.session_state.get(VERDICT), progress)
    if bar is not None:
        bar.empty()
    st.session_state[VERDICT] = verdict
    return verdict


def blocked(verdict: checks.Verdict) -> None:
    reasons = [
        f"- **{ui.plain(group.code)}**: {group.count:,} × {ui.plain(group.meaning)}"
        for group in verdict.groups()
        if group.error
    ]
    st.error(
        f"Registration is blocked: validation finds {verdict.errors:,} error(s).\n\n" + "\n".join(reasons),
        icon=":material/block:",
    )
    st.page_link(
        ui.PAGE_VALIDATE, label="Review and fix them on the Validate page", icon=":material/fact_check:"
    )


def prefill(ws: Workspace, registry: CardRegistry) -> str | None:
    """Put this folder's defaults in the form's fields (when another folder's, or none, are there); the card
    they come from."""
    defaults = uc.form_defaults(ws, registry)
    state = st.session_state
    if state.get(FORM_FOLDER) != str(ws.path) or any(key not in state for key in FIELDS):
        form = defaults.form
        values = (form.name, form.team, form.contact, form.tags, form.description, form.bump)
        state.update(dict(zip(FIELDS, values, strict=True)))
        state[FORM_FOLDER] = str(ws.path)
    return defaults.source


def form(ws: Workspace, registry: CardRegistry, verdict: checks.Verdict) -> None:
    source = prefill(ws, registry)
    if source is None:
        st.info("Nothing was registered from this folder yet: fill in the card.", icon=":material/info:")
    else:
        st.caption(f"Prefilled from this folder's last card: {ui.plain(source)}")
    with st.form("register"):
        cols = st.columns(2)
        name = cols[0].text_input("Name \\*", key="reg_name")
        team = cols[1].text_input("Team \\*", key="reg_team")
        cols = st.columns(2)
        contact = cols[0].text_input("Contact email \\*", key="reg_contact")
        tags = cols[1].text_input("Tags", help="key=value, comma-separated", key="reg_tags")
        description = st.text_area("Description", height=80, key="reg_description")
        bump = st.radio(
            "Version bump",
            uc.BUMPS,
            horizontal=True,
            help="Which part of the version goes up",
            key="reg_bump",
        )
        approved_only = _approved_choice()
        st.caption("\\* required")
        submitted = st.form_submit_button(
            "Register", type="primary", icon=":material/inventory_2:", disabled=not verdict.ok
        )
    if not submitted:
        return
    values = uc.RegisterForm(name, team, contact, tags, description, bump)
    with ui.guard("Registering"):
        if approved_only:  # a consistent copy of the approved images, with review counts on the card
            card = review.register_approved(ws, registry, values, session.current_user(), progress_bar())
        else:
            card = uc.register(ws, registry, values, progress_bar(), verdict, user=session.current_user())
        st.session_state[RESULT] = (str(ws.path), card)
        st.rerun()


def _approved_choice() -> bool:
    """With accounts: register the approved images only (the default) or the whole folder."""
    if not uc.offers_approved_only(session.current_user()):
        return False
    return st.checkbox(
        "Approved images only",
        value=True,
        key="reg_approved_only",
        help="Register only the images approved in review, as a consistent copy; the card records the "
        "counts per review status and who reviewed",
    )


def progress_bar() -> uc.StageProgress:
    """``progress(stage, done, total)`` drawing one bar; safe to call from the registry's worker threads."""
    bar = st.progress(0.0, text="Registering...")
    ctx = get_script_run_ctx()
    lock = threading.Lock()

    def progress(stage: str, done: int, total: int) -> None:
        if get_script_run_ctx() is None and ctx is not None:
            add_script_run_ctx(threading.current_thread(), ctx)
        with lock:
            fraction = min(1.0, done / total) if total else 1.0
            unit = " bytes" if stage in ("upload", "validate") else ""
            label = STAGES.get(stage, stage.capitalize())
            bar.progress(fraction, text=f"{label}: {done:,} of {total:,}{unit}")

    return progress


# ------------------------------------------------------------------------------------------ after


def show_card(card: DataCard) -> None:
    st.subheader(ui.plain(f"{card.team}/{card.name} v{card.version}"))
    facts = card.facts
    cols = st.columns(4)
    cols[0].metric("Version", str(card.version))
    if facts is not None:
        cols[1].metric("Images", f"{facts.images:,}")
        cols[2].metric("Annotated", f"{facts.annotated_images:,}")
        cols[3].metric("Boxes", f"{facts.boxes:,}")
    st.text(f"uid: {card.uid}")
    st.text(f"storage uri: {card.uri}")
    if facts is not None and facts.splits:
        st.text("Splits: " + " · ".join(f"{k}: {v:,}" for k, v in facts.splits.items()))
    reviewed = {k.removeprefix("review."): v for k, v in card.tags.items() if k.startswith("review.")}
    if reviewed:
        st.text("Review: " + " · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in reviewed.items()))
    if facts is not None and facts.categories:
        st.text(
            "Boxes per category: "
            + " · ".join(f"{c.name if c.name is not None else c.id}: {c.boxes:,}" for c in facts.categories)
        )


def history(registry: CardRegistry, card: DataCard) -> None:
    import pandas as pd

    rows = uc.versions_of(registry, card)
    st.subheader("Version history")
    wanted = ["version", "created_at", "user_email", "images", "boxes", "uid", "uri"]
    frame = pd.DataFrame(rows, columns=wanted)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "created_at": st.column_config.DatetimeColumn("registered", format="YYYY-MM-DD HH:mm:ss z"),
            "user_email": "contact",
        },
    )
    diff = uc.diff_to_previous(registry, card)
    if diff is None:
        st.caption("This is the first version: no diff.")
        return
    st.subheader(f"Changes from v{diff.v1} to v{diff.v2}")
    show_diff(diff)


def show_diff(diff: CardDiff) -> None:
    """Counts of added/removed/changed images, records and files, with the names in expanders."""
    shown = [
        (f.name.replace("_", " ").capitalize(), values)
        for f in dataclasses.fields(diff)
        if isinstance(values := getattr(diff, f.name), list) and values
    ]
    if not shown:
        st.caption("No differences: the data is the same as the previous version.")
        return
    cols = st.columns(4)
    for i, (label, values) in enumerate(shown):
        cols[i % 4].metric(label, f"{len(values):,}")
    for label, values in shown:
        with st.expander(f"{label} ({len(values):,})"):
            st.text("\n".join(map(str, values[:1000])) + ("\n..." if len(values) > 1000 else ""))


# ------------------------------------------------------------------------------------------ page


def body(ws: Workspace) -> None:
    st.title("Register")
    registry = session.registry()  # "The registry cannot be opened: ..." as the page's error
    result = st.session_state.get(RESULT)
    if result is not None and result[0] == str(ws.path):
        card: DataCard = result[1]
        st.success("Registered.", icon=":material/check_circle:")
        show_card(card)
        with ui.guard("The version history"):
            history(registry, card)
        if st.button("Register another version", icon=":material/add:"):
            st.session_state.pop(RESULT, None)
            st.session_state.pop(FORM_FOLDER, None)  # prefilled again, from this card
            st.rerun()
        return
    verdict = verdict_now(ws)
    if not verdict.ok:
        blocked(verdict)
    else:
        note = f" ({verdict.warnings:,} warning(s))" if verdict.warnings else ""
        st.success(f"Validation passes{note}: the dataset can be registered.", icon=":material/check_circle:")
    form(ws, registry, verdict)  # an unreachable registry database: "The registry cannot be read: ..."


ui.run_page(body, "The Register page")
