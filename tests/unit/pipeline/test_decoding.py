"""``keyroute.pipeline.decoding``: an upstream SSE body as canonical events; closing releases the
connection even when no event was read; provider errors lose the key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from keyroute.core.errors import UpstreamError
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEvent, TextDelta
from keyroute.pipeline.decoding import DecodedStream, scrub
from keyroute.providers.openai import OpenAIProvider

pytestmark = pytest.mark.anyio
CHUNK = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'  # noqa: E501
END = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'  # noqa: E501


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def stream(
    *parts: bytes, on_event: list[StreamEvent] | None = None
) -> tuple[DecodedStream, list[str]]:
    closed: list[str] = []
    stack = AsyncExitStack()
    stack.callback(closed.append, "connection")
    decoded = DecodedStream(
        stack=stack,
        chunks=chunks(*parts),
        decoder=OpenAIProvider().stream_decoder(),
        secret=Secret("sk-secret-value-123"),
        on_event=on_event.append if on_event is not None else None,
    )
    return decoded, closed


async def test_events_are_decoded_split_anywhere() -> None:
    seen: list[StreamEvent] = []
    decoded, closed = stream(CHUNK[:30], CHUNK[30:] + END, on_event=seen)
    events = [e async for e in decoded]
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta(text="hi")]
    assert seen == events
    await decoded.aclose()
    assert closed == ["connection"]


async def test_closing_before_the_first_event_releases_the_connection() -> None:
    decoded, closed = stream(CHUNK)
    await decoded.aclose()
    assert closed == ["connection"]


async def test_a_cut_stream_raises_an_upstream_error() -> None:
    decoded, _ = stream(CHUNK)
    with pytest.raises(UpstreamError):
        _ = [e async for e in decoded]


def test_scrub_removes_the_key_from_the_message() -> None:
    err = scrub(
        UpstreamError("bad key sk-secret-value-123", provider="openai"),
        Secret("sk-secret-value-123"),
    )
    assert "sk-secret" not in err.message and "sk-secret" not in str(err)
    short = scrub(UpstreamError("x abc", provider="openai"), Secret("abc"))
    assert short.message == "x abc"  # too short to be a key: left alone
