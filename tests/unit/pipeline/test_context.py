"""``keyroute.pipeline.context``: overhead is the time not spent waiting on providers."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from keyroute.core.record import RequestRecord
from keyroute.pipeline import RequestContext
from keyroute.principals import Principal

PRINCIPAL = Principal(workspace_id="ws", workspace_name="w", api_key_id="k", api_key_name="n")


def context(started: float) -> RequestContext:
    record = RequestRecord(
        request_id="r", started_at=datetime.now(UTC), endpoint="/", inbound_format="openai"
    )
    return RequestContext(request_id="r", principal=PRINCIPAL, record=record, started=started)


def test_upstream_time_is_not_overhead() -> None:
    ctx = context(time.perf_counter() - 10.0)
    ctx.upstream_seconds = 9.5
    assert 500.0 <= ctx.overhead_ms() < 600.0


def test_overhead_is_never_negative() -> None:
    ctx = context(time.perf_counter())
    ctx.upstream_seconds = 5.0
    assert ctx.overhead_ms() == 0.0
