"""``keyroute.api.asgi``: bounded body reads, headers, request ids and responses, over fake ASGI
``receive``/``send`` callables (no server, no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from keyroute.api.asgi import (
    DISCONNECT_SIGNAL,
    ClientDisconnected,
    ClientStalled,
    Message,
    Scope,
    header,
    header_value,
    incoming_request_id,
    read_body,
    send_bytes,
    send_stream,
    until_disconnect,
)
from keyroute.core.errors import InvalidRequest, PayloadTooLarge, RequestTimeout

pytestmark = pytest.mark.anyio


def scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "headers": list(headers)}


class Receive:
    """Replays ASGI messages; fails the test if read past the end."""

    def __init__(self, *messages: Message) -> None:
        self.messages = list(messages)
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        assert self.messages, "read_body asked for more than the client sent"
        return self.messages.pop(0)


def body(data: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": data, "more_body": more}


DISCONNECT: Message = {"type": "http.disconnect"}


def ABORT() -> bytes:
    return b"data: aborted\n\n"


async def read(messages: list[Message], limit: int = 10, length: int | None = None) -> bytes:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return await read_body(scope(*headers), Receive(*messages), limit)


@pytest.mark.parametrize(
    ("messages", "length", "expected"),
    [
        ([body(b"")], None, b""),
        ([{"type": "http.request"}], None, b""),
        ([body(b"hello")], 5, b"hello"),
        ([body(b"hel", True), body(b"lo")], None, b"hello"),
        ([body(b"he", True), body(b"", True), body(b"llo")], None, b"hello"),
        ([body(b"0123456789")], 10, b"0123456789"),  # exactly the limit
        ([body(b"01234", True), body(b"56789")], None, b"0123456789"),
    ],
)
async def test_read_body(messages: list[Message], length: int | None, expected: bytes) -> None:
    assert await read(messages, length=length) == expected


async def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    receive = Receive(body(b"x"))
    with pytest.raises(PayloadTooLarge) as info:
        await read_body(scope((b"content-length", b"11")), receive, 10)
    assert receive.calls == 0
    assert info.value.status_code() == 413
    assert "11 bytes" in info.value.message and "10-byte" in info.value.message


@pytest.mark.parametrize(
    ("messages", "length"),
    [
        ([body(b"01234567890")], None),
        ([body(b"012345", True), body(b"67890")], None),
        ([body(b"0123456789", True), body(b"x", True), body(b"never read")], None),
        ([body(b"01234567890")], 5),  # the client lied about its length
    ],
)
async def test_body_over_the_limit_is_refused(messages: list[Message], length: int | None) -> None:
    with pytest.raises(PayloadTooLarge):
        await read(messages, length=length)


@pytest.mark.parametrize("value", [b"ten", b"", b"1.5", b"0x10"])
async def test_invalid_content_length(value: bytes) -> None:
    with pytest.raises(InvalidRequest, match="Content-Length"):
        await read_body(scope((b"content-length", value)), Receive(body(b"")), 10)


@pytest.mark.parametrize("messages", [[DISCONNECT], [body(b"part", True), DISCONNECT]])
async def test_disconnect(messages: list[Message]) -> None:
    with pytest.raises(ClientDisconnected):
        await read(messages)


class Trickle:
    """A client that sends ``chunks`` (each at once), then goes silent for good."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.silent = anyio.Event()

    async def __call__(self) -> Message:
        if self.chunks:
            return body(self.chunks.pop(0), True)
        await self.silent.wait()
        return DISCONNECT  # pragma: no cover


@pytest.mark.parametrize("chunks", [(), (b"x",), (b"a", b"b", b"c")])
async def test_a_body_that_stops_arriving_is_a_408(chunks: tuple[bytes, ...]) -> None:
    with pytest.raises(RequestTimeout) as info:
        await read_body(scope(), Trickle(*chunks), 100, allowance=0.01, min_rate=10**9)
    assert info.value.status_code() == 408
    assert f"{sum(map(len, chunks))} bytes received" in info.value.message


async def test_a_paced_body_that_arrives_is_read_whole() -> None:
    messages = [body(b"hel", True), body(b"", True), body(b"lo")]
    assert await read_body(scope(), Receive(*messages), 10, allowance=5.0) == b"hello"


async def test_the_pace_still_enforces_the_limit_and_sees_disconnects() -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body(scope(), Receive(body(b"x" * 11)), 10, allowance=5.0)
    with pytest.raises(ClientDisconnected):
        await read_body(scope(), Receive(body(b"x", True), DISCONNECT), 10, allowance=5.0)


