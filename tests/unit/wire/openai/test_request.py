"""``keyroute.wire.openai.request.decode_request``: client chat-completions bodies -> canonical."""

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
from keyroute.wire.openai.encode import encode_request
from keyroute.wire.openai.request import decode_request, image_from_url

USER = {"role": "user", "content": "hi"}
BASE: dict[str, Any] = {"model": "openai/gpt-4o", "messages": [USER]}


def body(**fields: Any) -> bytes:
    return json.dumps({**BASE, **fields}).encode()


def decode(**fields: Any) -> ChatRequest:
    return decode_request(body(**fields))


def check_error(
    raw: bytes, param: str | None, cls: type[InvalidRequest] = InvalidRequest
) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        decode_request(raw)
    assert type(info.value) is cls
    assert info.value.param == param
    assert info.value.status_code() == 400
    return info.value


def without(field: str) -> bytes:
    return json.dumps({k: v for k, v in BASE.items() if k != field}).encode()


def user_parts(*parts: dict[str, Any]) -> bytes:
    return body(messages=[{"role": "user", "content": list(parts)}])


def image(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


@pytest.mark.parametrize(
    ("raw", "param", "cls"),
    [
        (b"", None, InvalidRequest),
        (b"{not json", None, InvalidRequest),
        (b"[]", None, InvalidRequest),
        (b'"text"', None, InvalidRequest),
        (without("model"), "model", InvalidRequest),
        (without("messages"), "messages", InvalidRequest),
        (body(model=""), "model", InvalidRequest),
        (body(model=5), "model", InvalidRequest),
        (body(messages=[]), "messages", InvalidRequest),
        (body(messages=None), "messages", InvalidRequest),
        (body(messages={}), "messages", InvalidRequest),
        (body(messages=[5]), "messages[0]", InvalidRequest),
        (body(messages=[{"role": "bogus", "content": "x"}]), "messages[0].role", InvalidRequest),
        (body(messages=[{"content": "x"}]), "messages[0]", InvalidRequest),
        (body(messages=[{"role": "user"}]), "messages[0]", InvalidRequest),
        (
            body(messages=[USER, {"role": "user", "content": "x", "foo": 1}]),
            "messages[1]",
            InvalidRequest,
        ),
        (body(messages=[{"role": "tool", "content": "x"}]), "messages[0]", InvalidRequest),
        (user_parts({"type": "video", "url": "x"}), "messages[0].content[0].type", InvalidRequest),
        (user_parts({"type": "text"}), "messages[0].content[0]", InvalidRequest),
        (
            user_parts(image("https://e/x.png", detail="max")),
            "messages[0].content[0].image_url.detail",
            InvalidRequest,
        ),
        (
            body(messages=[{"role": "system", "content": [image("https://e/x.png")]}]),
            "messages[0].content[0].type",
            InvalidRequest,
        ),
        (body(n=2), "n", UnsupportedFeature),
        (body(n=0), "n", UnsupportedFeature),
        (body(max_tokens=10, max_completion_tokens=20), "max_completion_tokens", InvalidRequest),
        (body(max_tokens=0), "max_tokens", InvalidRequest),
        (body(max_tokens=-5), "max_tokens", InvalidRequest),
        (body(max_completion_tokens=0), "max_completion_tokens", InvalidRequest),
        (body(max_tokens=True), "max_tokens", InvalidRequest),
        (body(max_tokens=1.5), "max_tokens", InvalidRequest),
        (body(temperature=2.01), "temperature", InvalidRequest),
        (body(temperature=-0.1), "temperature", InvalidRequest),
        (body(temperature="hot"), "temperature", InvalidRequest),
        (body(top_p=1.5), "top_p", InvalidRequest),
        (body(top_p=-1), "top_p", InvalidRequest),
        (body(stop=["a", "b", "c", "d", "e"]), "stop", InvalidRequest),
        (body(stop=[1]), "stop[0]", InvalidRequest),
        (body(stop=5), "stop", InvalidRequest),
        (body(stream="yes"), "stream", InvalidRequest),
        (body(stream_options={"include_usage": True}), "stream_options", InvalidRequest),
        (
            body(stream=False, stream_options={"include_usage": True}),
            "stream_options",
            InvalidRequest,
        ),
        (
            body(stream=True, stream_options={"include_usage": True, "x": 1}),
            "stream_options",
            InvalidRequest,
        ),
        (body(tool_choice="bogus"), "tool_choice", InvalidRequest),
        (
            body(tool_choice={"type": "function", "function": {}}),
            "tool_choice.function",
            InvalidRequest,
        ),
        (
            body(tool_choice={"type": "custom", "function": {"name": "f"}}),
            "tool_choice.type",
            InvalidRequest,
        ),
        (
            body(tools=[{"type": "retrieval", "function": {"name": "f"}}]),
            "tools[0].type",
            InvalidRequest,
        ),
        (body(tools=[{"type": "function"}]), "tools[0]", InvalidRequest),
        (
            body(tools=[{"type": "function", "function": {"name": "f", "x": 1}}]),
            "tools[0].function",
            InvalidRequest,
        ),
        (body(response_format={"type": "xml"}), "response_format.type", InvalidRequest),
        (
            body(response_format={"type": "json_schema"}),
            "response_format.json_schema",
            InvalidRequest,
        ),
        (
            body(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
            "response_format.json_schema",
            InvalidRequest,
        ),
        (body(seed="1"), "seed", InvalidRequest),
        (body(parallel_tool_calls="yes"), "parallel_tool_calls", InvalidRequest),
        (
            body(
                messages=[
                    USER,
                    {
                        "role": "assistant",
                        "content": None,
                        "function_call": {"name": "f", "arguments": "{}"},
                    },
                ]
            ),
            "messages[1].function_call",
            UnsupportedFeature,
        ),
        (
            body(
                messages=[
                    USER,
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
                    },
                ]
            ),
            "messages[1].tool_calls[0].function",
            InvalidRequest,
        ),
    ],
)
def test_invalid(raw: bytes, param: str | None, cls: type[InvalidRequest]) -> None:
    check_error(raw, param, cls)


def test_metadata_values_must_be_strings() -> None:
    err = check_error(body(metadata={"team": 1}), "metadata[...]")
    assert "metadata" in err.message


def test_malformed_data_url_names_its_path() -> None:
    check_error(user_parts(image("data:image/png,AAAA")), "messages[0].content[0].image_url.url")
    check_error(
        body(
            messages=[
                USER,
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        image("data:image/png;charset=x,AAAA"),
                    ],
                },
            ]
        ),
        "messages[1].content[1].image_url.url",
    )


