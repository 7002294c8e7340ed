"""OpenAI chat-completion responses and usage, in both directions.

``decode_response`` validates an upstream body with typed schemas (never ``.get()`` chains);
``encode_response`` renders a canonical response as the body a client's SDK validates.
Finish reasons are always mapped, never passed through raw.
"""

from __future__ import annotations

from typing import Any

import msgspec

from keyroute.core.chat import ToolCall
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse, FinishReason, Usage

_FROM_OPENAI: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}

_TO_OPENAI: dict[FinishReason, str] = {
    "stop": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "pause": "stop",
    "context_window": "length",
}


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class UsageS(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek's name for cached prompt tokens


class _Function(msgspec.Struct):
    name: str = ""
    arguments: str = ""


class _ToolCall(msgspec.Struct):
    id: str
    function: _Function


class _Message(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    id: str = ""
    model: str = ""
    created: int = 0
    usage: UsageS | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


def finish_from_openai(raw: str | None) -> FinishReason:
    return _FROM_OPENAI.get(raw or "stop", "stop")


def finish_to_openai(reason: FinishReason) -> str:
    return _TO_OPENAI[reason]


def usage_from_openai(u: UsageS) -> Usage:
    pd = u.prompt_tokens_details
    cached = (pd.cached_tokens if pd else None) or u.prompt_cache_hit_tokens or 0
    written = (pd.cache_write_tokens if pd else None) or 0
    cd = u.completion_tokens_details
    return Usage(
        input_tokens=u.prompt_tokens,
        output_tokens=u.completion_tokens,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=(cd.reasoning_tokens if cd else None) or 0,
    )


def usage_to_openai(u: Usage) -> dict[str, Any]:
    prompt_details: dict[str, int] = {"cached_tokens": u.cache_read_tokens}
    if u.cache_write_tokens:
        prompt_details["cache_write_tokens"] = u.cache_write_tokens
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def decode_response(body: bytes, provider: str) -> ChatResponse:
    """A 2xx chat-completion body from an OpenAI-format provider -> ``ChatResponse``."""
    try:
        c = msgspec.json.decode(body, type=_Completion)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamError(
            f"Provider '{provider}' sent a malformed chat completion: {exc}", provider=provider
        ) from None
    if not c.choices:
        raise UpstreamError(f"Provider '{provider}' sent no choices.", provider=provider)
    choice = c.choices[0]
    msg = choice.message
    calls = tuple(
        ToolCall(id=t.id, name=t.function.name, arguments=t.function.arguments)
        for t in msg.tool_calls or ()
    )
    finish = finish_from_openai(choice.finish_reason)
    if calls and finish == "stop":
        finish = "tool_calls"
    return ChatResponse(
        id=c.id,
        model=c.model,
        created=c.created,
        text=msg.content,
        tool_calls=calls,
        refusal=msg.refusal,
        finish_reason=finish,
        usage=usage_from_openai(c.usage) if c.usage is not None else None,
        system_fingerprint=c.system_fingerprint,
        service_tier=c.service_tier,
        logprobs=choice.logprobs,
    )


def encode_response(resp: ChatResponse, *, model: str, response_id: str) -> bytes:
    """The client-facing ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": resp.text, "refusal": resp.refusal}
    if resp.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in resp.tool_calls
        ]
    body: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion",
        "created": resp.created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": resp.logprobs,
                "finish_reason": finish_to_openai(resp.finish_reason),
            }
        ],
    }
    if resp.usage is not None:
        body["usage"] = usage_to_openai(resp.usage)
    if resp.system_fingerprint is not None:
        body["system_fingerprint"] = resp.system_fingerprint
    if resp.service_tier is not None:
        body["service_tier"] = resp.service_tier
    return msgspec.json.encode(body)
