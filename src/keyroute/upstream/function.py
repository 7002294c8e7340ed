"""``FunctionTransport``: a Python callable answers upstream requests, in-process (for tests).

The handler gets the ``UpstreamRequest`` exactly as the sender would put it on the wire and
returns a ``Reply`` (or an awaitable of one): status, headers, and a body of bytes or an async
iterable of chunks, so a test can stream, stall (await an event that never comes), fail
mid-body (raise ``UpstreamError``) or answer anything a hostile provider could. Every request is
kept in ``requests``, in order, so a test can assert what was (or was not) sent.

Mount it for a scheme of its own (``UpstreamSender(mounts={"test://": transport})``) or in place
of the network for ``http://``: the sender applies its timeouts and limits to it as to any other
transport.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from keyroute.providers.base import UpstreamRequest
from keyroute.upstream.transport import MemoryResponse


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the handler answers; ``body`` is sent as one chunk, or chunk by chunk."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | AsyncIterable[bytes] = b""


Handler = Callable[[UpstreamRequest], Reply | Awaitable[Reply]]


class FunctionTransport:
    """Answers each request with ``handler(request)``."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[UpstreamRequest] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def open(self, request: UpstreamRequest, *, provider: str) -> MemoryResponse:
        self.requests.append(request)
        answer = self._handler(request)
        reply = await answer if inspect.isawaitable(answer) else answer
        return MemoryResponse(reply.status, reply.headers, reply.body)
