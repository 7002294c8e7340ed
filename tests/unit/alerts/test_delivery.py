from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.alerts.delivery import Channel, Deliverer, event_id
from keyroute.core.alert_store import AlertEventRecord
from tests.unit.alerts.harness import RecordingNotifier
from tests.unit.notifiers.test_webhook import ALERT

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 3, tzinfo=UTC)
CHANNEL = Channel(id="c", name="ops", kind="webhook", target="https://x.test/")


def deliverer(notifier, history: list[AlertEventRecord], delays: list[float], attempts=4):
    async def record(events):
        history.extend(events)

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    return Deliverer(
        {"webhook": notifier},
        record,
        clock=lambda: T0,
        attempts=attempts,
        base_delay=100,
        sleep=sleep,
    )


async def test_gives_up_after_the_last_attempt_with_capped_backoff() -> None:
    history: list[AlertEventRecord] = []
    delays: list[float] = []
    notifier = RecordingNotifier(failures=10)
    assert not await deliverer(notifier, history, delays).deliver(CHANNEL, ALERT)
    assert delays == [100, 200, 300]  # capped at five minutes
    assert [(e.attempt, e.outcome) for e in history] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
        (4, "gave-up"),
    ]
    assert '"error": "HTTP 503: try later"' in history[-1].detail
    assert {e.channel for e in history} == {"ops"}


async def test_a_channel_kind_without_a_notifier_fails_in_history() -> None:
    history: list[AlertEventRecord] = []
    email = Channel(id="c", name="mail", kind="email", target="a@example.com")
    assert not await deliverer(RecordingNotifier(), history, [], attempts=1).deliver(email, ALERT)
    assert "no notifier for email" in history[0].detail


async def test_a_history_failure_does_not_stop_delivery() -> None:
    async def broken(events):
        raise OSError("disk full")

    notifier = RecordingNotifier()
    d = Deliverer({"webhook": notifier}, broken, clock=lambda: T0, attempts=1)
    assert await d.deliver(CHANNEL, ALERT)
    assert notifier.sent == [ALERT]


def test_event_ids_sort_as_made() -> None:
    ids = [event_id(T0) for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
