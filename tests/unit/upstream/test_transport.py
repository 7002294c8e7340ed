"""``keyroute.upstream.transport.MemoryResponse``: the in-process transports' response."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from keyroute.upstream.transport import MemoryResponse

pytestmark = pytest.mark.anyio


async def parts(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def read_all(resp: MemoryResponse) -> list[bytes]:
    out = []
    while chunk := await resp.read():
        out.append(chunk)
    return out


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"whole", [b"whole"]),
        (b"", []),
        (parts(b"a", b"", b"b"), [b"a", b"b"]),  # empty chunks are skipped, never read as the end
        (parts(), []),
    ],
)
async def test_read(body: bytes | AsyncIterator[bytes], expected: list[bytes]) -> None:
    resp = MemoryResponse(200, {"Content-Type": "x"}, body)
    assert resp.headers == {"content-type": "x"}
    assert await read_all(resp) == expected
    assert await resp.read() == b""


async def test_aclose_ends_the_body() -> None:
    resp = MemoryResponse(200, {}, parts(b"a", b"b"))
    assert await resp.read() == b"a"
    await resp.aclose()
    await resp.aclose()
    assert await resp.read() == b""
