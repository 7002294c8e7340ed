"""The HTTP/1.1 connection keyroute serves on: uvicorn's httptools protocol with client limits.

uvicorn's httptools protocol has a keep-alive timeout between requests and nothing else: a
fresh connection that sends nothing, a client that sends its head a byte at a time, or one that
sends a head of 32 MB, all stay open (and buffered) for as long as they like. This protocol adds:

- a head deadline: the request line and headers must arrive within ``head_timeout`` seconds of
  the connection opening or of the previous response ending. A connection that sent nothing is
  closed; one part-way through a head is answered 408 and closed;
- a head size limit: a request line plus headers over ``max_head_bytes`` is answered 431 and
  closed once the limit is crossed, so at most one read (256 KiB) past the limit is ever held;
- error JSON for requests the parser refuses (uvicorn answers those in plain text);
- a disconnect signal (``api.asgi.DISCONNECT_SIGNAL``, in ``scope["extensions"]``): the
  application learns that a client left from a callback instead of a task per request waiting
  on ``receive``. It fires when uvicorn's cycle is told of it (the connection lost, or a
  refusal) for the request uvicorn notifies, the same one ``receive`` would tell;
- a lingering close: after a refusal, or a response sent before the request body was read
  (413, 408), the connection reads and drops whatever the client still sends for at most
  ``linger_seconds``, then closes. Closing at once would make the kernel reset the connection
  and the client could lose the answer; reading for ever would let it hold the connection.

The body's own pace is the application's business (``api.asgi.read_body``: 408 in the
caller's format). Answers sent from here use the caller's error JSON when the path tells it
(``/v1/messages...``: Anthropic's), OpenAI's otherwise.

Invariants: every timer is cancelled when the connection is lost; once refusing or lingering,
no more bytes reach the parser.
"""

from __future__ import annotations

