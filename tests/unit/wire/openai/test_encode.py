"""``keyroute.wire.openai.encode.encode_request``: canonical -> OpenAI chat-completions body."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    ResponseFormat,
    Role,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from keyroute.core.errors import UnsupportedFeature
from keyroute.wire.openai._schema import KNOWN_FIELDS
from keyroute.wire.openai.encode import encode_request
from keyroute.wire.openai.request import decode_request


def user(*parts: ContentPart, name: str | None = None) -> Message:
    return Message(role="user", content=parts, name=name)


def say(role: Role, content: str) -> Message:
    return Message(role=role, content=(TextPart(text=content),))


HI = say("user", "hi")
CALL = ToolCall(id="call_1", name="f", arguments='{"a":1}')
WIRE_CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}


def request(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="openai/gpt-4o", messages=messages or (HI,), **fields)


def check(req: ChatRequest, expected: dict[str, Any], **options: Any) -> None:
    assert encode_request(req, "gpt-4o", provider="openai", **options) == {
        "model": "gpt-4o",
        **expected,
    }


def msgs(*wire: dict[str, Any]) -> dict[str, Any]:
    return {"messages": list(wire)}


WIRE_HI = {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        (request(), msgs(WIRE_HI)),
        (request(max_tokens=5), {**msgs(WIRE_HI), "max_completion_tokens": 5}),
        (
            request(temperature=0.0, top_p=1.0, seed=7),
            {**msgs(WIRE_HI), "temperature": 0.0, "top_p": 1.0, "seed": 7},
        ),
        (
            request(presence_penalty=0.1, frequency_penalty=-0.2, user="u"),
            {**msgs(WIRE_HI), "presence_penalty": 0.1, "frequency_penalty": -0.2, "user": "u"},
        ),
        (
            request(reasoning_effort="low", parallel_tool_calls=False, metadata={"k": "v"}),
            {
                **msgs(WIRE_HI),
                "reasoning_effort": "low",
                "parallel_tool_calls": False,
                "metadata": {"k": "v"},
            },
        ),
        (request(stop=("a", "b")), {**msgs(WIRE_HI), "stop": ["a", "b"]}),
        # usage is always asked of the upstream: the gateway meters every stream
        (
            request(stream=True),
            {**msgs(WIRE_HI), "stream": True, "stream_options": {"include_usage": True}},
        ),
        (
            request(stream=True, include_usage=True),
            {**msgs(WIRE_HI), "stream": True, "stream_options": {"include_usage": True}},
        ),
        (request(include_usage=True), msgs(WIRE_HI)),
        (
            request(tools=(ToolSpec(name="f"),)),
            {
                **msgs(WIRE_HI),
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            },
        ),
        (
            request(
                tools=(
                    ToolSpec(
                        name="f",
                        description="d",
                        strict=False,
                        parameters={"type": "object"},
                        cache_control=CacheControl(),
                    ),
                )
            ),
            {
                **msgs(WIRE_HI),
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {"type": "object"},
                            "description": "d",
                            "strict": False,
                        },
                    }
                ],
            },
        ),
        (request(tool_choice=ToolChoice(mode="auto")), {**msgs(WIRE_HI), "tool_choice": "auto"}),
        (request(tool_choice=ToolChoice(mode="none")), {**msgs(WIRE_HI), "tool_choice": "none"}),
        (
            request(tool_choice=ToolChoice(mode="required")),
            {**msgs(WIRE_HI), "tool_choice": "required"},
        ),
        (
            request(tool_choice=ToolChoice(mode="tool", name="f")),
            {**msgs(WIRE_HI), "tool_choice": {"type": "function", "function": {"name": "f"}}},
        ),
        (
            request(response_format=ResponseFormat(type="text")),
            {**msgs(WIRE_HI), "response_format": {"type": "text"}},
        ),
        (
            request(response_format=ResponseFormat(type="json_object")),
            {**msgs(WIRE_HI), "response_format": {"type": "json_object"}},
        ),
        (
            request(response_format=ResponseFormat(type="json_schema")),
            {
                **msgs(WIRE_HI),
                "response_format": {"type": "json_schema", "json_schema": {"name": "response"}},
            },
        ),
        (
            request(
                response_format=ResponseFormat(
                    type="json_schema", name="n", schema={"a": 1}, strict=True, description="d"
                )
            ),
            {
                **msgs(WIRE_HI),
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "n",
                        "schema": {"a": 1},
                        "strict": True,
                        "description": "d",
                    },
                },
            },
        ),
        (
            request(passthrough={"logprobs": True, "store": False}),
            {**msgs(WIRE_HI), "logprobs": True, "store": False},
        ),
        # messages
        (
            request(say("system", "s"), say("developer", "d"), HI),
            msgs(
                {"role": "system", "content": "s"}, {"role": "developer", "content": "d"}, WIRE_HI
            ),
        ),
        (
            request(Message(role="system", content=(TextPart(text="a"), TextPart(text="b")))),
            msgs({"role": "system", "content": "ab"}),
        ),
        (
            request(user(TextPart(text="a"), TextPart(text="b"))),
            msgs(
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ),
        ),
        (
            request(user(TextPart(text="u"), name="alice")),
            msgs({"role": "user", "content": "u", "name": "alice"}),
        ),
        (
            request(user(TextPart(text="see"), ImagePart(url="https://e/x.png", detail="low"))),
            msgs(
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://e/x.png", "detail": "low"},
                        },
                    ],
                }
            ),
        ),
        (
            request(user(ImagePart(data="AAAA", media_type="image/png"))),
            msgs(
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                    ],
                }
            ),
        ),
        (
            request(
                user(
                    OpaquePart(
                        source="openai",
                        part_type="input_audio",
                        payload={"data": "A", "format": "wav"},
                    )
                )
            ),
            msgs(
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "A", "format": "wav"}}
                    ],
                }
            ),
        ),
        (
            request(HI, Message(role="assistant", tool_calls=(CALL,))),
            msgs(WIRE_HI, {"role": "assistant", "content": None, "tool_calls": [WIRE_CALL]}),
        ),
        (
            request(
                HI, Message(role="assistant", content=(TextPart(text="ok"),), tool_calls=(CALL,))
            ),
            msgs(WIRE_HI, {"role": "assistant", "content": "ok", "tool_calls": [WIRE_CALL]}),
        ),
        (
            request(HI, Message(role="assistant")),
            msgs(WIRE_HI, {"role": "assistant", "content": None}),
        ),
        (
            request(
                HI,
                Message(
                    role="assistant",
                    content=(ThinkingPart(text="t", signature="s"), TextPart(text="a")),
                ),
            ),
            msgs(WIRE_HI, {"role": "assistant", "content": [{"type": "text", "text": "a"}]}),
        ),
        (
            request(
                HI, Message(role="assistant", content=(ThinkingPart(text="t"),), tool_calls=(CALL,))
            ),
            msgs(WIRE_HI, {"role": "assistant", "content": None, "tool_calls": [WIRE_CALL]}),
        ),
        (
            request(HI, Message(role="assistant", content=(TextPart(text="a"),), name="bot")),
            msgs(WIRE_HI, {"role": "assistant", "content": "a", "name": "bot"}),
        ),
        (
            request(HI, Message(role="assistant", refusal="no")),
            msgs(WIRE_HI, {"role": "assistant", "content": None, "refusal": "no"}),
        ),
        (
            request(HI, Message(role="tool", content=(TextPart(text="42"),), tool_call_id="c1")),
            msgs(WIRE_HI, {"role": "tool", "tool_call_id": "c1", "content": "42"}),
        ),
    ],
)
def test_encode(req: ChatRequest, expected: dict[str, Any]) -> None:
    check(req, expected)


@pytest.mark.parametrize(
    ("field", "expected"),
    [("max_completion_tokens", "max_completion_tokens"), ("max_tokens", "max_tokens")],
)
def test_max_tokens_field(field: str, expected: str) -> None:
    check(request(max_tokens=9), {**msgs(WIRE_HI), expected: 9}, max_tokens_field=field)


def test_max_tokens_field_absent_without_a_limit() -> None:
    check(request(), msgs(WIRE_HI), max_tokens_field="max_tokens")


CACHED = CacheControl(ttl="1h")


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        (
            request(user(TextPart(text="t", cache_control=CACHED))),
            msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": "t",
                            "cache_control": {"type": "ephemeral", "ttl": "1h"},
                        }
                    ],
                }
            ),
        ),
        (
            request(
                Message(role="system", content=(TextPart(text="s", cache_control=CacheControl()),))
            ),
            msgs(
                {
                    "role": "system",
                    "content": [
                        {"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}
                    ],
                }
            ),
        ),
        (
            request(tools=(ToolSpec(name="f", cache_control=CacheControl()),)),
            {
                **msgs(WIRE_HI),
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {}},
                        "cache_control": {"type": "ephemeral"},
                    }
                ],
            },
        ),
    ],
)
def test_cache_control_markers_only_when_asked(req: ChatRequest, expected: dict[str, Any]) -> None:
    check(req, expected, cache_control=True)
    without = encode_request(req, "gpt-4o", provider="openai")
    assert "cache_control" not in msgspec.json.encode(without).decode()


def check_unsupported(req: ChatRequest, param: str, provider: str = "groq") -> None:
    with pytest.raises(UnsupportedFeature) as info:
        encode_request(req, "m", provider=provider)
    assert info.value.param == param
    assert provider in info.value.message


@pytest.mark.parametrize(
    ("req", "param"),
    [
        (request(top_k=40), "top_k"),
        (request(thinking_budget=1024), "thinking"),
        (request(passthrough={"top_logprobs": 2}, source_format="anthropic"), "top_logprobs"),
        (request(passthrough={"safetySettings": []}, source_format="gemini"), "safetySettings"),
        (
            request(tools=(ToolSpec(name="f", extra={"x_new": True}),), source_format="anthropic"),
            "tools[0].x_new",
        ),
        (request(thinking="disabled", source_format="anthropic"), "thinking.type"),
        (request(thinking_display="summarized", source_format="anthropic"), "thinking.display"),
        (
            request(
                user(
                    TextPart(text="x"),
                    OpaquePart(source="anthropic", part_type="document", payload={}),
                )
            ),
            "messages[0].content[1]",
        ),
        (
            request(HI, user(OpaquePart(source="gemini", part_type="fileData", payload={}))),
            "messages[1].content[0]",
        ),
    ],
)
def test_unsupported(req: ChatRequest, param: str) -> None:
    check_unsupported(req, param)


def test_passthrough_from_another_format_is_refused_even_for_openai() -> None:
    req = request(passthrough={"service_tier": "flex"}, source_format="anthropic")
    check_unsupported(req, "service_tier", provider="openai")


def _failed(text: str) -> Message:
    return Message(role="tool", content=(TextPart(text=text),), tool_call_id="c", is_error=True)


@pytest.mark.parametrize(
    ("text", "sent"),
    [("boom", '{"error":"boom"}'), ('{"code":7}', '{"error":{"code":7}}'), ("", '{"error":""}')],
)
def test_a_failed_tool_result_is_sent_marked_as_an_error(text: str, sent: str) -> None:
    req = request(HI, _failed(text))
    wire = {"role": "tool", "tool_call_id": "c", "content": sent}
    check(req, msgs(WIRE_HI, wire))


def test_optional_fields_of_another_format_are_left_out() -> None:
    tool = ToolSpec(name="f", extra={"defer_loading": True}, optional=frozenset({"defer_loading"}))
    req = request(
        tools=(tool,),
        passthrough={"context_management": {"edits": []}},
        optional=frozenset({"context_management"}),
        thinking="adaptive",
        thinking_display="omitted",
        source_format="anthropic",
    )
    wire_tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    check(req, {**msgs(WIRE_HI), "tools": [wire_tool]})


def test_a_tool_field_of_the_openai_format_is_forwarded() -> None:
    req = request(tools=(ToolSpec(name="f", extra={"x_new": 1}),))
    wire_tool = {"type": "function", "function": {"name": "f", "parameters": {}}, "x_new": 1}
    check(req, {**msgs(WIRE_HI), "tools": [wire_tool]})


def test_request_from_another_format_without_passthrough_is_encoded() -> None:
    req = request(say("system", "s"), HI, source_format="anthropic", max_tokens=10)
    check(req, {**msgs({"role": "system", "content": "s"}, WIRE_HI), "max_completion_tokens": 10})


# Round trip: random canonical OpenAI-format requests survive encode -> JSON -> decode.

short_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | short_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=6,
)
unit = st.floats(0, 1, allow_nan=False)
media_types = st.sampled_from(["image/png", "image/jpeg", "image/webp", "image/svg+xml"])
details = st.none() | st.sampled_from(["auto", "low", "high"])

text_parts = short_text.map(lambda t: TextPart(text=t))
image_parts = st.one_of(
    st.builds(ImagePart, url=names.map(lambda n: f"https://example.com/{n}.png"), detail=details),
    st.builds(
        ImagePart,
        data=st.from_regex(r"[A-Za-z0-9+/]{0,16}={0,2}", fullmatch=True),
        media_type=media_types,
        detail=details,
    ),
)
tool_calls = st.builds(
    ToolCall, id=names.map(lambda n: "call_" + n), name=names, arguments=short_text
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    role: Role = draw(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))
    name = draw(st.none() | names)
    if role == "user":
        parts = draw(st.lists(text_parts | image_parts, min_size=1, max_size=3))
        return Message(role="user", content=tuple(parts), name=name)
    if role == "assistant":
        calls = tuple(draw(st.lists(tool_calls, max_size=3)))
        reply = draw(short_text)
        content = (TextPart(text=reply),) if reply else ()
        refusal = draw(st.none() | short_text.filter(bool))
        return Message(
            role="assistant", content=content, tool_calls=calls, name=name, refusal=refusal
        )
    if role == "tool":
        return Message(
            role="tool",
            content=(draw(text_parts),),
            tool_call_id=draw(names.map(lambda n: "call_" + n)),
        )
    return Message(role=role, content=(draw(text_parts),), name=name)


tool_specs = st.builds(
    ToolSpec,
    name=names,
    description=st.none() | short_text,
    parameters=st.dictionaries(short_text, json_values, max_size=3),
    strict=st.none() | st.booleans(),
)
tool_choices = (
    st.none()
    | st.builds(ToolChoice, mode=st.sampled_from(["auto", "none", "required"]))
    | names.map(lambda n: ToolChoice(mode="tool", name=n))
)
response_formats = (
    st.none()
    | st.builds(ResponseFormat, type=st.sampled_from(["text", "json_object"]))
    | st.builds(
        ResponseFormat,
        type=st.just("json_schema"),
        name=names,
        schema=st.none() | st.dictionaries(short_text, json_values, max_size=3),
        strict=st.none() | st.booleans(),
        description=st.none() | short_text,
    )
)
passthrough = st.dictionaries(
    names.filter(lambda n: n not in KNOWN_FIELDS), json_values, max_size=3
)


@st.composite
def requests(draw: st.DrawFn) -> ChatRequest:
    stream = draw(st.booleans())
    return ChatRequest(
        model="gpt-4o",
        messages=tuple(draw(st.lists(messages(), min_size=1, max_size=6))),
        stream=stream,
        include_usage=stream and draw(st.booleans()),
        max_tokens=draw(st.none() | st.integers(1, 1_000_000)),
        temperature=draw(st.none() | st.floats(0, 2, allow_nan=False)),
        top_p=draw(st.none() | unit),
        stop=tuple(draw(st.lists(short_text, max_size=4))),
        tools=tuple(draw(st.lists(tool_specs, max_size=3))),
        tool_choice=draw(tool_choices),
        parallel_tool_calls=draw(st.none() | st.booleans()),
        response_format=draw(response_formats),
        seed=draw(st.none() | st.integers(-(2**63), 2**63 - 1)),
        presence_penalty=draw(st.none() | st.floats(-2, 2, allow_nan=False)),
        frequency_penalty=draw(st.none() | st.floats(-2, 2, allow_nan=False)),
        user=draw(st.none() | short_text),
        reasoning_effort=draw(st.none() | st.sampled_from(["minimal", "low", "medium", "high"])),
        metadata=draw(st.none() | st.dictionaries(names, short_text, max_size=3)),
        passthrough=draw(passthrough),
        source_format="openai",
    )


@settings(max_examples=200, deadline=None)
@given(req=requests())
def test_round_trip_through_the_wire(req: ChatRequest) -> None:
    wire = msgspec.json.encode(encode_request(req, req.model, provider="openai"))
    back = decode_request(wire)
    assert back.messages == req.messages
    assert back.tools == req.tools
    assert back.tool_choice == req.tool_choice
    # The decoder records which limit field the client used; the generated request named none.
    # Streams always ask the upstream for usage, so a decoded stream always includes it.
    assert back == dataclasses.replace(
        req, max_tokens_name=back.max_tokens_name, include_usage=req.include_usage or req.stream
    )


def test_the_clients_own_limit_field_is_kept_for_openai_clients() -> None:
    from keyroute.core.chat import ChatRequest, Message, TextPart

    hi = (Message(role="user", content=(TextPart(text="hi"),)),)
    legacy = ChatRequest(model="m", messages=hi, max_tokens=5, max_tokens_name="max_tokens")
    assert encode_request(legacy, "m", provider="openai")["max_tokens"] == 5
    translated = dataclasses.replace(legacy, source_format="anthropic")
    body = encode_request(translated, "m", provider="openai")
    assert body["max_completion_tokens"] == 5 and "max_tokens" not in body


def test_the_turn_effort_is_sent_and_other_turn_fields_refused() -> None:
    turn = dataclasses.replace(HI, reasoning_effort="high")
    req = request(turn, reasoning_effort="low", source_format="anthropic")
    check(req, {**msgs(WIRE_HI), "reasoning_effort": "high"})
    check_unsupported(request(dataclasses.replace(HI, extra={"x": 1})), "messages[0].x")
