"""``keyroute.resilience.backoff``: full jitter under an exponential ceiling; retry-after kept
when short, refused (fail over) when long."""

from __future__ import annotations

import pytest

from keyroute.resilience.backoff import Backoff


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.25), (2, 0.5), (3, 1.0), (5, 4.0), (9, 4.0)]
)
def test_the_ceiling_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert Backoff(rand=lambda: 1.0).delay(attempt) == ceiling
    assert Backoff(rand=lambda: 0.0).delay(attempt) == 0.0


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    backoff = Backoff(max_retry_after=5.0)
    assert backoff.delay(1, retry_after=2.0) == 2.0
    assert backoff.delay(1, retry_after=30.0) is None
