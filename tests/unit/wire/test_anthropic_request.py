"""Canonical ChatRequest -> Anthropic Messages body (``keyroute.wire.anthropic.request``)."""

from __future__ import annotations

from typing import Any

import pytest

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ImagePart,
    Message,
    OpaquePart,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from keyroute.core.errors import InvalidRequest, UnsupportedFeature
from keyroute.wire.anthropic import encode_request
from tests.fakes.fake_anthropic import validate_messages_body

USER = Message(role="user", content=(TextPart(text="hi"),))
HI = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def req(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="anthropic/claude", messages=messages or (USER,), **fields)


def encode(request: ChatRequest) -> dict[str, Any]:
    body = encode_request(request, "claude-x", default_max_tokens=4096)
    assert validate_messages_body(body) is None, validate_messages_body(body)
    return body


def check(request: ChatRequest, expected: dict[str, Any]) -> None:
    """The body holds ``expected`` (model, max_tokens and messages default to a one-line chat)."""
    want = {"model": "claude-x", "max_tokens": 4096, "messages": HI, **expected}
    assert encode(request) == want


def fails(request: ChatRequest, error: type[Exception], param: str) -> None:
    with pytest.raises(error) as info:
        encode_request(request, "claude-x", default_max_tokens=4096)
    assert isinstance(info.value, InvalidRequest)
    assert info.value.param == param
    if error is UnsupportedFeature:
        assert "anthropic" in info.value.message


def u(text: str) -> Message:
    return Message(role="user", content=(TextPart(text=text),))


def tool(call_id: str, text: str, **fields: Any) -> Message:
    return Message(role="tool", tool_call_id=call_id, content=(TextPart(text=text),), **fields)


