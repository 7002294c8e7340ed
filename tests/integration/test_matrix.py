"""The translation matrix: inbound format x upstream provider x feature, over real sockets.

Every cell calls the gateway through an official SDK (``openai`` on ``/v1/chat/completions``,
``anthropic`` on ``/v1/messages``) with a model of one of four upstreams (``openai``, an
OpenAI-compatible host, ``anthropic``, ``gemini``), each a fake speaking its provider's wire format.
A cell either works, and then asserts both what the provider received in its own format (every
parameter of the feature arrived) and what the client got back (validated by the SDK's types), or
is refused: a 400 in the client's error format naming the feature and the provider, with nothing
sent upstream. A real bug is a strict xfail whose reason starts with "BUG:". README.md's
"Translation matrix" states what this module proves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from tests.integration.matrix_cases import (
    ASK,
    FINISH,
    HI,
    PROVIDER_ID,
    TIME_CALL,
    WEATHER_CALL,
    WIRE,
    Answer,
    Call,
    World,
    cells,
    choice_sent,
    client_tools,
    expect,
    function_response,
    generation,
    logprob,
    max_tokens_sent,
    open_world,
    per,
    replay,
    tool_result,
    tools_for,
    turn,
)

pytestmark = pytest.mark.integration
CELL = ("inbound", "upstream")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with open_world(tmp_path_factory.mktemp("matrix") / "data", prompt_cache=False) as world:
        yield world


@pytest.fixture
def w(world: World) -> World:
    world.reset()
    return world


# -- plain text, system prompt, multi-turn -----------------------------------------------------


@pytest.mark.parametrize(CELL, cells())
def test_plain_text(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text="Hello there.")
    got = w.ask(inbound, upstream, messages=HI, **per(inbound, {}, {"max_tokens": 300}))
    assert (got.text, got.calls, got.finish) == ("Hello there.", [], FINISH[inbound]["stop"])
    assert got.usage() == (12, 4, 0, 7, 0)
    sent = w.sent(upstream)
    hi, limit = [turn(upstream, "user", "Hi")], per(inbound, None, 300)
    if WIRE[upstream] == "openai":
        expected: dict[str, Any] = {"model": sent["model"], "messages": hi}
        if limit:
            expected["max_tokens" if upstream == "compat" else "max_completion_tokens"] = limit
    elif WIRE[upstream] == "anthropic":  # the API requires max_tokens: the provider default
        expected = {"model": sent["model"], "max_tokens": limit or 4096, "messages": hi}
    else:
        expected = {"contents": hi}
        if limit:
            expected["generationConfig"] = {"maxOutputTokens": limit}
    assert sent == expected  # nothing added, nothing dropped


@pytest.mark.parametrize(CELL, cells())
def test_system_prompt(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text="Bonjour.")
    system = ["You are terse.", "Answer in French.", "Sign as Bot."]
    if inbound == "openai":  # system and developer messages, one of them mid-conversation
        messages = [
            {"role": "system", "content": system[0]},
            {"role": "developer", "content": system[1]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Salut."},
            {"role": "developer", "content": system[2]},
            {"role": "user", "content": "Again"},
        ]
        got = w.ask(inbound, upstream, messages=messages)
        turns = [turn(upstream, m["role"], m["content"]) for m in messages[2:4] + messages[5:]]
    else:
        blocks = [{"type": "text", "text": s} for s in system]
        got = w.ask(inbound, upstream, messages=HI, system=blocks)
        turns = [turn(upstream, "user", "Hi")]
    assert got.text == "Bonjour."
    sent = w.sent(upstream)
    if WIRE[upstream] == "openai" and inbound == "openai":  # each message where it stood
        assert sent["messages"] == messages
    elif WIRE[upstream] == "openai":
        assert sent["messages"] == [{"role": "system", "content": s} for s in system] + turns
    elif WIRE[upstream] == "anthropic":  # one system, its blocks in the client's order
        assert sent["system"] == [{"type": "text", "text": s} for s in system]
        assert sent["messages"] == turns
    else:
        assert sent["systemInstruction"] == {"parts": [{"text": s} for s in system]}
        assert sent["contents"] == turns


@pytest.mark.parametrize(CELL, cells())
def test_multi_turn(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text="12.")
    said = zip(("user", "assistant", "user"), ("What is 2+2?", "4.", "And times 3?"), strict=True)
    history = [{"role": role, "content": text} for role, text in said]
    assert w.ask(inbound, upstream, messages=history).text == "12."
    turns = [turn(upstream, m["role"], m["content"]) for m in history]
    assert w.sent(upstream)["contents" if WIRE[upstream] == "gemini" else "messages"] == turns


# -- tools -------------------------------------------------------------------------------------

_NAMED = {"type": "function", "function": {"name": "get_weather"}}
_TOOL = {"type": "tool", "name": "get_weather"}
_ONLY = {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
CHOICES = {  # how -> OpenAI client, Anthropic client, and what each wire must receive
    "auto": ("auto", {"type": "auto"}, "auto", {"type": "auto"}, {"mode": "AUTO"}),
    "named": (_NAMED, _TOOL, _NAMED, _TOOL, _ONLY),
    "any": ("required", {"type": "any"}, "required", {"type": "any"}, {"mode": "ANY"}),
    "none": ("none", {"type": "none"}, "none", {"type": "none"}, {"mode": "NONE"}),
}


def ask_tools(w: World, inbound: str, upstream: str, **params: Any) -> Answer:
    return w.ask(inbound, upstream, tools=client_tools(inbound), messages=ASK, **params)


@pytest.mark.parametrize("how", list(CHOICES))
@pytest.mark.parametrize(CELL, cells())
def test_tool_choice(w: World, inbound: str, upstream: str, how: str) -> None:
    """A tool definition with each tool choice (``auto`` answers with text AND a call)."""
    text = {"auto": "Let me check.", "none": "I will not call tools."}.get(how)
    calls = [] if how == "none" else [WEATHER_CALL]
    w.script(upstream, text=text, calls=calls)
    got = ask_tools(w, inbound, upstream, tool_choice=CHOICES[how][0 if inbound == "openai" else 1])
    assert (got.text, got.calls) == (text, expect(*calls))
    assert got.finish == FINISH[inbound]["stop" if how == "none" else "tool_calls"]
    if isinstance(got.raw, Message):  # text first, as the model said it
        kinds = ["text"] * bool(text) + ["tool_use"] * len(calls)
        assert [b.type for b in got.raw.content] == kinds
    sent = w.sent(upstream)
    assert sent["tools"] == tools_for(upstream)
    wire_index = {"openai": 2, "anthropic": 3, "gemini": 4}[WIRE[upstream]]
    assert choice_sent(upstream, sent) == CHOICES[how][wire_index]


@pytest.mark.parametrize(CELL, cells())
def test_parallel_tool_calls(w: World, inbound: str, upstream: str) -> None:
    # Gemini may omit call ids: the second call has none and keyroute must make a stable one.
    second = Call(None, TIME_CALL.name, TIME_CALL.arguments) if upstream == "gemini" else TIME_CALL
    w.script(upstream, text=None, calls=[WEATHER_CALL, second])
    got = ask_tools(w, inbound, upstream)
    assert got.finish == FINISH[inbound]["tool_calls"]
    assert [c[1:] for c in got.calls] == [c[1:] for c in expect(WEATHER_CALL, TIME_CALL)]
    assert got.calls[0][0] == "call_a"
    if upstream == "gemini":
        assert re.fullmatch(r"call_[0-9a-f]{24}", got.calls[1][0]), got.calls[1][0]
    else:
        assert got.calls[1][0] == "call_b"
    sent = w.sent(upstream)
    assert sent["tools"] == tools_for(upstream)
    assert choice_sent(upstream, sent) is None  # no choice given, none invented


PAIR = (WEATHER_CALL, TIME_CALL)


def results(inbound: str, second: Any = None) -> list[Any]:
    """Both calls' results; ``second`` replaces the Anthropic result block of ``call_b``."""
    if inbound == "openai":
        return [("call_a", '{"temp_c":21}'), ("call_b", "14:05")]
    text = [{"type": "text", "text": "14:05"}]
    return [tool_result("call_a", '{"temp_c":21}'), second or tool_result("call_b", text)]


