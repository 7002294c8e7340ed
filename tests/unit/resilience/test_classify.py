"""``keyroute.resilience.classify``: the error classification table, row by row."""

from __future__ import annotations

import pytest

from keyroute.core.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.resilience.classify import Decision, classify


def err(
    status: int, cls: type[UpstreamError] = UpstreamError, message: str = "x", **kw: object
) -> UpstreamError:
    return cls(message, provider="p", upstream_status=status, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "decision"),
    [
        (err(0), Decision.RETRY),  # connection refused or reset
        (err(0, UpstreamTimeout), Decision.RETRY),
        (err(429, UpstreamRateLimited, retry_after=2.0), Decision.RETRY),
        (
            err(429, UpstreamRateLimited, upstream_code="insufficient_quota", retryable=False),
            Decision.FAILOVER,
        ),
        (err(429, UpstreamRateLimited, retryable=False), Decision.FAILOVER),  # Gemini daily quota
        (err(500), Decision.RETRY),
        (err(502), Decision.RETRY),
        (err(503), Decision.RETRY),
        (err(504, UpstreamTimeout), Decision.RETRY),
        (err(529), Decision.RETRY),
        (err(408), Decision.RETRY),
        (err(409), Decision.RETRY),
        (err(401, UpstreamRejected), Decision.FAILOVER),
        (err(403, UpstreamRejected), Decision.FAILOVER),
        (err(402, UpstreamRejected, upstream_type="billing_error"), Decision.FAILOVER),
        (err(404, UpstreamRejected), Decision.FAILOVER),
        (err(400, UpstreamRejected, upstream_code="context_length_exceeded"), Decision.CONTEXT),
        (
            err(
                400, UpstreamRejected, message="prompt is too long: 250000 tokens > 200000 maximum"
            ),
            Decision.CONTEXT,
        ),
        (err(413, UpstreamRejected), Decision.CONTEXT),
        (
            err(
                400,
                UpstreamRejected,
                message="You have reached your specified workspace API usage limits; spend limit",
            ),
            Decision.FAILOVER,
        ),
        (err(400, UpstreamRejected, upstream_type="FAILED_PRECONDITION"), Decision.FAILOVER),
        (err(400, UpstreamRejected, message="temperature: must be <= 1"), Decision.FATAL),
        (err(422, UpstreamRejected), Decision.FATAL),
        (err(500, retryable=False), Decision.FAILOVER),  # x-should-retry: false
    ],
)
def test_table(error: UpstreamError, decision: Decision) -> None:
    assert classify(error) is decision
