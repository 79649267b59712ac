"""OpsML Image: label, review and register an image dataset (``streamlit run app.py -- --data-dir DIR``).

Opens the dataset named by ``--data-dir DIR`` (after ``--``) or ``OPSML_IMAGE_DIR``, else a working copy of
the shipped demo dataset in ``<OPSML_IMAGE_HOME>/demo``. The pages are thin views over ``opsml_image``.

This one file is both sides of the app. ``streamlit run app.py`` imports it as the web server (``app``, an
``st.App``): Streamlit behind this app's guards (:mod:`opsml_image.web`: WebSockets and posts from other
origins refused, the session cookie ``HttpOnly`` and set by the server, the client address true). The
Streamlit runtime then runs it as the page script (``__main__``) at every rerun: :func:`pages._main.main`.
"""

from __future__ import annotations

import streamlit as st

if __name__ == "__main__":  # the page script, at every rerun
    from pages._main import main

    main()
else:  # the web server (`streamlit run app.py`, or any ASGI server: `uvicorn app:app`)
    from opsml_image.web import asgi

    app = st.App(__file__, routes=asgi.routes(), middleware=asgi.middleware())
