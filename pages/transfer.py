"""Import / Export: a dataset in any registered format (COCO, YOLO, Pascal VOC, CVAT, Label Studio, Hugging
Face...) into a new folder (a zip accepted, checked entry by entry); the open dataset, or one split, in any of
them as a download. The format choices and each format's options (its flags and choices) come from the
registry of formats. Reports (counts, skipped items with their reasons, what the format lost) are shown as
text and tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from opsml_image.usecases import Workspace
from opsml_image.usecases import transfer as uc
from opsml_image.usecases.transfer import Format, Report, Side
from opsml_image.usecases.workspace import splits as splits_of
from pages import _session as session
from pages import _widgets as ui
from pages._legacy import leave_legacy_pages

#: Session state: the last import (folder, report) and the last export (its choices, the download).
IMPORTED = "transfer_imported"
EXPORTED = "transfer_exported"
ALL_SPLITS = "All splits"


class ProgressBar:
    """A progress bar fed by the use case's ``progress(fraction, text)``."""

    def __init__(self, text: str) -> None:
        self.bar: DeltaGenerator = st.progress(0.0, text=text)

    def __call__(self, fraction: float, text: str) -> None:
        self.bar.progress(min(1.0, max(0.0, fraction)), text=ui.plain(text))

    def done(self) -> None:
        self.bar.empty()


def show_report(report: Report, verb: str) -> None:
    """Counts as text, skipped items (item, reason) and warnings as tables: data is never Markdown."""
    skipped = f", {len(report.skipped):,} skipped" if report.skipped else ""
    st.text(f"{verb} {report.images:,} images and {report.boxes:,} boxes{skipped}.")
    if report.skipped:
        st.caption("Skipped items")
        st.dataframe(
            [{"item": s.item, "reason": s.reason} for s in report.skipped], hide_index=True, width="stretch"
        )
    if report.warnings:
        st.caption("Warnings")
        st.dataframe([{"warning": w} for w in report.warnings], hide_index=True, width="stretch")


def format_choice(side: Side) -> Format[Any]:
    """The format picked among the registered ones this installation converts."""
    specs = {s.key: s for s in uc.available_formats()}
    key = st.selectbox(
        "Format", list(specs), format_func=lambda k: specs[k].label, key=f"transfer_{side}_format"
    )
    return specs[key]


def labelled(labels: dict[str, str]) -> Callable[[Any], str]:
    """How a choice's value is shown: its label, else the value."""
    return lambda value: labels.get(value, str(value))


def option_widgets(fmt: Format[Any], side: Side) -> Any:
    """The format's options of ``side``: a checkbox a flag, a select box a choice; the rest (paths, for the
    command line) keep their defaults."""
    start = fmt.defaults(side)
    chosen: dict[str, Any] = {}
    for field in fmt.fields(side):
        if not field.on_page:
            continue
        key, value = f"transfer_{side}_option:{fmt.key}:{field.name}", getattr(start, field.name)
        if field.type is bool:
            chosen[field.name] = st.checkbox(field.label, value=value, key=key, help=ui.plain(field.help))
            continue
        values = list(field.values)
        chosen[field.name] = st.selectbox(
            field.label,
            values,
            index=values.index(value),
            format_func=labelled(field.choices),
            key=key,
            help=ui.plain(field.help),
        )
    return dataclasses.replace(start, **chosen)


# --------------------------------------------------------------------------------------------- import


def run_import(parent: str, name: str, fmt: str, files: list[uc.Upload], skip: bool, options: Any) -> None:
    bar = ProgressBar("Reading the upload...")
    root = Path(parent.strip()).expanduser() if parent.strip() else session.creation_folder()
    with ui.guard("The import") as shown:
        try:
            report = uc.import_upload(
                root, name, fmt, files, options=options, skip_invalid=skip, progress=bar,
                user=session.current_user(), roots=session.roots(),
            )  # fmt: skip
        finally:
            bar.done()
        st.session_state[IMPORTED] = (str(report.path), report)
    if isinstance(shown.error, uc.FormatInvalid):  # the format refused an item: the rest can be imported
        st.caption(
            "Nothing was written. Tick “Skip invalid items” to import the rest and list what is left out."
        )


