"""Property tests: the Anthropic codecs round-trip and never emit what the API rejects."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from keyroute.core.response import Usage
from keyroute.core.stream import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.anthropic import AnthropicStreamEncoder, decode_request, encode_request
from tests.fakes.fake_anthropic import validate_messages_body
from tests.unit.wire.test_anthropic_stream import decode_bytes

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
caches = st.one_of(st.none(), st.builds(CacheControl, ttl=st.sampled_from([None, "5m", "1h"])))
texts = st.builds(TextPart, text=words, cache_control=caches)
images = st.one_of(
    st.builds(
        ImagePart,
        data=st.just("iVBORw0KGgo="),
        media_type=st.sampled_from(["image/png", "image/jpeg"]),
        cache_control=caches,
    ),
    st.builds(ImagePart, url=st.just("https://example.test/cat.png"), cache_control=caches),
)
user_parts = st.lists(st.one_of(texts, images), min_size=1, max_size=3).map(tuple)
json_values = st.one_of(st.integers(-1000, 1000), words, st.booleans(), st.none())
arguments = st.dictionaries(names, json_values, max_size=3).map(
    lambda d: msgspec.json.encode(d).decode()
)
thinking = st.one_of(
    st.builds(ThinkingPart, text=words, signature=words),
    st.builds(ThinkingPart, text=words, redacted=st.just(True)),
)


@st.composite
def conversations(draw: st.DrawFn) -> tuple[Message, ...]:
    """Alternating turns in the canonical shape ``decode_request`` produces."""
    messages: list[Message] = [Message(role="user", content=draw(user_parts))]
    pending: list[str] = []
    for n in range(draw(st.integers(0, 4))):
        calls = tuple(
            ToolCall(id=f"toolu_{n}_{k}", name=draw(names), arguments=draw(arguments))
            for k in range(draw(st.integers(0, 2)))
        )
        content: tuple[ContentPart, ...] = (
            *draw(st.lists(thinking, max_size=2)),
            *draw(
                st.lists(st.builds(TextPart, text=words), min_size=0 if calls else 1, max_size=2)
            ),
        )
        messages.append(Message(role="assistant", content=content, tool_calls=calls))
        pending = [c.id for c in calls]
        for call_id in pending:
            result = draw(
                st.one_of(
                    st.just(()),
                    st.tuples(texts),
                    st.tuples(st.builds(TextPart, text=words), images),
                )
            )
            messages.append(
                Message(
                    role="tool", tool_call_id=call_id, content=result, is_error=draw(st.booleans())
                )
            )
        if not pending or draw(st.booleans()):
            messages.append(Message(role="user", content=draw(user_parts)))
    return tuple(messages)


@st.composite
def requests(draw: st.DrawFn) -> ChatRequest:
    """Random canonical requests within what Anthropic expresses losslessly."""
    system = draw(st.lists(texts.map(lambda p: Message(role="system", content=(p,))), max_size=2))
    tools = tuple(
        ToolSpec(
            name=name,
            description=draw(st.one_of(st.none(), words)),
            parameters={"type": "object", "properties": {"x": {"type": "string"}}},
            strict=draw(st.one_of(st.none(), st.booleans())),
            cache_control=draw(caches),
        )
        for name in draw(st.lists(names, max_size=2, unique=True))
    )
    choice = draw(
        st.one_of(
            st.none(),
            st.builds(ToolChoice, mode=st.sampled_from(["auto", "none", "required"])),
            names.map(lambda n: ToolChoice(mode="tool", name=n)),
        )
    )
    stream = draw(st.booleans())
    schema = st.builds(
        ResponseFormat,
        type=st.just("json_schema"),
        schema=st.just({"type": "object", "properties": {"a": {"type": "integer"}}}),
    )
    budget = draw(st.one_of(st.none(), st.integers(1024, 4096)))
    passthrough: dict[str, Any] = draw(
        st.sampled_from([{}, {"service_tier": "auto"}, {"cache_control": {"type": "ephemeral"}}])
    )
    return ChatRequest(
        model=draw(names),
        messages=(*system, *draw(conversations())),
        stream=stream,
        include_usage=stream,
        max_tokens=draw(st.integers(1, 8192)),
        temperature=draw(st.one_of(st.none(), st.floats(0, 1))),
        top_p=draw(st.one_of(st.none(), st.floats(0, 1))),
        top_k=draw(st.one_of(st.none(), st.integers(1, 500))),
        stop=tuple(draw(st.lists(words, max_size=2))),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=draw(st.sampled_from([None, False]))
        if choice and choice.mode != "none"
        else None,
        response_format=draw(st.one_of(st.none(), schema)),
        user=draw(st.one_of(st.none(), words)),
        reasoning_effort=draw(st.sampled_from([None, "low", "medium", "high", "xhigh", "max"])),
        thinking_budget=budget,
        thinking="enabled" if budget is not None else None,
        passthrough=passthrough,
        optional=frozenset(passthrough) & {"cache_control"},
        source_format="anthropic",
    )


def wire(req: ChatRequest) -> dict[str, Any]:
    body = encode_request(req, req.model, default_max_tokens=1024)
    if req.stream:
        body["stream"] = True
    return body


@settings(max_examples=200)
@given(requests())
def test_decode_of_encode_is_identity(req: ChatRequest) -> None:
    body = wire(req)
    assert decode_request(json.dumps(body).encode()) == req


@given(requests())
def test_encode_of_decode_is_identity(req: ChatRequest) -> None:
    body = wire(req)
    again = wire(decode_request(json.dumps(body).encode()))
    assert again == body


# Broader canonical requests (OpenAI-shaped: system anywhere, empty strings, tool runs): the body
# must still be what the Messages API accepts.
loose_messages = st.lists(
    st.one_of(
        st.builds(
            Message,
            role=st.sampled_from(["system", "developer", "user"]),
            content=st.lists(st.builds(TextPart, text=st.text(max_size=5)), max_size=2).map(tuple),
        ),
        st.builds(
            Message,
            role=st.just("assistant"),
            content=st.lists(st.builds(TextPart, text=st.text(max_size=5)), max_size=2).map(tuple),
            tool_calls=st.lists(
                st.builds(ToolCall, id=names, name=names, arguments=arguments), max_size=2
            ).map(tuple),
        ),
        st.builds(
            Message,
            role=st.just("tool"),
            tool_call_id=names,
            content=st.lists(st.builds(TextPart, text=st.text(max_size=5)), max_size=2).map(tuple),
        ),
    ),
    min_size=1,
    max_size=8,
)


@given(loose_messages)
def test_bodies_never_break_anthropic_rules(messages: list[Message]) -> None:
    body = encode_request(
        ChatRequest(model="m", messages=tuple(messages)), "m", default_max_tokens=64
    )
    assert validate_messages_body(body) is None
    roles = [m["role"] for m in body["messages"]]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))  # turns alternate
    system_texts = [
        p.text
        for m in messages
        if m.role in ("system", "developer")
        for p in m.content
        if isinstance(p, TextPart) and p.text
    ]
    assert [b["text"] for b in body.get("system", [])] == system_texts
    for turn in body["messages"]:
        assert turn["content"], "no empty turn"
        types = [b["type"] for b in turn["content"]]
        assert all(b.get("text", "x") != "" for b in turn["content"]), "no empty text block"
        results = types.count("tool_result")
        assert types[:results] == ["tool_result"] * results, "tool results come first"


# Streams: whatever canonical events a provider decoder yields, our Anthropic SSE carries them.
stream_blocks = st.lists(
    st.one_of(
        st.lists(words, min_size=1, max_size=3).map(lambda ws: ("text", ws)),
        st.lists(words, min_size=1, max_size=3).map(lambda ws: ("thinking", ws)),
        st.tuples(names, arguments).map(lambda na: ("tool", na)),
    ),
    max_size=5,
)


@given(
    stream_blocks,
    st.sampled_from(
        ["stop", "length", "tool_calls", "stop_sequence", "refusal", "pause", "context_window"]
    ),
    st.integers(0, 100),
)
def test_stream_encoder_then_decoder_keeps_events(
    blocks: list[tuple[str, Any]], finish: Any, cached: int
) -> None:
    events: list[StreamEvent] = []
    tool = 0
    for kind, value in blocks:
        if kind == "text":
            events += [TextDelta(text=w) for w in value]
        elif kind == "thinking":
            events += [ThinkingDelta(text=w) for w in value] + [ThinkingDelta(signature="sig")]
        else:
            name, args = value
            events += [ToolCallStart(index=tool, id=f"toolu_{tool}", name=name)]
            events += [
                ToolCallArgs(index=tool, arguments=args[:3]),
                ToolCallArgs(index=tool, arguments=args[3:]),
            ]
            tool += 1
    usage = Usage(input_tokens=200 + cached, cache_read_tokens=cached, output_tokens=30)
    sequence = "END" if finish == "stop_sequence" else None
    stream = [
        StreamStart(id="msg_p", model="m", created=0),
        UsageReport(usage=usage),
        *events,
        StreamEnd(finish_reason=finish, stop_sequence=sequence),
    ]
    encoder = AnthropicStreamEncoder("m")
    raw = b"".join(encoder.feed(e) for e in stream) + encoder.close()
    decoded = decode_bytes(raw)
    content = [e for e in decoded if not isinstance(e, (StreamStart, UsageReport, StreamEnd))]
    assert content == [e for e in events if not (isinstance(e, ToolCallArgs) and not e.arguments)]
    assert decoded[0] == stream[0]
    assert decoded[-1] == StreamEnd(finish_reason=finish, stop_sequence=sequence)
    assert [e.usage for e in decoded if isinstance(e, UsageReport)] == [usage, usage]