def test_malformed_data_url_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="data:<mime>;base64"):
        decode_request(user_parts(image("data:image/png,AAAA")))


def check(raw: bytes, **expected: Any) -> None:
    req = decode_request(raw)
    assert {k: getattr(req, k) for k in expected} == expected


def text(role: str, content: str) -> Message:
    return Message(role=role, content=(TextPart(text=content),))  # type: ignore[arg-type]


HI = text("user", "hi")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            body(),
            {
                "model": "openai/gpt-4o",
                "messages": (HI,),
                "stream": False,
                "include_usage": False,
                "max_tokens": None,
                "stop": (),
                "tools": (),
                "tool_choice": None,
                "passthrough": {},
                "source_format": "openai",
            },
        ),
        (body(max_tokens=10), {"max_tokens": 10}),
        (body(max_completion_tokens=20), {"max_tokens": 20}),
        (body(max_tokens=30, max_completion_tokens=30), {"max_tokens": 30}),
        (body(max_tokens=None, max_completion_tokens=7), {"max_tokens": 7}),
        (body(stop="END"), {"stop": ("END",)}),
        (body(stop=["a", "b"]), {"stop": ("a", "b")}),
        (body(stop=[]), {"stop": ()}),
        (body(stop=None), {"stop": ()}),
        (body(n=1), {"passthrough": {}}),
        (body(stream=True), {"stream": True, "include_usage": False}),
        (
            body(stream=True, stream_options={"include_usage": True}),
            {"stream": True, "include_usage": True},
        ),
        (body(stream=True, stream_options={"include_usage": False}), {"include_usage": False}),
        (
            body(stream=True, stream_options={"include_obfuscation": False}),
            {"include_usage": False},
        ),
        (body(temperature=0, top_p=1), {"temperature": 0, "top_p": 1}),
        (body(temperature=2, top_p=0.0), {"temperature": 2, "top_p": 0.0}),
        (
            body(seed=42, presence_penalty=0.5, frequency_penalty=-0.5, user="u1"),
            {"seed": 42, "presence_penalty": 0.5, "frequency_penalty": -0.5, "user": "u1"},
        ),
        (
            body(reasoning_effort="high", parallel_tool_calls=False, metadata={"team": "a"}),
            {"reasoning_effort": "high", "parallel_tool_calls": False, "metadata": {"team": "a"}},
        ),
        (body(tool_choice="auto"), {"tool_choice": ToolChoice(mode="auto")}),
        (body(tool_choice="none"), {"tool_choice": ToolChoice(mode="none")}),
        (body(tool_choice="required"), {"tool_choice": ToolChoice(mode="required")}),
        (
            body(tool_choice={"type": "function", "function": {"name": "f"}}),
            {"tool_choice": ToolChoice(mode="tool", name="f")},
        ),
        (
            body(tool_choice={"function": {"name": "g"}}),
            {"tool_choice": ToolChoice(mode="tool", name="g")},
        ),
        (body(response_format={"type": "text"}), {"response_format": ResponseFormat(type="text")}),
        (
            body(response_format={"type": "json_object"}),
            {"response_format": ResponseFormat(type="json_object")},
        ),
        (
            body(
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": "out",
                        "schema": {"type": "object"},
                        "strict": True,
                        "description": "d",
                    },
                }
            ),
            {
                "response_format": ResponseFormat(
                    type="json_schema",
                    name="out",
                    schema={"type": "object"},
                    strict=True,
                    description="d",
                )
            },
        ),
        (
            body(response_format={"type": "json_schema", "json_schema": {"name": "bare"}}),
            {"response_format": ResponseFormat(type="json_schema", name="bare")},
        ),
        (
            body(tools=[{"type": "function", "function": {"name": "f"}}]),
            {"tools": (ToolSpec(name="f"),)},
        ),
        (
            body(
                tools=[
                    {
                        "type": "function",
                        "cache_control": {"type": "ephemeral"},
                        "function": {
                            "name": "f",
                            "description": "d",
                            "strict": True,
                            "parameters": {"type": "object", "properties": {}},
                        },
                    }
                ]
            ),
            {
                "tools": (
                    ToolSpec(
                        name="f",
                        description="d",
                        strict=True,
                        parameters={"type": "object", "properties": {}},
                        cache_control=CacheControl(),
                    ),
                )
            },
        ),
    ],
)
def test_fields(raw: bytes, expected: dict[str, Any]) -> None:
    check(raw, **expected)


