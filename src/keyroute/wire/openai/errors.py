"""OpenAI error bodies: upstream error answers -> ``UpstreamError``, and errors -> client JSON."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from keyroute.core.errors import (
    GatewayError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
)
from keyroute.wire.headers import retry_after_seconds


class _ErrorBody(msgspec.Struct):
    message: str = ""
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class _Envelope(msgspec.Struct):
    error: _ErrorBody | str | None = None
    message: str | None = None


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> UpstreamError:
    """A non-2xx answer from an OpenAI-format provider as a typed error."""
    message, etype, code, param = "", None, None, None
    try:
        env = msgspec.json.decode(body, type=_Envelope)
        if isinstance(env.error, _ErrorBody):
            message, etype, param = env.error.message, env.error.type, env.error.param
            code = None if env.error.code is None else str(env.error.code)
        elif isinstance(env.error, str):
            message = env.error
        elif env.message:
            message = env.message
    except (msgspec.DecodeError, msgspec.ValidationError):
        message = body[:200].decode("utf-8", errors="replace").strip()
    text = f"Provider '{provider}' returned HTTP {status}: {message or 'no details'}"
    retry_after = retry_after_seconds(headers)
    should_retry = headers.get("x-should-retry")
    kwargs = {
        "provider": provider,
        "upstream_status": status,
        "param": param,
        "upstream_type": etype,
        "upstream_code": code,
        "retry_after": retry_after,
    }
    if status == 429:
        quota = code in ("insufficient_quota", "credit_balance_exhausted")
        return UpstreamRateLimited(text, retryable=not quota, **kwargs)  # type: ignore[arg-type]
    if 400 <= status < 500 and status not in (408, 409):
        return UpstreamRejected(text, **kwargs)  # type: ignore[arg-type]
    retryable = should_retry != "false"
    return UpstreamError(text, retryable=retryable, **kwargs)  # type: ignore[arg-type]


def encode_error(err: GatewayError) -> tuple[int, bytes]:
    """Status and ``{"error": {...}}`` body for an OpenAI-format client."""
    code: str | None = err.code
    etype = err.type
    if isinstance(err, UpstreamError):
        code = err.upstream_code or err.code
        etype = err.upstream_type or etype
    body = {"error": {"message": err.message, "type": etype, "param": err.param, "code": code}}
    return err.status_code(), msgspec.json.encode(body)


def encode_stream_error(err: GatewayError) -> bytes:
    """An error that happens after a stream started: one SSE ``data`` event the SDKs raise on."""
    _, body = encode_error(err)
    return b"data: " + body + b"\n\n"
