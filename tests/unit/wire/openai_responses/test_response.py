"""``keyroute.wire.openai_responses.response``: the Response object, validated by the SDK."""

from __future__ import annotations

import msgspec
from openai.types.responses import Response

from keyroute.core.chat import ToolCall
from keyroute.core.response import ChatResponse, Usage
from keyroute.wire.openai_responses import decode_request, encode_response

REQ = decode_request(
    msgspec.json.encode({"model": "anthropic/claude", "input": "Hi", "metadata": {"k": "v"}})
)
USAGE = Usage(
    input_tokens=10, cache_read_tokens=4, cache_write_tokens=2, output_tokens=7, reasoning_tokens=3
)


def encode(finish: str = "stop") -> Response:
    resp = ChatResponse(
        id="x",
        model="m",
        created=1,
        text="Hello",
        finish_reason=finish,  # type: ignore[arg-type]
        usage=USAGE,
    )
    body = encode_response(
        resp, REQ, response_id="resp_abc", model="anthropic/claude", created_at=5
    )
    return Response.model_validate(body)


def test_completed_with_every_token_class() -> None:
    got = encode()
    assert (got.id, got.status, got.model, got.created_at) == (
        "resp_abc",
        "completed",
        "anthropic/claude",
        5,
    )
    assert got.output_text == "Hello" and got.output[0].id == "msg_abc_0"
    assert got.metadata == {"k": "v"}
    u = got.usage
    assert u is not None
    assert (u.input_tokens, u.input_tokens_details.cached_tokens, u.output_tokens) == (10, 4, 7)
    assert u.input_tokens_details.cache_write_tokens == 2
    assert (u.output_tokens_details.reasoning_tokens, u.total_tokens) == (3, 17)


def test_cut_answers_are_incomplete() -> None:
    got = encode("length")
    assert got.status == "incomplete" and got.incomplete_details is not None
    assert got.incomplete_details.reason == "max_output_tokens"


def test_calls_only() -> None:
    resp = ChatResponse(
        id="x",
        model="m",
        created=1,
        text=None,
        finish_reason="tool_calls",
        tool_calls=(ToolCall(id="c1", name="f", arguments="{}"),),
    )
    body = encode_response(resp, REQ, response_id="resp_abc", model="m", created_at=5)
    got = Response.model_validate(body)
    assert [i.id for i in got.output] == ["fc_abc_0"] and got.usage is None
