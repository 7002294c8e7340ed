"""Client Messages body -> canonical ChatRequest (``keyroute.wire.anthropic.inbound``)."""

from __future__ import annotations

import json
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
from keyroute.wire.anthropic import decode_request

HI = {"role": "user", "content": "hi"}
USER = Message(role="user", content=(TextPart(text="hi"),))


def decode(**fields: Any) -> ChatRequest:
    body = {"model": "claude-x", "max_tokens": 100, "messages": [HI], **fields}
    return decode_request(json.dumps(body).encode())


def check(fields: dict[str, Any], **expected: Any) -> None:
    """Decoding a body with ``fields`` gives a request whose attributes equal ``expected``."""
    got = decode(**fields)
    for name, value in expected.items():
        assert getattr(got, name) == value, name


def fails(body: Any, param: str | None, error: type[InvalidRequest] = InvalidRequest) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(error) as info:
        decode_request(raw)
    assert info.value.param == param, info.value.message


def turns(*content: Any) -> dict[str, Any]:
    """``messages`` with a user turn then assistant/user turns of the given content."""
    roles = ["assistant", "user"] * len(content)
    return {
        "messages": [HI, *({"role": r, "content": c} for r, c in zip(roles, content, strict=False))]
    }


TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {},
            {
                "model": "claude-x",
                "max_tokens": 100,
                "messages": (USER,),
                "source_format": "anthropic",
                "passthrough": {},
            },
        ),
        ({"stream": True}, {"stream": True, "include_usage": True}),
        (
            {"temperature": 1, "top_p": 0.5, "top_k": 3},
            {"temperature": 1.0, "top_p": 0.5, "top_k": 3},
        ),
        ({"stop_sequences": ["a", "b"]}, {"stop": ("a", "b")}),
        (
            {"system": "be nice"},
            {"messages": (Message(role="system", content=(TextPart(text="be nice"),)), USER)},
        ),
        (
            {
                "system": [
                    {
                        "type": "text",
                        "text": "a",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    },
                    {"type": "text", "text": "b"},
                ]
            },
            {
                "messages": (
                    Message(
                        role="system",
                        content=(TextPart(text="a", cache_control=CacheControl(ttl="1h")),),
                    ),
                    Message(role="system", content=(TextPart(text="b"),)),
                    USER,
                )
            },
        ),
        ({"metadata": {"user_id": "u1"}}, {"user": "u1", "passthrough": {}}),
        (
            {"metadata": {"user_id": "u1", "other": "x"}},
            {"user": None, "passthrough": {"metadata": {"user_id": "u1", "other": "x"}}},
        ),
        (
            {"tool_choice": {"type": "any"}},
            {"tool_choice": ToolChoice(mode="required"), "parallel_tool_calls": None},
        ),
        (
            {"tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True}},
            {"tool_choice": ToolChoice(mode="tool", name="f"), "parallel_tool_calls": False},
        ),
        (
            {"tool_choice": {"type": "auto", "disable_parallel_tool_use": False}},
            {"tool_choice": ToolChoice(mode="auto"), "parallel_tool_calls": True},
        ),
        ({"tool_choice": {"type": "none"}}, {"tool_choice": ToolChoice(mode="none")}),
        (
            {
                "tools": [
                    {
                        "name": "f",
                        "description": "d",
                        "input_schema": {"type": "object"},
                        "strict": True,
                        "cache_control": {"type": "ephemeral"},
                    }
                ]
            },
            {
                "tools": (
                    ToolSpec(
                        name="f",
                        description="d",
                        parameters={"type": "object"},
                        strict=True,
                        cache_control=CacheControl(),
                    ),
                ),
                "passthrough": {},
            },
        ),
        (
            {
                "tools": [
                    {"name": "f", "input_schema": {}},
                    {"type": "web_search_20250305", "name": "web_search"},
                ]
            },
            {
                "tools": (),
                "passthrough": {
                    "tools": [
                        {"name": "f", "input_schema": {}},
                        {"type": "web_search_20250305", "name": "web_search"},
                    ]
                },
            },
        ),
        (
            {
                "output_config": {
                    "effort": "high",
                    "format": {"type": "json_schema", "schema": {"type": "object"}},
                }
            },
            {
                "reasoning_effort": "high",
                "response_format": ResponseFormat(type="json_schema", schema={"type": "object"}),
                "passthrough": {},
            },
        ),
        (
            {"output_config": {"task_budget": 5}},
            {"reasoning_effort": None, "passthrough": {"output_config": {"task_budget": 5}}},
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            {"thinking_budget": 2048, "passthrough": {}},
        ),
        (
            {"thinking": {"type": "adaptive", "display": "omitted"}},
            {
                "thinking_budget": None,
                "thinking": "adaptive",
                "thinking_display": "omitted",
                "passthrough": {},
            },
        ),
        (
            {"thinking": {"type": "disabled"}},
            {"thinking": "disabled", "thinking_display": None, "passthrough": {}},
        ),
        (
            {"thinking": {"type": "adaptive", "later": 1}},
            {"thinking": None, "passthrough": {"thinking": {"type": "adaptive", "later": 1}}},
        ),
        (
            {"cache_control": {"type": "ephemeral"}, "service_tier": "auto"},
            {
                "passthrough": {"cache_control": {"type": "ephemeral"}, "service_tier": "auto"},
                "optional": frozenset({"cache_control"}),
            },
        ),
        (
            {"context_management": {"edits": [{"type": "clear_thinking_20251015"}]}},
            {
                "passthrough": {
                    "context_management": {"edits": [{"type": "clear_thinking_20251015"}]}
                },
                "optional": frozenset({"context_management"}),
            },
        ),
        (
            {
                "tools": [
                    {"name": "f", "input_schema": {}, "defer_loading": True},
                    {"name": "g", "input_schema": {}, "eager_input_streaming": True, "x": 1},
                ]
            },
            {
                "tools": (
                    ToolSpec(
                        name="f",
                        extra={"defer_loading": True},
                        optional=frozenset({"defer_loading"}),
                    ),
                    ToolSpec(
                        name="g",
                        extra={"eager_input_streaming": True, "x": 1},
                        optional=frozenset({"eager_input_streaming"}),
                    ),
                ),
                "passthrough": {},
            },
        ),
        (
            {
                "messages": [
                    HI,
                    {
                        "role": "system",
                        "content": [
                            {"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}
                        ],
                    },
                    {"role": "system", "content": "t"},
                ]
            },
            {
                "messages": (
                    USER,
                    Message(
                        role="system", content=(TextPart(text="s", cache_control=CacheControl()),)
                    ),
                    Message(role="system", content=(TextPart(text="t"),)),
                )
            },
        ),
        (
            turns(
                [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "redacted_thinking", "data": "r"},
                    {"type": "text", "text": "ok"},
                    TOOL_USE,
                ]
            ),
            {
                "messages": (
                    USER,
                    Message(
                        role="assistant",
                        content=(
                            ThinkingPart(text="t", signature="s"),
                            ThinkingPart(text="r", redacted=True),
                            TextPart(text="ok"),
                        ),
                        tool_calls=(ToolCall(id="toolu_1", name="f", arguments='{"a":1}'),),
                    ),
                )
            },
        ),
        (
            turns("plain"),
            {"messages": (USER, Message(role="assistant", content=(TextPart(text="plain"),)))},
        ),
        (
            turns(
                [TOOL_USE],
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "r1",
                        "cache_control": {"type": "ephemeral"},
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "r2"}],
                        "is_error": True,
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_3"},
                    {"type": "text", "text": "next"},
                ],
            ),
            {
                "messages": (
                    USER,
                    Message(
                        role="assistant",
                        tool_calls=(ToolCall(id="toolu_1", name="f", arguments='{"a":1}'),),
                    ),
                    Message(
                        role="tool",
                        tool_call_id="toolu_1",
                        content=(TextPart(text="r1", cache_control=CacheControl()),),
                    ),
                    Message(
                        role="tool",
                        tool_call_id="toolu_2",
                        content=(TextPart(text="r2"),),
                        is_error=True,
                    ),
                    Message(role="tool", tool_call_id="toolu_3"),
                    Message(role="user", content=(TextPart(text="next"),)),
                )
            },
        ),
        (
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
                                "cache_control": {"type": "ephemeral"},
                            },
                            {
                                "type": "image",
                                "source": {"type": "url", "url": "https://x.test/a.png"},
                            },
                            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
                            {
                                "type": "document",
                                "source": {"type": "text", "media_type": "text/plain", "data": "d"},
                            },
                            {"type": "text", "text": "cited", "citations": []},
                        ],
                    }
                ]
            },
            {
                "messages": (
                    Message(
                        role="user",
                        content=(
                            ImagePart(
                                data="iVBO", media_type="image/png", cache_control=CacheControl()
                            ),
                            ImagePart(url="https://x.test/a.png"),
                            OpaquePart(
                                source="anthropic",
                                part_type="image",
                                payload={
                                    "type": "image",
                                    "source": {"type": "file", "file_id": "file_1"},
                                },
                            ),
                            OpaquePart(
                                source="anthropic",
                                part_type="document",
                                payload={
                                    "type": "document",
                                    "source": {
                                        "type": "text",
                                        "media_type": "text/plain",
                                        "data": "d",
                                    },
                                },
                            ),
                            OpaquePart(
                                source="anthropic",
                                part_type="text",
                                payload={"type": "text", "text": "cited", "citations": []},
                            ),
                        ),
                    ),
                )
            },
        ),
    ],
)
def test_decode(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    check(fields, **expected)


BASE = {"model": "m", "max_tokens": 10, "messages": [HI]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        ([1, 2], None),
        ({"max_tokens": 1, "messages": []}, None),  # model missing: named in the message
        ({**BASE, "max_tokens": "10"}, "max_tokens"),
        ({**BASE, "max_tokens": 0}, "max_tokens"),
        ({**BASE, "max_tokens": -5}, "max_tokens"),
        ({**BASE, "messages": []}, "messages"),
        ({**BASE, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({**BASE, "messages": [{"role": "user"}]}, "messages[0]"),
        ({**BASE, "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {**BASE, "messages": [{"role": "user", "content": [{"text": "no type"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {**BASE, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                **BASE,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "x", "cache_control": {"type": "forever"}}
                        ],
                    }
                ],
            },
            "messages[0].content[0].cache_control.type",
        ),
        (
            {
                **BASE,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "base64", "data": "x"}}],
                    }
                ],
            },
            "messages[0].content[0].source",
        ),
        (
            {
                **BASE,
                "messages": [
                    HI,
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": []}],
                    },
                ],
            },
            "messages[1].content[0].input",
        ),
        (
            {
                **BASE,
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": 3}]}
                ],
            },
            "messages[0].content[0].tool_use_id",
        ),
        (
            {
                **BASE,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "text", "text": 1}],
                            }
                        ],
                    }
                ],
            },
            "messages[0].content[0].content[0].text",
        ),
        ({**BASE, "system": [{"type": "text"}]}, "system[0]"),
        ({**BASE, "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({**BASE, "tools": [{"name": "f", "input_schema": 3}]}, "tools[0].input_schema"),
        ({**BASE, "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        (
            {**BASE, "messages": [{"role": "system", "content": [{"type": "image"}]}]},
            "messages[0].content[0].type",
        ),
    ],
)
def test_decode_errors(body: Any, param: str | None) -> None:
    fails(body, param)


@pytest.mark.parametrize(
    ("block", "param"),
    [
        (
            {**TOOL_USE, "cache_control": {"type": "ephemeral"}},
            "messages[1].content[0].cache_control",
        ),
        ({**TOOL_USE, "caller": {"type": "direct"}}, "messages[1].content[0].caller"),
    ],
)
def test_unmappable_tool_use_fields_are_rejected_by_name(block: dict[str, Any], param: str) -> None:
    fails(
        {**BASE, "messages": [HI, {"role": "assistant", "content": [block]}]},
        param,
        UnsupportedFeature,
    )


def test_unmappable_tool_result_fields_are_rejected_by_name() -> None:
    result = {
        "type": "tool_result",
        "tool_use_id": "t",
        "content": [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}],
        "cache_control": {"type": "ephemeral"},
    }
    fails(
        {**BASE, "messages": [{"role": "user", "content": [result]}]},
        "messages[0].content[0].cache_control",
        UnsupportedFeature,
    )
    extra = {"type": "tool_result", "tool_use_id": "t", "toolset_name": "x"}
    fails(
        {**BASE, "messages": [{"role": "user", "content": [extra]}]},
        "messages[0].content[0].toolset_name",
        UnsupportedFeature,
    )


def test_max_tokens_may_be_absent_as_in_count_tokens_bodies() -> None:
    body = {"model": "m", "messages": [HI], "system": "s"}
    assert decode_request(json.dumps(body).encode()).max_tokens is None


def test_error_message_names_the_path() -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_request(json.dumps({**BASE, "temperature": "hot"}).encode())
    assert "temperature" in info.value.message
    assert info.value.param == "temperature"


def test_user_turn_with_text_before_tool_results_keeps_order() -> None:
    got = decode(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "tool_result", "tool_use_id": "t"},
                ],
            }
        ]
    )
    assert [m.role for m in got.messages] == ["user", "tool"]


def test_empty_user_turn_is_kept_as_an_empty_message() -> None:
    assert decode(messages=[{"role": "user", "content": []}]).messages == (Message(role="user"),)


def test_a_turn_effort_is_mapped_and_other_turn_fields_ride_along() -> None:
    system = {"role": "system", "content": "s", "output_config": {"effort": "high"}}
    other = {"role": "user", "content": "u", "later": 1}
    got = decode(messages=[HI, system, other]).messages
    assert (got[1].reasoning_effort, got[1].extra) == ("high", {})
    assert (got[2].reasoning_effort, got[2].extra) == (None, {"later": 1})
