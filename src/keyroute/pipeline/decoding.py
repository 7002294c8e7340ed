"""``DecodedStream``: an open upstream stream read as canonical events.

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
from keyroute.core.secret import REDACTED, Secret
from keyroute.core.stream import StreamEvent
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
