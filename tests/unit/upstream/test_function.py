"""``keyroute.upstream.function.FunctionTransport``: sync and async handlers, requests recorded."""

from __future__ import annotations

import pytest

from keyroute.providers.base import UpstreamRequest
from keyroute.upstream.function import FunctionTransport, Reply

pytestmark = pytest.mark.anyio

REQ = UpstreamRequest(method="GET", url="test://h/models", headers={}, body=b"")


async def body_of(transport: FunctionTransport) -> tuple[int, dict[str, str], bytes]:
    await transport.start()
    resp = await transport.open(REQ, provider="p")
    out = b""
    while chunk := await resp.read():
        out += chunk
    await resp.aclose()
    await transport.close()
    return resp.status, dict(resp.headers), out


async def test_a_sync_handler() -> None:
    transport = FunctionTransport(lambda r: Reply(status=404, headers={"A": "b"}, body=b"no"))
    assert await body_of(transport) == (404, {"a": "b"}, b"no")
    assert transport.requests == [REQ]


async def test_an_async_handler() -> None:
    async def handler(request: UpstreamRequest) -> Reply:
        return Reply(body=request.url.encode())

    assert await body_of(FunctionTransport(handler)) == (200, {}, b"test://h/models")
