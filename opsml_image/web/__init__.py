"""The web server's own guards around Streamlit (``app.py`` serves them through ``st.App``).

Streamlit serves the pages over one WebSocket per browser tab. These guards stand in front of it:

* :mod:`.origins`: a WebSocket or a form post from another origin is refused. Cookies are shared by every
  port of a host, so a page on ``http://127.0.0.1:OTHER/`` carries a signed-in user's cookie; only the
  ``Origin`` check tells it from the app's own page.
* :mod:`.peers`: the client address a request comes from, with ``X-Forwarded-For`` believed only from
  the proxies named in ``OPSML_IMAGE_TRUSTED_PROXIES``.
* :mod:`.handoff` and :mod:`.asgi`: the session cookie is set by the server (``HttpOnly``,
  ``SameSite=Strict``, ``Secure`` over HTTPS), in exchange for a one-time code the page posts after a
  log-in; page scripts never see the session token.

Nothing here imports Streamlit: the routes and middleware are plain Starlette/ASGI.
"""
