"""``keyroute.upstream.demo``: the simulated OpenAI-format upstream of the ``demo`` provider."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keyroute.core.errors import UpstreamRejected
from keyroute.core.stream import (
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.providers.demo import DEMO_BASE_URL, demo_models
from keyroute.upstream.demo import DemoUpstream
from keyroute.wire.openai.errors import decode_error
from keyroute.wire.openai.response import decode_response
from keyroute.wire.openai.stream import OpenAIStreamDecoder
from keyroute.wire.sse import SSEParser

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "metric": {"type": "boolean"},
                "tags": {"type": "array"},
                "extra": {"type": "object"},
                "unit": {"enum": ["celsius", "fahrenheit"]},
                "score": {"type": "number"},
            },
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "clock"}}


def call(model: str = "fast", text: str = "hello there", **fields: Any) -> tuple[int, bytes]:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **fields}
    return DemoUpstream().complete(json.dumps(body).encode())


def completion(model: str = "fast", text: str = "hello there", **fields: Any) -> dict[str, Any]:
    status, raw = call(model, text, **fields)
    assert status == 200
    ChatCompletion.model_validate_json(raw)
    result: dict[str, Any] = json.loads(raw)
    return result


def answer(model: str = "fast", text: str = "hello there", **fields: Any) -> str:
    content = completion(model, text, **fields)["choices"][0]["message"]["content"]
    assert isinstance(content, str)
    return content


@pytest.mark.parametrize(
    ("model", "text", "expected"),
    [
        ("echo", "hello there", "[demo] hello there"),
        ("echo", "  spaced  ", "[demo] spaced"),
        ("echo", "", "[demo] (empty message)"),
    ],
)
def test_echo(model: str, text: str, expected: str) -> None:
    assert answer(model, text) == expected


@pytest.mark.parametrize(
    ("text", "words"), [("one", "1 word."), ("one two three", "3 words."), ("", "0 words.")]
)
def test_fast_counts_words(text: str, words: str) -> None:
    got = answer("fast", text)
    assert got.startswith("[demo] This is a simulated answer")
    assert got.endswith(f"Your message had {words}")


def test_smart_adds_a_hint() -> None:
    assert answer("smart").startswith(answer("fast"))
    assert "keyroute provider-key add" in answer("smart")


def test_answers_are_deterministic() -> None:
    first, second = completion("smart", "q"), completion("smart", "q")
    first.pop("created"), second.pop("created")
    assert first == second
    assert answer("fast", "a") != answer("fast", "b")  # the reference hash differs


def test_the_last_user_message_is_answered() -> None:
    body = {
        "model": "echo",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "second"},
                    {"type": "image_url", "image_url": {"url": "https://e"}},
                ],
            },
        ],
    }
    status, raw = DemoUpstream().complete(json.dumps(body).encode())
    assert (status, json.loads(raw)["choices"][0]["message"]["content"]) == (
        200,
        "[demo] second",
    )


@pytest.mark.parametrize(
    ("field", "limit", "words"), [("max_tokens", 3, 3), ("max_completion_tokens", 2, 2)]
)
def test_output_limit(field: str, limit: int, words: int) -> None:
    assert len(answer("smart", **{field: limit}).split(" ")) == words


def test_usage_is_a_realistic_estimate() -> None:
    got = completion("echo", "abcdefgh")
    # prompt: 8 characters -> 2 tokens, plus 3 per message; "[demo] abcdefgh" -> 4 tokens
    assert got["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 4,
        "total_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert got["model"] == "echo" and got["id"].startswith("chatcmpl-demo-")


@pytest.mark.parametrize(
    ("choice", "tools", "name"),
    [
        ("required", [WEATHER, CLOCK], "weather"),
        ({"type": "function", "function": {"name": "clock"}}, [WEATHER, CLOCK], "clock"),
        ("auto", [WEATHER], None),
        ("none", [WEATHER], None),
        (None, [WEATHER], None),
        ("required", [], None),
        ({"type": "function", "function": {"name": "missing"}}, [WEATHER], None),
    ],
)
def test_forced_tool_call(choice: Any, tools: list[Any], name: str | None) -> None:
    fields: dict[str, Any] = {"tools": tools}
    if choice is not None:
        fields["tool_choice"] = choice
    got = completion("fast", "Paris in two days", **fields)["choices"][0]
    if name is None:
        assert got["finish_reason"] == "stop" and "tool_calls" not in got["message"]
        return
    assert got["finish_reason"] == "tool_calls"
    assert got["message"]["content"] is None
    (tool_call,) = got["message"]["tool_calls"]
    assert tool_call["function"]["name"] == name
    assert tool_call["id"].startswith("call_demo")


def test_tool_arguments_follow_the_schema() -> None:
    got = completion("fast", "Paris in two days", tools=[WEATHER], tool_choice="required")
    arguments = json.loads(got["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {
        "city": "Paris in two days",
        "days": 4,
        "metric": True,
        "tags": [],
        "extra": {},
        "unit": "celsius",
        "score": 4,
    }


def test_tool_without_parameters_gets_empty_arguments() -> None:
    got = completion("fast", tools=[CLOCK], tool_choice="required")
    assert got["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_decodes_with_the_openai_codec() -> None:
    _, raw = call("echo", "hi")
    resp = decode_response(raw, "demo")
    assert (resp.text, resp.finish_reason, resp.usage is not None) == ("[demo] hi", "stop", True)


@pytest.mark.parametrize("model", ["gpt-4o", "demo/fast", "", "FAST"])
def test_unknown_demo_model_is_404(model: str) -> None:
    status, raw = call(model)
    assert status == 404
    body = json.loads(raw)
    assert body["error"]["code"] == "model_not_found"
    assert body["error"]["param"] == "model"
    assert "demo/fast" in body["error"]["message"]
    err = decode_error(status, {}, raw, "demo")
    assert isinstance(err, UpstreamRejected) and err.status_code() == 404


def test_bad_json_is_400() -> None:
    status, raw = DemoUpstream().complete(b"{nope")
    assert status == 400 and json.loads(raw)["error"]["type"] == "invalid_request_error"


def test_model_defaults_to_fast() -> None:
    status, raw = DemoUpstream().complete(b'{"messages": [{"role": "user", "content": "x"}]}')
    assert status == 200 and json.loads(raw)["model"] == "fast"


def stream(include_usage: bool, **fields: Any) -> tuple[list[str], list[StreamEvent]]:
    if include_usage:
        fields["stream_options"] = {"include_usage": True}
    status, raw = call(stream=True, **fields)
    assert status == 200
    parser = SSEParser()
    data = parser.feed(raw)
    assert parser.close() == []
    decoder = OpenAIStreamDecoder("demo")
    events: list[StreamEvent] = []
    for sse in data:
        events.extend(decoder.feed(sse))
    events.extend(decoder.close())
    for sse in data[:-1]:
        ChatCompletionChunk.model_validate_json(sse.data)
    assert data[-1].data == "[DONE]"
    return [sse.data for sse in data], events


@pytest.mark.parametrize("include_usage", [False, True])
def test_stream_text(include_usage: bool) -> None:
    data, events = stream(include_usage)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == answer()
    assert StreamEnd(finish_reason="stop") in events
    usage = [e for e in events if isinstance(e, UsageReport)]
    assert len(usage) == (1 if include_usage else 0)
    if include_usage:
        last = json.loads(data[-2])
        assert last["choices"] == [] and last["usage"]["total_tokens"] > 0


def test_stream_tool_call() -> None:
    _, events = stream(False, tools=[WEATHER], tool_choice="required")
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    args = "".join(e.arguments for e in events if isinstance(e, ToolCallArgs))
    assert [(s.index, s.name) for s in starts] == [(0, "weather")]
    assert json.loads(args)["unit"] == "celsius"
    assert events[-1] == StreamEnd(finish_reason="tool_calls")


def test_models_and_base_url() -> None:
    assert DEMO_BASE_URL.startswith("demo://")
    assert all(m.startswith("demo/") and text for m, text in demo_models().items())
