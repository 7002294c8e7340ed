"""``keyroute.wire.gemini.request.encode_request``: canonical request -> generateContent body."""

from __future__ import annotations

from typing import Any

import pytest

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ContentPart,
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
from keyroute.core.json import JsonObject
from keyroute.wire.gemini import encode_request

HELLO = (Message(role="user", content=(TextPart(text="Hello"),)),)
WEATHER = ToolSpec(
    name="get_weather",
    description="Weather",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
CLOCK = ToolSpec(name="get_time")


def text(role: Any, value: str, **kw: Any) -> Message:
    return Message(role=role, content=(TextPart(text=value),), **kw)


def call(
    id: str, name: str = "get_weather", args: str = '{"city": "Paris"}', sig: str | None = None
):
    return ToolCall(id=id, name=name, arguments=args, signature=sig)


def result(call_id: str, value: str, **kw: Any) -> Message:
    return Message(role="tool", tool_call_id=call_id, content=(TextPart(text=value),), **kw)


def encode(messages: tuple[Message, ...] = HELLO, **kw: Any) -> dict[str, Any]:
    return encode_request(ChatRequest(model="gemini/gemini-3-flash", messages=messages, **kw))


def check(kwargs: dict[str, Any], key: str, expected: Any) -> None:
    """Encode a one-message request with ``kwargs``; compare one top-level body key."""
    assert encode(**kwargs).get(key) == expected


def check_error(kwargs: dict[str, Any], error: type[Exception], param: str) -> None:
    with pytest.raises(error) as info:
        encode(**kwargs)
    assert type(info.value) is error
    assert getattr(info.value, "param", None) == param


def user_parts(*parts: ContentPart) -> tuple[Message, ...]:
    return (Message(role="user", content=parts),)


# --- generationConfig ------------------------------------------------------------------------

GEN = "generationConfig"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, None),
        ({"max_tokens": 100}, {"maxOutputTokens": 100}),
        ({"temperature": 0.0}, {"temperature": 0.0}),
        ({"temperature": 2.0}, {"temperature": 2.0}),
        ({"top_p": 0.9, "top_k": 40}, {"topP": 0.9, "topK": 40}),
        ({"stop": ("a", "b", "c", "d", "e")}, {"stopSequences": ["a", "b", "c", "d", "e"]}),
        ({"seed": 7}, {"seed": 7}),
        (
            {"presence_penalty": 0.5, "frequency_penalty": -0.5},
            {"presencePenalty": 0.5, "frequencyPenalty": -0.5},
        ),
        ({"response_format": ResponseFormat(type="text")}, None),
        (
            {"response_format": ResponseFormat(type="json_object")},
            {"responseMimeType": "application/json"},
        ),
        (
            {"response_format": ResponseFormat(type="json_schema", schema={"type": "object"})},
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}},
        ),
        ({"reasoning_effort": "minimal"}, {"thinkingConfig": {"thinkingLevel": "MINIMAL"}}),
        ({"reasoning_effort": "low"}, {"thinkingConfig": {"thinkingLevel": "LOW"}}),
        ({"reasoning_effort": "medium"}, {"thinkingConfig": {"thinkingLevel": "MEDIUM"}}),
        ({"reasoning_effort": "high"}, {"thinkingConfig": {"thinkingLevel": "HIGH"}}),
        ({"thinking_budget": 0}, {"thinkingConfig": {"thinkingBudget": 0}}),
        (
            {"thinking_budget": 2048},
            {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}},
        ),
        (
            {"thinking_budget": -1},
            {"thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True}},
        ),
        (
            {"messages": user_parts(ImagePart(url="https://x.test/a.png", detail="low"))},
            {"mediaResolution": "MEDIA_RESOLUTION_LOW"},
        ),
        (
            {"messages": user_parts(ImagePart(url="https://x.test/a.png", detail="high"))},
            {"mediaResolution": "MEDIA_RESOLUTION_HIGH"},
        ),
        ({"messages": user_parts(ImagePart(url="https://x.test/a.png", detail="auto"))}, None),
        # Deliberate exceptions: they change no output, so they are not sent.
        ({"user": "end-user-42"}, None),
        ({"include_usage": True, "stream": True}, None),
    ],
)
def test_generation_config(kwargs, expected):
    check(kwargs, GEN, expected)


