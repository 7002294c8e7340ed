"""``keyroute.wire.openai_responses.request``: bodies -> canonical requests, refusals by name."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from keyroute.core.chat import (
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
)
from keyroute.core.errors import InvalidRequest, UnsupportedFeature
from keyroute.wire.openai_responses import ResponsesRequest, decode_request, with_history


def decode(**body: Any) -> ResponsesRequest:
    return decode_request(msgspec.json.encode({"model": "openai/gpt-4o", "input": "Hi", **body}))


def refused(param: str, **body: Any) -> str:
    with pytest.raises(InvalidRequest) as info:
        decode(**body)
    assert info.value.param == param
    return info.value.message


def test_string_input_and_instructions() -> None:
    req = decode(instructions="Be brief.")
    assert req.chat.messages == (
        Message(role="system", content=(TextPart(text="Be brief."),)),
        Message(role="user", content=(TextPart(text="Hi"),)),
    )
    assert req.items == (
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
    )
    assert req.chat.source_format == "openai_responses"
    assert (req.store, req.previous_response_id) == (True, None)


def test_items_join_assistant_turns() -> None:
    items = [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAA"},
            ],
        },
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "hmm"}],
            "encrypted_content": "sig",
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "ok"}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "1"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "2"}],
        },
    ]
    got = decode(input=items).chat.messages
    assert got == (
        Message(
            role="user",
            content=(TextPart(text="Look"), ImagePart(data="AAA", media_type="image/png")),
        ),
        Message(
            role="assistant",
            content=(ThinkingPart(text="hmm", signature="sig"), TextPart(text="ok")),
            tool_calls=(
                ToolCall(id="c1", name="f", arguments="{}"),
                ToolCall(id="c2", name="g", arguments="{}"),
            ),
        ),
        Message(role="tool", tool_call_id="c1", content=(TextPart(text="1"),)),
        Message(role="tool", tool_call_id="c2", content=(TextPart(text="2"),)),
    )


def test_parameters_map() -> None:
    req = decode(
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        tool_choice={"type": "function", "name": "f"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "City", "schema": {"type": "object"}}},
        max_output_tokens=50,
        temperature=0.5,
        top_p=0.9,
        reasoning={"effort": "low"},
        metadata={"a": "b"},
        safety_identifier="u1",
        truncation="auto",
        store=False,
        previous_response_id="resp_1",
        service_tier="flex",
    )
    chat = req.chat
    assert chat.tools[0].name == "f" and chat.tools[0].strict is True
    assert chat.tool_choice == ToolChoice(mode="tool", name="f")
    assert chat.response_format == ResponseFormat(
        type="json_schema", name="City", schema={"type": "object"}
    )
    assert (chat.max_tokens, chat.temperature, chat.top_p) == (50, 0.5, 0.9)
    assert (chat.reasoning_effort, chat.user, chat.metadata) == ("low", "u1", {"a": "b"})
    assert chat.parallel_tool_calls is False
    assert chat.passthrough == {"service_tier": "flex"}  # unmapped: only OpenAI may take it
    assert (req.store, req.previous_response_id) == (False, "resp_1")
    assert req.echo["truncation"] == "auto"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "allowed_tools", "tools": []}}, "tool_choice.type"),
        (
            {"input": [{"role": "assistant", "content": [{"type": "audio"}]}]},
            "input[0].content[0].type",
        ),
        ({"tools": [{"type": "computer_use_preview"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice.type"),
        ({"conversation": {"id": "conv_1"}}, "conversation"),
        ({"background": True}, "background"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"include": ["file_search_call.results"]}, "include[0]"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
    ],
)
def test_unsupported_by_name(body: dict[str, Any], param: str) -> None:
    with pytest.raises(UnsupportedFeature) as info:
        decode(**body)
    assert info.value.param == param and info.value.status == 400


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": ""}, "model"),
        ({"input": []}, "input"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        (
            {"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"reasoning": {"effort": "max"}}, "reasoning.effort"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"truncation": "sometimes"}, "truncation"),
        ({"store": "yes"}, "store"),
        ({"metadata": {"a": 1}}, "metadata"),
        ({"input": None}, "input"),
        ({"tools": ["f"]}, "tools[0]"),
        ({"tools": [{"type": "function", "name": ""}]}, "tools[0].name"),
        ({"tools": [{"type": "function", "name": "f", "parameters": []}]}, "tools[0].parameters"),
        ({"tool_choice": {"type": "function"}}, "tool_choice.name"),
        ({"tool_choice": 3}, "tool_choice"),
        ({"text": {"format": "json"}}, "text.format"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        (
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "u", "detail": "max"}],
                    }
                ]
            },
            "input[0].content[0].detail",
        ),
        ({"input": [{"type": "reasoning", "summary": "x"}]}, "input[0].summary"),
    ],
)
def test_invalid_named(body: dict[str, Any], param: str) -> None:
    refused(param, **body)


def test_missing_input() -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_request(b'{"model": "m"}')
    assert info.value.param == "input"


def test_small_forms() -> None:
    req = decode(
        tool_choice="required",
        text={"format": {"type": "json_object"}, "verbosity": "low"},
        include=["reasoning.encrypted_content"],
        input=[
            {"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]},
            {
                "type": "reasoning",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "t"}],
            },
            {"type": "reasoning", "summary": [{"type": "other"}]},
            {"role": "assistant", "content": "plain"},
        ],
    )
    assert req.chat.tool_choice == ToolChoice(mode="required")
    assert req.chat.response_format == ResponseFormat(type="json_object")
    assert req.chat.passthrough == {"text.verbosity": "low"}
    assert req.chat.messages[0].content == (ImagePart(url="https://x/y.png"),)
    assert req.chat.messages[1].content == (
        ThinkingPart(text="t"),
        ThinkingPart(text=""),
        TextPart(text="plain"),
    )


def test_bad_json() -> None:
    with pytest.raises(InvalidRequest):
        decode_request(b"{")
    with pytest.raises(InvalidRequest):
        decode_request(b"[]")


def test_history_goes_before_this_turn_after_instructions() -> None:
    req = with_history(decode(instructions="Sys"), [{"role": "user", "content": "Before"}])
    assert [m.text() for m in req.chat.messages] == ["Sys", "Before", "Hi"]
