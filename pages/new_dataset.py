"""New dataset: upload images into a new folder (size and pixel limits checked, non-images refused)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from opsml_image.usecases.create import Created, Upload, create_dataset, max_upload_bytes
from pages import _session as session
from pages import _widgets as ui
from pages._legacy import leave_legacy_pages

#: Session state: the dataset just created (shown until the person moves on).
CREATED = "new_dataset_created"


def show_refusals(reasons: list[str]) -> None:
    """One error per refused upload (each reason names its file)."""
    for reason in reasons:
        st.error(f"Refused — {ui.plain(reason)}", icon=":material/block:")


def create(parent: str, name: str, classes: str, files: list[Upload]) -> None:
    bar = st.progress(0.0, text="Uploading...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{done:,} of {total:,} files")

    created: Created | None = None
    with ui.guard("Creating the dataset"):
        folder = Path(parent.strip()) if parent.strip() else session.creation_folder()
        created = create_dataset(
            folder, name, files, classes, progress, user=session.current_user(), roots=session.roots()
        )
    bar.empty()
    if created is None:
        return
    if not created.saved:
        show_refusals(created.refused)
        st.warning(f"No image was accepted; the empty dataset is in {ui.plain(created.path)}.")
        return
    st.session_state[CREATED] = created
    session.open_folder(created.path)
    session.reopen_workspace(created.path)
    st.rerun()


def show_created(created: Created) -> None:
    refused = f" ({len(created.refused)} refused)" if created.refused else ""
    st.success(
        f"Created {ui.plain(created.path)} with {len(created.saved)} image(s){refused}. "
        "It is now the open dataset.",
        icon=":material/check_circle:",
    )
    show_refusals(created.refused)
    cols = st.columns(2)
    if cols[0].button("Start annotating", type="primary", icon=":material/edit:"):
        st.session_state.pop(CREATED, None)
        st.switch_page(ui.PAGE_ANNOTATE)
    if cols[1].button("Create another dataset"):
        st.session_state.pop(CREATED, None)
        st.rerun()


def body() -> None:
    st.title("New dataset")
    st.write(
        "Upload images into a new dataset folder (Hugging Face imagefolder layout: images plus "
        "`metadata.jsonl`). Every file is checked: non-images, corrupt files and images over the size or "
        "pixel limit are refused with the reason."
    )
    created = st.session_state.get(CREATED)
    if created is not None:
        show_created(created)
        return
    with st.form("new_dataset"):
        name = st.text_input(
            "Dataset name", placeholder="street-scenes", help="The folder's name", key="new_name"
        )
        parent = st.text_input("Create it in", value=str(session.creation_folder()), key="new_parent",
                               help="A folder inside a data root")  # fmt: skip
        classes = st.text_input(
            "Classes (comma-separated, optional)", placeholder="car, house, tree", key="new_classes"
        )
        files = st.file_uploader(
            "Images",
            accept_multiple_files=True,
            help="JPEG, PNG, WebP, ...",
            key="new_files",
            # the browser refuses a file over the limit before sending it; save_upload checks again
            max_upload_size=max(1, -(-max_upload_bytes() // (1024 * 1024))),
        )
        submitted = st.form_submit_button("Create dataset", type="primary", icon=":material/add:")
    if submitted:
        create(parent, name, classes, list(files or []))


leave_legacy_pages()
with ui.guard("The New dataset page"):
    body()
