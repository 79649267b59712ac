"""Register: a form prefilled from the last registration, blocked while validation fails, then the card,
the version history and the diff to the previous version (``CardRegistry("data")``)."""

from __future__ import annotations

import threading
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from opsml_image.rules import CODES
from pages import _shared as ui

BUMPS = ("minor", "major", "patch")


# ------------------------------------------------------------------------------------------ helpers


def as_dict(value: Any) -> dict[str, Any]:
    """A row, card or diff as a plain dict (pydantic models, dataclasses, mappings)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude={"data"})
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    if hasattr(value, "_asdict"):
        return value._asdict()
    return {"value": str(value)}


def parse_tags(text: str) -> dict[str, str]:
    """``key=value, other`` -> ``{"key": "value", "other": ""}``."""
    tags: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        tags[key.strip()] = value.strip()
    return tags


def format_tags(tags: Any) -> str:
    if isinstance(tags, dict):
        return ", ".join(f"{k}={v}" if v else k for k, v in tags.items())
    if isinstance(tags, list | tuple):
        return ", ".join(map(str, tags))
    return str(tags or "")


def last_registration(registry: Any) -> dict[str, Any]:
    """The newest card row of the registry (the form's defaults), or {}."""
    return as_dict(registry.newest_card())


def validation_state(ws: ui.Workspace) -> dict[str, Any]:
    """The dataset's validation result for its current state (validated again when the store changed)."""
    token = ui.store_token(ws)
    cached = st.session_state.get("register_validation")
    if cached and cached["token"] == token:
        return cached
    report = ui.validate_now(ws, "Validating before registration...")
    state = {
        "token": ui.store_token(ws),
        "ok": report.ok,
        "errors": report.errors,
        "warnings": report.warnings,
        "counts": dict(report.counts),
    }
    st.session_state["register_validation"] = state
    return state


def blocked(state: dict[str, Any]) -> None:
    reasons = [
        f"- **{code}**: {count:,} × {CODES[code][1]}"
        for code, count in sorted(state["counts"].items(), key=lambda kv: -kv[1])
        if ui.severity(code) == "error"
    ]
    st.error(
        f"Registration is blocked: validation finds {state['errors']:,} error(s).\n\n" + "\n".join(reasons),
        icon=":material/block:",
    )
    st.page_link(
        ui.PAGE_VALIDATE, label="Review and fix them on the Validate page", icon=":material/fact_check:"
    )


# ------------------------------------------------------------------------------------------ result


def show_card(card: dict[str, Any]) -> None:
    st.subheader(f"{card.get('team')}/{card.get('name')} v{card.get('version')}")
    facts = card.get("facts") or {}
    cols = st.columns(4)
    cols[0].metric("Version", str(card.get("version")))
    cols[1].metric("Images", f"{facts.get('images', 0):,}")
    cols[2].metric("Annotated", f"{facts.get('annotated_images', 0):,}")
    cols[3].metric("Boxes", f"{facts.get('boxes', 0):,}")
    st.markdown(f"**uid** `{card.get('uid')}`  \n**storage uri** `{card.get('uri')}`")
    if facts.get("splits"):
        st.caption("Splits: " + " · ".join(f"{k}: {v:,}" for k, v in facts["splits"].items()))
    if facts.get("categories"):
        st.caption(
            "Boxes per category: "
            + " · ".join(
                f"{c.get('name') or c.get('id')}: {c.get('boxes', 0):,}" for c in facts["categories"]
            )
        )


def history(registry: Any, card: dict[str, Any]) -> None:
    import pandas as pd

    name, team = card.get("name"), card.get("team")
    rows = [as_dict(r) for r in registry.list_cards(name=name, team=team)]
    st.subheader("Version history")
    if not rows:
        st.caption("No versions.")
        return
    wanted = ("version", "created_at", "user_email", "images", "boxes", "uid", "uri")
    frame = pd.DataFrame(rows)[[c for c in wanted if any(c in r for r in rows)]]
    if "created_at" in frame:
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
    versions = [str(r.get("version")) for r in rows if r.get("version")]
    current = str(card.get("version"))
    older = [v for v in versions if v != current]
    if not older:
        st.caption("This is the first version: no diff.")
        return
    from opsml_image.registry.versions import newest_first

    previous = next((v for v in newest_first(older) if _older(v, current)), None)
    if previous is None:
        return
    st.subheader(f"Changes from v{previous} to v{current}")
    diff = as_dict(registry.diff(name, previous, current, team=team))
    show_diff(diff)


def _older(version: str, than: str) -> bool:
    from opsml_image.registry.versions import parse

    return parse(version) < parse(than)


def show_diff(diff: dict[str, Any]) -> None:
    """Counts of added/removed/changed images, records and files, with the names in expanders."""
    lists = {k: v for k, v in diff.items() if isinstance(v, list)}
    if not any(lists.values()):
        st.caption("No differences: the data is the same as the previous version.")
        return
    cols = st.columns(4)
    shown = [(k, v) for k, v in lists.items() if v]
    for i, (key, values) in enumerate(shown):
        cols[i % 4].metric(key.replace("_", " ").capitalize(), f"{len(values):,}")
    for key, values in shown:
        with st.expander(f"{key.replace('_', ' ').capitalize()} ({len(values):,})"):
            st.code(
                "\n".join(map(str, values[:1000])) + ("\n..." if len(values) > 1000 else ""), language=None
            )


# ------------------------------------------------------------------------------------------ page


def register(ws: ui.Workspace, registry: Any, values: dict[str, Any]) -> None:
    from opsml_image.registry import DataCard

    ws.store.flush()
    card = DataCard(
        data=ws.dataset,
        name=values["name"],
        team=values["team"],
        user_email=values["contact"],
        tags=parse_tags(values["tags"]),
        description=values["description"],
    )
    bar = st.progress(0.0, text="Registering...")
    ctx = get_script_run_ctx()
    lock = threading.Lock()
    stages = {"validate": "Checking files", "upload": "Uploading", "commit": "Recording the card"}

    def progress(stage: str, done: int, total: int) -> None:
        """``progress(stage, done, total)``; the registry may call it from its worker threads."""
        if get_script_run_ctx() is None and ctx is not None:
            add_script_run_ctx(threading.current_thread(), ctx)
        with lock:
            label = stages.get(stage, str(stage).capitalize())
            fraction = min(1.0, done / total) if total else 1.0
            unit = " bytes" if stage in ("upload", "download") else ""
            bar.progress(fraction, text=f"{label}: {done:,} of {total:,}{unit}")

    result = registry.register_card(card, version_type=values["bump"], progress=progress)
    bar.progress(1.0, text="Registered")
    st.session_state["register_result"] = as_dict(result if result is not None else card)


def form(ws: ui.Workspace, registry: Any, disabled: bool) -> None:
    last = last_registration(registry)
    default_name = last.get("name") or ws.path.name.lower().replace(" ", "-")
    with st.form("register"):
        cols = st.columns(2)
        name = cols[0].text_input("Name", value=default_name, key="reg_name")
        team = cols[1].text_input("Team", value=last.get("team") or "", key="reg_team")
        cols = st.columns(2)
        contact = cols[0].text_input(
            "Contact email",
            value=last.get("user_email") or last.get("contact") or "",
            key="reg_contact",
        )
        tags = cols[1].text_input(
            "Tags", value=format_tags(last.get("tags")), help="key=value, comma-separated", key="reg_tags"
        )
        description = st.text_area(
            "Description", value=last.get("description") or "", height=80, key="reg_description"
        )
        bump = st.radio(
            "Version bump", BUMPS, horizontal=True, help="Which part of the version goes up", key="reg_bump"
        )
        if last:
            st.caption(
                f"Prefilled from the last registration: {last.get('team')}/{last.get('name')} "
                f"v{last.get('version')}"
            )
        submitted = st.form_submit_button(
            "Register", type="primary", icon=":material/inventory_2:", disabled=disabled
        )
    if submitted:
        missing = [
            label
            for label, value in (("name", name), ("team", team), ("contact email", contact))
            if not value.strip()
        ]
        if missing:
            st.error(f"Fill in the {', '.join(missing)}.")
            return
        values = {
            "name": name,
            "team": team,
            "contact": contact,
            "tags": tags,
            "description": description,
            "bump": bump,
        }
        try:
            register(ws, registry, values)
        except Exception as error:  # noqa: BLE001 - registry errors carry readable messages
            st.error(f"Not registered: {ui.plain(ui.describe(error))}", icon=":material/error:")
            return
        st.rerun()


def body(ws: ui.Workspace) -> None:
    st.title("Register")
    try:
        registry = ui.registry()
    except Exception as error:  # noqa: BLE001
        st.error(f"The registry cannot be opened: {ui.plain(ui.describe(error))}", icon=":material/error:")
        return
    result = st.session_state.get("register_result")
    if result:
        st.success("Registered.", icon=":material/check_circle:")
        show_card(result)
        try:
            history(registry, result)
        except Exception as error:  # noqa: BLE001
            st.error(f"The version history cannot be shown: {ui.plain(ui.describe(error))}")
        if st.button("Register another version", icon=":material/add:"):
            st.session_state.pop("register_result", None)
            st.rerun()
        return
    state = validation_state(ws)
    if not state["ok"]:
        blocked(state)
    else:
        note = f" ({state['warnings']:,} warning(s))" if state["warnings"] else ""
        st.success(f"Validation passes{note}: the dataset can be registered.", icon=":material/check_circle:")
    form(ws, registry, disabled=not state["ok"])


ui.run_page(body, "The Register page")
