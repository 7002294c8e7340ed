"""``UpstreamSender``: the one place that sends requests to providers, through mounted transports.

``send`` returns a whole response; ``stream`` is an async context manager yielding an
``UpstreamStream`` whose body is read chunk by chunk as it arrives (nothing is buffered).
Leaving the context early (the client went away, a task was cancelled) closes the upstream
connection at once instead of returning it to the pool half-read.

Transports are mounted by URL scheme, as httpx mounts them (``{"https://": transport}``):
``default_mounts`` gives the network transport for ``http://``/``https://`` and the demo
simulator for ``demo://``; tests mount a ``FunctionTransport``. Whatever the transport, the
sender applies the same rules:

- **Timeouts:** ``UpstreamRequest.timeouts`` (connect is the transport's; first byte, idle gap
  and total are a ``Deadline`` here). Expiry is an ``UpstreamTimeout`` (504) naming the limit.
- **Bounded bodies:** a whole 2xx body larger than ``BodyLimits.max_body_bytes`` (decoded size:
  a compressed body counts inflated) is an ``UpstreamError`` (502), read no further. A non-2xx
  body is read up to ``BodyLimits.max_error_bytes`` and cut there, so an error relayed to a
  client is bounded too. Streams are not capped in total (the SSE parser caps each line).
- **No redirects:** a 3xx answer is an ``UpstreamError`` naming it, since following it would
  send the provider key and the prompt to whatever host ``Location`` names.
- Network failures are ``UpstreamError`` with ``upstream_status`` 0.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from keyroute.core.errors import UpstreamError
from keyroute.providers.base import UpstreamRequest, UpstreamResponse
from keyroute.upstream.aiohttp_transport import AiohttpTransport
from keyroute.upstream.deadline import Deadline
from keyroute.upstream.demo import DemoTransport
from keyroute.upstream.transport import Transport, TransportResponse

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ERROR_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyLimits:
    """Size limits of upstream answers, in decoded bytes (``[upstream]`` in the config)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_error_bytes: int = DEFAULT_MAX_ERROR_BYTES


def default_mounts(*, max_connections: int = 1000) -> dict[str, Transport]:
    """The production mounts: aiohttp for ``http(s)://``, the simulator for ``demo://``."""
    network = AiohttpTransport(max_connections=max_connections)
    return {"http://": network, "https://": network, "demo://": DemoTransport()}


class UpstreamStream:
    """An open streamed response. ``chunks()`` yields body bytes as the provider sends them."""

    __slots__ = ("_deadline", "_limits", "_provider", "_response", "headers", "status")

    def __init__(
        self,
        response: TransportResponse,
        deadline: Deadline,
        limits: BodyLimits,
        provider: str,
    ) -> None:
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self._response = response
        self._deadline = deadline
        self._limits = limits
        self._provider = provider

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, each read within the idle and total limits."""
        wait, read = self._deadline.wait, self._response.read
        while chunk := await wait(read):
            yield chunk

    async def read_all(self) -> bytes:
        """The rest of the body, within the size limit for this status (see the module doc)."""
        return await _read_body(self._response, self._deadline, self._limits, self._provider)


class UpstreamSender:
    """Sends through the transport mounted for each URL's scheme; owns the transports' lives.

    ``start()`` in lifespan, ``close()`` after.
    """

    def __init__(
        self,
        *,
        mounts: Mapping[str, Transport] | None = None,
        limits: BodyLimits | None = None,
    ) -> None:
        self._mounts = dict(default_mounts() if mounts is None else mounts)
        for pattern in self._mounts:
            if not pattern.endswith("://") or len(pattern) < 4:
                raise ValueError(f"mount patterns look like 'https://', not {pattern!r}")
        self.limits = limits or BodyLimits()

    def _transports(self) -> list[Transport]:
        unique: dict[int, Transport] = {}
        for transport in self._mounts.values():
            unique.setdefault(id(transport), transport)
        return list(unique.values())

    async def start(self) -> None:
        for transport in self._transports():
            await transport.start()

    async def close(self) -> None:
        for transport in self._transports():
            await transport.close()

    def _transport(self, url: str, provider: str) -> Transport:
        scheme_end = url.find("://")
        transport = self._mounts.get(url[: scheme_end + 3]) if scheme_end > 0 else None
        if transport is None:
            scheme = url[:scheme_end] if scheme_end > 0 else url.partition(":")[0]
            raise UpstreamError(
                f"Provider '{provider}' has a base URL keyroute cannot call "
                f"(scheme '{scheme[:20]}'); use an http:// or https:// URL.",
                provider=provider,
            )
        return transport

    async def _open(
        self, req: UpstreamRequest, provider: str
    ) -> tuple[TransportResponse, Deadline]:
        transport = self._transport(req.url, provider)
        deadline = Deadline(req.timeouts, provider=provider)
        try:
            response = await deadline.wait(partial(transport.open, req, provider=provider))
        except BaseException:
            deadline.stop()
            raise
        deadline.head_received()
        if 300 <= response.status < 400:
            deadline.stop()
            await response.aclose()
            raise _redirect_error(response, provider)
        return response, deadline

    async def send(self, req: UpstreamRequest, *, provider: str) -> UpstreamResponse:
        """Send and read the whole answer (any status but a redirect)."""
        response, deadline = await self._open(req, provider)
        try:
            body = await _read_body(response, deadline, self.limits, provider)
        finally:
            deadline.stop()
            await response.aclose()
        return UpstreamResponse(status=response.status, headers=response.headers, body=body)

    @asynccontextmanager
    async def stream(self, req: UpstreamRequest, *, provider: str) -> AsyncIterator[UpstreamStream]:
        """Open a streamed request; the body is read lazily inside the ``async with`` block."""
        response, deadline = await self._open(req, provider)
        try:
            yield UpstreamStream(response, deadline, self.limits, provider)
        finally:
            deadline.stop()
            await response.aclose()


async def _read_body(
    response: TransportResponse, deadline: Deadline, limits: BodyLimits, provider: str
) -> bytes:
    """The whole body; over the limit a 2xx body is an error and any other body is cut."""
    ok = 200 <= response.status < 300
    limit = limits.max_body_bytes if ok else limits.max_error_bytes
    wait, read = deadline.wait, response.read
    chunks: list[bytes] = []
    size = 0
    while chunk := await wait(read):
        size += len(chunk)
        if size > limit:
            if ok:
                raise UpstreamError(
                    f"Provider '{provider}' sent a response body larger than {limit} bytes "
                    "(upstream.max_body_bytes); it was not read further.",
                    provider=provider,
                )
            chunks.append(chunk[: len(chunk) - (size - limit)])
            break
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _redirect_error(response: TransportResponse, provider: str) -> UpstreamError:
    """Redirects are never followed: the request carries the provider key and the prompt, and
    a redirect could send both to another host. A 3xx answer is a 502 that names it."""
    try:
        where = urlsplit(response.headers.get("location", "")).netloc.rpartition("@")[2]
    except ValueError:  # a Location that is not a URL at all
        where = ""
    where = where or "another location"
    return UpstreamError(
        f"Provider '{provider}' answered a redirect (HTTP {response.status} to {where[:200]}); "
        "keyroute does not follow upstream redirects. Check the provider key's base URL.",
        provider=provider,
    )
