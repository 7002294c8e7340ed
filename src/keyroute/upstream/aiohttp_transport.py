"""``AiohttpTransport``: the network transport for ``http(s)://``, a pooled aiohttp client.

One ``aiohttp.ClientSession`` per process, created in ``start`` (inside the server's event
loop) and closed in ``close``.

- **Redirects are never followed** (``allow_redirects=False``): the request carries the provider
  key and the prompt, and aiohttp would send both on to whatever host ``Location`` names. The
  3xx head is returned as is and the sender refuses it.
- **Timeouts:** aiohttp enforces only ``timeouts.connect`` (establishing a new connection,
  TLS included); the first-byte, idle and total limits are the sender's ``Deadline``, the same
  for every transport.
- **Decompression is incremental.** aiohttp undoes ``gzip``/``deflate`` as the body is read,
  at most one read buffer (64 KiB) of output per step, and pauses the socket while its buffer
  is full, so ``read`` (``readany``) never inflates more than that at once; the sender's body
  cap then bounds the decoded total. ``resp.read()``, which inflates the whole body in one
  go, is never used.
- A body left half-read (a stream the client abandoned, a capped body) closes its connection
  instead of returning it to the pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError

from keyroute.core.errors import UpstreamError, UpstreamTimeout
from keyroute.providers.base import UpstreamRequest


class AiohttpResponse:
    """An open aiohttp response; ``read`` maps aiohttp failures to ``UpstreamError``."""

    __slots__ = ("_provider", "_read", "_resp", "_url", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse, url: str, provider: str) -> None:
        self._resp = resp
        self._read = resp.content.readany
        self._url = url
        self._provider = provider
        self.status = resp.status
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in resp.headers.items()}

    async def read(self) -> bytes:
        try:
            return await self._read()
        except (aiohttp.ClientError, HttpProcessingError) as exc:
            raise network_error(exc, self._url, self._provider) from None

    async def aclose(self) -> None:
        # After a complete body aiohttp has already returned the connection to the pool;
        # before that, close() discards it.
        self._resp.close()


class AiohttpTransport:
    """The pooled aiohttp client. ``start()`` in lifespan, ``close()`` after."""

    def __init__(self, *, max_connections: int = 1000, max_per_host: int = 0) -> None:
        self._max_connections = max_connections
        self._max_per_host = max_per_host
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

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

    async def open(self, request: UpstreamRequest, *, provider: str) -> AiohttpResponse:
        session = self._session
        if session is None:
            raise RuntimeError("AiohttpTransport.start() was not called")
        try:
            resp = await session.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=self._timeout(request.timeouts.connect),
                allow_redirects=False,
            )
        except aiohttp.ClientError as exc:
            raise network_error(exc, request.url, provider, request.timeouts.connect) from None
        return AiohttpResponse(resp, request.url, provider)

    def _timeout(self, connect: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(connect)
        if timeout is None:
            # total=None overrides aiohttp's 300 s session default: the Deadline owns the rest.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect)
            if len(self._timeouts) < 64:
                self._timeouts[connect] = timeout
        return timeout


def network_error(
    exc: Exception, url: str, provider: str, connect: float | None = None
) -> UpstreamError:
    """An aiohttp failure as the ``UpstreamError`` a client may see (no key, no path)."""
    host = urlsplit(url).netloc
    if isinstance(exc, aiohttp.ConnectionTimeoutError) and connect is not None:
        return UpstreamTimeout(
            f"Provider '{provider}' could not be reached: no connection to {host} "
            f"within {connect:g} s.",
            provider=provider,
        )
    reason = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = f"cannot connect to {host}"
    elif isinstance(exc, ContentEncodingError) or isinstance(exc.__cause__, ContentEncodingError):
        reason = "the response body could not be decoded"  # a broken content-encoding
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        reason = "the connection closed before the response was complete"
    elif isinstance(exc, aiohttp.ClientResponseError | HttpProcessingError):
        reason = "the response was not valid HTTP"
    return UpstreamError(
        f"Provider '{provider}' could not be reached: {reason}.", provider=provider
    )
