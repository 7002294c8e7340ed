"""``RequestContext``: one request's state as it runs, and the ``RequestRecord`` it fills.

The HTTP frame creates the record before authentication and the context after it; stages read
the context and write what they learn into ``ctx.record``. ``upstream_seconds`` accumulates the
time spent waiting on providers so the frame can report keyroute's own overhead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from keyroute.core.record import RequestRecord
from keyroute.principals import Principal


@dataclass(slots=True)
class RequestContext:
    request_id: str
    principal: Principal
    record: RequestRecord
    started: float = field(default_factory=time.perf_counter)
    upstream_seconds: float = 0.0
    model_id: str = ""  # the served model id as the client sees it, once routed
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    fallbacks: tuple[str, ...] = ()  # the request's own fallback models (x-keyroute-fallback)
    downgrade_to: str | None = None  # a budget downgrade in force: the model it allows
    refusal_fallback: bool = False  # the fallback policy fails a content refusal over too
    cache_control: str | None = None  # the client's Cache-Control header (the response cache)
    limits_told: bool = False  # admission put the quota and rate-limit headers in the answer

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_seconds) * 1000.0)
