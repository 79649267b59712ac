"""One-time codes for the session cookie."""

from __future__ import annotations

from opsml_image.web import handoff


def test_a_code_is_redeemed_once() -> None:
    code = handoff.issue("token-1", 3600)
    assert "token-1" not in code
    found = handoff.redeem(code)
    assert found == handoff.Handoff("token-1", 3600)
    assert handoff.redeem(code) is None


def test_a_stale_or_unknown_code_gives_nothing() -> None:
    code = handoff.issue("token-2", 60, now=1000.0)
    assert handoff.redeem(code, now=1000.0 + handoff.TTL + 1) is None
    assert handoff.redeem("no-such-code") is None
    assert handoff.redeem(None) is None  # type: ignore[arg-type]


def test_the_table_is_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(handoff, "LIMIT", 5)
    codes = [handoff.issue(f"t{i}", 60) for i in range(8)]
    assert handoff.redeem(codes[0]) is None  # the oldest went first
    assert handoff.redeem(codes[-1]) is not None
