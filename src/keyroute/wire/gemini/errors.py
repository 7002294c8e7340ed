"""Gemini error bodies -> typed ``UpstreamError`` s.

Gemini answers failures with ``{"error": {"code", "message", "status", "details": [...]}}``
(google.rpc.Status). The class is chosen by HTTP status:

- 429 ``RESOURCE_EXHAUSTED`` -> ``UpstreamRateLimited``. The wait comes from a
  ``google.rpc.RetryInfo`` detail (``retryDelay: "20s"``), else from a ``retry-after`` header.
  A per-day quota (a ``QuotaFailure`` violation whose ``quotaId`` names ``PerDay``) is sticky
  until the quota day resets, so it is marked not retryable: fail over instead of waiting.
- 504 ``DEADLINE_EXCEEDED`` -> ``UpstreamTimeout``; other 5xx -> ``UpstreamError`` (retryable).
- Any other 4xx (400 ``INVALID_ARGUMENT`` including ``API_KEY_INVALID``, 403, 404...) ->
  ``UpstreamRejected`` (not retryable).

``upstream_type`` is the RPC status name and ``upstream_code`` the ``ErrorInfo.reason`` (for
example ``API_KEY_INVALID``) so routing can tell a bad key from a bad request. Bodies that are
not JSON (an HTML page from a proxy) still give a typed error; their text is never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from keyroute.core.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.wire.gemini._schema import ErrorS
from keyroute.wire.headers import retry_after_seconds

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_MAX_MESSAGE = 1000


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str = "gemini"
) -> UpstreamError:
    """Turn a non-2xx Gemini answer into the matching ``UpstreamError``.

    Args:
        status: The HTTP status Gemini answered.
        headers: The response headers (any case).
        body: The raw response body; JSON or not.
        provider: The provider id to report (``gemini`` unless a compatible host reuses this).

    Returns:
        An ``UpstreamError`` subclass carrying the status, retryability and retry delay.
    """
    error = _parse(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    if error is None:
        message = f"{provider} returned HTTP {status} with a body that is not a Gemini error."
        return _build(status, message, provider, None, None, retry_after_seconds(lowered), False)
    delay = _retry_delay(error.details)
    if delay is None:
        delay = retry_after_seconds(lowered)
    return _build(
        status,
        _message(provider, status, error),
        provider,
        error.status or None,
        _reason(error.details),
        delay,
        _daily_quota(error.details),
    )


def error_from_stream(error: ErrorS, provider: str = "gemini") -> UpstreamError:
    """An ``error`` object inside a 200 body or a streamed chunk; its ``code`` is the status."""
    status = error.code
    return _build(
        status,
        _message(provider, status, error),
        provider,
        error.status or None,
        _reason(error.details),
        _retry_delay(error.details),
        _daily_quota(error.details),
    )


def _build(
    status: int,
    message: str,
    provider: str,
    upstream_type: str | None,
    upstream_code: str | None,
    retry_after: float | None,
    daily_quota: bool,
) -> UpstreamError:
    fields: dict[str, Any] = {
        "provider": provider,
        "upstream_status": status,
        "upstream_type": upstream_type,
        "upstream_code": upstream_code,
        "retry_after": retry_after,
    }
    if status == 429:
        return UpstreamRateLimited(message, retryable=not daily_quota, **fields)
    if status == 504:
        return UpstreamTimeout(message, **fields)
    if 400 <= status < 500:
        return UpstreamRejected(message, **fields)
    return UpstreamError(message, **fields)


def _parse(body: bytes) -> ErrorS | None:
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    # Without ``alt=sse`` a streamed endpoint wraps everything, errors included, in a JSON array.
    if isinstance(raw, list) and raw:
        raw = raw[0]
    if not isinstance(raw, dict) or not isinstance(raw.get("error"), dict):
        return None
    try:
        return msgspec.convert(raw["error"], ErrorS)
    except msgspec.ValidationError:
        return None


def _message(provider: str, status: int, error: ErrorS) -> str:
    name = f" {error.status}" if error.status else ""
    text = error.message.strip() or "no message"
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    return f"{provider} returned {status}{name}: {text}"


def _details_of(details: list[Any], type_suffix: str) -> list[dict[str, Any]]:
    return [
        d
        for d in details
        if isinstance(d, dict) and str(d.get("@type", "")).endswith(f"google.rpc.{type_suffix}")
    ]


def _retry_delay(details: list[Any]) -> float | None:
    for detail in _details_of(details, "RetryInfo"):
        raw = detail.get("retryDelay")
        match = _DURATION.match(raw) if isinstance(raw, str) else None
        if match is not None:
            return float(match.group(1))
    return None


def _reason(details: list[Any]) -> str | None:
    for detail in _details_of(details, "ErrorInfo"):
        reason = detail.get("reason")
        if isinstance(reason, str) and reason:
            return reason
    return None


def _daily_quota(details: list[Any]) -> bool:
    for detail in _details_of(details, "QuotaFailure"):
        violations = detail.get("violations")
        for violation in violations if isinstance(violations, list) else []:
            if isinstance(violation, dict) and "PerDay" in str(violation.get("quotaId", "")):
                return True
    return False
