"""``DecodedStream``: an open upstream stream read as canonical events; ``first_content`` reads
one up to its first content event, so a stream that fails before that can still fail over.

It owns the upstream connection (an ``AsyncExitStack``) from the moment the stream is open:
``aclose`` closes it however the relay ends, even before the first event was asked for, so a
client that leaves early never leaves a connection half-read in the pool. Provider errors
raised mid-stream are scrubbed of the provider key; ``on_event`` sees every event (the pipeline
records tool-call signatures there, on every path, the final flush included).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AsyncExitStack

from keyroute.core.errors import GatewayError, UpstreamError
from keyroute.core.response import Usage
from keyroute.core.secret import REDACTED, Secret
from keyroute.core.stream import (
    RefusalDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.providers.base import StreamDecoder
from keyroute.wire.sse import SSEParser


def scrub(error: GatewayError, secret: Secret) -> GatewayError:
    """Remove the provider key from a provider's error text (some echo it back)."""
    value = secret.reveal()
    if value and len(value) >= 8 and value in error.message:
        error.message = error.message.replace(value, REDACTED)
        error.args = (error.message,)
    return error


class DecodedStream:
    """Canonical events from an upstream SSE body; ``aclose`` releases the connection."""

    def __init__(
        self,
        *,
        stack: AsyncExitStack,
        chunks: AsyncIterator[bytes],
        decoder: StreamDecoder,
        secret: Secret,
        on_event: Callable[[StreamEvent], None] | None = None,
    ) -> None:
        self._stack = stack
        self._events = self._decode(chunks, decoder, secret, on_event)

    def __aiter__(self) -> DecodedStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        try:
            await self._events.aclose()
        finally:
            await self._stack.aclose()

    @staticmethod
    async def _decode(
        chunks: AsyncIterator[bytes],
        decoder: StreamDecoder,
        secret: Secret,
        on_event: Callable[[StreamEvent], None] | None,
    ) -> AsyncGenerator[StreamEvent, None]:
        parser = SSEParser()
        try:
            async for chunk in chunks:
                for sse in parser.feed(chunk):
                    for event in decoder.feed(sse):
                        if on_event is not None:
                            on_event(event)
                        yield event
            for sse in parser.close():
                for event in decoder.feed(sse):
                    if on_event is not None:
                        on_event(event)
                    yield event
            for event in decoder.close():
                if on_event is not None:
                    on_event(event)
                yield event
        except UpstreamError as exc:
            raise scrub(exc, secret) from None


_CONTENT = (TextDelta, ThinkingDelta, RefusalDelta, ToolCallStart, ToolCallArgs)


async def first_content(stream: DecodedStream) -> PrefetchedStream:
    """Read ``stream`` up to its first content event (or its end) and hold what was read.

    Until this returns nothing has reached the client, so a failure here (an error status in
    the stream, a malformed or stalled first event) can still fail over to another candidate.
    The stream is closed if reading fails.
    """
    head: list[StreamEvent] = []
    try:
        while True:
            try:
                event = await stream.__anext__()
            except StopAsyncIteration:
                return PrefetchedStream(head, stream, ended=True)
            head.append(event)
            if isinstance(event, (*_CONTENT, StreamEnd)):
                return PrefetchedStream(head, stream, ended=False)
    except BaseException:
        await stream.aclose()
        raise


class PrefetchedStream:
    """The events already read, then the rest of the stream; ``aclose`` closes the stream."""

    __slots__ = ("_ended", "_head", "_stream")

    def __init__(self, head: list[StreamEvent], stream: DecodedStream, *, ended: bool) -> None:
        self._head = head
        self._stream = stream
        self._ended = ended

    def __aiter__(self) -> PrefetchedStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._head:
            return self._head.pop(0)
        if self._ended:
            raise StopAsyncIteration
        return await self._stream.__anext__()

    def refused(self) -> bool:
        """The stream's first content is a refusal (or it ended with one and nothing else)."""
        last = self._head[-1] if self._head else None
        if isinstance(last, RefusalDelta):
            return True
        return isinstance(last, StreamEnd) and last.finish_reason == "refusal"

    def usage(self) -> Usage | None:
        """The usage reported in the events read so far (Anthropic reports the prompt's, cache
        reads and writes included, before the first content), else None."""
        reports = [e.usage for e in self._head if isinstance(e, UsageReport)]
        return reports[-1] if reports else None

    async def aclose(self) -> None:
        await self._stream.aclose()
