"""The frame every data-plane request runs in: the request record, authentication, errors,
timing, cancellation.

``Endpoint.__call__`` creates the request's ``RequestRecord`` and ``Meter`` before anything else
(so a refused request is recorded too), authenticates, lets the subclass's ``handle`` decode the
body into an operation and run it, and answers every failure raised before the response starts
in the endpoint's wire format with the right status, ``x-request-id`` and
``x-keyroute-overhead-ms``. Errors after a stream started travel in the stream. Whatever
happens (answered, failed, client gone, server shutting down) the frame's ``finally`` finishes
the meter, which hands the record to its sinks exactly once.

While an answer is being prepared the client is watched: if it leaves, the work (the upstream
request included) is cancelled at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

from keyroute.api.asgi import (
    ClientDisconnected,
    ClientStalled,
    Receive,
    Scope,
    Send,
    header,
    incoming_request_id,
    read_body,
    send_bytes,
    send_stream,
    until_disconnect,
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
from keyroute.core.errors import AuthError, GatewayError, InvalidRequest, KeyPaused, ShuttingDown
from keyroute.core.record import RequestRecord
from keyroute.core.stream import StreamEvent
from keyroute.pipeline import ChatStream, ListModels, Meter, ModelList, RequestContext
from keyroute.pipeline.operations import WholeOperation
from keyroute.principals import KEY_PREFIX
from keyroute.routing.model_id import check_model_id
from keyroute.services import Services

R = TypeVar("R")
log = logging.getLogger("keyroute.api")
_CLIENT_CLOSED = 499  # the client closed the connection before its answer (nginx's convention)


class StreamEncoder(Protocol):
    def feed(self, event: StreamEvent) -> bytes: ...
    def close(self) -> bytes: ...


@runtime_checkable
class FailingStreamEncoder(StreamEncoder, Protocol):
    """An encoder whose format says a failure in its own events (numbered, like the Responses
    API's ``error`` and ``response.failed``)."""

    def error(self, err: GatewayError) -> bytes: ...


class MethodNotAllowed(GatewayError):
    status = 405
    code = "method_not_allowed"
    type = "invalid_request_error"


_MAX_FALLBACKS = 5
_BODY = "keyroute.body"  # the request body in the ASGI scope, once read


async def _kept(
    chunks: AsyncGenerator[bytes], record: RequestRecord, limit: int
) -> AsyncIterator[bytes]:
    """``chunks`` as they are, with what was relayed kept (past ``limit`` bytes, no more) in
    ``record.response_body`` for a workspace that logs bodies."""
    kept: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            if size <= limit:
                kept.append(chunk)
                size += len(chunk)
            yield chunk
    finally:
        record.response_body = b"".join(kept)
        await chunks.aclose()


def fallback_header(scope: Scope) -> tuple[str, ...]:
    """The request's own fallback models: ``x-keyroute-fallback: model-a, model-b``."""
    value = header(scope, b"x-keyroute-fallback")
    if not value:
        return ()
    models = tuple(m.strip() for m in value.split(",") if m.strip())
    if len(models) > _MAX_FALLBACKS:
        raise InvalidRequest(
            f"At most {_MAX_FALLBACKS} fallback models in x-keyroute-fallback.",
            param="x-keyroute-fallback",
        )
    for model in models:
        check_model_id(model, param="x-keyroute-fallback")
    return models


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
        fmt = self.error_format(scope)
        client = scope.get("client")
        record = RequestRecord(
            request_id=request_id,
            started_at=datetime.now(UTC),
            endpoint=scope["path"],
            inbound_format=fmt,
            client_ip=client[0] if client else None,
            user_agent=header(scope, b"user-agent"),
        )
        services = self.services
        meter = Meter(record, sinks=services.record_sinks, pricer=services.pricer, started=started)
        ctx: RequestContext | None = None
        try:
            if scope["method"] not in self.methods:
                allowed = ", ".join(sorted(self.methods))
                raise MethodNotAllowed(f"Method {scope['method']} not allowed; use {allowed}.")
            key = gateway_key(scope, prefer_x_api_key=fmt == "anthropic")
            principal = await services.principals.authenticate(key)
            record.workspace_id = principal.workspace_id
            record.api_key_id = principal.api_key_id
            record.api_key_name = principal.api_key_name
            ctx = RequestContext(
                request_id=request_id,
                principal=principal,
                record=record,
                started=started,
                fallbacks=fallback_header(scope),
                cache_control=header(scope, b"cache-control"),
            )
            await self.handle(ctx, meter, scope, receive, send)
        except ClientStalled:  # a stream's client stopped reading: the relay was ended
            record.status, record.error_code = _CLIENT_CLOSED, "client_stalled"
        except ClientDisconnected:
            record.status, record.error_code = _CLIENT_CLOSED, "client_disconnected"
        except Exception as exc:  # the request boundary: every failure becomes an answer
            err = as_gateway_error(exc, request_id)
            status, body = render_error(err, fmt)
            record.status, record.error_code = status, err.code
            told = await self._limits_untold(ctx, err, scope)
            overhead = ctx.overhead_ms() if ctx else (time.perf_counter() - started) * 1000.0
            headers = [
                ("x-request-id", request_id),
                ("x-keyroute-overhead-ms", f"{overhead:.3f}"),
                *error_headers(err),
                *(ctx.response_headers if ctx else ()),
                *told,
            ]
            await send_bytes(send, status, body, headers)
        finally:
            if record.status == 0:  # cancelled (the server is stopping) before any answer
                record.status, record.error_code = _CLIENT_CLOSED, "cancelled"
            record.total_ms = (time.perf_counter() - started) * 1000.0
            if ctx is not None:
                record.upstream_ms = ctx.upstream_seconds * 1000.0
            if record.body_capture is not None:  # the workspace logs bodies
                record.request_body = scope.get(_BODY)
            meter.finish()

    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        raise NotImplementedError

    async def _limits_untold(
        self,
        ctx: RequestContext | None,
        err: GatewayError | None = None,
        scope: Scope | None = None,
    ) -> list[tuple[str, str]]:
        """The quota and rate-limit headers of an answer admission did not see, once the
        workspace is known (every answer carries them, errors included)."""
        try:
            if ctx is not None:
                if ctx.limits_told:
                    return []
                ctx.limits_told = True
                workspace_id, key_id = ctx.principal.workspace_id, ctx.principal.api_key_id
            elif isinstance(err, KeyPaused) and err.workspace_id:
                workspace_id, key_id = err.workspace_id, err.api_key_id
            elif scope is not None and not isinstance(err, AuthError):
                # refused before authentication (a wrong method): a valid key names its workspace
                key = gateway_key(scope, prefer_x_api_key=self.error_format(scope) == "anthropic")
                if key is None or not key.startswith(KEY_PREFIX):
                    return []
                principal = await self.services.principals.authenticate(key)
                workspace_id, key_id = principal.workspace_id, principal.api_key_id
            else:
                return []
            return await self.services.pipeline.limit_headers(workspace_id, key_id)
        except GatewayError:  # the workspace went away meanwhile: nothing to tell
            return []
        except Exception:  # the request boundary: headers never turn an answer into a 500
            log.warning("could not read the limits for an answer", exc_info=True)
            return []

    async def body(self, scope: Scope, receive: Receive) -> bytes:
        server = self.services.config.server
        data = await read_body(
            scope,
            receive,
            server.max_body_bytes,
            allowance=server.body_timeout_seconds,
            min_rate=server.body_min_rate_bytes,
        )
        scope[_BODY] = data  # for the audit log, if the workspace logs bodies
        return data

    async def run(
        self,
        ctx: RequestContext,
        meter: Meter,
        receive: Receive,
        op: WholeOperation[R],
        scope: Scope | None = None,
    ) -> R:
        """Run a whole operation, cancelled if the client leaves first (``scope`` offers the
        server's disconnect signal, when it has one)."""
        return await until_disconnect(receive, self.services.pipeline.run(ctx, op, meter), scope)

    async def models(
        self,
        ctx: RequestContext,
        meter: Meter,
        receive: Receive,
        op: ListModels,
        scope: Scope | None = None,
    ) -> ModelList:
        return await until_disconnect(receive, self.services.pipeline.run(ctx, op, meter), scope)

    async def reply(
        self,
        ctx: RequestContext,
        send: Send,
        body: bytes,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        """Send a whole 200 answer with the frame's headers."""
        ctx.record.status = 200
        if ctx.record.body_capture is not None:
            ctx.record.response_body = body
        headers = self.headers(ctx)
        if not ctx.limits_told:
            headers.extend(await self._limits_untold(ctx))
        if extra:
            headers.extend(extra)
        await send_bytes(send, 200, body, headers)

    @staticmethod
    def headers(ctx: RequestContext) -> list[tuple[str, str]]:
        headers = [
            ("x-request-id", ctx.request_id),
            ("x-keyroute-overhead-ms", f"{ctx.overhead_ms():.3f}"),
        ]
        if ctx.model_id:
            headers.append(("x-keyroute-model", ctx.model_id))
        headers.extend(ctx.response_headers)
        return headers

    async def stream(
        self,
        ctx: RequestContext,
        meter: Meter,
        scope: Scope,
        receive: Receive,
        send: Send,
        op: ChatStream,
        make_encoder: Callable[[], StreamEncoder],
    ) -> None:
        """Open the upstream stream (errors here are plain error answers), then relay it.

        The encoder is made once the stream is open, when the route (and model id) is known.
        The upstream stream is closed when the relay ends, however it ends (finished, failed,
        or the client went away, even before the first chunk).
        """
        fmt = self.error_format(scope)
        events = await until_disconnect(receive, self.services.pipeline.run(ctx, op, meter), scope)
        try:
            encoder = make_encoder()
            ctx.record.status = 200

            def stream_error(err: GatewayError) -> bytes:
                if isinstance(encoder, FailingStreamEncoder):
                    return encoder.error(err)
                return render_stream_error(err, fmt)

            async def relay() -> AsyncGenerator[bytes]:
                try:
                    async for event in events:
                        yield encoder.feed(event)
                    yield encoder.close()
                except Exception as exc:  # after the head is sent, errors travel in the stream
                    err = as_gateway_error(exc, ctx.request_id)
                    ctx.record.error_code = err.code
                    yield stream_error(err)

            capture = ctx.record.body_capture
            chunks = relay() if capture is None else _kept(relay(), ctx.record, capture.max_bytes)

            def abort() -> bytes:
                ctx.record.error_code = ShuttingDown.code
                message = "The gateway is shutting down; the stream was ended. Retry the request."
                return stream_error(ShuttingDown(message))

            write_timeout = self.services.config.server.stream_write_timeout_seconds
            await send_stream(receive, send, chunks, self.headers(ctx), abort, write_timeout)
        finally:
            await events.aclose()