CALL = ToolCall(id="toolu_1", name="get_weather", arguments='{"city":"Paris"}')
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
WEATHER = ToolSpec(name="get_weather", description="Weather", parameters={"type": "object"})


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (req(max_tokens=50), {"max_tokens": 50}),
        (
            req(temperature=0.2, top_p=0.9, top_k=40),
            {"temperature": 0.2, "top_p": 0.9, "top_k": 40},
        ),
        (req(temperature=1.0), {"temperature": 1.0}),
        (req(stop=("END", "STOP")), {"stop_sequences": ["END", "STOP"]}),
        (req(user="u-42"), {"metadata": {"user_id": "u-42"}}),
        (req(reasoning_effort="xhigh"), {"output_config": {"effort": "xhigh"}}),
        (req(thinking_budget=2048), {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        (req(stream=True, include_usage=True), {}),
        (
            req(
                response_format=ResponseFormat(
                    type="json_schema", name="p", schema={"type": "object", "properties": {}}
                )
            ),
            {
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {"type": "object", "properties": {}},
                    }
                }
            },
        ),
        (
            req(response_format=ResponseFormat(type="json_object")),
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
        ),
        (req(response_format=ResponseFormat(type="text")), {}),
        (
            req(tools=(WEATHER,)),
            {
                "tools": [
                    {
                        "name": "get_weather",
                        "description": "Weather",
                        "input_schema": {"type": "object"},
                    }
                ]
            },
        ),
        (
            req(tools=(ToolSpec(name="t", strict=True, cache_control=CacheControl(ttl="1h")),)),
            {
                "tools": [
                    {
                        "name": "t",
                        "input_schema": {"type": "object", "properties": {}},
                        "strict": True,
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    }
                ]
            },
        ),
        (req(tool_choice=ToolChoice(mode="none")), {"tool_choice": {"type": "none"}}),
        (req(tool_choice=ToolChoice(mode="required")), {"tool_choice": {"type": "any"}}),
        (
            req(tool_choice=ToolChoice(mode="tool", name="t")),
            {"tool_choice": {"type": "tool", "name": "t"}},
        ),
        (
            req(tool_choice=ToolChoice(mode="required"), parallel_tool_calls=False),
            {"tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
        ),
        (
            req(tool_choice=ToolChoice(mode="none"), parallel_tool_calls=False),
            {"tool_choice": {"type": "none"}},
        ),
        (req(parallel_tool_calls=False), {}),  # no tools: nothing to disable
        (
            req(tools=(WEATHER,), parallel_tool_calls=False),
            {
                "tools": [
                    {
                        "name": "get_weather",
                        "description": "Weather",
                        "input_schema": {"type": "object"},
                    }
                ],
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
            },
        ),
        (
            req(parallel_tool_calls=True, tool_choice=ToolChoice(mode="auto")),
            {"tool_choice": {"type": "auto"}},
        ),
        (
            req(passthrough={"service_tier": "auto"}, source_format="anthropic"),
            {"service_tier": "auto"},
        ),
        (
            req(Message(role="user", content=(TextPart(text="hi", cache_control=CacheControl()),))),
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
                        ],
                    }
                ]
            },
        ),
        (
            req(Message(role="user", content=(ImagePart(url="https://x.test/cat.png"),))),
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "url", "url": "https://x.test/cat.png"},
                            }
                        ],
                    }
                ]
            },
        ),
        (
            req(
                Message(
                    role="user",
                    content=(ImagePart(url="data:image/png;base64,iVBO", detail="auto"),),
                )
            ),
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "iVBO",
                                },
                            }
                        ],
                    }
                ]
            },
        ),
        (
            req(
                Message(
                    role="user",
                    content=(
                        ImagePart(
                            data="R0lG", media_type="image/gif", cache_control=CacheControl()
                        ),
                    ),
                )
            ),
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/gif",
                                    "data": "R0lG",
                                },
                                "cache_control": {"type": "ephemeral"},
                            }
                        ],
                    }
                ]
            },
        ),
        (
            req(
                Message(
                    role="user",
                    content=(
                        OpaquePart(
                            source="anthropic",
                            part_type="document",
                            payload={
                                "type": "document",
                                "source": {
                                    "type": "text",
                                    "media_type": "text/plain",
                                    "data": "doc",
                                },
                            },
                        ),
                    ),
                )
            ),
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {
                                    "type": "text",
                                    "media_type": "text/plain",
                                    "data": "doc",
                                },
                            }
                        ],
                    }
                ]
            },
        ),
        (
            req(
                USER, Message(role="assistant", content=(TextPart(text="ok"),), tool_calls=(CALL,))
            ),
            {
                "messages": [
                    *HI,
                    {"role": "assistant", "content": [{"type": "text", "text": "ok"}, TOOL_USE]},
                ]
            },
        ),
        (
            req(
                USER,
                Message(
                    role="assistant", tool_calls=(ToolCall(id="toolu_1", name="f", arguments=""),)
                ),
            ),
            {
                "messages": [
                    *HI,
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
                        ],
                    },
                ]
            },
        ),
        (
            # Gemini's tool-call signature is provider state Anthropic cannot verify: not sent.
            req(
                USER,
                Message(
                    role="assistant",
                    tool_calls=(
                        ToolCall(
                            id="toolu_1",
                            name="get_weather",
                            arguments='{"city":"Paris"}',
                            signature="sig",
                        ),
                    ),
                ),
            ),
            {"messages": [*HI, {"role": "assistant", "content": [TOOL_USE]}]},
        ),
        (
            req(
                USER,
                Message(
                    role="assistant",
                    content=(
                        ThinkingPart(text="hmm", signature="sig1"),
                        ThinkingPart(text="opaque", redacted=True),
                        ThinkingPart(text="unsigned, from another model"),
                    ),
                    tool_calls=(CALL,),
                ),
            ),
            {
                "messages": [
                    *HI,
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                            {"type": "redacted_thinking", "data": "opaque"},
                            TOOL_USE,
                        ],
                    },
                ]
            },
        ),
        (
            req(
                USER,
                Message(role="assistant", tool_calls=(CALL,)),
                tool("toolu_1", "18C", is_error=True, name="get_weather"),
            ),
            {
                "messages": [
                    *HI,
                    {"role": "assistant", "content": [TOOL_USE]},
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "toolu_1",
                                "content": "18C",
                                "is_error": True,
                            }
                        ],
                    },
                ]
            },
        ),
        (
            req(
                USER,
                Message(role="assistant", tool_calls=(CALL,)),
                Message(
                    role="tool",
                    tool_call_id="toolu_1",
                    content=(TextPart(text="18C", cache_control=CacheControl()),),
                ),
            ),
            {
                "messages": [
                    *HI,
                    {"role": "assistant", "content": [TOOL_USE]},
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "toolu_1",
                                "content": "18C",
                                "cache_control": {"type": "ephemeral"},
                            }
                        ],
                    },
                ]
            },
        ),
        (
            req(
                USER,
                Message(role="assistant", tool_calls=(CALL,)),
                Message(
                    role="tool",
                    tool_call_id="toolu_1",
                    content=(TextPart(text="a"), ImagePart(url="https://x.test/i.png")),
                ),
            ),
            {
                "messages": [
                    *HI,
                    {"role": "assistant", "content": [TOOL_USE]},
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "toolu_1",
                                "content": [
                                    {"type": "text", "text": "a"},
                                    {
                                        "type": "image",
                                        "source": {"type": "url", "url": "https://x.test/i.png"},
                                    },
                                ],
                            }
                        ],
                    },
                ]
            },
        ),
        (
            req(
                USER,
                Message(role="assistant", tool_calls=(CALL,)),
                Message(role="tool", tool_call_id="toolu_1"),
            ),
            {
                "messages": [
                    *HI,
                    {"role": "assistant", "content": [TOOL_USE]},
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}],
                    },
                ]
            },
        ),
    ],
)
def test_encode(request_: ChatRequest, expected: dict[str, Any]) -> None:
    check(request_, expected)