@pytest.mark.parametrize(CELL, cells())
def test_tool_results(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text="21°C, and it is 14:05.")
    history = replay(inbound, PAIR, results(inbound))
    got = w.ask(inbound, upstream, tools=client_tools(inbound), messages=history)
    assert got.text == "21°C, and it is 14:05."
    sent = w.sent(upstream)
    if WIRE[upstream] == "openai":
        assert sent["messages"] == replay("openai", PAIR, results("openai"))
    elif WIRE[upstream] == "anthropic":  # both results grouped in ONE user turn
        grouped = [tool_result("call_a", '{"temp_c":21}'), tool_result("call_b", "14:05")]
        assert sent["messages"][0] == turn(upstream, "user", ASK[0]["content"])
        assert sent["messages"][1:] == replay("anthropic", PAIR, grouped)[1:]
    else:  # each functionResponse names the function of the call it answers; always an object
        weather = function_response("call_a", "get_weather", {"temp_c": 21})
        time = function_response("call_b", "get_time", {"result": "14:05"})
        calls = {"role": "model", "parts": [c.as_gemini() for c in PAIR]}
        ask = turn(upstream, "user", ASK[0]["content"])
        assert sent["contents"] == [ask, calls, {"role": "user", "parts": [weather, time]}]


@pytest.mark.parametrize(CELL, cells(inbounds=["anthropic"]))
def test_tool_error_result(w: World, inbound: str, upstream: str) -> None:
    """An Anthropic ``is_error`` tool result: OpenAI's format has no flag for it, so the result
    goes as ``{"error": ...}``, the shape Gemini reads as a failed call."""
    failed = tool_result("call_b", "clock is down", is_error=True)
    history = replay(inbound, PAIR, results(inbound, failed))
    w.script(upstream, text="21°C; the time is unknown.")
    got = w.ask(inbound, upstream, tools=client_tools(inbound), messages=history)
    assert got.text == "21°C; the time is unknown."
    sent = w.sent(upstream)
    if WIRE[upstream] == "openai":
        error = {"role": "tool", "tool_call_id": "call_b", "content": '{"error":"clock is down"}'}
        assert sent["messages"][3] == error
    elif upstream == "anthropic":
        assert sent["messages"][2]["content"][1] == failed
    else:  # Gemini reads a failed run's details under "error"
        error = function_response("call_b", "get_time", {"error": "clock is down"})
        assert sent["contents"][2]["parts"][1] == error