def test_user_field_is_not_sent_anywhere():
    assert "end-user-42" not in repr(encode(user="end-user-42"))


@pytest.mark.parametrize(
    ("kwargs", "error", "param"),
    [
        ({"temperature": -0.1}, InvalidRequest, "temperature"),
        ({"temperature": 2.01}, InvalidRequest, "temperature"),
        ({"stop": ("1", "2", "3", "4", "5", "6")}, UnsupportedFeature, "stop"),
        ({"reasoning_effort": "none"}, UnsupportedFeature, "reasoning_effort"),
        ({"reasoning_effort": "xhigh"}, UnsupportedFeature, "reasoning_effort"),
        ({"reasoning_effort": "low", "thinking_budget": 10}, InvalidRequest, "reasoning_effort"),
        (
            {"response_format": ResponseFormat(type="json_schema")},
            InvalidRequest,
            "response_format.json_schema",
        ),
        ({"metadata": {"k": "v"}}, UnsupportedFeature, "metadata"),
        ({"passthrough": {"logprobs": True}}, UnsupportedFeature, "logprobs"),
        (
            {"passthrough": {"thinking": {}}, "source_format": "anthropic"},
            UnsupportedFeature,
            "thinking",
        ),
        (
            {"passthrough": {"contents": []}, "source_format": "gemini"},
            InvalidRequest,
            "contents",
        ),
        ({"tool_choice": ToolChoice(mode="required")}, InvalidRequest, "tool_choice"),
        ({"tool_choice": ToolChoice(mode="tool", name="x")}, InvalidRequest, "tool_choice"),
        (
            {"tools": (WEATHER,), "tool_choice": ToolChoice(mode="tool", name="nope")},
            InvalidRequest,
            "tool_choice",
        ),
        (
            {"tools": (WEATHER,), "tool_choice": ToolChoice(mode="tool")},
            InvalidRequest,
            "tool_choice",
        ),
    ],
)
def test_request_errors(kwargs, error, param):
    check_error(kwargs, error, param)


def test_reasoning_effort_error_names_the_value():
    with pytest.raises(UnsupportedFeature, match="'xhigh'"):
        encode(reasoning_effort="xhigh")


def test_passthrough_from_gemini_is_merged_verbatim():
    body = encode(passthrough={"safetySettings": [{"category": "X"}]}, source_format="gemini")
    assert body["safetySettings"] == [{"category": "X"}]


def test_passthrough_error_names_field_and_gemini():
    with pytest.raises(UnsupportedFeature, match=r"'logprobs'.*gemini"):
        encode(passthrough={"logprobs": True})


# --- tools and tool_choice -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, None),
        ({"tools": (WEATHER,)}, None),
        ({"tools": (WEATHER,), "parallel_tool_calls": True}, None),
        ({"tools": (WEATHER,), "parallel_tool_calls": False}, None),
        ({"tool_choice": ToolChoice(mode="none")}, None),
        ({"tool_choice": ToolChoice(mode="auto")}, None),
        ({"parallel_tool_calls": False}, None),
        (
            {"tools": (WEATHER,), "tool_choice": ToolChoice(mode="auto")},
            {"functionCallingConfig": {"mode": "AUTO"}},
        ),
        (
            {"tools": (WEATHER,), "tool_choice": ToolChoice(mode="none")},
            {"functionCallingConfig": {"mode": "NONE"}},
        ),
        (
            {"tools": (WEATHER,), "tool_choice": ToolChoice(mode="required")},
            {"functionCallingConfig": {"mode": "ANY"}},
        ),
        (
            {"tools": (WEATHER, CLOCK), "tool_choice": ToolChoice(mode="tool", name="get_time")},
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}},
        ),
        (
            {"tools": (ToolSpec(name="f", strict=True),)},
            {"functionCallingConfig": {"mode": "VALIDATED"}},
        ),
        (
            {"tools": (ToolSpec(name="f", strict=True),), "tool_choice": ToolChoice(mode="auto")},
            {"functionCallingConfig": {"mode": "VALIDATED"}},
        ),
        (
            {"tools": (ToolSpec(name="f", strict=True),), "tool_choice": ToolChoice(mode="none")},
            {"functionCallingConfig": {"mode": "NONE"}},
        ),
    ],
)
def test_tool_config(kwargs, expected):
    check(kwargs, "toolConfig", expected)