import asyncio
import functools
from asyncio import TimerHandle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from keyroute.api.asgi import DISCONNECT_SIGNAL
from keyroute.api.errors import ErrorFormat, render_error
from keyroute.api.request_ids import new_request_id
from keyroute.config.schema import ServerConfig
from keyroute.core.errors import GatewayError, HeadersTooLarge, InvalidRequest, RequestTimeout

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request already answered."""


class _CycleTransport:
    """The transport as a request cycle sees it: its ``close`` goes through
    ``GuardedConnection.close_for_cycle`` (uvicorn closes at once when the client asked for
    ``connection: close``, which would reset a client still sending its body)."""

    def __init__(self, connection: GuardedConnection) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection.transport, name)

    def close(self) -> None:
        self._connection.close_for_cycle()


class _Disconnect:
    """The disconnect signal of one request cycle (``api.asgi.DISCONNECT_SIGNAL``)."""

    __slots__ = ("_callbacks", "_connection", "_cycle")

    def __init__(self, connection: GuardedConnection, cycle: Any) -> None:
        self._connection = connection
        self._cycle = cycle
        self._callbacks: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        if self._cycle.disconnected:  # told on the next loop turn, as ``receive`` would
            return self._connection.loop.call_soon(callback).cancel
        flow = self._connection.flow
        if flow is not None:
            flow.resume_reading()  # as ``receive`` does: a paused transport sees no close
        self._callbacks.append(callback)
        return functools.partial(self._unsubscribe, callback)

    def _unsubscribe(self, callback: Callable[[], None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def fire(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLimits:
    max_head_bytes: int = 64 * 1024
    head_timeout: float = 10.0
    linger_seconds: float = 2.0

    @classmethod
    def from_config(cls, server: ServerConfig) -> ConnectionLimits:
        return cls(
            max_head_bytes=server.max_header_bytes, head_timeout=server.header_timeout_seconds
        )


class GuardedConnection(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a head deadline, a head size limit and a lingering close."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._in_head = True
        self._head_bytes = 0  # bytes read while in a head: an upper bound, checked per read
        self._parsed_head = 0  # the head's exact size, checked when it is complete
        self._head_timer: TimerHandle | None = None
        self._lingering = False
        self._linger_timer: TimerHandle | None = None
        self._disconnect: _Disconnect | None = None  # the newest cycle's, as uvicorn notifies

    # The head phase

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._lingering:
            return
        if self._head_bytes == 0:  # an idle connection: nothing to answer
            self.transport.close()
            return
        self._refuse(
            RequestTimeout(
                f"The request head did not arrive within {self.limits.head_timeout:g} seconds."
            )
        )

    def _refuse(self, err: GatewayError) -> None:
        """Answer ``err`` (the caller's format when the path tells it), then close lingering."""
        self._cancel_head_timer()
        fmt: ErrorFormat = (
            "anthropic" if getattr(self, "url", b"").startswith(b"/v1/messages") else "openai"
        )
        status, body = render_error(err, fmt)
        head = b"".join(
            [
                b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Error")),
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"x-request-id: %s\r\n" % new_request_id().encode(),
                b"connection: close\r\n\r\n",
            ]
        )
        self.transport.write(head + body)
        if self.cycle is not None and not self.cycle.response_complete:
            # A request already handed to the application (its body was unreadable): to the
            # application the client is gone, so it never writes after this answer.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self._disconnected()
        self._linger()

    # The lingering close

    def _linger(self) -> None:
        if self._lingering:
            return
        self._lingering = True
        self._unset_keepalive_if_required()
        self._cancel_head_timer()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger_timer = self.loop.call_later(self.limits.linger_seconds, self._close)

    def _close(self) -> None:
        self._linger_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def close_for_cycle(self) -> None:
        """A request cycle closes the connection: lingering while its request body still
        arrives (an answer sent before the body was read), at once otherwise."""
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            self._linger()
        else:
            self.transport.close()

    # uvicorn's protocol callbacks

    def send_400_response(self, msg: str) -> None:
        """A request the parser cannot read: answered in error JSON, then a lingering close."""
        if not self.transport.is_closing() and not self._lingering:
            self._refuse(InvalidRequest(f"{msg} The request is not valid HTTP/1.1."))

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)
        self._disconnected()

    def _disconnected(self) -> None:
        if self._disconnect is not None and self.cycle is not None and self.cycle.disconnected:
            disconnect, self._disconnect = self._disconnect, None
            disconnect.fire()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # read and dropped
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._in_head
            and self._head_bytes > self.limits.max_head_bytes
            and not self.transport.is_closing()
            and not self._lingering
        ):
            self._refuse(self._too_large())

    def _too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"The request line and headers are over the {self.limits.max_head_bytes}-byte limit."
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._parsed_head = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._parsed_head += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._parsed_head += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        if self._parsed_head > self.limits.max_head_bytes:  # a whole big head in one read
            self._refuse(self._too_large())
            raise _Refused  # stops the parser; uvicorn's parser-error answer is then a no-op
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = _CycleTransport(self)  # type: ignore[assignment]
            # The application's task starts on the next loop turn: the scope is still ours.
            self._disconnect = _Disconnect(self, self.cycle)
            extensions = self.scope.setdefault("extensions", {})
            extensions[DISCONNECT_SIGNAL] = {"subscribe": self._disconnect.subscribe}

    def on_response_complete(self) -> None:
        body_unread = not self.pipeline and self.cycle is not None and self.cycle.more_body
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if body_unread:
            self._linger()
        elif not pipelined:
            self._start_head()


def uvicorn_options(server: ServerConfig) -> dict[str, Any]:
    """What ``uvicorn.run`` / ``uvicorn.Config`` need to serve keyroute on the production stack
    (uvloop, httptools with ``GuardedConnection``) with ``server``'s limits. The protocol is a
    ``functools.partial`` of a module-level class, so ``--workers N`` can pickle it."""
    limits = ConnectionLimits.from_config(server)
    return {
        "loop": "uvloop",
        "http": functools.partial(GuardedConnection, limits=limits),
        "timeout_keep_alive": server.keep_alive_seconds,
        "timeout_graceful_shutdown": server.shutdown_grace_seconds,
        "server_header": False,
    }