@pytest.mark.parametrize(CELL, cells(inbounds=["anthropic"]))
def test_image_in_tool_result(w: World, inbound: str, upstream: str) -> None:
    """An Anthropic tool result may hold an image; OpenAI's and Gemini's tool results cannot."""
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    chart = tool_result("call_a", [{"type": "text", "text": "Chart:"}, image])
    history = replay(inbound, [WEATHER_CALL], [chart])
    if WIRE[upstream] != "anthropic":
        w.refused(inbound, upstream, ("image", PROVIDER_ID[upstream]), messages=history)
        return
    w.script(upstream, text="A sunny chart.")
    assert w.ask(inbound, upstream, messages=history).text == "A sunny chart."
    assert w.sent(upstream)["messages"][2] == {"role": "user", "content": [chart]}


@pytest.mark.parametrize(CELL, cells(upstreams=["gemini"]))
def test_gemini_signature_round_trip(w: World, inbound: str, upstream: str) -> None:
    """A Gemini call's ``thoughtSignature`` goes back with the call when the client replays it
    (neither client format can carry it: keyroute remembers it by call id)."""
    call = Call("call_sig", "get_weather", '{"city":"Oslo"}')
    signed = {**call.as_gemini(), "thoughtSignature": "c2lnbmF0dXJl"}
    w.script_gemini([signed])
    assert ask_tools(w, inbound, upstream).calls == expect(call)
    w.script(upstream, text="Rain in Oslo.")
    answer = per(inbound, ("call_sig", "rain"), tool_result("call_sig", "rain"))
    history = replay(inbound, [call], [answer])
    got = w.ask(inbound, upstream, tools=client_tools(inbound), messages=history)
    assert got.text == "Rain in Oslo."
    contents = w.sent(upstream, index=1)["contents"]
    assert contents[1] == {"role": "model", "parts": [signed]}
    response = function_response("call_sig", "get_weather", {"result": "rain"})
    assert contents[2] == {"role": "user", "parts": [response]}


# -- images, JSON output, stop sequences, output limit ----------------------------------------

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
PHOTO = "https://example.com/cat.jpg"
_TEXT = {"type": "text", "text": "What are these?"}