def test_tools_become_function_declarations_with_json_schema():
    cached = ToolSpec(name="get_time", cache_control=CacheControl())
    assert encode(tools=(WEATHER, cached))["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather",
                    "parametersJsonSchema": WEATHER.parameters,
                },
                {"name": "get_time"},
            ]
        }
    ]


# --- messages ---------------------------------------------------------------------------------


def test_all_system_messages_kept_in_order():
    body = encode(
        (
            text("system", "one"),
            text("user", "hi"),
            text("developer", "two"),
            Message(role="system", content=(TextPart(text="three"), TextPart(text="four"))),
            text("assistant", "hello"),
            text("system", "five"),
            text("user", "bye"),
        )
    )
    assert body["systemInstruction"] == {
        "parts": [{"text": t} for t in ("one", "two", "three", "four", "five")]
    }
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]


def test_empty_system_text_adds_no_part():
    body = encode((text("system", ""), text("user", "hi")))
    assert "systemInstruction" not in body


def test_thought_signature_replayed_verbatim():
    signature = "CiQBjz1rX+/=weird==" + "A" * 200
    body = encode(
        (
            text("user", "weather?"),
            Message(
                role="assistant",
                content=(TextPart(text="Checking."),),
                tool_calls=(call("c1", sig=signature), call("c2", args='{"city": "Rome"}')),
            ),
            result("c1", "sunny"),
            result("c2", "rain"),
        )
    )
    model_turn = body["contents"][1]
    assert model_turn == {
        "role": "model",
        "parts": [
            {"text": "Checking."},
            {
                "functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": signature,
            },
            {"functionCall": {"id": "c2", "name": "get_weather", "args": {"city": "Rome"}}},
        ],
    }


@pytest.mark.parametrize(
    ("content", "is_error", "expected"),
    [
        ('{"temp": 18}', False, {"temp": 18}),
        ("42", False, {"result": 42}),
        ('"quoted"', False, {"result": "quoted"}),
        ("[1, 2]", False, {"result": [1, 2]}),
        ("null", False, {"result": None}),
        ("true", False, {"result": True}),
        ("plain text", False, {"result": "plain text"}),
        ("", False, {"result": ""}),
        ("{not json", False, {"result": "{not json"}),
        ("boom", True, {"error": "boom"}),
        ('{"code": 5}', True, {"error": {"code": 5}}),
    ],
)
def test_function_response_is_an_object(content, is_error, expected):
    body = encode(
        (
            text("user", "q"),
            Message(role="assistant", tool_calls=(call("c1"),)),
            result("c1", content, is_error=is_error),
        )
    )
    part = body["contents"][2]["parts"][0]
    assert part == {"functionResponse": {"id": "c1", "name": "get_weather", "response": expected}}
    assert isinstance(part["functionResponse"]["response"], dict)


def test_consecutive_tool_results_share_one_user_turn():
    body = encode(
        (
            text("user", "q"),
            Message(role="assistant", tool_calls=(call("a"), call("b", name="get_time"))),
            result("a", "1"),
            result("b", "2", name="get_time"),
            text("user", "thanks"),
        )
    )
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user", "user"]
    names = [p["functionResponse"]["name"] for p in body["contents"][2]["parts"]]
    assert names == ["get_weather", "get_time"]
    assert body["contents"][3] == {"role": "user", "parts": [{"text": "thanks"}]}


def test_tool_results_after_separate_turns_are_separate():
    body = encode(
        (
            text("user", "q"),
            Message(role="assistant", tool_calls=(call("a"),)),
            result("a", "1"),
            Message(role="assistant", tool_calls=(call("b"),)),
            result("b", "2"),
        )
    )
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user", "model", "user"]


