"""``keyroute.wire.openai_responses.items``: output items validate with the SDK's types and
read back as the same canonical turn."""

from __future__ import annotations

import pydantic
import pytest
from openai.types.responses import ResponseOutputItem

from keyroute.core.chat import Message, TextPart, ThinkingPart, ToolCall
from keyroute.core.errors import InvalidRequest
from keyroute.core.response import ChatResponse
from keyroute.wire.openai_responses.items import output_items, to_messages

ITEM: pydantic.TypeAdapter[ResponseOutputItem] = pydantic.TypeAdapter(ResponseOutputItem)


def test_output_items_round_trip() -> None:
    resp = ChatResponse(
        id="x",
        model="m",
        created=1,
        text="Hi",
        finish_reason="tool_calls",
        thinking=(
            ThinkingPart(text="hmm", signature="sig"),
            ThinkingPart(text="ZZ", redacted=True),
        ),
        tool_calls=(ToolCall(id="c1", name="f", arguments='{"a":1}'),),
    )
    items = output_items(resp, ["rs_1", "rs_2", "msg_1", "fc_1"])
    for item in items:
        ITEM.validate_python(item)
    assert [i["type"] for i in items] == ["reasoning", "reasoning", "message", "function_call"]
    assert to_messages(items) == [
        Message(
            role="assistant",
            content=(resp.thinking[0], resp.thinking[1], TextPart(text="Hi")),
            tool_calls=resp.tool_calls,
        )
    ]


def test_refusal_item() -> None:
    resp = ChatResponse(
        id="x", model="m", created=1, text=None, refusal="No.", finish_reason="refusal"
    )
    items = output_items(resp, ["msg_1"])
    ITEM.validate_python(items[0])
    assert to_messages(items) == [Message(role="assistant", refusal="No.")]


def test_text_after_calls_starts_a_new_turn() -> None:
    items = [
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"role": "assistant", "content": "Then this."},
    ]
    assert [len(m.tool_calls) for m in to_messages(items)] == [1, 0]


def test_calls_only_and_unsigned_reasoning() -> None:
    resp = ChatResponse(
        id="x",
        model="m",
        created=1,
        text=None,
        finish_reason="tool_calls",
        thinking=(ThinkingPart(text="plan"),),
        tool_calls=(ToolCall(id="c1", name="f", arguments="{}"),),
    )
    items = output_items(resp, ["rs_1", "fc_1"])
    assert [i["type"] for i in items] == ["reasoning", "function_call"]
    assert "encrypted_content" not in items[0]


def test_an_image_data_url_that_is_not_base64_with_a_media_type_is_refused() -> None:
    for url in ("data:xx", "data:image/png,abc", "data:;base64,abc"):
        item = {"role": "user", "content": [{"type": "input_image", "image_url": url}]}
        with pytest.raises(InvalidRequest) as caught:
            to_messages([item])
        assert caught.value.param is not None and caught.value.param.endswith(".image_url")
