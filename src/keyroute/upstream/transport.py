"""The ``Transport`` seam: how the one upstream sender reaches a provider, mounted by URL scheme.

A transport turns an ``UpstreamRequest`` into a ``TransportResponse`` (status, headers, then the
body read chunk by chunk). It does the I/O and nothing else: the sender applies every policy
on top of any transport alike (first-byte, idle and total timeouts, body size limits, refused
redirects), so a transport mounted for tests behaves like the network one.

Invariants for implementations:

- ``open`` returns once the response head is known; it honours ``request.timeouts.connect``
  where connecting means anything, and never follows a redirect.
- ``TransportResponse.read`` returns the next chunk of the *decoded* body (content-encoding
  undone, a bounded amount at a time: a compression bomb is never inflated whole), ``b""`` at
  the end. Header names are lower case.
- Failures are ``UpstreamError``s naming the provider (``UpstreamTimeout`` for timeouts), with
  ``upstream_status`` 0: nothing else escapes a transport.
- ``aclose`` is idempotent and safe on a half-read body: the connection is then discarded,
  never returned to a pool.

``MemoryResponse`` is the in-memory response the in-process transports (demo, function) share.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Protocol

from keyroute.providers.base import UpstreamRequest


class TransportResponse(Protocol):
    """An open response: the head is known, the body is read with ``read`` until ``b""``."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes:
        """The next decoded body chunk; ``b""`` once the body is complete."""
        ...

    async def aclose(self) -> None:
        """Release the response (discarding the connection if the body was not read whole)."""
        ...


class Transport(Protocol):
    """Sends requests for the URL schemes it is mounted on."""

    async def start(self) -> None:
        """Acquire resources (a connection pool); called once, in the server's lifespan."""
        ...

    async def close(self) -> None:
        """Release everything ``start`` acquired."""
        ...

    async def open(self, request: UpstreamRequest, *, provider: str) -> TransportResponse:
        """Send ``request`` and return once the response head has arrived."""
        ...


class MemoryResponse:
    """A response whose body is bytes, or an async iterable of chunks produced in-process."""

    __slots__ = ("_chunks", "_done", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes | AsyncIterable[bytes],
    ) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self._chunks: AsyncIterator[bytes] = _once(body) if isinstance(body, bytes) else aiter(body)
        self._done = False

    async def read(self) -> bytes:
        if self._done:
            return b""
        for_chunk = self._chunks
        while True:
            try:
                chunk = await anext(for_chunk)
            except StopAsyncIteration:
                self._done = True
                return b""
            if chunk:
                return chunk

    async def aclose(self) -> None:
        self._done = True
        closing = getattr(self._chunks, "aclose", None)
        if closing is not None:
            await closing()


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body
