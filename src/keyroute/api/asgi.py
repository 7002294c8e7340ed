"""Small ASGI building blocks for the data plane: bounded body reads, responses, SSE streaming,
and cancelling work the client no longer waits for.

``until_disconnect`` runs a request's work while watching for the client to leave, and cancels
the work (an upstream request included) the moment it does. ``send_stream`` relays a stream
until it ends, the client leaves, or the client stops reading: a chunk the client does not
take within ``write_timeout`` ends the relay (``ClientStalled``) and closes the upstream stream,
so a client that stops reading holds neither its connection nor a provider's stream. When the
server cancels it at shutdown (past its grace period), it ends the stream with ``abort`` (an
in-band error in the client's format) instead of cutting it.

Invariant: a response header value is sent as given only when it is printable ASCII; anything
else (non-latin-1 text, CR, LF, NUL, other control characters) is percent-encoded as UTF-8, so
no value, wherever it came from, can break the response head or split it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from typing import Any, TypeVar
from urllib.parse import quote

from keyroute.core.errors import InvalidRequest, PayloadTooLarge, RequestTimeout
from keyroute.core.timers import timers
from keyroute.tasks import scoped

T = TypeVar("T")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Printable ASCII but '%', which marks the encoding.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


class ClientDisconnected(Exception):
    """The client went away before its answer was sent."""


class ClientStalled(ClientDisconnected):
    """The client stopped reading a streamed answer: its connection is given up."""


def header(scope: Scope, name: bytes) -> str | None:
    """A request header (``name`` lower-case bytes), decoded, or ``None``."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def incoming_request_id(scope: Scope) -> str | None:
    value = header(scope, b"x-request-id")
    return value if value and _SAFE_ID.fullmatch(value) else None


async def read_body(
    scope: Scope,
    receive: Receive,
    limit: int,
    *,
    allowance: float | None = None,
    min_rate: int = 1024,
) -> bytes:
    """The whole request body, refusing (413) anything over ``limit`` bytes early.

    With ``allowance``, the body must arrive within ``allowance`` seconds plus one second for every
    ``min_rate`` bytes received (408 otherwise): a slow but steady upload gets the time it
    needs, a client trickling a byte a second does not hold the request open.
    """
    declared = header(scope, b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidRequest("Invalid Content-Length header.") from None
        if size > limit:
            raise PayloadTooLarge(f"Request body of {size} bytes exceeds the {limit}-byte limit.")
    chunks: list[bytes] = []
    total = 0
    started = asyncio.get_running_loop().time()
    while True:
        if allowance is None:
            message = await receive()
        else:
            deadline = started + allowance + total / min_rate
            message = await _paced(receive, deadline, total, (allowance, min_rate))
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        if chunk:
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(f"Request body exceeds the {limit}-byte limit.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _paced(
    receive: Receive, deadline: float, received: int, pace: tuple[float, int]
) -> Message:
    """``receive()`` by loop time ``deadline`` (408 otherwise), on a ``core.timers`` entry:
    ``asyncio.timeout_at`` would arm and close a loop timer for every read."""
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 - always called from a request task
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    loop_timers = timers()
    timer = loop_timers.call_at(deadline, expire)
    cancelling = task.cancelling()
    try:
        return await receive()
    except asyncio.CancelledError:
        if expired and task.uncancel() <= cancelling:
            raise RequestTimeout(
                f"The request body did not arrive in time: {received} bytes received (a body "
                f"gets {pace[0]:g} s plus 1 s per {pace[1]} bytes received).",
            ) from None
        raise
    finally:
        loop_timers.cancel(timer)


def header_value(value: str) -> bytes:
    """``value`` as response-header bytes: printable ASCII as is, anything else percent-encoded."""
    if value.isascii() and value.isprintable():
        return value.encode("ascii")
    return quote(value, safe=_HEADER_SAFE, encoding="utf-8").encode("ascii")


def _raw_headers(
    content_type: bytes, extra: Iterable[tuple[str, str]]
) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type)]
    headers.extend((k.encode("ascii"), header_value(v)) for k, v in extra)
    return headers


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
    content_type: bytes = b"application/json",
) -> None:
    raw = _raw_headers(content_type, headers)
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# A scope extension a server may offer: ``scope["extensions"]["keyroute.disconnect"]`` is
# ``{"subscribe": subscribe}``. ``subscribe(callback)`` calls ``callback`` once, from the event
# loop, when the request's client is gone (on the next loop turn if it already is), and returns
# a function that unsubscribes. keyroute's HTTP protocol (``api.connection``) offers it.
DISCONNECT_SIGNAL = "keyroute.disconnect"
Subscribe = Callable[[Callable[[], None]], Callable[[], object]]


