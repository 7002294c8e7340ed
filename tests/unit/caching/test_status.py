"""``keyroute.caching.status.cache_status``: one line per case."""

from __future__ import annotations

import pytest

from keyroute.caching.status import cache_status
from keyroute.core.response import Usage


@pytest.mark.parametrize(
    ("read", "write", "expected"),
    [(0, 0, "miss"), (0, 10, "write"), (10, 0, "hit"), (10, 5, "partial")],
)
def test_cache_status(read: int, write: int, expected: str) -> None:
    usage = Usage(
        input_tokens=100, output_tokens=1, cache_read_tokens=read, cache_write_tokens=write
    )
    assert cache_status(usage) == expected