@pytest.mark.parametrize(
    ("extra", "passthrough"),
    [
        ({"logprobs": True, "top_logprobs": 2}, {"logprobs": True, "top_logprobs": 2}),
        ({"service_tier": "flex", "store": True}, {"service_tier": "flex", "store": True}),
        ({"logit_bias": {"50256": -100}}, {"logit_bias": {"50256": -100}}),
        (
            {"prediction": {"type": "content", "content": "x"}},
            {"prediction": {"type": "content", "content": "x"}},
        ),
        ({"web_search_options": {}, "stream": False}, {"web_search_options": {}}),
        ({"temperature": 1}, {}),
    ],
)
def test_unknown_top_level_fields_pass_through(
    extra: dict[str, Any], passthrough: dict[str, Any]
) -> None:
    check(body(**extra), passthrough=passthrough)


def messages(*raw: dict[str, Any]) -> tuple[Message, ...]:
    return decode_request(body(messages=list(raw))).messages


CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
TOOL_CALL = ToolCall(id="call_1", name="f", arguments='{"a":1}')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"role": "system", "content": "sys"}, text("system", "sys")),
        ({"role": "developer", "content": "dev"}, text("developer", "dev")),
        (
            {
                "role": "system",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            Message(role="system", content=(TextPart(text="a"), TextPart(text="b"))),
        ),
        (
            {"role": "system", "content": "s", "name": "n"},
            Message(role="system", content=(TextPart(text="s"),), name="n"),
        ),
        (
            {"role": "user", "content": "u", "name": "alice"},
            Message(role="user", content=(TextPart(text="u"),), name="alice"),
        ),
        ({"role": "user", "content": ""}, text("user", "")),
        (
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "t",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    }
                ],
            },
            Message(
                role="user", content=(TextPart(text="t", cache_control=CacheControl(ttl="1h")),)
            ),
        ),
        (
            {"role": "user", "content": [image("https://e.com/x.png")]},
            Message(role="user", content=(ImagePart(url="https://e.com/x.png"),)),
        ),
        (
            {"role": "user", "content": [image("http://e.com/x.png", detail="low")]},
            Message(role="user", content=(ImagePart(url="http://e.com/x.png", detail="low"),)),
        ),
        (
            {
                "role": "user",
                "content": [image("data:image/png;base64,iVBORw0KGgo=", detail="high")],
            },
            Message(
                role="user",
                content=(ImagePart(data="iVBORw0KGgo=", media_type="image/png", detail="high"),),
            ),
        ),
        (
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}
                ],
            },
            Message(
                role="user",
                content=(
                    OpaquePart(
                        source="openai",
                        part_type="input_audio",
                        payload={"data": "AAA", "format": "wav"},
                    ),
                ),
            ),
        ),
        (
            {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]},
            Message(
                role="user",
                content=(
                    OpaquePart(source="openai", part_type="file", payload={"file_id": "file-1"}),
                ),
            ),
        ),
        (
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
            Message(role="tool", content=(TextPart(text="42"),), tool_call_id="call_1"),
        ),
        (
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "4"}]},
            Message(role="tool", content=(TextPart(text="4"),), tool_call_id="call_1"),
        ),
        ({"role": "assistant", "content": "ok"}, text("assistant", "ok")),
        ({"role": "assistant", "content": ""}, Message(role="assistant")),
        (
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            Message(role="assistant", tool_calls=(TOOL_CALL,)),
        ),
        (
            {"role": "assistant", "tool_calls": [CALL]},
            Message(role="assistant", tool_calls=(TOOL_CALL,)),
        ),
        ({"role": "assistant", "content": [{"type": "text", "text": "x"}]}, text("assistant", "x")),
        (
            {"role": "assistant", "content": "a", "reasoning_content": "think"},
            Message(role="assistant", content=(ThinkingPart(text="think"), TextPart(text="a"))),
        ),
        (
            {"role": "assistant", "content": None, "refusal": "no"},
            Message(role="assistant", refusal="no"),
        ),
        (
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
            Message(role="assistant", refusal="no"),
        ),
        (
            {
                "role": "assistant",
                "refusal": "a",
                "content": [{"type": "text", "text": "t"}, {"type": "refusal", "refusal": "b"}],
            },
            Message(role="assistant", content=(TextPart(text="t"),), refusal="a\nb"),
        ),
        # An SDK response message echoed back verbatim (model_dump of ChatCompletionMessage).
        (
            {
                "role": "assistant",
                "content": "hello",
                "refusal": None,
                "annotations": [],
                "audio": None,
                "function_call": None,
                "tool_calls": None,
            },
            text("assistant", "hello"),
        ),
        (
            {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "annotations": [],
                "audio": None,
                "function_call": None,
                "tool_calls": [CALL],
            },
            Message(role="assistant", tool_calls=(TOOL_CALL,)),
        ),
    ],
)
def test_message(raw: dict[str, Any], expected: Message) -> None:
    assert messages(raw) == (expected,)


