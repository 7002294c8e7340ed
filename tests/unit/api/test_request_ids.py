"""Request ids are unique, prefixed and safe to echo in a header."""

from __future__ import annotations

from keyroute.api.asgi import incoming_request_id
from keyroute.api.request_ids import new_request_id


def test_request_ids() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        assert value.startswith("req_") and len(value) == 28
        scope = {"headers": [(b"x-request-id", value.encode())]}
        assert incoming_request_id(scope) == value
