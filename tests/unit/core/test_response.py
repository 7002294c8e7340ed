"""``keyroute.core.response``: ``Usage`` derived counts."""

from __future__ import annotations

import pytest

from keyroute.core.response import Usage


@pytest.mark.parametrize(
    ("usage", "total", "uncached"),
    [
        (Usage(), 0, 0),
        (Usage(input_tokens=10, output_tokens=5), 15, 10),
        (Usage(input_tokens=100, output_tokens=1, cache_read_tokens=60), 101, 40),
        (Usage(input_tokens=100, cache_read_tokens=60, cache_write_tokens=30), 100, 10),
        # the 1h writes are a subset of cache_write_tokens: not subtracted twice
        (Usage(input_tokens=100, cache_write_tokens=30, cache_write_1h_tokens=30), 100, 70),
        # reasoning is a subset of output: it does not add to the total
        (Usage(input_tokens=3, output_tokens=10, reasoning_tokens=8), 13, 3),
    ],
)
def test_usage_counts(usage: Usage, total: int, uncached: int) -> None:
    assert (usage.total_tokens, usage.uncached_input_tokens) == (total, uncached)