@pytest.mark.parametrize(
    ("headers", "name", "expected"),
    [
        ([], b"x-a", None),
        ([(b"x-a", b"1")], b"x-a", "1"),
        ([(b"x-a", b"1"), (b"x-a", b"2")], b"x-a", "1"),
        ([(b"x-b", b"1")], b"x-a", None),
        ([(b"x-a", b"caf\xe9")], b"x-a", "café"),  # latin-1
        ([(b"x-a", b"")], b"x-a", ""),
    ],
)
async def test_header(
    headers: list[tuple[bytes, bytes]], name: bytes, expected: str | None
) -> None:
    assert header(scope(*headers), name) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (b"abc-123", "abc-123"),
        (b"req_01H.x:y-Z", "req_01H.x:y-Z"),
        (b"a" * 128, "a" * 128),
        (b"a" * 129, None),
        (b"", None),
        (b"a b", None),
        (b"a/b", None),
        (b"<script>", None),
        (b"caf\xe9", None),
        (b"a\r\nSet-Cookie: x", None),
        (b"\nabc", None),
    ],
)
async def test_incoming_request_id(value: bytes | None, expected: str | None) -> None:
    headers = [] if value is None else [(b"x-request-id", value)]
    assert incoming_request_id(scope(*headers)) == expected


async def test_request_id_with_a_trailing_newline_is_refused() -> None:
    assert incoming_request_id(scope((b"x-request-id", b"abc\n"))) is None


class Send:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


async def test_send_bytes() -> None:
    send = Send()
    await send_bytes(send, 201, b'{"ok":true}', [("x-request-id", "r1")])
    assert send.messages == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"content-type", b"application/json"),
                (b"x-request-id", b"r1"),
                (b"content-length", b"11"),
            ],
        },
        {"type": "http.response.body", "body": b'{"ok":true}'},
    ]


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("demo/fast", b"demo/fast"),
        ("a b:c@d~e", b"a b:c@d~e"),
        ("100%", b"100%"),  # printable ASCII goes as is
        ("gpt-4\u043e", b"gpt-4%D0%BE"),  # Cyrillic o
        ("\U0001f600", b"%F0%9F%98%80"),
        ("caf\u00e9", b"caf%C3%A9"),  # latin-1, but not ASCII
        ("x\r\nset-cookie: a=b", b"x%0D%0Aset-cookie: a=b"),
        ("a\x00b\tc\x7f", b"a%00b%09c%7F"),
        ("50%\n", b"50%25%0A"),  # once encoding, '%' is encoded too
    ],
)
async def test_header_values_are_never_sent_raw(value: str, sent: bytes) -> None:
    assert header_value(value) == sent
    send = Send()
    await send_bytes(send, 200, b"", [("x-keyroute-model", value)])
    assert (b"x-keyroute-model", sent) in send.messages[0]["headers"]


async def test_send_bytes_content_type() -> None:
    send = Send()
    await send_bytes(send, 200, b"hi", content_type=b"text/plain")
    assert send.messages[0]["headers"][0] == (b"content-type", b"text/plain")


class Idle:
    """A ``receive`` where the client never leaves."""

    def __init__(self) -> None:
        self.never = anyio.Event()

    async def __call__(self) -> Message:
        await self.never.wait()
        return DISCONNECT  # pragma: no cover


async def test_send_stream() -> None:
    closed: list[bool] = []

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            yield b""  # empty chunks are not sent
            yield b"data: 2\n\n"
        finally:
            closed.append(True)

    send = Send()
    await send_stream(Idle(), send, chunks(), [("x-request-id", "r")], ABORT)
    start, *rest = send.messages
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    assert (b"cache-control", b"no-cache") in start["headers"]
    assert (b"x-request-id", b"r") in start["headers"]
    assert [(m["body"], m["more_body"]) for m in rest] == [
        (b"data: 1\n\n", True),
        (b"data: 2\n\n", True),
        (b"", False),
    ]
    assert closed == [True]


async def test_send_stream_stops_and_closes_the_body_when_the_client_leaves() -> None:
    closed: list[bool] = []
    never = anyio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await never.wait()
            yield b"never sent"  # pragma: no cover
        finally:
            closed.append(True)

    send = Send()
    await send_stream(Receive(DISCONNECT), send, chunks(), [], ABORT)
    assert closed == [True]
    bodies = [m.get("body") for m in send.messages[1:]]
    assert b"never sent" not in bodies
    assert all(m.get("more_body") for m in send.messages[1:])  # no clean end was sent


