"""The canonical requests of the contract suite, defined once and shared by every provider.

``REQUESTS[case]`` is the ``ChatRequest`` that ``<case>.request.json`` of *every* provider folder
was made from: the suite builds it with each provider and compares the bodies.
Several case names map to one request where providers named the same case differently
(``streaming_tool_calls`` / ``streaming_tool_use``).

The basic cases (``simple`` ... ``max_tokens``) are the requests the Gemini goldens were written
from (``tests/unit/wire/test_gemini_transcripts.py``); the OpenAI goldens were made from the same
ones. ``parallel_tool_calls``, ``streaming_usage`` and the streamed tool cases are the requests the
Anthropic goldens were written from.

``DECODED_FROM_GOLDEN`` lists the older Anthropic goldens written from *other* prompts than the
shared ones. Their canonical request is the golden itself decoded by the provider's own inbound
codec, as ``tests/unit/providers/test_anthropic.py`` does: a round trip, a weaker check than the
shared request, kept until those goldens are re-recorded from ``REQUESTS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    Message,
    ResponseFormat,
    Role,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from keyroute.wire.anthropic import decode_request as decode_anthropic_request

# The upstream model name each provider's goldens were made for (``Target.model``).
MODELS: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-5-5",
    "gemini": "gemini-3-flash-preview",
}


def msg(role: Role, text: str, **kw: Any) -> Message:
    return Message(role=role, content=(TextPart(text=text),), **kw)


def req(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model="contract/model", messages=messages, **kw)


WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
)
WEATHER_BARE = ToolSpec(  # the same tool as the Anthropic goldens spell it
    name="get_weather",
    description="Current weather for a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
ASK = msg("user", "What's the weather in Paris?")
PARIS = ToolCall(id="call_abc123", name="get_weather", arguments='{"city": "Paris"}')
TWO_CITIES = msg("user", "Weather in Paris and Rome?")
PERSON = ResponseFormat(
    type="json_schema",
    name="person",
    strict=True,
    schema={
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    },
)
STREAM_TOOLS = req(
    TWO_CITIES, tools=(WEATHER_BARE,), max_tokens=1024, stream=True, include_usage=True
)

REQUESTS: dict[str, ChatRequest] = {
    "simple": req(msg("user", "Hello")),
    "system_prompt": req(
        msg("system", "You are a terse assistant."),
        msg("developer", "Answer in French."),
        msg("user", "What is the capital of Italy?"),
        msg("system", "Never use emoji."),
    ),
    "multi_turn": req(
        msg("user", "My name is Ada."),
        msg("assistant", "Nice to meet you, Ada!"),
        msg("user", "What is my name?"),
        max_tokens=256,
        temperature=0.2,
        top_p=0.9,
    ),
    "tools": req(ASK, tools=(WEATHER,), tool_choice=ToolChoice(mode="auto")),
    "tool_result": req(
        ASK,
        Message(role="assistant", tool_calls=(PARIS,)),
        msg("tool", '{"temp_c": 18, "sky": "clear"}', tool_call_id="call_abc123"),
        tools=(WEATHER,),
    ),
    "parallel_tool_calls": req(
        TWO_CITIES,
        tools=(WEATHER_BARE,),
        tool_choice=ToolChoice(mode="required"),
        max_tokens=1024,
    ),
    "json_schema": req(msg("user", "Extract: Ada is 36."), response_format=PERSON),
    "stop_sequence": req(msg("user", "Count from 1 to 10, one per line."), stop=("5", "END")),
    "max_tokens": req(msg("user", "Write a long poem about the sea."), max_tokens=20),
    "streaming_usage": req(
        Message(
            role="system",
            content=(
                TextPart(
                    text="You are a terse assistant. <long stable instructions>",
                    cache_control=CacheControl(ttl="1h"),
                ),
            ),
        ),
        msg("user", "Say hello in three languages."),
        max_tokens=1024,
        stream=True,
        include_usage=True,
    ),
    "streaming_tool_calls": STREAM_TOOLS,
    "streaming_tool_use": STREAM_TOOLS,
    "thinking_tool_use": req(
        msg("user", "Should I take an umbrella in Paris today?"),
        tools=(WEATHER_BARE,),
        max_tokens=4096,
        thinking_budget=2048,
        stream=True,
        include_usage=True,
    ),
    "thought_signatures": req(
        msg("user", "Is it warmer in Tokyo or Paris?"),
        Message(
            role="assistant",
            tool_calls=(
                ToolCall(
                    id="fc_7",
                    name="get_weather",
                    arguments='{"city":"Tokyo"}',
                    signature="EpwCCpkCAdHtim9Kq3vX1oM8cP0nR4sT7uV2wY5zA6bC9dE1fG3hI8jK0lL2mN4oP6q"
                    "R8sT0uV==",
                ),
                ToolCall(id="fc_8", name="get_weather", arguments='{"city":"Paris"}'),
            ),
        ),
        msg("tool", "21C", tool_call_id="fc_7"),
        msg("tool", '{"temp_c": 18}', tool_call_id="fc_8"),
        tools=(WEATHER,),
        reasoning_effort="low",
    ),
}

# provider -> (how its older goldens are turned back into a canonical request, which cases).
DECODED_FROM_GOLDEN: Mapping[str, tuple[Callable[[bytes], ChatRequest], frozenset[str]]] = {
    "anthropic": (
        decode_anthropic_request,
        frozenset(
            {
                "simple",
                "system_prompt",
                "multi_turn",
                "tools",
                "tool_result",
                "json_schema",
                "stop_sequence",
                "max_tokens",
            }
        ),
    ),
}


def canonical_request(provider: str, case: str, golden: bytes) -> ChatRequest:
    """The canonical request ``<case>.request.json`` of ``provider`` was made from."""
    decoder, cases = DECODED_FROM_GOLDEN.get(provider, (None, frozenset()))
    if decoder is not None and case in cases:
        return decoder(golden)
    if case not in REQUESTS:
        raise LookupError(f"add the canonical request of '{case}' to REQUESTS in {__file__}")
    return REQUESTS[case]
