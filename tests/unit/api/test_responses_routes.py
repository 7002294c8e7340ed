"""``keyroute.api.responses_routes``: response ids carry their creation time."""

from __future__ import annotations

import re

from keyroute.api.responses_routes import new_response_id


def test_response_ids_are_unique_and_dated() -> None:
    a, b = new_response_id(1_764_000_000.5), new_response_id(1_764_000_000.5)
    assert a != b
    assert re.fullmatch(r"resp_[0-9a-f]{32}", a)
    assert int(a[5:17], 16) == 1_764_000_000_500