def test_sdk_message_model_dump_is_accepted() -> None:
    from openai.types.chat import ChatCompletionMessage

    sdk = ChatCompletionMessage.model_validate(
        {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "annotations": [],
            "audio": None,
            "function_call": None,
            "tool_calls": [CALL],
        }
    )
    echoed = json.loads(sdk.model_dump_json())
    assert messages(USER, echoed)[1] == Message(role="assistant", tool_calls=(TOOL_CALL,))


def test_stream_helper_message_is_accepted_and_its_echoes_are_not_forwarded() -> None:
    """The ``.stream()`` helpers' final message: ``parsed``, ``index``, ``parsed_arguments``."""
    function = {"name": "f", "arguments": '{"a":1}', "parsed_arguments": {"a": 1}}
    call = {**CALL, "index": 0, "function": function}
    echoed = {
        "role": "assistant",
        "content": None,
        "parsed": None,
        "refusal": None,
        "annotations": [{"type": "url_citation", "url_citation": {"url": "https://x"}}],
        "tool_calls": [call],
    }
    req = decode_request(body(messages=[USER, echoed]))
    assert req.messages[1] == Message(role="assistant", tool_calls=(TOOL_CALL,))
    sent = encode_request(req, "gpt-4o", provider="openai")["messages"][1]
    assert sent == {"role": "assistant", "content": None, "tool_calls": [CALL]}


