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


def test_an_explicit_cache_the_request_created_is_a_write() -> None:
    read = Usage(input_tokens=100, output_tokens=1, cache_read_tokens=90)
    assert cache_status(read, created=True) == "partial"
    assert cache_status(Usage(input_tokens=100), created=True) == "write"
