"""Anthropic error bodies, both directions.

- ``decode_error``: a non-2xx upstream answer -> the right ``UpstreamError`` subclass. 429 is
  ``UpstreamRateLimited`` (with ``retry-after``); 408, 409 and every 5xx (529 overloaded included)
  are retryable; any other 4xx is ``UpstreamRejected``. Bodies that are not Anthropic JSON (a 413
  from the CDN, an HTML gateway page) still give a typed error; their text is never echoed.
- ``error_from_event``: the same for an ``event: error`` inside a 200 stream, where the HTTP status
  is implied by ``error.type`` (``overloaded_error`` -> 529).
- ``encode_error`` / ``encode_stream_error``: any ``GatewayError`` in Anthropic's shape
  ``{"type": "error", "error": {"type", "message"}}`` for clients of our ``/v1/messages``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from keyroute.core.errors import (
    GatewayError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.wire.anthropic.schema import ErrorEnvelope, ErrorObject
from keyroute.wire.headers import retry_after_seconds
from keyroute.wire.sse import encode_event

STATUS_BY_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str = "anthropic"
) -> UpstreamError:
    """A non-2xx Messages answer -> typed ``UpstreamError``.

    Args:
        status: The HTTP status the provider answered.
        headers: Response headers (any case); ``retry-after-ms`` / ``retry-after`` are read.
        body: The response body, Anthropic error JSON or anything else.
        provider: The provider id to name in the error.
    """
    try:
        envelope: ErrorEnvelope | None = msgspec.json.decode(body, type=ErrorEnvelope)
    except msgspec.MsgspecError:
        envelope = None
    lowered = {k.lower(): v for k, v in headers.items()}
    return _error(
        status,
        envelope.error if envelope else None,
        provider=provider,
        request_id=(envelope.request_id if envelope else None) or lowered.get("request-id"),
        retry_after=retry_after_seconds(lowered),
    )


def error_from_event(data: bytes | str, provider: str = "anthropic") -> UpstreamError:
    """An in-stream ``error`` event -> typed ``UpstreamError`` (status implied by its type)."""
    try:
        envelope = msgspec.json.decode(data, type=ErrorEnvelope)
    except msgspec.MsgspecError:
        return _error(500, None, provider=provider, in_stream=True)
    status = STATUS_BY_TYPE.get(envelope.error.type, 500)
    return _error(
        status, envelope.error, provider=provider, request_id=envelope.request_id, in_stream=True
    )


def _error(
    status: int,
    error: ErrorObject | None,
    *,
    provider: str,
    request_id: str | None = None,
    retry_after: float | None = None,
    in_stream: bool = False,
) -> UpstreamError:
    where = "an error inside its stream" if in_stream else f"HTTP {status}"
    message = f"{provider} returned {where}"
    if error is None:
        message += " without an Anthropic error body" if not in_stream else " (unreadable)"
    else:
        message += f" ({error.type}): {error.message}"
    if request_id:
        message += f" [request_id {request_id}]"
    cls: type[UpstreamError] = UpstreamError
    retryable: bool | None = None
    if status == 429:
        cls = UpstreamRateLimited
    elif status == 504:
        cls = UpstreamTimeout
    elif status >= 500 or status in (408, 409):
        retryable = True
    elif status >= 400:
        cls = UpstreamRejected
    else:
        retryable = False
    return cls(
        message,
        provider=provider,
        upstream_status=status,
        upstream_type=error.type if error else None,
        retry_after=retry_after,
        retryable=retryable,
    )


def error_type(err: GatewayError) -> str:
    """The Anthropic ``error.type`` for ``err`` (by its HTTP status)."""
    status = _status(err)
    if status in TYPE_BY_STATUS:
        return TYPE_BY_STATUS[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def _body(err: GatewayError) -> bytes:
    return msgspec.json.encode(
        {"type": "error", "error": {"type": error_type(err), "message": err.message}}
    )


def _status(err: GatewayError) -> int:
    """Anthropic clients know 529 (overloaded): a provider's 529 reaches them unchanged."""
    if isinstance(err, UpstreamError) and err.upstream_status == 529:
        return 529
    return err.status_code()


def encode_error(err: GatewayError) -> tuple[int, bytes]:
    """``err`` as an HTTP status and Anthropic error JSON body."""
    return _status(err), _body(err)


def encode_stream_error(err: GatewayError) -> bytes:
    """``err`` as an SSE ``event: error`` for a stream that already started."""
    return encode_event(_body(err), event="error")
