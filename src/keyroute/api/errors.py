"""``GatewayError`` -> HTTP status, headers and body in the caller's own wire format.

This is the only place errors become HTTP. An exception that is not a ``GatewayError`` is a
keyroute bug: it is logged with its traceback server-side and answered with a generic 500 in
the caller's format, never with the traceback.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

from keyroute.core.errors import GatewayError, RateLimited, UpstreamError
from keyroute.wire.anthropic import encode_error as encode_anthropic_error
from keyroute.wire.anthropic import encode_stream_error as encode_anthropic_stream_error
from keyroute.wire.openai.errors import encode_error as encode_openai_error
from keyroute.wire.openai.errors import encode_stream_error as encode_openai_stream_error

ErrorFormat = Literal["openai", "anthropic"]
log = logging.getLogger("keyroute.api")


class InternalError(GatewayError):
    status = 500
    code = "internal_error"
    type = "api_error"


def as_gateway_error(exc: BaseException, request_id: str) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    log.error("unexpected error in request %s", request_id, exc_info=exc)
    return InternalError(
        f"keyroute hit an internal error; it has been logged (request id {request_id})."
    )


def error_headers(err: GatewayError) -> list[tuple[str, str]]:
    if isinstance(err, RateLimited) and not err.retryable:
        # A quota or budget used up: retrying before the reset cannot help, and the SDKs that
        # read ``x-should-retry`` (OpenAI's, Anthropic's) stop at once.
        return [("x-should-retry", "false")]
    retry_after = None
    if isinstance(err, UpstreamError | RateLimited):
        retry_after = err.retry_after
    if retry_after is None:
        return []
    return [("retry-after", str(max(0, math.ceil(retry_after))))]


def render_error(err: GatewayError, fmt: ErrorFormat) -> tuple[int, bytes]:
    if fmt == "anthropic":
        return encode_anthropic_error(err)
    return encode_openai_error(err)


def render_stream_error(err: GatewayError, fmt: ErrorFormat) -> bytes:
    if fmt == "anthropic":
        return encode_anthropic_stream_error(err)
    return encode_openai_stream_error(err)
