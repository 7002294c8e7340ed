"""``keyroute.api.connection.GuardedConnection``, driven byte by byte over a fake transport and a
fake loop whose timers the test fires (no sockets, no clocks). The same limits are proven on
real sockets against the production stack in tests/integration/hostile/test_slow_clients.py."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

import msgspec
import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from keyroute.api.asgi import DISCONNECT_SIGNAL, Subscribe
from keyroute.api.connection import ConnectionLimits, GuardedConnection, uvicorn_options
from keyroute.config.schema import ServerConfig

LIMITS = ConnectionLimits(max_head_bytes=1024, head_timeout=10.0, linger_seconds=2.0)


class Timer:
    def __init__(self, delay: float, callback: Callable[[], None]) -> None:
        self.delay = delay
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Task:
    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        pass


class Loop:
    """Timers are recorded, never run by a clock; ASGI tasks are recorded, never run."""

    def __init__(self) -> None:
        self.timers: list[Timer] = []
        self.tasks = 0

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(delay, callback)
        self.timers.append(timer)
        return timer

    def call_soon(self, callback: Callable[[], None]) -> Timer:
        return self.call_later(0.0, callback)

    def create_task(self, coro: Any, **_: Any) -> Task:
        coro.close()
        self.tasks += 1
        return Task()

    def live(self, delay: float) -> list[Timer]:
        return [t for t in self.timers if t.delay == delay and not t.cancelled]

    def fire(self, delay: float) -> None:
        (timer,) = self.live(delay)
        timer.cancelled = True
        timer.callback()


class Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False
        self.eof = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name in ("sockname", "peername") else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: Any, receive: Any, send: Any) -> None:  # never run: tasks are recorded
    raise AssertionError("not reached")


def connection() -> tuple[GuardedConnection, Transport, Loop]:
    loop = Loop()
    config = Config(app=app, log_config=None)
    protocol = GuardedConnection(config, ServerState(), {}, loop, limits=LIMITS)  # type: ignore[arg-type]
    transport = Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport, loop


def answer(transport: Transport) -> tuple[int, dict[str, str], Any]:
    head, _, body = transport.written.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, msgspec.json.decode(body)


def test_an_idle_connection_is_closed_without_an_answer() -> None:
    _, transport, loop = connection()
    loop.fire(LIMITS.head_timeout)
    assert transport.closed
    assert transport.written == b""


def test_a_head_that_stops_arriving_is_a_408_then_a_lingering_close() -> None:
    protocol, transport, loop = connection()
    protocol.data_received(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
    loop.fire(LIMITS.head_timeout)
    status, headers, body = answer(transport)
    assert status == 408
    assert headers["connection"] == "close"
    assert body["error"]["code"] == "request_timeout"
    assert transport.eof and not transport.closed  # still reading, so the client gets the answer
    protocol.data_received(b"x-more: 1\r\n\r\n")  # dropped: nothing more is parsed or answered
    assert loop.tasks == 0
    loop.fire(LIMITS.linger_seconds)
    assert transport.closed


def test_a_slowloris_head_is_cut_at_the_deadline_however_steady() -> None:
    protocol, transport, loop = connection()
    for byte in b"GET /v1/models HTTP/1.1\r\nx-a: bbbbbbbbbbbb":
        protocol.data_received(bytes([byte]))  # each byte arrives, the deadline does not move
    assert len(loop.live(LIMITS.head_timeout)) == 1
    loop.fire(LIMITS.head_timeout)
    assert answer(transport)[0] == 408


def test_a_head_over_the_limit_is_a_431_as_soon_as_it_crosses_it() -> None:
    protocol, transport, loop = connection()
    protocol.data_received(b"GET /v1/models HTTP/1.1\r\nx-big: ")
    for _ in range(3):
        protocol.data_received(b"a" * 400)
    status, headers, body = answer(transport)
    assert status == 431
    assert body["error"]["code"] == "request_header_too_large"
    assert "1024-byte" in body["error"]["message"]
    assert transport.eof
    assert loop.live(LIMITS.head_timeout) == []  # the head deadline is off once refused
    written = transport.written
    protocol.data_received(b"a" * 10_000 + b"\r\n\r\n")  # dropped
    assert transport.written == written and loop.tasks == 0
    loop.fire(LIMITS.linger_seconds)
    assert transport.closed


@pytest.mark.parametrize(
    "head",
    [
        b"GET /v1/models HTTP/1.1\r\nx-big: " + b"a" * 2000 + b"\r\n\r\n",
        b"GET /v1/models?" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"x-%d: y\r\n" % i for i in range(200)) + b"\r\n",
    ],
)
def test_a_whole_head_over_the_limit_in_one_read_is_a_431(head: bytes) -> None:
    protocol, transport, loop = connection()
    protocol.data_received(head + b"GET /next HTTP/1.1\r\n\r\n")
    assert answer(transport)[0] == 431
    assert loop.tasks == 0  # the application never sees it
    assert transport.written.count(b"HTTP/1.1") == 1


def test_anthropic_paths_are_answered_in_anthropic_error_json() -> None:
    protocol, transport, _ = connection()
    protocol.data_received(b"POST /v1/messages HTTP/1.1\r\nx-big: " + b"a" * 2000)
    status, _, body = answer(transport)
    assert status == 431
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"


def test_a_head_under_the_limit_starts_the_request_and_stops_the_deadline() -> None:
    protocol, transport, loop = connection()
    protocol.data_received(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    assert loop.tasks == 1
    assert loop.live(LIMITS.head_timeout) == []
    assert transport.written == b""


def test_a_large_body_in_the_same_read_as_a_small_head_is_not_counted_as_head() -> None:
    protocol, transport, loop = connection()
    body = b"x" * 5000
    protocol.data_received(
        b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 5000\r\n\r\n" + body
    )
    assert loop.tasks == 1
    assert transport.written == b""


@pytest.mark.anyio
async def test_an_answer_sent_before_the_body_was_read_closes_lingering() -> None:
    protocol, transport, loop = connection()
    protocol.data_received(b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 100\r\n\r\nab")
    cycle = protocol.cycle
    await cycle.send(
        {"type": "http.response.start", "status": 413, "headers": [(b"content-length", b"2")]}
    )
    await cycle.send({"type": "http.response.body", "body": b"{}"})
    assert transport.written.startswith(b"HTTP/1.1 413")
    assert transport.eof and not transport.closed
    loop.fire(LIMITS.linger_seconds)
    assert transport.closed


@pytest.mark.anyio
async def test_connection_close_with_the_body_unread_still_closes_lingering() -> None:
    protocol, transport, loop = connection()
    protocol.data_received(
        b"POST /v1/chat/completions HTTP/1.1\r\nconnection: close\r\ncontent-length: 100\r\n\r\n"
    )
    cycle = protocol.cycle
    await cycle.send(
        {"type": "http.response.start", "status": 413, "headers": [(b"content-length", b"2")]}
    )
    await cycle.send({"type": "http.response.body", "body": b"{}"})
    assert b"connection: close" in transport.written
    assert transport.eof and not transport.closed  # a reset now could lose the answer
    loop.fire(LIMITS.linger_seconds)
    assert transport.closed


@pytest.mark.anyio
async def test_connection_close_after_a_whole_request_closes_at_once() -> None:
    protocol, transport, _ = connection()
    protocol.data_received(b"GET /health HTTP/1.1\r\nconnection: close\r\n\r\n")
    cycle = protocol.cycle
    await cycle.send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await cycle.send({"type": "http.response.body", "body": b""})
    assert transport.closed and not transport.eof


@pytest.mark.anyio
async def test_a_keep_alive_connection_gets_a_new_head_deadline_after_each_answer() -> None:
    protocol, transport, loop = connection()
    protocol.data_received(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    cycle = protocol.cycle
    await cycle.send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await cycle.send({"type": "http.response.body", "body": b""})
    assert not transport.closed and not transport.eof
    assert len(loop.live(LIMITS.head_timeout)) == 1
    protocol.data_received(b"GET /health HTTP/1.1\r\n")  # a second head, never finished
    loop.fire(LIMITS.head_timeout)
    assert transport.written.count(b"HTTP/1.1 408") == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
        b"GET / HTTP/1.1\r\nx: a\x00b\r\n\r\n",
        b"POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_what_the_parser_refuses_is_a_400_in_error_json(raw: bytes) -> None:
    protocol, transport, loop = connection()
    protocol.data_received(raw)
    status, headers, body = answer(transport)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "not valid HTTP/1.1" in body["error"]["message"]
    assert transport.eof
    assert protocol.cycle is None or protocol.cycle.disconnected  # the app never answers too
    loop.fire(LIMITS.linger_seconds)
    assert transport.closed


def test_connection_lost_cancels_every_timer() -> None:
    protocol, _, loop = connection()
    protocol.data_received(b"GET / HTTP/1.1\r\nx: " + b"a" * 2000)  # refused: linger timer
    protocol.connection_lost(None)
    assert all(t.cancelled for t in loop.timers)


def subscribe(protocol: GuardedConnection) -> Subscribe:
    protocol.data_received(b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
    assert protocol.cycle is not None
    extensions: Any = protocol.cycle.scope.get("extensions")
    return cast(Subscribe, extensions[DISCONNECT_SIGNAL]["subscribe"])


def test_the_disconnect_signal_tells_the_application_when_the_client_leaves() -> None:
    protocol, _, loop = connection()
    left: list[str] = []
    on_disconnect = subscribe(protocol)
    on_disconnect(lambda: left.append("a"))
    unsubscribe = on_disconnect(lambda: left.append("b"))
    unsubscribe()  # the work finished first: no longer told
    assert left == []
    protocol.connection_lost(None)
    assert left == ["a"]
    protocol.connection_lost(None)  # told once
    assert left == ["a"]
    on_disconnect(lambda: left.append("late"))  # already gone: told on the next loop turn
    loop.fire(0.0)
    assert left == ["a", "late"]


def test_the_disconnect_signal_is_told_of_a_refused_request_and_not_of_an_answered_one() -> None:
    protocol, _, _ = connection()
    left: list[str] = []
    subscribe(protocol)(lambda: left.append("refused"))
    protocol.data_received(b"x" * 2000)  # a pipelined head over the limit: 431, cycle told
    assert left == ["refused"]

    protocol, _, _ = connection()
    subscribe(protocol)(lambda: left.append("answered"))
    assert protocol.cycle is not None
    protocol.cycle.response_complete = True
    protocol.connection_lost(None)  # after the answer: not a disconnect of this request
    assert left == ["refused"]


def test_uvicorn_options_serve_the_production_stack_with_the_configured_limits() -> None:
    server = ServerConfig(max_header_bytes=4096, header_timeout_seconds=3.0, keep_alive_seconds=7)
    options = uvicorn_options(server)
    assert options["loop"] == "uvloop"
    assert options["timeout_keep_alive"] == 7
    protocol = options["http"]
    assert isinstance(protocol, functools.partial)
    assert protocol.func is GuardedConnection
    assert protocol.keywords == {
        "limits": ConnectionLimits(max_head_bytes=4096, head_timeout=3.0, linger_seconds=2.0)
    }