@pytest.mark.parametrize(CELL, cells())
def test_image_input(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text="A pixel and a cat.")
    as_openai = [
        _TEXT,
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": PHOTO}},
    ]
    as_anthropic = [
        _TEXT,
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": PHOTO}},
    ]
    content = per(inbound, as_openai, as_anthropic)
    got = w.ask(inbound, upstream, messages=[{"role": "user", "content": content}])
    assert got.text == "A pixel and a cat."
    sent = w.sent(upstream)
    if WIRE[upstream] == "openai":
        assert sent["messages"] == [{"role": "user", "content": as_openai}]
    elif WIRE[upstream] == "anthropic":
        assert sent["messages"] == [{"role": "user", "content": as_anthropic}]
    else:
        inline = {"inlineData": {"mimeType": "image/png", "data": PNG}}
        linked = {"fileData": {"mimeType": "image/jpeg", "fileUri": PHOTO}}
        parts = [{"text": "What are these?"}, inline, linked]
        assert sent["contents"] == [{"role": "user", "parts": parts}]


@pytest.mark.parametrize(CELL, cells(inbounds=["openai"]))
def test_image_detail(w: World, inbound: str, upstream: str) -> None:
    image = {"type": "image_url", "image_url": {"url": PHOTO, "detail": "low"}}
    messages = [{"role": "user", "content": [_TEXT, image]}]
    if upstream == "anthropic":
        w.refused(inbound, upstream, ("detail", "anthropic"), messages=messages)
        return
    w.script(upstream)
    w.ask(inbound, upstream, messages=messages)
    sent = w.sent(upstream)
    if upstream == "gemini":  # Gemini sets the resolution per request
        assert generation(sent) == {"mediaResolution": "MEDIA_RESOLUTION_LOW"}
    else:
        assert sent["messages"] == messages


ANSWER = {"answer": {"type": "integer"}}
SCHEMA = dict(type="object", properties=ANSWER, required=["answer"], additionalProperties=False)
JSON_ASK = [{"role": "user", "content": "2+2, as JSON?"}]


@pytest.mark.parametrize(CELL, cells(inbounds=["openai"]))
def test_json_mode(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text='{"answer":4}')
    got = w.ask(inbound, upstream, messages=JSON_ASK, response_format={"type": "json_object"})
    assert got.text == '{"answer":4}'
    sent = w.sent(upstream)
    if WIRE[upstream] == "openai":
        assert sent["response_format"] == {"type": "json_object"}
    elif WIRE[upstream] == "anthropic":  # "any JSON object", as a structured output
        assert sent["output_config"] == {
            "format": {"type": "json_schema", "schema": {"type": "object"}}
        }
    else:
        assert generation(sent) == {"responseMimeType": "application/json"}


@pytest.mark.parametrize(CELL, cells())
def test_json_schema(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text='{"answer":4}')
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
    }
    output = {"format": {"type": "json_schema", "schema": SCHEMA}}
    params = per(inbound, {"response_format": fmt}, {"output_config": output})
    assert w.ask(inbound, upstream, messages=JSON_ASK, **params).text == '{"answer":4}'
    sent = w.sent(upstream)
    if WIRE[upstream] == "openai" and inbound == "openai":
        assert sent["response_format"] == fmt
    elif WIRE[upstream] == "openai":  # Anthropic's format has no schema name; OpenAI needs one
        assert sent["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": SCHEMA},
        }
    elif WIRE[upstream] == "anthropic":  # always enforced: OpenAI's strict=true holds
        assert sent["output_config"] == output
    else:
        config = generation(sent)
        assert (config["responseMimeType"], config["responseJsonSchema"]) == (
            "application/json",
            SCHEMA,
        )


@pytest.mark.parametrize(CELL, cells(inbounds=["openai"]))
def test_json_schema_description(w: World, inbound: str, upstream: str) -> None:
    described = {"name": "answer", "schema": SCHEMA, "description": "The sum, as an integer."}
    fmt = {"type": "json_schema", "json_schema": described}
    params = {"messages": JSON_ASK, "response_format": fmt}
    if WIRE[upstream] != "openai":
        w.refused(inbound, upstream, ("description", upstream), **params)
        return
    w.script(upstream, text='{"answer":4}')
    w.ask(inbound, upstream, **params)
    assert w.sent(upstream)["response_format"] == fmt


