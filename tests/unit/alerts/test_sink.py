from __future__ import annotations

from datetime import UTC, datetime

from keyroute.alerts.sink import VelocitySink
from keyroute.core.money import Cost
from keyroute.core.record import RequestRecord
from tests.unit.alerts.harness import USD, Harness

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


def record(paid: int | None, status: int = 200, workspace: str | None = "w1") -> RequestRecord:
    r = RequestRecord(
        request_id="q", started_at=T0, endpoint="/v1/chat/completions", inbound_format="openai"
    )
    r.workspace_id = workspace
    r.api_key_id = "k1"
    r.requested_model = "fast"
    r.served_model = "openai/gpt-4o-mini" if status < 400 else None
    r.end_user = "alice"
    r.status = status
    r.cost = None if paid is None else Cost(list_pico=paid, paid_pico=paid)
    return r


def test_submit_counts_and_wakes_for_expensive_requests() -> None:
    h = Harness(T0)
    sink = VelocitySink(h.engine)
    sink.submit(record(USD // 2))
    assert not h.engine._wake.is_set()
    sink.submit(record(2 * USD))  # above the $1 default: wakes the evaluator for w1
    assert h.engine._wake.is_set() and h.engine._urgent == {"w1"}
    sink.submit(record(None, status=502))  # unknown cost counts as a request, no spend
    sink.submit(record(USD, workspace=None))  # refused before authentication: not counted
    window = h.engine.board.window("w1", T0, 60)
    assert (window.counts.spend_pico, window.counts.requests, window.counts.errors) == (
        USD * 5 // 2,
        3,
        1,
    )
    models = [m for m, _ in h.engine.board.top("w1", "model", T0, 60)]
    assert models == ["openai/gpt-4o-mini", "fast"]
    assert [u for u, _ in h.engine.board.top("w1", "user", T0, 60)] == ["alice"]
