"""``streamGenerateContent?alt=sse`` -> canonical stream events.

Each SSE ``data`` is a whole ``GenerateContentResponse`` fragment; there is no ``[DONE]`` and the
stream ends when the body ends. The decoder's state machine:

- the first chunk yields ``StreamStart`` (``responseId`` and ``modelVersion``);
- a text part yields ``TextDelta``; a ``thought: true`` part, or a signature on a non-call part,
  yields ``ThinkingDelta`` (never answer text);
- each ``functionCall`` part arrives whole, so it yields ``ToolCallStart`` and one
  ``ToolCallArgs`` holding the complete JSON arguments. The tool index is ONE running counter
  for the whole stream: parallel calls in one chunk get 0, 1, 2... and calls spread over later
  chunks keep counting (the bug of LiteLLM #11558/#16194 was a counter per chunk);
- every ``usageMetadata`` yields a ``UsageReport``; Gemini repeats it with growing numbers, so
  consumers keep the last one (overwrite, never add);
- the first ``finishReason`` yields ``StreamEnd`` (``tool_calls`` when any call was seen in the
  stream, mapped as in ``keyroute.wire.gemini.response``); a blocked prompt yields
  ``StreamEnd(content_filter)``;
- an ``error`` object in a chunk raises ``UpstreamError``; ``close()`` raises one when no
  finish reason arrived (a truncated stream).
"""

from __future__ import annotations

from keyroute.core.errors import UpstreamError
from keyroute.core.stream import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.gemini._schema import PartS, ResponseS
from keyroute.wire.gemini.response import (
    PROVIDER,
    blocked_prompt_finish,
    candidate_parts,
    decode_usage,
    finish_reason,
    parse_chunk,
    synthesized_response_id,
    tool_call_of,
)
from keyroute.wire.sse import SSEEvent


class GeminiStreamDecoder:
    """Decodes one ``streamGenerateContent?alt=sse`` response. Stateful; one per stream."""

    __slots__ = ("_ended", "_model", "_next_tool_index", "_response_id", "_started")

    def __init__(self, model: str = "") -> None:
        """Start a decoder.

        Args:
            model: Reported in ``StreamStart`` only if Gemini omits ``modelVersion``.
        """
        self._model = model
        self._started = False
        self._ended = False
        self._next_tool_index = 0
        self._response_id = ""

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Decode one SSE event.

        Raises:
            UpstreamError: The chunk holds an error, is not a Gemini chunk, has a part keyroute
                cannot represent, or ended in a failed function call.
        """
        if not event.data.strip():
            return []
        chunk = parse_chunk(event.data)
        events: list[StreamEvent] = []
        if not self._started:
            if not _is_gemini(chunk):
                # Another provider's event decodes as an empty chunk: refuse it before
                # anything is relayed.
                raise UpstreamError(
                    "gemini sent a first stream event that is not a GenerateContentResponse "
                    "(none of candidates, promptFeedback, usageMetadata, responseId).",
                    provider=PROVIDER,
                )
            self._started = True
            self._response_id = chunk.response_id or synthesized_response_id(event.data)
            model = chunk.model_version or self._model
            events.append(StreamStart(id=self._response_id, model=model, created=0))
        events.extend(self._content(chunk))
        if chunk.usage_metadata is not None:
            events.append(UsageReport(usage=decode_usage(chunk.usage_metadata)))
        events.extend(self._end(chunk))
        return events

    def close(self) -> list[StreamEvent]:
        """The body ended. Raise ``UpstreamError`` if no finish reason was seen."""
        if not self._ended:
            raise UpstreamError(
                "gemini stream ended before a finishReason (truncated).",
                provider=PROVIDER,
                retryable=True,
            )
        return []

    def _content(self, chunk: ResponseS) -> list[StreamEvent]:
        if not chunk.candidates:
            return []
        events: list[StreamEvent] = []
        for part in candidate_parts(chunk.candidates[0]):
            events.extend(self._part(part))
        return events

    def _part(self, part: PartS) -> list[StreamEvent]:
        if part.function_call is not None:
            index = self._next_tool_index
            self._next_tool_index += 1
            call = tool_call_of(
                part.function_call, part.thought_signature, self._response_id, index
            )
            return [
                ToolCallStart(index=index, id=call.id, name=call.name, signature=call.signature),
                ToolCallArgs(index=index, arguments=call.arguments),
            ]
        events: list[StreamEvent] = []
        if part.thought and part.text:
            events.append(ThinkingDelta(text=part.text))
        if part.thought_signature is not None:
            # A signature closes the thinking so far: sent as its own delta with empty text.
            events.append(ThinkingDelta(signature=part.thought_signature))
        if part.text and not part.thought:
            events.append(TextDelta(text=part.text))
        return events

    def _end(self, chunk: ResponseS) -> list[StreamEvent]:
        if self._ended:
            return []
        if not chunk.candidates:
            if chunk.prompt_feedback is None or not chunk.prompt_feedback.block_reason:
                return []
            self._ended = True
            return [StreamEnd(finish_reason=blocked_prompt_finish(chunk))]
        candidate = chunk.candidates[0]
        if not candidate.finish_reason:
            return []
        self._ended = True
        reason = finish_reason(candidate, has_tool_calls=self._next_tool_index > 0)
        return [StreamEnd(finish_reason=reason)]


def _is_gemini(chunk: ResponseS) -> bool:
    """Whether a decoded chunk carries any field of a ``GenerateContentResponse``."""
    return (
        chunk.candidates is not None
        or chunk.prompt_feedback is not None
        or chunk.usage_metadata is not None
        or chunk.response_id is not None
        or chunk.model_version is not None
    )
