"""Which origins may open the app's WebSocket or post to it."""

from __future__ import annotations

import pytest

from opsml_image.web.origins import allowed_origins, origin_allowed


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (None, "127.0.0.1:8501"),  # not a browser page
        ("http://127.0.0.1:8501", "127.0.0.1:8501"),
        ("http://LOCALHOST:8501", "localhost:8501"),
        ("https://labels.example.com", "labels.example.com"),  # default ports on both sides
        ("https://labels.example.com:443", "labels.example.com"),
        ("http://[::1]:8501", "[::1]:8501"),
    ],
)
def test_the_apps_own_origin_is_allowed(origin: str | None, host: str) -> None:
    assert origin_allowed(origin, host)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:9999", "127.0.0.1:8501"),  # another port of the same host: the take-over
        ("http://localhost:8502", "localhost:8501"),
        ("http://evil.test:8501", "127.0.0.1:8501"),
        ("null", "127.0.0.1:8501"),
        ("file://", "127.0.0.1:8501"),
        ("garbage", "127.0.0.1:8501"),
        ("http://127.0.0.1:8501", None),
        ("http://127.0.0.1:8501", "127.0.0.1:notaport"),
    ],
)
def test_other_origins_are_refused(origin: str, host: str | None) -> None:
    assert not origin_allowed(origin, host)


def test_a_configured_origin_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_IMAGE_ALLOWED_ORIGINS", "https://Labels.Example.com, http://proxy.test:8080")
    extra = allowed_origins()
    assert extra == {"https://labels.example.com", "http://proxy.test:8080"}
    assert origin_allowed("https://labels.example.com", "10.0.0.5:8501", extra)
    assert origin_allowed("http://proxy.test:8080", "127.0.0.1:8501", extra)
    assert not origin_allowed("http://proxy.test:8081", "127.0.0.1:8501", extra)
