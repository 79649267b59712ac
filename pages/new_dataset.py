"""New dataset: upload images into a new folder (size and pixel limits checked, non-images refused)."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from opsml_image import config
from opsml_image.uploads import max_upload_bytes
from pages import _shared as ui

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def create(parent: str, name: str, classes: str, files: list) -> None:  # noqa: ANN001
    from opsml_image.dataset import ImageDataset
    from opsml_image.uploads import save_upload

    name = name.strip()
    if not _NAME.match(name):
        st.error("Give the dataset a name of letters, digits, '.', '_' or '-' (at most 80, no spaces).")
        return
    dest = Path(parent.strip() or config.home() / "datasets").expanduser().resolve() / name
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        st.error(f"{dest} already exists and is not empty: choose another name.")
        return
    names = [c.strip() for c in classes.split(",") if c.strip()]
    if len(set(names)) != len(names):
        st.error("A class is listed twice.")
        return
    if not files:
        st.error("Choose at least one image to upload.")
        return
    try:
        dataset = ImageDataset.create(dest)
        if names:
            dataset.set_category_names(names)
    except (OSError, ValueError) as error:
        st.error(f"The folder {dest} cannot be created: {ui.plain(ui.describe(error))}")
        return
    saved, rejected = [], []
    bar = st.progress(0.0, text="Uploading...")
    for i, upload in enumerate(files, 1):
        try:
            path = save_upload(dest, upload.name, upload.getvalue())
            saved.append(path.name)
        except ValueError as error:
            rejected.append(ui.plain(ui.describe(error)))  # the reason names the file
        bar.progress(i / len(files), text=f"{i} of {len(files)} files")
    bar.empty()
    show_refusals(rejected)
    if not saved:
        st.warning(f"No image was accepted; the empty dataset is in {dest}.")
        return
    st.session_state["new_dataset_created"] = {
        "path": str(dest),
        "saved": len(saved),
        "rejected": rejected,
    }
    ui.open_folder(dest)
    ui.reopen_workspace(dest)


def show_refusals(reasons: list[str]) -> None:
    """One error per refused upload (each reason names its file)."""
    for reason in reasons:
        st.error(f"Refused — {reason}", icon=":material/block:")


def body() -> None:
    st.title("New dataset")
    st.write(
        "Upload images into a new dataset folder (Hugging Face imagefolder layout: images plus "
        "`metadata.jsonl`). Every file is checked: non-images, corrupt files and images over the size or "
        "pixel limit are refused with the reason."
    )
    created = st.session_state.get("new_dataset_created")
    if created:
        st.success(
            f"Created {created['path']} with {created['saved']} image(s)"
            + (f" ({len(created['rejected'])} refused)" if created["rejected"] else "")
            + ". It is now the open dataset.",
            icon=":material/check_circle:",
        )
        show_refusals(created["rejected"])
        cols = st.columns(2)
        if cols[0].button("Start annotating", type="primary", icon=":material/edit:"):
            st.session_state.pop("new_dataset_created", None)
            st.switch_page(ui.PAGE_ANNOTATE)
        if cols[1].button("Create another dataset"):
            st.session_state.pop("new_dataset_created", None)
            st.rerun()
        return
    with st.form("new_dataset"):
        name = st.text_input(
            "Dataset name", placeholder="street-scenes", help="The folder's name", key="new_name"
        )
        parent = st.text_input("Create it in", value=str(config.home() / "datasets"), key="new_parent")
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
        create(parent, name, classes, files or [])
        if st.session_state.get("new_dataset_created"):
            st.rerun()


ui.leave_legacy_pages()
with ui.guard("The New dataset page"):
    body()