def test_empty_arguments_become_an_empty_object():
    body = encode((text("user", "q"), Message(role="assistant", tool_calls=(call("a", args=""),))))
    assert body["contents"][1]["parts"][0]["functionCall"]["args"] == {}


def test_empty_text_parts_are_skipped_and_cache_control_ignored():
    message = Message(
        role="user",
        content=(TextPart(text=""), TextPart(text="hi", cache_control=CacheControl(ttl="1h"))),
    )
    assert encode((message,))["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        (
            ImagePart(data="iVBOR", media_type="image/png"),
            {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
        ),
        (
            ImagePart(url="data:image/webp;base64,UklGR"),
            {"inlineData": {"mimeType": "image/webp", "data": "UklGR"}},
        ),
        (
            ImagePart(url="https://x.test/cat.png"),
            {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/cat.png"}},
        ),
        (
            ImagePart(url="http://x.test/a/cat.JPG?size=2"),
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "http://x.test/a/cat.JPG?size=2"}},
        ),
        (
            ImagePart(url="https://x.test/photo.heic"),
            {"fileData": {"mimeType": "image/heic", "fileUri": "https://x.test/photo.heic"}},
        ),
        (
            ImagePart(url="https://x.test/render", media_type="image/webp"),
            {"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/render"}},
        ),
    ],
)
def test_images(part, expected):
    assert encode(user_parts(part))["contents"][0]["parts"] == [expected]


