"""``wire.openai_responses.upstream`` and ``upstream_decode``: OpenAI's own Responses API as the
upstream of Responses-format requests."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from keyroute.core.chat import (
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
from keyroute.core.errors import UnsupportedFeature
from keyroute.wire.openai_responses.items import seal, unseal
from keyroute.wire.openai_responses.request import decode_request
from keyroute.wire.openai_responses.upstream import encode_upstream_request, reasoning_origin

USER = Message(role="user", content=(TextPart(text="hi"),))


def req(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(
        model="openai/gpt-5",
        messages=messages or (USER,),
        source_format="openai_responses",
        **fields,
    )


def test_a_decoded_request_goes_up_with_every_mapped_field() -> None:
    body = {
        "model": "openai/gpt-5",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "wx", "arguments": '{"a":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ],
        "tools": [{"type": "function", "name": "wx", "parameters": {}, "defer_loading": True}],
        "tool_choice": {"type": "function", "name": "wx"},
        "parallel_tool_calls": False,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "max_output_tokens": 99,
        "temperature": 0.5,
        "top_p": 0.9,
        "reasoning": {"effort": "high", "summary": "auto"},
        "metadata": {"team": "a"},
        "safety_identifier": "u1",
        "service_tier": "flex",
        "stream": True,
    }
    sent = encode_upstream_request(decode_request(msgspec.json.encode(body)).chat, "gpt-5")
    assert sent == {
        "model": "gpt-5",
        "store": False,
        "input": [
            {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Weather?"}],
            },
            {"type": "function_call", "call_id": "c1", "name": "wx", "arguments": '{"a":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ],
        "tools": [{"type": "function", "name": "wx", "parameters": {}, "defer_loading": True}],
        "tool_choice": {"type": "function", "name": "wx"},
        "parallel_tool_calls": False,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "max_output_tokens": 99,
        "temperature": 0.5,
        "top_p": 0.9,
        "reasoning": {"effort": "high", "summary": "auto"},
        "metadata": {"team": "a"},
        "safety_identifier": "u1",
        "service_tier": "flex",
        "stream": True,
    }


def test_assistant_turns_images_schemas_and_errors() -> None:
    image = ImagePart(data="AAAA", media_type="image/png")
    turns = (
        Message(
            role="user",
            content=(TextPart(text="look"), ImagePart(url="https://x/y.png", detail="low")),
        ),
        Message(
            role="assistant",
            content=(
                ThinkingPart(text="t", signature="sig"),
                TextPart(text=""),
                TextPart(text="ok"),
            ),
            refusal="no",
            tool_calls=(ToolCall(id="c", name="f", arguments="{}"),),
        ),
        Message(role="tool", tool_call_id="c", content=(TextPart(text="boom"),), is_error=True),
        Message(role="tool", tool_call_id="c", content=(TextPart(text='"x"'),), is_error=True),
        Message(role="tool", tool_call_id="c", content=(TextPart(text="see"), image)),
    )
    fmt = ResponseFormat(
        type="json_schema", name="n", schema={"type": "object"}, strict=True, description="d"
    )
    sent = encode_upstream_request(
        req(
            *turns,
            response_format=fmt,
            tool_choice=ToolChoice(mode="required"),
            tools=(ToolSpec(name="f", description="does", strict=True),),
        ),
        "gpt-5",
    )
    assert sent["input"][0]["content"][1] == {
        "type": "input_image",
        "image_url": "https://x/y.png",
        "detail": "low",
    }
    assert sent["input"][1] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "ok"}, {"type": "refusal", "refusal": "no"}],
    }
    assert sent["input"][2] == {
        "type": "function_call",
        "call_id": "c",
        "name": "f",
        "arguments": "{}",
    }
    assert sent["input"][3]["output"] == '{"error": "boom"}'
    assert sent["input"][4]["output"] == '{"error": "x"}'
    assert sent["input"][5]["output"] == [
        {"type": "input_text", "text": "see"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
    ]
    assert sent["text"] == {
        "format": {
            "type": "json_schema",
            "name": "n",
            "schema": {"type": "object"},
            "strict": True,
            "description": "d",
        }
    }
    assert sent["tool_choice"] == "required"
    assert sent["tools"] == [
        {"type": "function", "name": "f", "parameters": {}, "description": "does", "strict": True}
    ]


def test_only_openai_reasoning_is_replayed() -> None:
    mine = ThinkingPart(text="s", signature="enc", origin="openai/gpt-5#rs_1")
    theirs = ThinkingPart(text="s", signature="sig", origin="anthropic/claude#x")
    unsigned = ThinkingPart(text="s", origin="openai/gpt-5#rs_2")
    redacted = ThinkingPart(text="s", redacted=True, origin="openai/gpt-5#rs_3")
    bare = ThinkingPart(text="", signature="enc", origin="openai/gpt-5")
    turn = Message(
        role="assistant", content=(mine, theirs, unsigned, redacted, bare, TextPart(text="a"))
    )
    sent = encode_upstream_request(req(USER, turn), "gpt-5")
    assert sent["input"][1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "s"}],
        "encrypted_content": "enc",
    }
    assert sent["input"][2]["type"] == "message" and len(sent["input"]) == 3
    assert reasoning_origin(ThinkingPart(text="", signature="e")) is None
    assert reasoning_origin(ThinkingPart(text="", signature="e", origin="openai/m#")) is None
    nosummary = ThinkingPart(text="", signature="e", origin="openai/m#rs_9")
    assert (
        encode_upstream_request(req(USER, Message(role="assistant", content=(nosummary,))), "m")[
            "input"
        ][1]["summary"]
        == []
    )


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"top_k": 3}, "top_k"),
        ({"thinking_budget": 100}, "thinking"),
        ({"stop": ("x",)}, "stop"),
        ({"thinking": "disabled"}, "thinking.type"),
    ],
)
def test_what_the_api_cannot_say_is_refused_by_name(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(UnsupportedFeature) as info:
        encode_upstream_request(req(**fields), "gpt-5")
    assert info.value.param == param


def test_foreign_fields_are_refused_unless_optional() -> None:
    foreign = ChatRequest(
        model="m",
        messages=(USER,),
        passthrough={"top_logprobs": 2, "x": 1},
        optional=frozenset({"x"}),
    )
    with pytest.raises(UnsupportedFeature) as info:
        encode_upstream_request(foreign, "gpt-5")
    assert info.value.param == "top_logprobs"
    fine = ChatRequest(
        model="m",
        messages=(USER,),
        passthrough={"x": 1},
        optional=frozenset({"x"}),
        tools=(ToolSpec(name="f", extra={"y": 1}, optional=frozenset({"y"})),),
    )
    sent = encode_upstream_request(fine, "gpt-5")
    assert "x" not in sent and sent["tools"] == [
        {"type": "function", "name": "f", "parameters": {}}
    ]
    bad_tool = ChatRequest(model="m", messages=(USER,), tools=(ToolSpec(name="f", extra={"y": 1}),))
    with pytest.raises(UnsupportedFeature) as info:
        encode_upstream_request(bad_tool, "gpt-5")
    assert info.value.param == "tools[0].y"
    extra = ChatRequest(model="m", messages=(Message(role="user", extra={"z": 1}),))
    with pytest.raises(UnsupportedFeature) as info:
        encode_upstream_request(extra, "gpt-5")
    assert info.value.param == "messages[0].z"


def test_opaque_parts_only_from_openai_formats() -> None:
    mine = OpaquePart(source="openai_responses", part_type="input_file", payload={"file_id": "f"})
    sent = encode_upstream_request(
        req(Message(role="user", content=(mine, ThinkingPart(text="x")))), "m"
    )
    assert sent["input"][0]["content"] == [{"type": "input_file", "file_id": "f"}]
    doc = OpaquePart(source="anthropic", part_type="document", payload={})
    with pytest.raises(UnsupportedFeature) as info:
        encode_upstream_request(req(Message(role="user", content=(doc,))), "m")
    assert info.value.param == "messages[0].content[0]"
    with pytest.raises(UnsupportedFeature) as info:
        encode_upstream_request(req(USER, Message(role="assistant", content=(doc,))), "m")
    assert info.value.param == "messages[1].content[0]"
    with pytest.raises(UnsupportedFeature) as info:
        encode_upstream_request(req(Message(role="tool", tool_call_id="c", content=(doc,))), "m")
    assert info.value.param == "messages[0].content"


def test_seal_names_the_model_and_unseal_undoes_it() -> None:
    sealed = seal("sig.with.dots", "anthropic/claude-sonnet-4-5")
    assert sealed.startswith("kr1.") and unseal(sealed) == (
        "sig.with.dots",
        "anthropic/claude-sonnet-4-5",
    )
    assert seal("raw", None) == "raw" and unseal("raw") == ("raw", None)
    assert unseal("kr1.%%%.x") == ("kr1.%%%.x", None)  # not base64: left as it is
    assert unseal("kr1.nodot") == ("kr1.nodot", None)
    assert unseal("kr1.gA.x") == ("kr1.gA.x", None)  # not UTF-8


def test_a_bare_json_schema_format() -> None:
    fmt = ResponseFormat(type="json_schema", name="n", schema={})
    sent = encode_upstream_request(req(response_format=fmt), "m")
    assert sent["text"] == {"format": {"type": "json_schema", "name": "n", "schema": {}}}


def test_the_prompt_cache_key_goes_up_unless_the_client_sent_one() -> None:
    assert encode_upstream_request(req(prompt_cache_key="k1"), "m")["prompt_cache_key"] == "k1"
    own = req(prompt_cache_key="k1", passthrough={"prompt_cache_key": "mine"})
    assert encode_upstream_request(own, "m")["prompt_cache_key"] == "mine"