@pytest.mark.parametrize(
    ("request_", "error", "param"),
    [
        (req(seed=7), UnsupportedFeature, "seed"),
        (req(presence_penalty=0.1), UnsupportedFeature, "presence_penalty"),
        (req(frequency_penalty=0.1), UnsupportedFeature, "frequency_penalty"),
        (req(metadata={"k": "v"}), UnsupportedFeature, "metadata"),
        (req(reasoning_effort="minimal"), UnsupportedFeature, "reasoning_effort"),
        (req(passthrough={"logit_bias": {}}), UnsupportedFeature, "logit_bias"),
        (
            req(passthrough={"max_tokens": 5}, source_format="anthropic"),
            InvalidRequest,
            "max_tokens",
        ),
        (
            req(response_format=ResponseFormat(type="json_schema", description="d", schema={})),
            UnsupportedFeature,
            "response_format.description",
        ),
        (
            req(response_format=ResponseFormat(type="json_schema")),
            InvalidRequest,
            "response_format.schema",
        ),
        (req(tool_choice=ToolChoice(mode="tool")), InvalidRequest, "tool_choice"),
        (
            req(Message(role="user", name="ada", content=(TextPart(text="x"),))),
            UnsupportedFeature,
            "messages[0].name",
        ),
        (
            req(Message(role="system", content=(ImagePart(url="https://x.test/a.png"),)), USER),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        (
            req(
                Message(
                    role="user",
                    content=(OpaquePart(source="openai", part_type="input_audio", payload={}),),
                )
            ),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        (
            req(
                Message(role="user", content=(ImagePart(url="https://x.test/a.png", detail="low"),))
            ),
            UnsupportedFeature,
            "messages[0].content[0].detail",
        ),
        (
            req(Message(role="user", content=(ImagePart(url="ftp://x.test/a.png"),))),
            InvalidRequest,
            "messages[0].content[0]",
        ),
        (
            req(Message(role="user", content=(ImagePart(),))),
            InvalidRequest,
            "messages[0].content[0]",
        ),
        (
            req(Message(role="user", content=(ImagePart(url="data:image/bmp;base64,Qk0="),))),
            UnsupportedFeature,
            "messages[0].content[0].media_type",
        ),
        (
            req(
                USER,
                Message(
                    role="assistant",
                    tool_calls=(CALL, ToolCall(id="t2", name="f", arguments="{bad")),
                ),
            ),
            InvalidRequest,
            "messages[1].tool_calls[1].function.arguments",
        ),
        (
            req(
                USER,
                Message(
                    role="assistant", tool_calls=(ToolCall(id="t2", name="f", arguments="[1]"),)
                ),
            ),
            InvalidRequest,
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            req(USER, Message(role="tool", content=(TextPart(text="x"),))),
            InvalidRequest,
            "messages[1]",
        ),
    ],
)
def test_encode_errors(request_: ChatRequest, error: type[Exception], param: str) -> None:
    fails(request_, error, param)


def test_max_tokens_always_set() -> None:
    assert encode(req())["max_tokens"] == 4096
    assert encode_request(req(), "m", default_max_tokens=123)["max_tokens"] == 123
    assert encode(req(max_tokens=7))["max_tokens"] == 7
    assert encode(req(max_tokens=0))["max_tokens"] == 0  # cache pre-warming is a real value


def test_all_system_messages_kept_in_order() -> None:
    body = encode(
        req(
            Message(role="system", content=(TextPart(text="one", cache_control=CacheControl()),)),
            u("hi"),
            Message(role="developer", content=(TextPart(text="two"), TextPart(text=""))),
            Message(role="assistant", content=(TextPart(text="hello"),)),
            Message(role="system", content=(TextPart(text="three"),)),
            u("again"),
        )
    )
    assert body["system"] == [
        {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "two"},
        {"type": "text", "text": "three"},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_tool_results_grouped_first_in_one_user_turn() -> None:
    second = ToolCall(id="toolu_2", name="get_weather", arguments='{"city":"Rome"}')
    body = encode(
        req(
            u("Paris and Rome?"),
            Message(
                role="assistant", content=(TextPart(text="Checking."),), tool_calls=(CALL, second)
            ),
            tool("toolu_1", "18"),
            tool("toolu_2", "24"),
            u("Which is warmer?"),
            u("Be brief."),
        )
    )
    assert len(body["messages"]) == 3
    last = body["messages"][2]
    assert last["role"] == "user"
    assert last["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "24"},
        {"type": "text", "text": "Which is warmer?"},
        {"type": "text", "text": "Be brief."},
    ]


def test_no_empty_text_blocks() -> None:
    body = encode(
        req(
            Message(role="system", content=(TextPart(text=""),)),
            Message(role="user", content=(TextPart(text=""), TextPart(text="hi"))),
            Message(role="assistant", content=(TextPart(text=""),), tool_calls=(CALL,)),
            tool("toolu_1", ""),
            Message(role="assistant", content=(TextPart(text=""),)),
        )
    )
    assert "system" not in body
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [TOOL_USE]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
    ]


def test_temperature_above_one_is_an_error_not_a_clamp() -> None:
    with pytest.raises(UnsupportedFeature) as info:
        encode_request(req(temperature=1.5), "claude-x", default_max_tokens=10)
    assert info.value.param == "temperature"
    assert "anthropic" in info.value.message
    assert "1.5" in info.value.message


def test_turns_around_a_dropped_empty_turn_merge() -> None:
    body = encode(req(u("a"), Message(role="assistant", content=(TextPart(text=""),)), u("b")))
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_a_system_turn_inside_messages_stays_there_for_an_anthropic_client() -> None:
    later = Message(role="system", content=(TextPart(text="s", cache_control=CacheControl()),))
    first = Message(role="system", content=(TextPart(text="top"),))
    sent = encode(req(first, USER, later, u("again"), source_format="anthropic"))
    assert sent["system"] == [{"type": "text", "text": "top"}]
    system = {"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}
    assert sent["messages"] == [
        *HI,
        {"role": "system", "content": [system]},
        {"role": "user", "content": [{"type": "text", "text": "again"}]},
    ]


def test_a_system_turn_from_another_format_is_hoisted() -> None:
    later = Message(role="system", content=(TextPart(text="s"),))
    sent = encode(req(USER, later))
    assert (sent["system"], sent["messages"]) == ([{"type": "text", "text": "s"}], HI)


@pytest.mark.parametrize(
    ("fields", "thinking"),
    [
        (
            {"thinking": "adaptive", "thinking_display": "omitted"},
            {"type": "adaptive", "display": "omitted"},
        ),
        ({"thinking": "disabled"}, {"type": "disabled"}),
        (
            {"thinking": "enabled", "thinking_budget": 2048, "thinking_display": "summarized"},
            {"type": "enabled", "budget_tokens": 2048, "display": "summarized"},
        ),
    ],
)
def test_thinking_modes_are_sent_as_the_client_set_them(
    fields: dict[str, Any], thinking: dict[str, Any]
) -> None:
    check(req(source_format="anthropic", **fields), {"thinking": thinking})


def test_a_tool_field_of_the_anthropic_format_is_forwarded() -> None:
    spec = ToolSpec(name="f", extra={"defer_loading": True}, optional=frozenset({"defer_loading"}))
    tool_ = {
        "name": "f",
        "input_schema": {"type": "object", "properties": {}},
        "defer_loading": True,
    }
    check(req(tools=(spec,), source_format="anthropic"), {"tools": [tool_]})


def test_optional_fields_of_another_format_are_left_out_and_others_refused() -> None:
    spec = ToolSpec(name="f", extra={"later": 1, "hint": 2}, optional=frozenset({"hint"}))
    fails(req(tools=(spec,), source_format="openai"), UnsupportedFeature, "tools[0].later")
    dropped = req(passthrough={"ctx": 1}, optional=frozenset({"ctx"}), source_format="gemini")
    check(dropped, {})


def test_turn_fields_stay_on_their_turn_for_an_anthropic_client_only() -> None:
    later = Message(role="system", content=(TextPart(text="s"),), reasoning_effort="high")
    tail = Message(role="user", content=(TextPart(text="u"),), extra={"later": 1})
    sent = encode(req(USER, later, tail, source_format="anthropic"))
    assert sent["messages"][1:] == [
        {
            "role": "system",
            "content": [{"type": "text", "text": "s"}],
            "output_config": {"effort": "high"},
        },
        {"role": "user", "content": [{"type": "text", "text": "u"}], "later": 1},
    ]
    fails(req(USER, tail), UnsupportedFeature, "messages[1].later")


def test_a_leading_system_turn_with_its_own_fields_stays_in_messages() -> None:
    first = Message(role="system", content=(TextPart(text="s"),), reasoning_effort="low")
    sent = encode(req(first, USER, source_format="anthropic"))
    turn = {"role": "system", "content": [{"type": "text", "text": "s"}]}
    assert sent["messages"] == [{**turn, "output_config": {"effort": "low"}}, *HI]
    assert "system" not in sent


def test_thinking_another_provider_wrote_is_left_out() -> None:
    mine = ThinkingPart(text="hmm", signature="sig1", origin="anthropic/claude-sonnet-4-5")
    theirs = ThinkingPart(text="hm", signature="gAAAA", origin="openai/gpt-5#rs_1")
    turn = Message(role="assistant", content=(mine, theirs), tool_calls=(CALL,))
    content = encode(req(USER, turn))["messages"][1]["content"]
    assert content == [{"type": "thinking", "thinking": "hmm", "signature": "sig1"}, TOOL_USE]
