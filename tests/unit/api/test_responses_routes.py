"""``keyroute.api.responses_routes``: response ids carry their creation time."""

from __future__ import annotations

import re

import msgspec
import pytest
from openai.types.responses import ResponseItemList

from keyroute.api.responses_routes import (
    _listing,
    input_items,
    new_response_id,
    response_age,
    shown,
)
from keyroute.core.errors import InvalidRequest
from keyroute.wire.openai_responses import decode_request


def test_response_ids_are_unique_and_dated() -> None:
    a, b = new_response_id(1_764_000_000.5), new_response_id(1_764_000_000.5)
    assert a != b
    assert re.fullmatch(r"resp_[0-9a-f]{32}", a)
    assert int(a[5:17], 16) == 1_764_000_000_500


def test_response_age() -> None:
    rid = new_response_id(100.0)
    assert response_age(rid, 103.5) == pytest.approx(3.5)
    assert response_age("resp_short", 1.0) is None
    assert response_age("resp_" + "z" * 32, 1.0) is None


def test_input_items_get_ids_and_list_shapes() -> None:
    req = decode_request(
        msgspec.json.encode(
            {
                "model": "m",
                "input": [
                    {"role": "user", "content": "Hi"},
                    {"type": "function_call_output", "call_id": "c", "output": "1", "id": "mine"},
                ],
            }
        )
    )
    items = input_items(req, "resp_abc")
    assert items[0] == {
        "type": "message",
        "id": "msg_abc_in0",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hi"}],
    }
    assert items[1]["id"] == "mine"  # the client's own id is kept
    page = ResponseItemList.model_validate(_listing(items, {"query_string": b"order=asc&limit=1"}))
    assert [i.id for i in page.data] == ["msg_abc_in0"] and page.has_more


@pytest.mark.parametrize("query", [b"order=up", b"limit=0", b"limit=x", b"after=nope"])
def test_listing_refuses_bad_queries(query: bytes) -> None:
    with pytest.raises(InvalidRequest):
        _listing([], {"query_string": query})


def test_an_id_quoted_in_an_error_is_cut() -> None:
    assert shown("resp_1") == "resp_1"
    assert shown("x" * 100_000) == "x" * 64 + "..."
