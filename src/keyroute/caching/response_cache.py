"""``ResponseCache``: the exact response cache, off unless a workspace turns it on.

- ``lookup`` says whether a chat request may use the cache (the workspace's settings, a
  deterministic request or a workspace that accepts sampled ones, no ``Cache-Control:
  no-cache``/``no-store`` from the client) and returns the stored answer if there is one;
- ``remember`` stores a whole answer that ended well (a natural end, a stop sequence, the
  output limit, tool calls; not a filtered answer, a refusal or a pause) for the workspace's
  TTL; ``recording`` wraps a stream so that its answer is stored once it ended well;
- ``ReplayStream`` serves a stored answer as canonical stream events, which the client's own
  stream encoder renders.

Keys name the workspace (``response_key``), so no answer is ever shared across workspaces.
Values are whole canonical answers (``replay.encode_answer``) in a ``ResponseCacheStore``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from keyroute.caching.replay import StreamAssembler, decode_answer, encode_answer, stream_events
from keyroute.caching.response_key import deterministic, response_cache_key
from keyroute.core.chat import ChatRequest
from keyroute.core.response import ChatResponse
from keyroute.core.stream import StreamEvent
from keyroute.storage.base import CachingSettingsRecord, ResponseCacheStore

Directive = Literal["no-cache", "no-store"] | None
_CACHEABLE_ENDINGS = frozenset({"stop", "stop_sequence", "length", "tool_calls"})


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cacheable request: its ``key``, the ``answer`` found (None: a miss), its TTL, whether
    a fresh answer may be stored, and whether this request is the one fetching it (``leader``:
    identical requests arriving meanwhile wait for its answer instead of asking upstream)."""

    key: str
    answer: ChatResponse | None
    ttl_seconds: int
    store: bool
    leader: bool = False


class EventStream(Protocol):
    def __aiter__(self) -> AsyncIterator[StreamEvent]: ...
    async def __anext__(self) -> StreamEvent: ...
    async def aclose(self) -> None: ...


def cache_directive(value: str | None) -> Directive:
    """The client's ``Cache-Control`` as the response cache reads it."""
    if not value:
        return None
    tokens = {t.strip().lower().replace(" ", "") for t in value.split(",")}
    if "no-store" in tokens:
        return "no-store"
    if "no-cache" in tokens or "max-age=0" in tokens:
        return "no-cache"
    return None


class ResponseCache:
    def __init__(
        self,
        store: ResponseCacheStore,
        clock: Callable[[], float] = time.time,
        *,
        wait_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._wait_seconds = wait_seconds
        self._fetching: dict[str, asyncio.Event] = {}

    async def lookup(
        self,
        workspace_id: str,
        settings: CachingSettingsRecord,
        req: ChatRequest,
        directive: Directive,
    ) -> Lookup | None:
        """None when the request may not use the cache at all."""
        if not settings.response_cache or directive == "no-store":
            return None
        if not deterministic(req) and not settings.response_cache_nondeterministic:
            return None
        key = response_cache_key(workspace_id, req)
        ttl = settings.response_cache_ttl_seconds
        if directive == "no-cache":  # answer afresh, and keep the fresh answer
            return Lookup(key=key, answer=None, ttl_seconds=ttl, store=True)
        data = await self._store.get(key, self._clock())
        fetching = self._fetching.get(key)
        if data is None and fetching is not None:  # an identical request is being answered
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fetching.wait(), self._wait_seconds)
            data = await self._store.get(key, self._clock())
        if data is not None:
            return Lookup(key=key, answer=decode_answer(data), ttl_seconds=ttl, store=True)
        leader = key not in self._fetching
        if leader:
            self._fetching[key] = asyncio.Event()
        return Lookup(key=key, answer=None, ttl_seconds=ttl, store=True, leader=leader)

    def done(self, lookup: Lookup | None) -> None:
        """The leader's request ended (answered, stored or failed): wake those waiting."""
        if lookup is not None and lookup.leader:
            event = self._fetching.pop(lookup.key, None)
            if event is not None:
                event.set()

    async def remember(self, lookup: Lookup, answer: ChatResponse) -> None:
        if not lookup.store or answer.finish_reason not in _CACHEABLE_ENDINGS:
            return
        expires = self._clock() + lookup.ttl_seconds
        await self._store.put(lookup.key, encode_answer(answer), expires)

    def recording(self, lookup: Lookup, events: EventStream) -> RecordingStream:
        """``events``, whose answer is remembered once they ended well; the stream's end or
        its closing ends the lookup (``done``)."""
        return RecordingStream(
            events, lambda answer: self.remember(lookup, answer), lambda: self.done(lookup)
        )


class RecordingStream:
    """``events`` as they pass; once they ended well, the whole answer is remembered."""

    __slots__ = ("_assembler", "_done", "_events", "_remember")

    def __init__(
        self,
        events: EventStream,
        remember: Callable[[ChatResponse], Awaitable[None]],
        done: Callable[[], None],
    ) -> None:
        self._events = events
        self._remember = remember
        self._done = done
        self._assembler = StreamAssembler()

    def __aiter__(self) -> RecordingStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            answer = self._assembler.answer()
            try:
                if answer is not None:
                    await self._remember(answer)
            finally:
                self._done()
            raise
        self._assembler.feed(event)
        return event

    async def aclose(self) -> None:
        self._done()
        await self._events.aclose()


class ReplayStream:
    """A stored answer as a stream of canonical events."""

    __slots__ = ("_events",)

    def __init__(self, answer: ChatResponse) -> None:
        self._events = stream_events(answer)

    def __aiter__(self) -> ReplayStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if not self._events:
            raise StopAsyncIteration
        return self._events.pop(0)

    async def aclose(self) -> None:
        self._events.clear()
