"""Gemini ``GenerateContentResponse`` -> canonical ``ChatResponse`` (and the pieces streams share).

Decisions, each one the same for whole responses and streams:

- **Tool-call ids.** Gemini's ``functionCall.id`` is optional. When it is absent the id is
  synthesised as ``call_`` + the first 24 hex digits of SHA-256 over the response id, the call's
  running index, its name and its arguments: the same response always yields the same ids, and a
  streamed answer yields the ids its unstreamed twin would.
- **Thought signatures.** A ``functionCall`` part's ``thoughtSignature`` is kept verbatim on its
  ``ToolCall.signature`` (Gemini 3+ rejects a replay without it). A signature on any other part
  is kept as a ``ThinkingPart`` with that signature (and the thought's text, or ``""``).
- **Thoughts.** Parts with ``thought: true`` go to ``ChatResponse.thinking``, never into ``text``.
- **Finish reasons** (never leaked raw): ``STOP`` -> ``stop``, or ``tool_calls`` when the answer
  holds a function call; ``MAX_TOKENS`` -> ``length``; ``SAFETY``, ``RECITATION``,
  ``BLOCKLIST``, ``PROHIBITED_CONTENT``, ``SPII`` and the ``IMAGE_*`` safety values ->
  ``content_filter``; ``MALFORMED_FUNCTION_CALL``, ``UNEXPECTED_TOOL_CALL`` and
  ``TOO_MANY_TOOL_CALLS`` leave nothing usable, so they raise a retryable ``UpstreamError``
  (retry or fall back, as for a 5xx); ``OTHER``, ``LANGUAGE``, unspecified and any value added
  later -> ``stop``. A prompt blocked before generation (no candidates, a
  ``promptFeedback.blockReason``) is a ``content_filter`` response with no text.
- **Usage.** ``input_tokens`` = ``promptTokenCount`` (which already counts cached tokens) +
  ``toolUsePromptTokenCount``; ``cache_read_tokens`` = ``cachedContentTokenCount``;
  ``output_tokens`` = ``candidatesTokenCount`` + ``thoughtsTokenCount`` (Gemini bills thoughts
  as output); ``reasoning_tokens`` = ``thoughtsTokenCount``. Gemini reports no cache writes.
- **Id, model, created.** ``id`` is ``responseId`` (else a hash of the body); ``model`` is
  ``modelVersion`` (else the ``model`` argument); Gemini reports no creation time, so
  ``created`` is ``0`` and the HTTP layer stamps its own clock.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse, FinishReason, Usage
from keyroute.wire.gemini._schema import CandidateS, FunctionCallS, PartS, ResponseS, UsageS
from keyroute.wire.gemini.errors import error_from_stream

PROVIDER: Final = "gemini"

_CONTENT_FILTER: Final = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
_FAILED_TOOL_CALL: Final = frozenset(
    {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}
)


def decode_response(body: bytes, model: str) -> ChatResponse:
    """Decode a ``generateContent`` 200 body.

    Args:
        body: The raw JSON body.
        model: The model asked for; reported only when Gemini omits ``modelVersion``.

    Returns:
        The canonical response, with usage when Gemini reported it.

    Raises:
        UpstreamError: The body is not a Gemini response, holds an error, has no candidate, has
            a part kind keyroute cannot represent, or ended in a failed function call.
    """
    chunk = parse_chunk(body)
    response_id = chunk.response_id or synthesized_response_id(body)
    usage = decode_usage(chunk.usage_metadata) if chunk.usage_metadata is not None else None
    reported_model = chunk.model_version or model
    if not chunk.candidates:
        return ChatResponse(
            id=response_id,
            model=reported_model,
            created=0,
            text=None,
            finish_reason=blocked_prompt_finish(chunk),
            usage=usage,
        )
    candidate = chunk.candidates[0]
    texts: list[str] = []
    thinking: list[ThinkingPart] = []
    tool_calls: list[ToolCall] = []
    for part in candidate_parts(candidate):
        if part.function_call is not None:
            call = tool_call_of(
                part.function_call, part.thought_signature, response_id, len(tool_calls)
            )
            tool_calls.append(call)
        elif part.thought or part.thought_signature is not None:
            thinking.append(thinking_of(part))
        if part.text is not None and not part.thought:
            texts.append(part.text)
    return ChatResponse(
        id=response_id,
        model=reported_model,
        created=0,
        text="".join(texts) if texts else None,
        tool_calls=tuple(tool_calls),
        thinking=tuple(thinking),
        finish_reason=finish_reason(candidate, has_tool_calls=bool(tool_calls)),
        usage=usage,
    )


def parse_chunk(body: bytes | str) -> ResponseS:
    """Decode one response or stream chunk; an embedded ``error`` object is raised."""
    try:
        chunk = msgspec.json.decode(body, type=ResponseS)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise UpstreamError(
            "gemini sent a body that is not a GenerateContentResponse.", provider=PROVIDER
        ) from None
    if chunk.error is not None:
        raise error_from_stream(chunk.error, PROVIDER)
    return chunk


def candidate_parts(candidate: CandidateS) -> list[PartS]:
    """The candidate's parts; a part kind keyroute cannot represent is refused loudly."""
    parts = candidate.content.parts if candidate.content is not None else []
    for part in parts:
        kind = part.foreign_kind()
        if kind is not None:
            raise UpstreamError(
                f"gemini answered with a '{kind}' part, which keyroute cannot represent.",
                provider=PROVIDER,
                upstream_code=kind,
                retryable=False,
            )
    return parts