@pytest.mark.parametrize(CELL, cells())
def test_stop_sequences(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text="1 2 3 ", finish="stop_sequence", sequence="END")
    params = per(inbound, {"stop": ["END", "STOP"]}, {"stop_sequences": ["END", "STOP"]})
    got = w.ask(inbound, upstream, messages=HI, **params)
    assert got.text == "1 2 3 "
    if isinstance(got.raw, Message):
        # Only Anthropic says which sequence matched; OpenAI and Gemini just say "stop".
        said = ("stop_sequence", "END") if upstream == "anthropic" else ("end_turn", None)
        assert (got.raw.stop_reason, got.raw.stop_sequence) == said
    else:
        assert got.finish == "stop"
    sent = w.sent(upstream)
    if WIRE[upstream] == "gemini":
        assert generation(sent)["stopSequences"] == ["END", "STOP"]
    else:
        assert sent["stop" if WIRE[upstream] == "openai" else "stop_sequences"] == ["END", "STOP"]


@pytest.mark.parametrize(CELL, cells())
def test_max_tokens_reached(w: World, inbound: str, upstream: str) -> None:
    w.script(upstream, text="One two three", finish="length")
    params = per(inbound, {"max_completion_tokens": 5}, {"max_tokens": 5})
    got = w.ask(inbound, upstream, messages=HI, **params)
    assert (got.text, got.finish) == ("One two three", FINISH[inbound]["length"])
    assert max_tokens_sent(upstream, w.sent(upstream)) == 5


# -- streaming ---------------------------------------------------------------------------------


@pytest.mark.parametrize("calls", [(), (WEATHER_CALL, TIME_CALL)], ids=["text", "tool-calls"])
@pytest.mark.parametrize(CELL, cells())
def test_streaming_with_usage(w: World, inbound: str, upstream: str, calls: tuple[Call]) -> None:
    w.script_stream(upstream, ["Hel", "lo"], calls)
    tools = client_tools(inbound)
    got = w.ask_stream(inbound, upstream, messages=ASK, tools=tools)
    assert (got.text, got.calls) == ("Hello", expect(*calls))
    assert got.finish == FINISH[inbound]["tool_calls" if calls else "stop"]
    if isinstance(got.raw, Message):
        assert [b.type for b in got.raw.content] == ["text"] + ["tool_use"] * len(calls)
    written = 10 if upstream == "anthropic" else 0  # only Anthropic reports cache writes
    reasoning = 5 if upstream == "gemini" else 0  # only Gemini reports thinking here
    assert got.usage() == (100, 40, written, 20, reasoning)
    sent = w.sent(upstream, stream=True)
    assert sent["tools"] == tools_for(upstream)
    if WIRE[upstream] == "openai":
        assert sent["stream_options"] == {"include_usage": True}


# -- parameters only some providers have ------------------------------------------------------


@pytest.mark.parametrize(CELL, cells(inbounds=["openai"]))
def test_n_above_one(w: World, inbound: str, upstream: str) -> None:
    # keyroute serves one choice per request whatever the provider; it refuses before routing,
    # so the message names the parameter and no provider.
    w.refused(inbound, upstream, ["'n'"], messages=HI, n=2)


PENALTIES = {
    "seed": ("seed", 7),
    "presence_penalty": ("presencePenalty", 0.5),
    "frequency_penalty": ("frequencyPenalty", 0.25),
}


@pytest.mark.parametrize("field", list(PENALTIES))
@pytest.mark.parametrize(CELL, cells(inbounds=["openai"]))
def test_seed_and_penalties(w: World, inbound: str, upstream: str, field: str) -> None:
    gemini_field, value = PENALTIES[field]
    if upstream == "anthropic":
        w.refused(inbound, upstream, (f"'{field}'", "anthropic"), messages=HI, **{field: value})
        return
    w.script(upstream)
    w.ask(inbound, upstream, messages=HI, **{field: value})
    sent = w.sent(upstream)
    assert (generation(sent)[gemini_field] if upstream == "gemini" else sent[field]) == value


@pytest.mark.parametrize(CELL, cells())
def test_temperature_above_one(w: World, inbound: str, upstream: str) -> None:
    # Anthropic's API takes 0-1 (its SDK no longer lists the field: it goes in extra_body).
    params = per(inbound, {"temperature": 1.5}, {"extra_body": {"temperature": 1.5}})
    if upstream == "anthropic":
        w.refused(inbound, upstream, ("temperature", "anthropic"), messages=HI, **params)
        return
    w.script(upstream)
    w.ask(inbound, upstream, messages=HI, **params)
    sent = w.sent(upstream)
    assert (generation(sent) if upstream == "gemini" else sent)["temperature"] == 1.5