class StallingSend:
    """A client that takes ``taken`` body chunks, then stops reading: every later send blocks."""

    def __init__(self, taken: int) -> None:
        self.messages: list[Message] = []
        self.taken = taken

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.body" and self.taken == 0:
            await anyio.Event().wait()
        self.taken -= message["type"] == "http.response.body"
        self.messages.append(message)


async def test_send_stream_gives_up_on_a_client_that_stops_reading() -> None:
    closed: list[bool] = []

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: more\n\n"
        finally:
            closed.append(True)

    send = StallingSend(taken=3)
    with pytest.raises(ClientStalled):
        await send_stream(Idle(), send, chunks(), [], ABORT, write_timeout=0.01)
    assert closed == [True]  # the upstream stream is closed
    assert [m.get("more_body") for m in send.messages[1:]] == [True, True, True]


async def test_send_stream_without_a_write_timeout_waits_for_a_slow_client() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"

    send = StallingSend(taken=1)
    task = asyncio.ensure_future(send_stream(Idle(), send, chunks(), [], ABORT))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_send_stream_reraises_a_failing_body() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        raise RuntimeError("upstream broke")

    with pytest.raises(RuntimeError, match="upstream broke"):
        await send_stream(Idle(), Send(), chunks(), [], ABORT)


async def test_scope_headers_are_what_read_body_checks() -> None:
    receive: Any = Receive(body(b"abc"))
    assert await read_body(scope((b"Content-Length", b"999")), receive, 10) == b"abc"


async def test_send_stream_cancelled_from_outside_ends_with_the_abort_event() -> None:
    never = anyio.Event()
    closed: list[bool] = []

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await never.wait()
            yield b"never sent"  # pragma: no cover
        finally:
            closed.append(True)

    first = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) == 2:
            first.set()

    sent: list[Message] = []
    task = asyncio.ensure_future(send_stream(Idle(), send, chunks(), [], ABORT))
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [
        (b"data: 1\n\n", True),
        (b"data: aborted\n\n", True),
        (b"", False),
    ]
    assert closed == [True]


async def test_until_disconnect_returns_the_work_and_stops_watching() -> None:
    idle = Idle()

    async def work() -> str:
        await asyncio.sleep(0)
        return "done"

    assert await until_disconnect(idle, work()) == "done"


async def test_until_disconnect_cancels_the_work_when_the_client_leaves() -> None:
    cancelled: list[bool] = []
    never = anyio.Event()

    async def work() -> str:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "never"  # pragma: no cover

    with pytest.raises(ClientDisconnected):
        await until_disconnect(Receive(body(b""), DISCONNECT), work())
    assert cancelled == [True]
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0


async def test_until_disconnect_lets_an_outside_cancel_through() -> None:
    async def work() -> None:
        await asyncio.sleep(10)

    task = asyncio.ensure_future(until_disconnect(Idle(), work()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class Signal:
    """A server's disconnect signal (``DISCONNECT_SIGNAL``), fired by the test."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def scope(self) -> dict[str, Any]:
        return {"extensions": {DISCONNECT_SIGNAL: {"subscribe": self.subscribe}}}


async def test_until_disconnect_uses_the_servers_signal_and_unsubscribes() -> None:
    signal = Signal()

    async def work() -> str:
        await asyncio.sleep(0)
        assert len(signal.callbacks) == 1
        return "done"

    never_asked = Receive()  # with a signal, receive is not called
    assert await until_disconnect(never_asked, work(), signal.scope()) == "done"
    assert signal.callbacks == []


async def test_until_disconnect_cancels_the_work_when_the_signal_fires() -> None:
    signal = Signal()
    cancelled: list[bool] = []
    never = anyio.Event()

    async def work() -> str:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "never"  # pragma: no cover

    task = asyncio.ensure_future(until_disconnect(Receive(), work(), signal.scope()))
    await asyncio.sleep(0)
    (leave,) = signal.callbacks
    leave()
    with pytest.raises(ClientDisconnected):
        await task
    assert cancelled == [True]
    assert task.cancelling() == 0
    assert signal.callbacks == []


async def test_until_disconnect_with_a_signal_lets_an_outside_cancel_through() -> None:
    signal = Signal()

    async def work() -> None:
        await asyncio.sleep(10)

    task = asyncio.ensure_future(until_disconnect(Receive(), work(), signal.scope()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert signal.callbacks == []