def _subscribe(scope: Scope | None) -> Subscribe | None:
    if scope is None:
        return None
    extension = (scope.get("extensions") or {}).get(DISCONNECT_SIGNAL)
    subscribe: Subscribe | None = extension.get("subscribe") if extension else None
    return subscribe


async def until_disconnect(receive: Receive, work: Awaitable[T], scope: Scope | None = None) -> T:
    """Await ``work`` (after the request body was read); if the client leaves first, cancel it
    and raise ``ClientDisconnected``. The watch is over before this returns, so the caller
    may answer (which ends a watcher's ``receive`` too) without a race.

    The server's disconnect signal in ``scope`` (``DISCONNECT_SIGNAL``) is used when there is
    one (a callback, no task per request); otherwise a task waits on ``receive``.
    """
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 - always called from a request task
    gone = False

    def leave() -> None:
        nonlocal gone
        gone = True
        task.cancel()

    subscribe = _subscribe(scope)
    stop: Callable[[], object]
    if subscribe is not None:
        stop = subscribe(leave)
    else:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            leave()

        stop = scoped(watch(), name="disconnect-watch").cancel
    try:
        return await work
    except asyncio.CancelledError:
        if gone:
            task.uncancel()
            raise ClientDisconnected from None
        raise
    finally:
        stop()


async def send_stream(
    receive: Receive,
    send: Send,
    body: AsyncIterator[bytes],
    headers: Iterable[tuple[str, str]],
    abort: Callable[[], bytes],
    write_timeout: float | None = None,
) -> None:
    """Send an SSE response chunk by chunk; stop (and close ``body``) when the client leaves.

    A chunk the client does not take within ``write_timeout`` seconds (it stopped reading and
    the connection's buffers are full) raises ``ClientStalled`` after ``body`` is closed; the
    response is left unfinished, so the server closes the connection.

    Cancelled from outside (the server shutting down past its grace period), it sends
    ``abort()`` as the stream's last event and ends the response cleanly, then re-raises.
    """
    raw = _raw_headers(b"text/event-stream; charset=utf-8", headers)
    raw.extend([(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")])
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    finished = False

    async def pump() -> None:
        nonlocal finished
        async for chunk in body:
            if chunk:
                await _write(send, chunk, write_timeout)
        finished = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    pump_task = scoped(pump(), name="stream-pump")
    watch_task = scoped(watch(), name="stream-watch")
    try:
        await asyncio.wait({pump_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        pump_task.cancel()
        await asyncio.gather(pump_task, return_exceptions=True)
        if not finished and not watch_task.done():
            await _abort(send, abort)
        raise
    finally:
        await _stop(pump_task, watch_task, body)
    if pump_task.done() and not pump_task.cancelled():
        exc = pump_task.exception()
        if exc is not None:
            raise exc


async def _write(send: Send, chunk: bytes, limit: float | None) -> None:
    try:
        async with asyncio.timeout(limit):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except TimeoutError:
        raise ClientStalled(f"The client took no data for {limit:g} s.") from None


async def _stop(
    pump: asyncio.Task[None], watch: asyncio.Task[None], body: AsyncIterator[bytes]
) -> None:
    for task in (pump, watch):
        task.cancel()
    await asyncio.gather(pump, watch, return_exceptions=True)
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()


async def _abort(send: Send, abort: Callable[[], bytes]) -> None:
    """End a stream with a last in-band error; the client may already be gone."""
    try:
        await send({"type": "http.response.body", "body": abort(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except Exception:  # noqa: S110 - the connection is closing anyway
        pass