@pytest.mark.parametrize(CELL, cells(inbounds=["anthropic"]))
def test_top_k(w: World, inbound: str, upstream: str) -> None:
    params = {"messages": HI, "extra_body": {"top_k": 5}}
    if WIRE[upstream] == "openai":
        w.refused(inbound, upstream, ("'top_k'", f"'{PROVIDER_ID[upstream]}'"), **params)
        return
    w.script(upstream)
    w.ask(inbound, upstream, **params)
    sent = w.sent(upstream)
    assert (generation(sent)["topK"] if upstream == "gemini" else sent["top_k"]) == 5


@pytest.mark.parametrize(CELL, cells())
def test_parallel_tool_calls_off(w: World, inbound: str, upstream: str) -> None:
    off = {"type": "auto", "disable_parallel_tool_use": True}
    params = per(inbound, {"parallel_tool_calls": False}, {"tool_choice": off})
    if upstream == "gemini":  # no such setting: keyroute keeps the first call, and says so
        w.script(upstream, text=None, calls=[WEATHER_CALL, TIME_CALL])
        assert ask_tools(w, inbound, upstream, **params).calls == expect(WEATHER_CALL)
        assert w.last_headers["x-keyroute-parallel-tool-calls"] == "first-only"
        assert "parallel" not in json.dumps(w.sent(upstream))
        return
    w.script(upstream, text=None, calls=[WEATHER_CALL])
    assert ask_tools(w, inbound, upstream, **params).calls == expect(WEATHER_CALL)
    assert "x-keyroute-parallel-tool-calls" not in w.last_headers
    sent = w.sent(upstream)
    if WIRE[upstream] == "openai":
        assert sent["parallel_tool_calls"] is False
        assert sent.get("tool_choice") == per(inbound, None, "auto")
    else:  # Anthropic says it on tool_choice, whose default "auto" keyroute then spells out
        assert sent["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(CELL, cells())
def test_provider_specific_fields(w: World, inbound: str, upstream: str) -> None:
    """A field keyroute does not map travels only to a provider of the client's own format."""
    field, value = per(inbound, ("logit_bias", {"1734": -100}), ("service_tier", "auto"))
    if WIRE[upstream] != inbound:
        w.refused(
            inbound, upstream, (f"'{field}'", PROVIDER_ID[upstream]), messages=HI, **{field: value}
        )
        return
    w.script(upstream)
    w.ask(inbound, upstream, messages=HI, **{field: value})
    assert w.sent(upstream)[field] == value


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(CELL, cells(inbounds=["openai"], upstreams=["openai", "compat"]))
def test_logprobs_round_trip(w: World, inbound: str, upstream: str, stream: bool) -> None:
    """``logprobs`` passes through to OpenAI-format hosts; what they answer comes back."""
    params = {"messages": HI, "logprobs": True, "top_logprobs": 1}
    if stream:
        w.script_stream(upstream, ["Hel", "lo"], (), logprobs=True)
        got = w.ask_stream(inbound, upstream, **params)
    else:
        logprobs = {"content": [logprob("Hel"), logprob("lo")], "refusal": None}
        w.script(upstream, text="Hello", openai_choice={"logprobs": logprobs})
        got = w.ask(inbound, upstream, **params)
    sent = w.sent(upstream, stream=stream)
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 1)
    assert isinstance(got.raw, ChatCompletion) and got.text == "Hello"
    seen = got.raw.choices[0].logprobs
    assert seen is not None and seen.content is not None
    assert [t.model_dump() for t in seen.content] == [logprob("Hel"), logprob("lo")]


@pytest.mark.parametrize(CELL, cells(inbounds=["openai"], upstreams=["anthropic", "gemini"]))
def test_logprobs_elsewhere(w: World, inbound: str, upstream: str) -> None:
    w.refused(inbound, upstream, ("'logprobs'", upstream), messages=HI, logprobs=True)


# -- what today's clients send ---------------------------------------------------------------

_BETA = "context-management-2025-06-27,per-turn-control-2026-07-01,advanced-tool-use-2025-11-20"