@pytest.mark.parametrize(
    ("messages", "error", "param"),
    [
        (
            user_parts(ImagePart(url="https://x.test/render")),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        (
            user_parts(ImagePart(url="https://x.test/v.1/img")),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        (
            user_parts(ImagePart(url="https://x.test/a.svg")),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        (
            user_parts(ImagePart(url="ftp://x.test/a.png")),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        (user_parts(ImagePart(data="abc")), InvalidRequest, "messages[0].content[0]"),
        (user_parts(ImagePart()), InvalidRequest, "messages[0].content[0]"),
        (
            user_parts(
                ImagePart(url="https://x.test/a.png", detail="low"),
                ImagePart(url="https://x.test/b.png", detail="high"),
            ),
            UnsupportedFeature,
            "messages",
        ),
        (
            (Message(role="system", content=(ImagePart(url="https://x.test/a.png"),)), *HELLO),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        (
            user_parts(OpaquePart(source="openai", part_type="input_audio", payload={})),
            UnsupportedFeature,
            "messages[0].content[0]",
        ),
        ((text("user", "hi", name="ada"),), UnsupportedFeature, "messages[0].name"),
        ((text("system", "s", name="boss"), *HELLO), UnsupportedFeature, "messages[0].name"),
        ((text("system", "only system"),), InvalidRequest, "messages"),
        ((text("user", ""),), InvalidRequest, "messages[0].content"),
        ((*HELLO, result("nope", "1")), InvalidRequest, "messages[1].tool_call_id"),
        (
            (*HELLO, Message(role="tool", content=(TextPart(text="x"),))),
            InvalidRequest,
            "messages[1].tool_call_id",
        ),
        (
            (
                *HELLO,
                Message(role="assistant", tool_calls=(call("a"),)),
                result("a", "1", name="f"),
            ),
            InvalidRequest,
            "messages[2].name",
        ),
        (
            (
                *HELLO,
                Message(role="assistant", tool_calls=(call("a"),)),
                Message(
                    role="tool", tool_call_id="a", content=(ImagePart(url="https://x.test/a.png"),)
                ),
            ),
            UnsupportedFeature,
            "messages[2].content[0]",
        ),
        (
            (*HELLO, Message(role="assistant", tool_calls=(call("a", args="{oops"),))),
            InvalidRequest,
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            (*HELLO, Message(role="assistant", tool_calls=(call("a", args="[1]"),))),
            InvalidRequest,
            "messages[1].tool_calls[0].function.arguments",
        ),
    ],
)
def test_message_errors(messages, error, param):
    check_error({"messages": messages}, error, param)


def test_unknown_image_type_message_is_clear():
    with pytest.raises(UnsupportedFeature, match="MIME type"):
        encode(user_parts(ImagePart(url="https://x.test/render")))


def test_opaque_part_error_names_the_part_and_gemini():
    part = OpaquePart(source="anthropic", part_type="document", payload={})
    with pytest.raises(UnsupportedFeature, match=r"anthropic 'document'.*gemini"):
        encode(user_parts(part))


def test_gemini_opaque_part_is_sent_verbatim():
    payload: JsonObject = {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
    part = OpaquePart(source="gemini", part_type="executableCode", payload=payload)
    assert encode(user_parts(part))["contents"][0]["parts"] == [payload]


def test_foreign_thinking_is_dropped_and_gemini_thinking_replayed():
    thinking = ThinkingPart(text="hmm", signature="SIG")
    messages = (
        *HELLO,
        Message(role="assistant", content=(thinking, TextPart(text="answer"))),
        text("user", "more"),
    )
    from_anthropic = encode(messages, source_format="anthropic")
    assert from_anthropic["contents"][1]["parts"] == [{"text": "answer"}]
    from_gemini = encode(messages, source_format="gemini")
    assert from_gemini["contents"][1]["parts"] == [
        {"text": "hmm", "thought": True, "thoughtSignature": "SIG"},
        {"text": "answer"},
    ]
    unsigned = Message(role="assistant", content=(ThinkingPart(text="t"), TextPart(text="a")))
    assert encode((*HELLO, unsigned), source_format="gemini")["contents"][1]["parts"][0] == {
        "text": "t",
        "thought": True,
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"thinking": "adaptive", "thinking_display": "omitted"}, None),
        ({"thinking": "adaptive", "thinking_display": "summarized"}, {"includeThoughts": True}),
        (
            {"thinking": "adaptive", "reasoning_effort": "high", "thinking_display": "summarized"},
            {"thinkingLevel": "HIGH", "includeThoughts": True},
        ),
        ({"thinking": "disabled"}, {"thinkingBudget": 0}),
    ],
)
def test_anthropic_thinking_modes(kwargs, expected):
    config = encode(source_format="anthropic", **kwargs).get(GEN, {})
    assert config.get("thinkingConfig") == expected


def test_optional_fields_of_another_format_are_left_out():
    tool = ToolSpec(name="f", extra={"defer_loading": True}, optional=frozenset({"defer_loading"}))
    body = encode(
        tools=(tool,),
        passthrough={"context_management": {}},
        optional=frozenset({"context_management"}),
        source_format="anthropic",
    )
    assert body["tools"] == [{"functionDeclarations": [{"name": "f"}]}]
    assert "context_management" not in body


def test_an_unknown_tool_field_of_another_format_is_refused_by_name():
    tool = ToolSpec(name="f", extra={"eager": True, "later": 1}, optional=frozenset({"eager"}))
    check_error(
        {"tools": (tool,), "source_format": "anthropic"}, UnsupportedFeature, "tools[0].later"
    )


def test_a_turn_effort_sets_the_level_and_other_turn_fields_are_refused():
    turn = text("user", "Hello", reasoning_effort="high")
    assert encode((turn,), reasoning_effort="low")[GEN]["thinkingConfig"] == {
        "thinkingLevel": "HIGH"
    }
    check_error(
        {"messages": (text("user", "Hello", extra={"x": 1}),)}, UnsupportedFeature, "messages[0].x"
    )


def test_thinking_with_an_origin_goes_back_to_its_own_provider_only():
    def parts(origin: str, source: str) -> Any:
        thinking = ThinkingPart(text="hmm", signature="SIG", origin=origin)
        turn = Message(role="assistant", content=(thinking, TextPart(text="a")))
        return encode((*HELLO, turn), source_format=source)["contents"][1]["parts"]

    assert parts("gemini/gemini-3-pro", "openai_responses")[0]["thoughtSignature"] == "SIG"
    assert parts("anthropic/claude-sonnet-4-5", "gemini") == [{"text": "a"}]
