"""The in-process publish hook for budget threshold crossings."""

from __future__ import annotations

import logging

import pytest

from keyroute.admission.events import ThresholdCrossed, ThresholdEvents

EVENT = ThresholdCrossed(
    workspace_id="w",
    scope="workspace",
    subject=None,
    period="daily",
    period_id="2026-12-03",
    percent=80,
    cap_pico=100,
    spend_pico=80,
    resets_at=0.0,
    action="block",
)


def test_subscribers_get_every_event_until_they_leave(caplog: pytest.LogCaptureFixture) -> None:
    events = ThresholdEvents()
    seen: list[ThresholdCrossed] = []

    def broken(event: ThresholdCrossed) -> None:
        raise RuntimeError("down")

    events.subscribe(broken)
    leave = events.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="keyroute.admission"):
        events.publish(EVENT)
    assert seen == [EVENT]
    assert "threshold subscriber failed" in caplog.text
    leave()
    events.publish(EVENT)
    assert seen == [EVENT]