@pytest.mark.parametrize(CELL, cells(inbounds=["anthropic"]))
def test_claude_code_request(w: World, inbound: str, upstream: str) -> None:
    """What Claude Code sends: a system turn inside ``messages`` (cache marker, per-turn effort),
    adaptive thinking, context management, effort, ``metadata.user_id``, a deferred tool, the
    beta list. Anthropic gets it as sent; elsewhere the system turn and the effort translate and
    Anthropic's serving optimisations (context management, deferred loading) are left out."""
    marked = {"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}
    system_turn = {"role": "system", "content": [marked], "output_config": {"effort": "high"}}
    tools = client_tools(inbound)
    tools[1] = {**tools[1], "defer_loading": True}
    extra = {
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
    }
    w.script(upstream, text="Done.")
    got = w.ask(
        inbound,
        upstream,
        messages=[*HI, system_turn],
        tools=tools,
        metadata={"user_id": "device-1"},
        extra_body=extra,
        extra_headers={"anthropic-beta": _BETA},
    )
    assert got.text == "Done."
    sent = w.sent(upstream)
    if upstream == "anthropic":
        assert sent["messages"][1] == system_turn
        assert {k: sent[k] for k in extra} == extra
        assert sent["tools"][1]["defer_loading"] is True
        assert w.anthropic_fake.received[0].headers["anthropic-beta"] == _BETA
        return
    assert "context_management" not in sent and "defer_loading" not in json.dumps(sent)
    if WIRE[upstream] == "openai":  # the system turn where it stood; the turn's effort governs
        assert sent["messages"][1] == {"role": "system", "content": "Be terse."}
        assert sent["user"] == "device-1"
        if upstream == "openai":  # gpt-4o-mini does not reason: no effort to steer, and said
            assert "reasoning_effort" not in sent
            assert w.last_headers["x-keyroute-reasoning-ignored"] == "model-does-not-reason"
        else:  # a host's model the catalogue does not know gets the effort
            assert sent["reasoning_effort"] == "high"
        assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "get_time"]
    else:  # one system instruction; adaptive thinking is Gemini's own, at the turn's level
        assert sent["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
        assert generation(sent)["thinkingConfig"] == {"thinkingLevel": "HIGH"}
        assert len(sent["tools"][0]["functionDeclarations"]) == 2


@pytest.mark.parametrize(CELL, cells(inbounds=["anthropic"]))
def test_unknown_tool_field(w: World, inbound: str, upstream: str) -> None:
    """A tool's field keyroute does not know stays on that tool for Anthropic and is refused by
    sub-field elsewhere; ``eager_input_streaming`` only changes stream chunking and is left out."""
    tools = client_tools(inbound)
    tools[0] = {**tools[0], "eager_input_streaming": True}
    if upstream != "anthropic":
        w.script(upstream, text="Ok.")
        assert w.ask(inbound, upstream, messages=HI, tools=tools).text == "Ok."
        assert "eager_input_streaming" not in json.dumps(w.sent(upstream))
        w.reset()
        tools[1] = {**tools[1], "x_future_flag": True}
        words = ("tools[1].x_future_flag", PROVIDER_ID[upstream])
        w.refused(inbound, upstream, words, messages=HI, tools=tools)
        return
    tools[1] = {**tools[1], "x_future_flag": True}
    w.script(upstream, text="Ok.")
    w.ask(inbound, upstream, messages=HI, tools=tools)
    assert w.sent(upstream)["tools"] == [{**t, "input_schema": t["input_schema"]} for t in tools]


@pytest.mark.parametrize(CELL, cells(inbounds=["openai"]))
def test_sdk_helper_echo(w: World, inbound: str, upstream: str) -> None:
    """The message the openai SDKs' ``.stream()`` / ``.parse()`` helpers return, sent back as it
    is: its echoes (``parsed``, ``index``, ``parsed_arguments``, ``annotations``, ``refusal``)
    are accepted and never forwarded."""
    calls = [
        {
            **c.as_openai(),
            "index": i,
            "function": {**c.as_openai()["function"], "parsed_arguments": c.args},
        }
        for i, c in enumerate(PAIR)
    ]
    said = {
        "role": "assistant",
        "content": None,
        "parsed": None,
        "refusal": None,
        "annotations": [],
        "tool_calls": calls,
    }
    tool = [{"role": "tool", "tool_call_id": i, "content": t} for i, t in results(inbound)]
    w.script(upstream, text="21°C at 14:05.")
    got = w.ask(inbound, upstream, tools=client_tools(inbound), messages=[*ASK, said, *tool])
    assert got.text == "21°C at 14:05."
    sent = json.dumps(w.sent(upstream))
    assert all(echo not in sent for echo in ("parsed", '"index"', "annotations", "refusal"))
