"""One tool call per answer, for providers that cannot be told so.

A client that sends ``parallel_tool_calls: false`` (or Anthropic's
``disable_parallel_tool_use``) promises its loop one call per answer; LangChain's
``with_structured_output(method="function_calling")`` and the AI SDK's tool-mode structured
output rely on it. A provider whose ``Capabilities.parallel_tool_calls_switch`` is False (Gemini)
has no such setting, so keyroute honours the request on the answer: it keeps the first call and
drops the others, and the pipeline says so in the ``x-keyroute-parallel-tool-calls: first-only``
response header. The finish reason stays ``tool_calls``; the client runs the one call and asks
again, as it would have done had the model called once.

Invariants: pure (no I/O); events of the first call and every non-tool event pass unchanged, in
order; only calls after the first are removed, whole.
"""

from __future__ import annotations

from dataclasses import replace

from keyroute.core.chat import ChatRequest
from keyroute.core.response import ChatResponse
from keyroute.core.stream import StreamEvent, ToolCallArgs, ToolCallStart
from keyroute.providers.base import Provider, StreamDecoder
from keyroute.wire.sse import SSEEvent


def needs_single_call(req: ChatRequest, provider: Provider) -> bool:
    """Whether keyroute must keep only the first tool call of ``provider``'s answers to ``req``."""
    return (
        req.parallel_tool_calls is False
        and bool(req.tools)
        and not provider.capabilities.parallel_tool_calls_switch
    )


def first_call_only(resp: ChatResponse) -> ChatResponse:
    """``resp`` with its tool calls after the first removed."""
    if len(resp.tool_calls) <= 1:
        return resp
    return replace(resp, tool_calls=resp.tool_calls[:1])


class FirstCallDecoder:
    """A ``StreamDecoder`` that passes ``inner``'s events but those of a second or later call."""

    def __init__(self, inner: StreamDecoder) -> None:
        self._inner = inner
        self._first: int | None = None

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """The inner decoder's events for ``event``, later calls removed."""
        return self._keep(self._inner.feed(event))

    def close(self) -> list[StreamEvent]:
        """The inner decoder's final events, later calls removed."""
        return self._keep(self._inner.close())

    def _keep(self, events: list[StreamEvent]) -> list[StreamEvent]:
        kept = []
        for event in events:
            if isinstance(event, ToolCallStart) and self._first is None:
                self._first = event.index
            if isinstance(event, ToolCallStart | ToolCallArgs) and event.index != self._first:
                continue
            kept.append(event)
        return kept
