"""``Exchange``: one upstream call of one attempt, timed and recorded.

Every call appends an ``Attempt`` to the request record (target, upstream status, error code,
duration) and adds its time to the context's upstream time, whether it succeeds or not. A
non-2xx answer becomes the provider's typed error, scrubbed of the provider key. A stream is
returned open, owning its connection (``DecodedStream``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AsyncExitStack

from keyroute.core.errors import GatewayError
from keyroute.core.record import Attempt
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEvent
from keyroute.pipeline.context import RequestContext
from keyroute.pipeline.decoding import DecodedStream, scrub
from keyroute.providers.base import StreamDecoder, UpstreamRequest, UpstreamResponse
from keyroute.routing.resolver import Route
from keyroute.upstream import UpstreamSender


class Exchange:
    def __init__(self, sender: UpstreamSender) -> None:
        self._sender = sender

    async def send(
        self, ctx: RequestContext, route: Route, request: UpstreamRequest, secret: Secret
    ) -> UpstreamResponse:
        """Send a whole request; non-2xx raises the provider's typed error, scrubbed."""
        t0 = time.perf_counter()
        status = 0
        error: GatewayError | None = None
        try:
            resp = await self._sender.send(request, provider=route.target.provider)
            status = resp.status
            if not 200 <= status < 300:
                error = scrub(route.provider.parse_error(resp), secret)
                raise error
            return resp
        except GatewayError as exc:
            error = exc
            raise
        finally:
            _attempted(ctx, route, t0, status, error)

    async def open(
        self,
        ctx: RequestContext,
        route: Route,
        request: UpstreamRequest,
        decoder: StreamDecoder,
        secret: Secret,
        on_event: Callable[[StreamEvent], None] | None = None,
    ) -> DecodedStream:
        """Open the upstream stream; a refusal (non-2xx) raises before any event."""
        t0 = time.perf_counter()
        status = 0
        error: GatewayError | None = None
        stack = AsyncExitStack()
        try:
            up = await stack.enter_async_context(
                self._sender.stream(request, provider=route.target.provider)
            )
            status = up.status
            if not 200 <= status < 300:
                body = await up.read_all()
                error = scrub(
                    route.provider.parse_error(
                        UpstreamResponse(status=up.status, headers=up.headers, body=body)
                    ),
                    secret,
                )
                raise error
        except BaseException as exc:
            if isinstance(exc, GatewayError):
                error = exc
            await stack.aclose()
            _attempted(ctx, route, t0, status, error)
            raise
        _attempted(ctx, route, t0, status, None)
        return DecodedStream(
            stack=stack, chunks=up.chunks(), decoder=decoder, secret=secret, on_event=on_event
        )


def _attempted(
    ctx: RequestContext, route: Route, t0: float, status: int, error: GatewayError | None
) -> None:
    elapsed = time.perf_counter() - t0
    ctx.upstream_seconds += elapsed
    ctx.record.attempts.append(
        Attempt(
            provider=route.target.provider,
            model=route.model_id,
            provider_key_id=route.key.id,
            status=status,
            error_code=error.code if error is not None else None,
            duration_ms=elapsed * 1000.0,
        )
    )