def show_imported(path: str, report: Report) -> None:
    st.success(f"Imported into {ui.plain(path)}", icon=":material/check_circle:")
    show_report(report, "Imported")
    cols = st.columns(2)
    if cols[0].button(
        "Open the new dataset", type="primary", icon=":material/folder_open:", key="transfer_import_open"
    ):
        st.session_state.pop(IMPORTED, None)
        session.open_folder(Path(path))
        session.reopen_workspace(Path(path))
        st.switch_page(ui.PAGE_BROWSE)
    if cols[1].button("Import another", key="transfer_import_again"):
        st.session_state.pop(IMPORTED, None)
        st.rerun()


def import_tab() -> None:
    done = st.session_state.get(IMPORTED)
    if done is not None:
        show_imported(*done)
        return
    fmt = format_choice("import")
    st.caption(ui.plain(fmt.takes))
    with st.form("transfer_import"):
        name = st.text_input("New dataset name", placeholder="street-scenes", key="transfer_import_name")
        parent = st.text_input("Create it in", value=str(session.creation_folder()),
                               key="transfer_import_parent", help="A folder inside a data root")  # fmt: skip
        files = st.file_uploader(
            "Files (a zip, or the annotation file and its images)" if fmt.loose else "A zip",
            accept_multiple_files=True,
            key="transfer_import_files",
            help="Up to the server's upload limit (server.maxUploadSize, 200 MB by default) per file.",
        )
        skip = st.checkbox(
            "Skip invalid items",
            key="transfer_import_skip",
            help="Leave out what cannot be imported and list it, instead of stopping at the first problem.",
        )
        options = option_widgets(fmt, "import")
        submitted = st.form_submit_button("Import", type="primary", icon=":material/upload:")
    if submitted:
        run_import(parent, name, fmt.key, list(files or []), skip, options)
        if IMPORTED in st.session_state:
            st.rerun()


# --------------------------------------------------------------------------------------------- export


def export_tab(ws: Workspace) -> None:
    splits = splits_of(ws)
    if not splits:
        st.info("The open dataset has no records yet: nothing to export.")
        return
    st.text(f"Dataset: {ws.path.name}")
    fmt = format_choice("export")
    choice = st.selectbox("Split", [ALL_SPLITS, *splits], key=f"transfer_export_split:{ws.path}")
    split = None if choice == ALL_SPLITS else choice
    skip = st.checkbox(
        "Skip invalid items",
        key="transfer_export_skip",
        help="Leave out what the format cannot hold and list it.",
    )
    options = option_widgets(fmt, "export")
    choices = (str(ws.path), fmt.key, split, skip, options)
    if st.button("Prepare the download", type="primary", icon=":material/archive:", key="transfer_export_go"):
        prepare(ws, choices)
    ready: tuple[tuple[object, ...], uc.Download] | None = st.session_state.get(EXPORTED)
    if ready is not None and ready[0] == choices and ready[1].path.is_file():
        download = ready[1]
        show_report(download.report, "Exported")
        note = download.note  # too large for a browser download: where it is kept instead
        if note is not None:
            st.info(ui.plain(note), icon=":material/info:")
            return
        st.download_button(
            f"Download {download.file_name} ({download.size:,} bytes)",
            data=download.path.read_bytes,  # read when clicked, not on every run
            file_name=download.file_name,
            mime=download.mime,
            icon=":material/download:",
            key="transfer_export_download_file",
            on_click="ignore",
        )


def prepare(ws: Workspace, choices: tuple[str, str, str | None, bool, Any]) -> None:
    _, fmt, split, skip, options = choices
    previous = st.session_state.pop(EXPORTED, None)
    if previous is not None:  # its file is replaced by this one
        previous[1].discard()
    bar = ProgressBar("Exporting...")
    with ui.guard("The export"):
        try:
            download = uc.export_download(ws, fmt, split, options=options, skip_invalid=skip, progress=bar,
                                          user=session.current_user())  # fmt: skip
        finally:
            bar.done()
        st.session_state[EXPORTED] = (choices, download)


# --------------------------------------------------------------------------------------------- page


def body() -> None:
    require_admin: Callable[[], object] | None = getattr(session, "require_admin", None)
    if callable(require_admin):
        require_admin()
    st.title("Import / Export")
    importing, exporting = st.tabs(["Import", "Export"])
    with importing:
        st.write("Make a new dataset folder from annotations in another format.")
        if uc.may_import(session.current_user()):
            import_tab()
        else:
            st.info("Only admins can import datasets.", icon=":material/block:")
    with exporting, ui.guard("The export"):
        export_tab(session.workspace())


leave_legacy_pages()
with ui.guard("The Import / Export page"):
    body()
