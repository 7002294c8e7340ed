"""OpenAI's ``/v1/responses`` answers -> canonical responses and stream events.

The other direction of ``upstream``: a ``Response`` object becomes a ``ChatResponse``, and the
typed event stream becomes canonical stream events.

Invariants:
- Reasoning items become ``ThinkingPart`` s (stream: ``ThinkingDelta`` s) whose ``origin`` is
  ``openai/<model>#<item id>`` and whose signature is the item's ``encrypted_content``, so a
  later turn can hand them back to OpenAI (``upstream``) and to no one else.
- Usage maps token class by token class: input (its cached subset is a cache read), output (its
  reasoning subset).
- ``status`` ``incomplete`` maps to ``length`` (``max_output_tokens``) or ``content_filter``;
  ``failed`` (whole answer) and ``error`` / ``response.failed`` (stream) raise ``UpstreamError``.
- A stream that ends before ``response.completed`` or ``response.incomplete`` raises on
  ``close()``; an event that is not a Responses event before the first one is refused.
"""

from __future__ import annotations

from typing import Any

import msgspec

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse, FinishReason, Usage
from keyroute.core.stream import (
    RefusalDelta,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.sse import SSEEvent

PROVIDER = "openai"


class _InputDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class _OutputDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_details: _InputDetails | None = None
    output_tokens_details: _OutputDetails | None = None


class _Incomplete(msgspec.Struct):
    reason: str | None = None


class _Error(msgspec.Struct):
    message: str = "the response failed"
    code: str | None = None


class _Response(msgspec.Struct):
    id: str = ""
    model: str = ""
    created_at: float = 0
    status: str | None = None
    output: list[dict[str, Any]] = msgspec.field(default_factory=list)
    usage: _Usage | None = None
    incomplete_details: _Incomplete | None = None
    error: _Error | None = None
    service_tier: str | None = None


def _usage(u: _Usage) -> Usage:
    details = u.input_tokens_details
    return Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=(details.cached_tokens if details else None) or 0,
        cache_write_tokens=(details.cache_write_tokens if details else None) or 0,
        reasoning_tokens=(
            u.output_tokens_details.reasoning_tokens if u.output_tokens_details else None
        )
        or 0,
    )


def _finish(r: _Response, called: bool) -> FinishReason:
    if r.status == "incomplete":
        reason = r.incomplete_details.reason if r.incomplete_details else None
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if called else "stop"