def test_an_echoed_audio_answer_stands_for_its_transcript() -> None:
    audio = {"id": "a1", "data": "AAA", "expires_at": 1, "transcript": "Hello."}
    assert messages(USER, {"role": "assistant", "content": None, "audio": audio})[1] == text(
        "assistant", "Hello."
    )


def test_a_tool_field_keyroute_does_not_know_is_kept_on_that_tool() -> None:
    tool = {"type": "function", "function": {"name": "f"}, "defer_loading": True}
    req = decode_request(body(tools=[{"type": "function", "function": {"name": "g"}}, tool]))
    assert [t.extra for t in req.tools] == [{}, {"defer_loading": True}]


def test_messages_keep_their_order() -> None:
    got = messages(
        {"role": "system", "content": "s"},
        USER,
        {"role": "developer", "content": "d"},
        {"role": "assistant", "content": "a"},
    )
    assert [m.role for m in got] == ["system", "user", "developer", "assistant"]


def test_empty_function_call_and_audio_are_treated_as_absent() -> None:
    assert messages({"role": "assistant", "content": "x", "function_call": {}, "audio": {}}) == (
        text("assistant", "x"),
    )


@pytest.mark.parametrize(
    "assistant",
    [
        {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        {
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": "I can't help with that."}],
        },
    ],
)
def test_assistant_refusal_is_kept_or_refused(assistant: dict[str, Any]) -> None:
    raw = body(messages=[USER, assistant, {"role": "user", "content": "why?"}])
    try:
        req = decode_request(raw)
    except InvalidRequest as exc:
        assert exc.param is not None and exc.param.startswith("messages[1]")
        return
    sent = encode_request(req, "gpt-4o", provider="openai")
    assert "I can't help with that." in json.dumps(sent["messages"][1])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://e.com/a.png", ImagePart(url="https://e.com/a.png")),
        ("data:image/jpeg;base64,/9j/4AAQ", ImagePart(data="/9j/4AAQ", media_type="image/jpeg")),
        (
            "data:image/svg+xml;base64,PHN2Zz4=",
            ImagePart(data="PHN2Zz4=", media_type="image/svg+xml"),
        ),
        ("data:image/png;base64,", ImagePart(data="", media_type="image/png")),
    ],
)
def test_image_from_url(url: str, expected: ImagePart) -> None:
    assert image_from_url(url) == expected


@pytest.mark.parametrize(
    "url", ["data:image/png,AAAA", "data:;base64,AAAA", "data:png;base64,AAAA", "data:"]
)
def test_image_from_url_refuses_malformed_data_urls(url: str) -> None:
    with pytest.raises(InvalidRequest):
        image_from_url(url)


def test_image_from_url_error_names_the_given_param() -> None:
    with pytest.raises(InvalidRequest) as info:
        image_from_url("data:x", param="source.url")
    assert info.value.param == "source.url"


def test_image_from_url_keeps_detail_and_cache() -> None:
    got = image_from_url("https://e/x", "low", CacheControl(ttl="5m"))
    assert got == ImagePart(url="https://e/x", detail="low", cache_control=CacheControl(ttl="5m"))
