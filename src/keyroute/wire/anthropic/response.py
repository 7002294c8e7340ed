"""Anthropic Message <-> canonical ``ChatResponse``, stop reasons and usage, both directions.

Usage conventions differ: Anthropic's ``input_tokens`` excludes cache reads and writes, canonical
``Usage.input_tokens`` is the whole prompt. ``usage_from_wire`` adds them up; ``usage_to_wire``
takes them out again, so a response priced on either side is priced once.

Stop reasons are always mapped through the tables below; a raw upstream value never leaks. An
unknown future ``stop_reason`` reads as ``stop`` (a new reason must not fail every request).

Anthropic Messages carry no creation time; decoders set ``created=0`` and the caller stamps it
(wire codecs do not read clocks).
"""

from __future__ import annotations

import msgspec

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.errors import InvalidRequest, UpstreamError
from keyroute.core.json import JsonObject, JsonValue
from keyroute.core.response import ChatResponse, FinishReason, Usage
from keyroute.wire.anthropic.request import arguments
from keyroute.wire.anthropic.schema import (
    BlockType,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    WireMessage,
    WireUsage,
)

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop_sequence",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "pause",
    "model_context_window_exceeded": "context_window",
}

STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "refusal": "refusal",
    "pause": "pause_turn",
    "context_window": "model_context_window_exceeded",
}

_SERVICE_TIERS = frozenset({"standard", "priority", "batch"})


def finish_reason(stop_reason: str | None) -> FinishReason:
    """Anthropic ``stop_reason`` -> canonical finish reason (unknown or null: ``stop``)."""
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


def malformed(what: str, provider: str = "anthropic") -> UpstreamError:
    """The error for an upstream body that does not have the documented shape."""
    return UpstreamError(f"{provider} returned a malformed {what}", provider=provider)


def usage_from_wire(wire: WireUsage, base: Usage | None = None) -> Usage:
    """Canonical usage from Anthropic counters; counters ``wire`` lacks come from ``base``.

    ``base`` is what an earlier event of the same stream reported: ``message_delta`` usage is
    cumulative, so present counters overwrite and are never added.
    """
    prev = base or Usage()
    uncached = prev.input_tokens - prev.cache_read_tokens - prev.cache_write_tokens
    if wire.input_tokens is not None:
        uncached = wire.input_tokens
    read = pick(wire.cache_read_input_tokens, prev.cache_read_tokens)
    write = pick(wire.cache_creation_input_tokens, prev.cache_write_tokens)
    write_1h = prev.cache_write_1h_tokens
    if wire.cache_creation is not None:
        write_1h = wire.cache_creation.ephemeral_1h_input_tokens
    reasoning = prev.reasoning_tokens
    if wire.output_tokens_details is not None:
        reasoning = wire.output_tokens_details.thinking_tokens
    return Usage(
        input_tokens=uncached + read + write,
        output_tokens=pick(wire.output_tokens, prev.output_tokens),
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
        reasoning_tokens=reasoning,
    )


def pick(value: int | None, fallback: int) -> int:
    """``value`` when the wire carried it, else ``fallback``."""
    return fallback if value is None else value


def usage_to_wire(usage: Usage | None, *, breakdown: bool = True) -> JsonObject:
    """Canonical usage in Anthropic's convention (``input_tokens`` excludes the cache)."""
    u = usage or Usage()
    out: JsonObject = {
        "input_tokens": u.uncached_input_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
    }
    if breakdown:
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": u.cache_write_tokens - u.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": u.cache_write_1h_tokens,
        }
    out["output_tokens"] = u.output_tokens
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


def decode_response(body: bytes) -> ChatResponse:
    """A 2xx Messages body -> ``ChatResponse``.

    Unknown content blocks (server-tool results...) are skipped: the canonical response cannot
    hold them and they are the provider's own bookkeeping.

    Raises:
        UpstreamError: The body is not a Message.
    """
    try:
        message = msgspec.json.decode(body, type=WireMessage)
    except msgspec.MsgspecError:
        raise malformed("response") from None
    if message.type != "message":  # valid JSON with an id and a model, but not a Message
        raise malformed("response (not a Message)")
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[ThinkingPart] = []
    for raw in message.content:
        try:
            kind = msgspec.json.decode(raw, type=BlockType).type
            if kind == "text":
                texts.append(msgspec.json.decode(raw, type=TextBlock).text)
            elif kind == "tool_use":
                call = msgspec.json.decode(raw, type=ToolUseBlock)
                args = msgspec.json.encode(call.input).decode()
                calls.append(ToolCall(id=call.id, name=call.name, arguments=args))
            elif kind in ("thinking", "redacted_thinking"):
                thinking.append(thinking_part(kind, raw))
        except msgspec.MsgspecError:
            raise malformed("content block") from None
    return ChatResponse(
        id=message.id,
        model=message.model,
        created=0,
        text="".join(texts) if texts else None,
        tool_calls=tuple(calls),
        thinking=tuple(thinking),
        finish_reason=finish_reason(message.stop_reason),
        stop_sequence=message.stop_sequence if message.stop_reason == "stop_sequence" else None,
        usage=usage_from_wire(message.usage),
        service_tier=message.usage.service_tier,
    )


def thinking_part(kind: str, raw: bytes | msgspec.Raw) -> ThinkingPart:
    """A ``thinking`` or ``redacted_thinking`` block as a ``ThinkingPart``."""
    if kind == "redacted_thinking":
        return ThinkingPart(
            text=msgspec.json.decode(raw, type=RedactedThinkingBlock).data, redacted=True
        )
    block = msgspec.json.decode(raw, type=ThinkingBlock)
    return ThinkingPart(text=block.thinking, signature=block.signature or None)


def encode_response(resp: ChatResponse, model: str) -> bytes:
    """``resp`` as an Anthropic Message (what our ``/v1/messages`` endpoint answers).

    Args:
        resp: The canonical response, from any provider.
        model: The model id the client asked for.

    Raises:
        UpstreamError: A tool call's arguments are not a JSON object (the model produced them).
    """
    content: list[JsonValue] = [thinking_block(p) for p in resp.thinking]
    text = resp.text if resp.text else resp.refusal
    if text:
        content.append({"type": "text", "text": text})
    for call in resp.tool_calls:
        content.append(tool_use_block(call.id, call.name, call.arguments))
    usage = usage_to_wire(resp.usage)
    if resp.service_tier in _SERVICE_TIERS:
        usage["service_tier"] = resp.service_tier
    message: JsonObject = {
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS[resp.finish_reason],
        "stop_sequence": resp.stop_sequence if resp.finish_reason == "stop_sequence" else None,
        "usage": usage,
    }
    return msgspec.json.encode(message)


def thinking_block(part: ThinkingPart) -> JsonObject:
    """A ``ThinkingPart`` as a response content block."""
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.text}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def tool_use_block(call_id: str, name: str, args: str) -> JsonObject:
    """A ``tool_use`` block; ``args`` is the JSON text the model produced."""
    try:
        value = arguments(args, "tool_calls")
    except InvalidRequest:
        # The model wrote these arguments: the provider's fault, not the client's.
        raise UpstreamError(
            "The model produced tool-call arguments that are not a JSON object",
            provider="unknown",
        ) from None
    return {"type": "tool_use", "id": call_id, "name": name, "input": value}
