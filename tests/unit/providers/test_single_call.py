"""``keyroute.providers.single_call``: the first tool call only, for providers without a switch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyroute.core.chat import ChatRequest, Message, ToolCall, ToolSpec
from keyroute.core.response import ChatResponse
from keyroute.core.stream import TextDelta, ToolCallArgs, ToolCallStart
from keyroute.providers.anthropic import AnthropicProvider
from keyroute.providers.gemini import GeminiProvider
from keyroute.providers.single_call import FirstCallDecoder, first_call_only, needs_single_call
from keyroute.wire.sse import SSEEvent

CALLS = (ToolCall(id="a", name="f", arguments="{}"), ToolCall(id="b", name="g", arguments="{}"))


def req(parallel: bool | None, tools: bool = True) -> ChatRequest:
    return ChatRequest(
        model="m",
        messages=(Message(role="user"),),
        tools=(ToolSpec(name="f"),) if tools else (),
        parallel_tool_calls=parallel,
    )


@pytest.mark.parametrize(
    ("request_", "provider", "needed"),
    [
        (req(False), GeminiProvider(), True),
        (req(None), GeminiProvider(), False),
        (req(True), GeminiProvider(), False),
        (req(False, tools=False), GeminiProvider(), False),
        (req(False), AnthropicProvider(), False),
    ],
)
def test_needs_single_call(request_: ChatRequest, provider: Any, needed: bool) -> None:
    assert needs_single_call(request_, provider) is needed


@pytest.mark.parametrize("calls", [CALLS, CALLS[:1], ()])
def test_first_call_only(calls: tuple[ToolCall, ...]) -> None:
    resp = ChatResponse(
        id="r", model="m", created=1, text=None, tool_calls=calls, finish_reason="tool_calls"
    )
    assert first_call_only(resp).tool_calls == calls[:1]


def sse(*parts: dict[str, Any], finish: str | None = None) -> SSEEvent:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return SSEEvent(data=json.dumps({"candidates": [candidate]}))


def test_a_stream_keeps_the_first_call_and_everything_else() -> None:
    decoder = FirstCallDecoder(GeminiProvider().stream_decoder())
    events = decoder.feed(sse({"text": "Checking."}))
    call = {"functionCall": {"id": "a", "name": "f", "args": {"x": 1}}}
    second = {"functionCall": {"id": "b", "name": "g", "args": {}}}
    events += decoder.feed(sse(call, second, finish="STOP"))
    events += decoder.close()
    kinds = [type(e) for e in events if isinstance(e, TextDelta | ToolCallStart | ToolCallArgs)]
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [s.id for s in starts] == ["a"]
    assert kinds[0] is TextDelta and ToolCallArgs in kinds
    assert all(e.index == starts[0].index for e in events if isinstance(e, ToolCallArgs))
