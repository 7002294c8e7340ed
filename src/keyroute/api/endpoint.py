"""The frame every data-plane request runs in: request id, authentication, errors, timing.

An ``Endpoint`` subclass implements ``handle``; everything it raises before the response starts
is answered in the endpoint's wire format with the right status, ``x-request-id`` and
``x-keyroute-overhead-ms``. Errors after a stream started are the stream encoder's business.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import ClassVar, Protocol

from keyroute.api.asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    incoming_request_id,
    read_body,
    send_bytes,
    send_stream,
)
from keyroute.api.auth import gateway_key
from keyroute.api.errors import (
    ErrorFormat,
    as_gateway_error,
    error_headers,
    render_error,
    render_stream_error,
)
from keyroute.api.request_ids import new_request_id
from keyroute.core.errors import GatewayError
from keyroute.core.stream import StreamEvent
from keyroute.pipeline import RequestContext
from keyroute.services import Services


class StreamEncoder(Protocol):
    def feed(self, event: StreamEvent) -> bytes: ...
    def close(self) -> bytes: ...


class MethodNotAllowed(GatewayError):
    status = 405
    code = "method_not_allowed"
    type = "invalid_request_error"


class Endpoint:
    """A data-plane ASGI endpoint. ``methods`` and ``fmt`` are set by subclasses."""

    fmt: ClassVar[ErrorFormat] = "openai"
    methods: ClassVar[frozenset[str]] = frozenset({"POST"})

    def __init__(self, services: Services) -> None:
        self.services = services

    def error_format(self, scope: Scope) -> ErrorFormat:
        """The wire format of this request's errors (and of its answer)."""
        return self.fmt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = incoming_request_id(scope) or new_request_id()
        ctx: RequestContext | None = None
        try:
            if scope["method"] not in self.methods:
                allowed = ", ".join(sorted(self.methods))
                raise MethodNotAllowed(f"Method {scope['method']} not allowed; use {allowed}.")
            key = gateway_key(scope, prefer_x_api_key=self.error_format(scope) == "anthropic")
            principal = await self.services.principals.authenticate(key)
            ctx = RequestContext(request_id=request_id, principal=principal, started=started)
            await self.handle(ctx, scope, receive, send)
        except ClientDisconnected:
            return
        except Exception as exc:  # the request boundary: every failure becomes an answer
            err = as_gateway_error(exc, request_id)
            status, body = render_error(err, self.error_format(scope))
            overhead = ctx.overhead_ms() if ctx else (time.perf_counter() - started) * 1000.0
            headers = [
                ("x-request-id", request_id),
                ("x-keyroute-overhead-ms", f"{overhead:.3f}"),
                *error_headers(err),
            ]
            await send_bytes(send, status, body, headers)

    async def handle(self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    async def body(self, scope: Scope, receive: Receive) -> bytes:
        server = self.services.config.server
        return await read_body(
            scope,
            receive,
            server.max_body_bytes,
            allowance=server.body_timeout_seconds,
            min_rate=server.body_min_rate_bytes,
        )

    @staticmethod
    def headers(ctx: RequestContext) -> list[tuple[str, str]]:
        headers = [
            ("x-request-id", ctx.request_id),
            ("x-keyroute-overhead-ms", f"{ctx.overhead_ms():.3f}"),
        ]
        if ctx.model_id:
            headers.append(("x-keyroute-model", ctx.model_id))
        return headers

    async def stream(
        self,
        ctx: RequestContext,
        scope: Scope,
        receive: Receive,
        send: Send,
        opened: AbstractAsyncContextManager[AsyncIterator[StreamEvent]],
        make_encoder: Callable[[], StreamEncoder],
    ) -> None:
        """Open the upstream stream (errors here are plain error answers), then relay it.

        The encoder is made once the stream is open, when the route (and model id) is known.
        The upstream stream is closed when the relay ends, however it ends (finished, failed,
        or the client went away, even before the first chunk).
        """
        fmt = self.error_format(scope)
        async with AsyncExitStack() as stack:
            events = await stack.enter_async_context(opened)
            encoder = make_encoder()

            async def relay() -> AsyncIterator[bytes]:
                try:
                    async for event in events:
                        yield encoder.feed(event)
                    yield encoder.close()
                except Exception as exc:  # after the head is sent, errors travel in the stream
                    yield render_stream_error(as_gateway_error(exc, ctx.request_id), fmt)
                finally:
                    aclose = getattr(events, "aclose", None)
                    if aclose is not None:
                        await aclose()

            await send_stream(receive, send, relay(), self.headers(ctx))
