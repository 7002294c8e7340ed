"""The one place that sends HTTP to providers: a pooled aiohttp client.

``UpstreamSender.send`` returns a whole response; ``UpstreamSender.stream`` is an async context
manager yielding an ``UpstreamStream`` whose body is read chunk by chunk as it arrives (nothing is
buffered). Leaving the context early (the client went away, a task was cancelled) closes the
upstream connection at once instead of returning it to the pool half-read.

Every call has an explicit timeout: ``UpstreamRequest.timeout`` bounds a whole non-streamed
response, and the gap between two reads of a stream. Redirects are never followed: a 3xx answer
is an ``UpstreamError``, since following it would send the provider key and the prompt to
whatever host ``Location`` names. Network failures become ``UpstreamError`` (``UpstreamTimeout``
for timeouts) with ``upstream_status`` 0. ``demo://`` URLs are answered by the in-process
``DemoUpstream``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from keyroute.core.errors import UpstreamError, UpstreamTimeout
from keyroute.demo import DemoUpstream
from keyroute.providers.base import UpstreamRequest, UpstreamResponse

_CONNECT_TIMEOUT = 10.0


@dataclass(slots=True)
class UpstreamStream:
    """An open streamed response. ``chunks()`` yields body bytes as the provider sends them."""

    status: int
    headers: Mapping[str, str]
    _body: AsyncIterator[bytes]

    def chunks(self) -> AsyncIterator[bytes]:
        return self._body

    async def read_all(self) -> bytes:
        return b"".join([c async for c in self._body])


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


class UpstreamSender:
    """Owns the process's upstream connection pool. ``start()`` in lifespan, ``close()`` after."""

    def __init__(self, *, max_connections: int = 1000, max_per_host: int = 0) -> None:
        self._max_connections = max_connections
        self._max_per_host = max_per_host
        self._session: aiohttp.ClientSession | None = None
        self._demo = DemoUpstream()

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=self._max_per_host,
            ttl_dns_cache=300,
            keepalive_timeout=30,
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            headers={"user-agent": "keyroute"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _require(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamSender.start() was not called")
        return self._session

    async def send(self, req: UpstreamRequest, *, provider: str) -> UpstreamResponse:
        """Send and read the whole answer (any status)."""
        if req.url.startswith("demo:"):
            status, body = self._demo.complete(req.body)
            return UpstreamResponse(status=status, headers={}, body=body)
        session = self._require()
        timeout = aiohttp.ClientTimeout(total=req.timeout, sock_connect=_CONNECT_TIMEOUT)
        try:
            async with session.request(
                req.method,
                req.url,
                data=req.body,
                headers=req.headers,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                _refuse_redirect(resp, provider)
                body = await resp.read()
                return UpstreamResponse(status=resp.status, headers=_lower(resp.headers), body=body)
        except TimeoutError:
            raise UpstreamTimeout(
                f"Provider '{provider}' did not answer within {req.timeout:g} s.", provider=provider
            ) from None
        except aiohttp.ClientError as exc:
            raise _network_error(exc, req, provider) from None

    @asynccontextmanager
    async def stream(self, req: UpstreamRequest, *, provider: str) -> AsyncIterator[UpstreamStream]:
        """Open a streamed request; the body is read lazily inside the ``async with`` block."""
        if req.url.startswith("demo:"):
            status, body = self._demo.complete(req.body)
            yield UpstreamStream(status=status, headers={}, _body=_single(body))
            return
        session = self._require()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=_CONNECT_TIMEOUT, sock_read=req.timeout
        )
        try:
            resp = await session.request(
                req.method,
                req.url,
                data=req.body,
                headers=req.headers,
                timeout=timeout,
                allow_redirects=False,
            )
        except TimeoutError:
            raise UpstreamTimeout(
                f"Provider '{provider}' did not answer within {req.timeout:g} s.", provider=provider
            ) from None
        except aiohttp.ClientError as exc:
            raise _network_error(exc, req, provider) from None
        try:
            _refuse_redirect(resp, provider)
            yield UpstreamStream(
                status=resp.status,
                headers=_lower(resp.headers),
                _body=_read_chunks(resp, req, provider),
            )
        finally:
            # A fully read body returns the connection to the pool; anything else closes it.
            resp.close()


async def _read_chunks(
    resp: aiohttp.ClientResponse, req: UpstreamRequest, provider: str
) -> AsyncIterator[bytes]:
    try:
        async for chunk in resp.content.iter_any():
            yield chunk
    except TimeoutError:
        raise UpstreamTimeout(
            f"Provider '{provider}' sent nothing for {req.timeout:g} s mid-stream.",
            provider=provider,
        ) from None
    except aiohttp.ClientError as exc:
        raise _network_error(exc, req, provider) from None


def _refuse_redirect(resp: aiohttp.ClientResponse, provider: str) -> None:
    """Redirects are never followed: the request carries the provider key and the prompt, and
    a redirect could send both to another host. A 3xx answer is a 502 that names it."""
    if 300 <= resp.status < 400:
        location = resp.headers.get("location", "")
        where = urlsplit(location).netloc or "another location"
        raise UpstreamError(
            f"Provider '{provider}' answered a redirect (HTTP {resp.status} to {where}); "
            "keyroute does not follow upstream redirects. Check the provider key's base URL.",
            provider=provider,
        )


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _network_error(exc: Exception, req: UpstreamRequest, provider: str) -> UpstreamError:
    host = urlsplit(req.url).netloc
    reason = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = f"cannot connect to {host}"
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        reason = "the connection closed before the response was complete"
    return UpstreamError(
        f"Provider '{provider}' could not be reached: {reason}.", provider=provider
    )
