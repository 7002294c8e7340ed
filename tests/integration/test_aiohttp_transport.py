"""``keyroute.upstream.aiohttp_transport`` on real loopback sockets, behind the sender.

The hostile upstream's bodies are far larger than the limits set here; ``tracemalloc`` shows
that reading them costs about the limit, never the body (a 128 MiB gzip bomb included).
"""

from __future__ import annotations

import asyncio
import json
import socket
import tracemalloc
from collections.abc import Iterator

import pytest

from keyroute.core.errors import UpstreamError, UpstreamTimeout
from keyroute.core.timeouts import Timeouts
from keyroute.providers.base import UpstreamRequest, UpstreamResponse
from keyroute.upstream import BodyLimits, UpstreamSender, default_mounts
from tests.fakes.hostile_upstream import OPENAI_BODY, HostileUpstream

pytestmark = pytest.mark.integration

LIMITS = BodyLimits(max_body_bytes=1024 * 1024, max_error_bytes=4096)
SHORT = Timeouts(connect=5.0, first_byte=1.0, idle=1.0, total=10.0)


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with HostileUpstream().running() as url:
        yield url


def call(url: str, *, stream: bool = False) -> UpstreamResponse:
    async def main() -> UpstreamResponse:
        sender = UpstreamSender(mounts=default_mounts(max_connections=4), limits=LIMITS)
        await sender.start()
        try:
            body = json.dumps({"model": "m", "stream": stream}).encode()
            req = UpstreamRequest(
                method="POST", url=url, headers={}, body=body, stream=stream, timeouts=SHORT
            )
            return await sender.send(req, provider="openai")
        finally:
            await sender.close()

    return asyncio.run(main())


def peak_bytes(url: str) -> int:
    """Peak Python memory while calling ``url`` (expected to fail)."""
    tracemalloc.start()
    try:
        with pytest.raises(UpstreamError, match="larger than 1048576 bytes"):
            call(url)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_valid_answer(hostile: str) -> None:
    resp = call(f"{hostile}/ok/v1/chat/completions")
    assert (resp.status, json.loads(resp.body)) == (200, OPENAI_BODY)


def test_a_gzip_bomb_is_never_inflated_past_the_body_limit(hostile: str) -> None:
    assert peak_bytes(f"{hostile}/bomb/v1/chat/completions") < 8 * 1024 * 1024


def test_a_huge_body_is_read_no_further_than_the_limit(hostile: str) -> None:
    assert peak_bytes(f"{hostile}/huge_body/v1/chat/completions") < 8 * 1024 * 1024


def test_a_huge_error_body_is_cut(hostile: str) -> None:
    resp = call(f"{hostile}/huge_error/v1/chat/completions")
    assert (resp.status, len(resp.body)) == (500, 4096)


def test_a_redirect_is_not_followed(hostile: str) -> None:
    with pytest.raises(UpstreamError, match=r"redirect \(HTTP 307 to 127.0.0.1:9\)"):
        call(f"{hostile}/redirect/v1/chat/completions")


def test_silence_before_the_head(hostile: str) -> None:
    with pytest.raises(UpstreamTimeout, match="no response head within 1 s"):
        call(f"{hostile}/silent_head/v1/chat/completions")


def test_silence_in_the_body(hostile: str) -> None:
    with pytest.raises(UpstreamTimeout, match="sent nothing for 1 s"):
        call(f"{hostile}/silent_mid/v1/chat/completions")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("garbage", "not valid HTTP"), ("bad_encoding", "could not be decoded")],
)
def test_a_broken_answer_is_a_502_that_says_why(hostile: str, mode: str, reason: str) -> None:
    with pytest.raises(UpstreamError, match=reason):
        call(f"{hostile}/{mode}/v1/chat/completions")


def test_a_refused_connection_names_the_host() -> None:
    with pytest.raises(UpstreamError, match="cannot connect to 127.0.0.1:9"):
        call("http://127.0.0.1:9/v1/chat/completions")


def test_an_unstarted_transport_says_so() -> None:
    async def main() -> None:
        sender = UpstreamSender(mounts=default_mounts())
        req = UpstreamRequest(method="GET", url="http://127.0.0.1:9/", headers={}, body=b"")
        await sender.send(req, provider="openai")

    with pytest.raises(RuntimeError, match="start"):
        asyncio.run(main())


def test_a_connection_that_is_never_accepted_is_a_connect_timeout() -> None:
    # A listener whose accept queue is full (backlog 0 holds one connection) drops new SYNs,
    # so connecting hangs until the connect limit; the first-byte limit would say otherwise.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.create_connection(("127.0.0.1", port), timeout=2)]
        try:

            async def main() -> None:
                sender = UpstreamSender(mounts=default_mounts(), limits=LIMITS)
                await sender.start()
                try:
                    quick = Timeouts(connect=0.2, first_byte=5.0, idle=5.0, total=10.0)
                    req = UpstreamRequest(
                        method="GET",
                        url=f"http://127.0.0.1:{port}/",
                        headers={},
                        body=b"",
                        timeouts=quick,
                    )
                    await sender.send(req, provider="openai")
                finally:
                    await sender.close()

            with pytest.raises(
                UpstreamTimeout, match=f"no connection to 127.0.0.1:{port} within 0.2 s"
            ):
                asyncio.run(main())
        finally:
            for filler in fillers:
                filler.close()