def _failure(r: _Response, where: str) -> UpstreamError:
    error = r.error or _Error()
    return UpstreamError(
        f"Provider '{PROVIDER}' reported a failed response{where}: {error.message}",
        provider=PROVIDER,
        upstream_code=error.code,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def origin(model: str, item_id: str) -> str:
    """``ThinkingPart.origin`` of an OpenAI reasoning item."""
    return f"{PROVIDER}/{model}#{item_id}"


def reasoning_part(item: dict[str, Any], model: str) -> ThinkingPart:
    """A ``reasoning`` output item as a ``ThinkingPart`` (summary text, sealed content)."""
    texts = [_text(p.get("text")) for p in item.get("summary") or () if isinstance(p, dict)]
    sealed = item.get("encrypted_content")
    return ThinkingPart(
        text="".join(texts),
        signature=sealed if isinstance(sealed, str) else None,
        origin=origin(model, _text(item.get("id"))),
    )


def decode_upstream_response(body: bytes) -> ChatResponse:
    """A 2xx ``Response`` object from OpenAI -> ``ChatResponse``."""
    try:
        r = msgspec.json.decode(body, type=_Response)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamError(
            f"Provider '{PROVIDER}' sent a malformed response object: {exc}", provider=PROVIDER
        ) from None
    if r.status == "failed":
        raise _failure(r, "")
    texts: list[str] = []
    refusals: list[str] = []
    thinking: list[ThinkingPart] = []
    calls: list[ToolCall] = []
    for item in r.output:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "output_text":
                    texts.append(_text(part.get("text")))
                elif part.get("type") == "refusal":
                    refusals.append(_text(part.get("refusal")))
        elif kind == "reasoning":
            thinking.append(reasoning_part(item, r.model))
        elif kind == "function_call":
            calls.append(
                ToolCall(
                    id=_text(item.get("call_id")),
                    name=_text(item.get("name")),
                    arguments=_text(item.get("arguments")),
                )
            )
        else:
            raise UpstreamError(
                f"Provider '{PROVIDER}' answered with an output item of type {kind!r}, which "
                "keyroute did not ask for.",
                provider=PROVIDER,
            )
    return ChatResponse(
        id=r.id,
        model=r.model,
        created=int(r.created_at),
        text="".join(texts) if texts else None,
        tool_calls=tuple(calls),
        thinking=tuple(thinking),
        refusal="".join(refusals) if refusals else None,
        finish_reason=_finish(r, bool(calls)),
        usage=_usage(r.usage) if r.usage is not None else None,
        service_tier=r.service_tier,
    )


class _Event(msgspec.Struct):
    type: str = ""
    delta: str | None = None
    output_index: int = 0
    item: dict[str, Any] | None = None
    response: _Response | None = None
    message: str | None = None
    code: str | None = None


_event_decoder = msgspec.json.Decoder(_Event)


class ResponsesUpstreamDecoder:
    """Decodes one ``/v1/responses`` event stream from OpenAI."""

    def __init__(self) -> None:
        self._started = False
        self._finished = False
        self._model = ""
        self._calls: dict[int, int] = {}  # output_index -> our tool-call index
        self._args: set[int] = set()  # tool calls whose arguments came as deltas

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        try:
            e = _event_decoder.decode(event.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamError(
                f"Provider '{PROVIDER}' sent a malformed stream event: {exc}", provider=PROVIDER
            ) from None
        if not self._started:
            if e.type != "response.created" or e.response is None:
                raise UpstreamError(
                    f"Provider '{PROVIDER}' sent a first stream event that is not "
                    "response.created.",
                    provider=PROVIDER,
                )
            self._started = True
            self._model = e.response.model
            r = e.response
            return [StreamStart(id=r.id, model=r.model, created=int(r.created_at))]
        return self._event(e)

    def _event(self, e: _Event) -> list[StreamEvent]:
        kind = e.type
        if kind == "response.output_text.delta" and e.delta:
            return [TextDelta(text=e.delta)]
        if kind == "response.refusal.delta" and e.delta:
            return [RefusalDelta(text=e.delta)]
        if kind == "response.reasoning_summary_text.delta" and e.delta:
            return [ThinkingDelta(text=e.delta)]
        if kind == "response.output_item.added" and e.item is not None:
            return self._added(e.output_index, e.item)
        if kind == "response.function_call_arguments.delta" and e.delta:
            index = self._calls.get(e.output_index)
            if index is None:
                return []
            self._args.add(index)
            return [ToolCallArgs(index=index, arguments=e.delta)]
        if kind == "response.output_item.done" and e.item is not None:
            return self._done(e.output_index, e.item)
        if kind in ("response.completed", "response.incomplete") and e.response is not None:
            self._finished = True
            out: list[StreamEvent] = []
            if e.response.usage is not None:
                out.append(UsageReport(usage=_usage(e.response.usage)))
            out.append(StreamEnd(finish_reason=_finish(e.response, bool(self._calls))))
            return out
        if kind == "response.failed" and e.response is not None:
            raise _failure(e.response, " mid-stream")
        if kind == "error":
            raise UpstreamError(
                f"Provider '{PROVIDER}' reported an error mid-stream: {e.message or 'error'}",
                provider=PROVIDER,
                upstream_code=e.code,
            )
        return []  # the other events repeat what the deltas said

    def _added(self, position: int, item: dict[str, Any]) -> list[StreamEvent]:
        if item.get("type") != "function_call":
            return []
        index = len(self._calls)
        self._calls[position] = index
        return [
            ToolCallStart(index=index, id=_text(item.get("call_id")), name=_text(item.get("name")))
        ]

    def _done(self, position: int, item: dict[str, Any]) -> list[StreamEvent]:
        kind = item.get("type")
        if kind == "reasoning":
            part = reasoning_part(item, self._model)
            if part.signature is None:
                return []
            return [ThinkingDelta(signature=part.signature, origin=part.origin)]
        index = self._calls.get(position)
        if kind == "function_call" and index is not None and index not in self._args:
            arguments = _text(item.get("arguments"))  # sent whole, without deltas
            return [ToolCallArgs(index=index, arguments=arguments)] if arguments else []
        return []

    def close(self) -> list[StreamEvent]:
        if not self._finished:
            raise UpstreamError(
                f"Provider '{PROVIDER}' ended the stream before it was complete.",
                provider=PROVIDER,
            )
        return []