def tool_call_of(
    call: FunctionCallS, signature: str | None, response_id: str, index: int
) -> ToolCall:
    """A ``functionCall`` (and its part's signature) as a ``ToolCall``; ``index`` is its number."""
    args = call.args if isinstance(call.args, dict) else {}
    arguments = msgspec.json.encode(args).decode()
    call_id = call.id or synthesized_tool_call_id(response_id, index, call.name, arguments)
    return ToolCall(id=call_id, name=call.name, arguments=arguments, signature=signature)


def thinking_of(part: PartS) -> ThinkingPart:
    """A thought part, or a bare signature carried by another part."""
    text = part.text if part.thought and part.text is not None else ""
    return ThinkingPart(text=text, signature=part.thought_signature)


def synthesized_tool_call_id(response_id: str, index: int, name: str, arguments: str) -> str:
    """A stable id for a function call Gemini sent without one."""
    seed = "\x00".join((response_id, str(index), name, arguments)).encode()
    return "call_" + hashlib.sha256(seed).hexdigest()[:24]


def synthesized_response_id(body: bytes | str) -> str:
    """A stable id for a response Gemini sent without ``responseId``."""
    raw = body.encode() if isinstance(body, str) else body
    return "gemini-" + hashlib.sha256(raw).hexdigest()[:24]


def finish_reason(candidate: CandidateS, *, has_tool_calls: bool) -> FinishReason:
    """The canonical finish reason of a candidate (see the module docstring for the table)."""
    return map_finish_reason(candidate.finish_reason or "", has_tool_calls=has_tool_calls)


def map_finish_reason(raw: str, *, has_tool_calls: bool) -> FinishReason:
    """Map a Gemini ``finishReason`` value; raise for the failed-function-call family."""
    if raw in _FAILED_TOOL_CALL:
        raise UpstreamError(
            f"gemini stopped with {raw}: the model produced no usable function call.",
            provider=PROVIDER,
            upstream_code=raw,
            retryable=True,
        )
    if raw == "MAX_TOKENS":
        return "length"
    if raw in _CONTENT_FILTER:
        return "content_filter"
    return "tool_calls" if has_tool_calls else "stop"


def blocked_prompt_finish(chunk: ResponseS) -> FinishReason:
    """The finish reason of a response without candidates: only a blocked prompt is normal."""
    feedback = chunk.prompt_feedback
    if feedback is not None and feedback.block_reason:
        return "content_filter"
    raise UpstreamError("gemini answered without any candidate.", provider=PROVIDER)


def decode_usage(raw: UsageS) -> Usage:
    """Gemini ``usageMetadata`` -> canonical ``Usage`` (see the module docstring)."""
    return Usage(
        input_tokens=raw.prompt_token_count + raw.tool_use_prompt_token_count,
        cache_read_tokens=raw.cached_content_token_count,
        output_tokens=raw.candidates_token_count + raw.thoughts_token_count,
        reasoning_tokens=raw.thoughts_token_count,
    )
