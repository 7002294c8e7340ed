"""``keyroute.upstream.sender``: the rules every upstream call follows, via a function transport.

Silent providers await an event that never comes; the tests' timeouts are tens of
milliseconds, so each case ends quickly whatever the machine's speed (nothing asserts a time).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from keyroute.config.schema import UpstreamConfig
from keyroute.core.errors import UpstreamError, UpstreamTimeout
from keyroute.core.timeouts import Timeouts
from keyroute.providers.base import UpstreamRequest
from keyroute.upstream import BodyLimits, UpstreamSender, default_mounts
from keyroute.upstream.aiohttp_transport import AiohttpTransport
from keyroute.upstream.demo import DemoTransport
from keyroute.upstream.function import FunctionTransport, Reply

pytestmark = pytest.mark.anyio

SHORT = Timeouts(connect=1.0, first_byte=0.05, idle=0.05, total=5.0)


def request(url: str = "test://host/v1/x", *, timeouts: Timeouts = SHORT) -> UpstreamRequest:
    return UpstreamRequest(
        method="POST", url=url, headers={"authorization": "Bearer k"}, body=b"{}", timeouts=timeouts
    )


def sender(transport: FunctionTransport, **limits: int) -> UpstreamSender:
    return UpstreamSender(mounts={"test://": transport}, limits=BodyLimits(**limits))


async def chunks(*parts: bytes, then_hang: bool = False) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if then_hang:
        await asyncio.Event().wait()


async def never(request: UpstreamRequest) -> Reply:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def send(transport: FunctionTransport, **limits: int) -> tuple[int, bytes]:
    resp = await sender(transport, **limits).send(request(), provider="p")
    return resp.status, resp.body


async def test_send_returns_the_answer_and_sends_the_request_as_is() -> None:
    transport = FunctionTransport(
        lambda r: Reply(status=201, headers={"X-Id": "7"}, body=chunks(b"ab", b"", b"cd"))
    )
    resp = await sender(transport).send(request(), provider="p")
    assert (resp.status, dict(resp.headers), resp.body) == (201, {"x-id": "7"}, b"abcd")
    assert transport.requests == [request()]


async def test_the_transport_is_chosen_by_scheme() -> None:
    a = FunctionTransport(lambda r: Reply(body=b"a"))
    b = FunctionTransport(lambda r: Reply(body=b"b"))
    both = UpstreamSender(mounts={"a://": a, "b://": b})
    assert (await both.send(request("b://h/x"), provider="p")).body == b"b"
    assert (await both.send(request("a://h/x"), provider="p")).body == b"a"


@pytest.mark.parametrize("url", ["ftp://host/x", "file:///etc/passwd", "nourl", "://x"])
async def test_an_unmounted_scheme_is_a_502_naming_it(url: str) -> None:
    transport = FunctionTransport(lambda r: Reply())
    with pytest.raises(UpstreamError, match="cannot call") as err:
        await sender(transport).send(request(url), provider="p")
    assert err.value.status_code() == 502
    assert transport.requests == []


def test_mount_patterns_must_be_schemes() -> None:
    with pytest.raises(ValueError, match="https://"):
        UpstreamSender(mounts={"https": FunctionTransport(lambda r: Reply())})


def test_default_mounts_put_the_network_on_http_and_the_simulator_on_demo() -> None:
    mounts = default_mounts(max_connections=5)
    assert mounts["http://"] is mounts["https://"]
    assert isinstance(mounts["https://"], AiohttpTransport)
    assert isinstance(mounts["demo://"], DemoTransport)


def test_default_limits_match_the_config_defaults() -> None:
    config = UpstreamConfig()
    assert BodyLimits() == BodyLimits(
        max_body_bytes=config.max_body_bytes, max_error_bytes=config.max_error_bytes
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_a_502_naming_the_host_and_never_its_credentials(status: int) -> None:
    location = "http://user:pw@evil.example:8080/steal"
    transport = FunctionTransport(lambda r: Reply(status=status, headers={"location": location}))
    with pytest.raises(UpstreamError, match="redirect") as err:
        await send(transport)
    assert "evil.example:8080" in err.value.message
    assert "pw" not in err.value.message
    assert err.value.status_code() == 502


async def test_a_redirect_without_a_url_is_still_refused() -> None:
    transport = FunctionTransport(lambda r: Reply(status=302, headers={"location": "http://[::1"}))
    with pytest.raises(UpstreamError, match="another location"):
        await send(transport)


async def test_a_body_at_the_limit_is_read_whole() -> None:
    transport = FunctionTransport(lambda r: Reply(body=chunks(b"x" * 600, b"y" * 424)))
    assert await send(transport, max_body_bytes=1024) == (200, b"x" * 600 + b"y" * 424)


async def test_a_body_over_the_limit_is_a_502_and_is_not_read_further() -> None:
    read: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            read.append(1)
            yield b"z" * 512

    transport = FunctionTransport(lambda r: Reply(body=endless()))
    with pytest.raises(UpstreamError, match="larger than 1024 bytes") as err:
        await send(transport, max_body_bytes=1024)
    assert err.value.status_code() == 502
    assert len(read) == 3


async def test_an_error_body_is_cut_at_its_limit() -> None:
    transport = FunctionTransport(lambda r: Reply(status=500, body=chunks(b"e" * 300, b"f" * 300)))
    assert await send(transport, max_error_bytes=400) == (500, b"e" * 300 + b"f" * 100)


async def test_silence_before_the_head_is_a_first_byte_timeout() -> None:
    with pytest.raises(UpstreamTimeout, match="no response head within 0.05 s") as err:
        await send(FunctionTransport(never))
    assert err.value.status_code() == 504


async def test_silence_in_the_middle_of_a_body_is_an_idle_timeout() -> None:
    transport = FunctionTransport(lambda r: Reply(body=chunks(b"part", then_hang=True)))
    with pytest.raises(UpstreamTimeout, match="sent nothing for 0.05 s"):
        await send(transport)


async def test_a_trickle_is_cut_by_the_total_limit() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.001)
            yield b"."

    transport = FunctionTransport(lambda r: Reply(body=trickle()))
    slow = Timeouts(first_byte=1.0, idle=1.0, total=0.05)
    with pytest.raises(UpstreamTimeout, match="did not finish answering within 0.05 s"):
        await sender(transport).send(request(timeouts=slow), provider="p")


async def test_stream_yields_chunks_as_they_come_and_times_out_on_a_stall() -> None:
    transport = FunctionTransport(lambda r: Reply(body=chunks(b"a", b"b", then_hang=True)))
    seen: list[bytes] = []
    async with sender(transport).stream(request(), provider="p") as up:
        assert up.status == 200
        with pytest.raises(UpstreamTimeout, match="sent nothing"):
            async for chunk in up.chunks():
                seen.append(chunk)
    assert seen == [b"a", b"b"]


async def test_time_spent_away_from_the_provider_is_not_an_idle_gap() -> None:
    transport = FunctionTransport(lambda r: Reply(body=chunks(b"a", b"b")))
    async with sender(transport).stream(request(), provider="p") as up:
        got = []
        async for chunk in up.chunks():
            got.append(chunk)
            await asyncio.sleep(0.1)  # a slow client: twice the idle limit, between reads
    assert got == [b"a", b"b"]


async def test_a_wait_after_the_total_ran_out_fails_at_once() -> None:
    transport = FunctionTransport(lambda r: Reply(body=chunks(b"a", b"b")))
    short = Timeouts(first_byte=1.0, idle=1.0, total=0.05)
    async with sender(transport).stream(request(timeouts=short), provider="p") as up:
        await asyncio.sleep(0.1)
        with pytest.raises(UpstreamTimeout, match="within 0.05 s"):
            await up.read_all()


async def test_stream_read_all_of_an_error_is_capped() -> None:
    transport = FunctionTransport(lambda r: Reply(status=429, body=chunks(b"e" * 100, b"f" * 100)))
    async with sender(transport, max_error_bytes=150).stream(request(), provider="p") as up:
        assert (up.status, await up.read_all()) == (429, b"e" * 100 + b"f" * 50)


async def test_leaving_a_stream_early_closes_the_body() -> None:
    closed: list[bool] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: x\n\n"
        finally:
            closed.append(True)

    transport = FunctionTransport(lambda r: Reply(body=body()))
    async with sender(transport).stream(request(), provider="p") as up:
        async for _ in up.chunks():
            break
    assert closed == [True]


async def test_a_cancelled_reader_is_cancelled_not_timed_out() -> None:
    opened = asyncio.Event()

    async def handler(request: UpstreamRequest) -> Reply:
        opened.set()
        return await never(request)

    task = asyncio.ensure_future(send(FunctionTransport(handler)))
    await opened.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_errors_raised_by_the_transport_pass_through() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a"
        raise UpstreamError("Provider 'p' could not be reached: reset.", provider="p")

    transport = FunctionTransport(lambda r: Reply(body=broken()))
    with pytest.raises(UpstreamError, match="reset"):
        await send(transport)


async def test_start_and_close_reach_each_transport_once() -> None:
    calls: list[str] = []

    class Recording(FunctionTransport):
        async def start(self) -> None:
            calls.append("start")

        async def close(self) -> None:
            calls.append("close")

    shared = Recording(lambda r: Reply())
    both = UpstreamSender(mounts={"http://": shared, "https://": shared})
    await both.start()
    await both.close()
    assert calls == ["start", "close"]


async def test_the_demo_transport_answers_demo_urls() -> None:
    demo = UpstreamSender(mounts={"demo://": DemoTransport()})
    body = b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
    req = UpstreamRequest(method="POST", url="demo://simulated/v1/x", headers={}, body=body)
    async with demo.stream(req, provider="demo") as up:
        got = [chunk async for chunk in up.chunks()]
    assert up.status == 200
    assert len(got) > 2 and all(c.startswith(b"data: ") for c in got)
    assert got[-1] == b"data: [DONE]\n\n"
