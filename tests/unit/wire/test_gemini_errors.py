"""``keyroute.wire.gemini.errors.decode_error``: Gemini error answers -> typed UpstreamError."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyroute.core.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.wire.gemini import decode_error

RETRY = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
KEY_INVALID = {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    "reason": "API_KEY_INVALID",
    "domain": "googleapis.com",
}
PER_MINUTE = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
}
PER_DAY = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
}


def error_body(
    code: int, status: str, message: str = "m", details: list[Any] | None = None
) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return json.dumps({"error": error}).encode()


def check(
    status: int,
    body: bytes,
    cls: type[UpstreamError],
    *,
    retryable: bool,
    retry_after: float | None = None,
    upstream_type: str | None = None,
    upstream_code: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    error = decode_error(status, headers or {}, body)
    assert type(error) is cls
    assert error.is_retryable is retryable
    assert error.retry_after == retry_after
    assert error.upstream_status == status
    assert error.upstream_type == upstream_type
    assert error.upstream_code == upstream_code
    assert error.provider == "gemini"


@pytest.mark.parametrize(
    ("status", "body", "cls", "expected"),
    [
        (
            400,
            error_body(400, "INVALID_ARGUMENT"),
            UpstreamRejected,
            {"retryable": False, "upstream_type": "INVALID_ARGUMENT"},
        ),
        (
            400,
            error_body(400, "INVALID_ARGUMENT", details=[KEY_INVALID]),
            UpstreamRejected,
            {
                "retryable": False,
                "upstream_type": "INVALID_ARGUMENT",
                "upstream_code": "API_KEY_INVALID",
            },
        ),
        (
            400,
            error_body(400, "FAILED_PRECONDITION"),
            UpstreamRejected,
            {"retryable": False, "upstream_type": "FAILED_PRECONDITION"},
        ),
        (
            401,
            error_body(401, "UNAUTHENTICATED"),
            UpstreamRejected,
            {"retryable": False, "upstream_type": "UNAUTHENTICATED"},
        ),
        (
            403,
            error_body(403, "PERMISSION_DENIED"),
            UpstreamRejected,
            {"retryable": False, "upstream_type": "PERMISSION_DENIED"},
        ),
        (
            404,
            error_body(404, "NOT_FOUND"),
            UpstreamRejected,
            {"retryable": False, "upstream_type": "NOT_FOUND"},
        ),
        (
            429,
            error_body(429, "RESOURCE_EXHAUSTED", details=[PER_MINUTE, RETRY]),
            UpstreamRateLimited,
            {"retryable": True, "retry_after": 20.0, "upstream_type": "RESOURCE_EXHAUSTED"},
        ),
        (
            429,
            error_body(429, "RESOURCE_EXHAUSTED", details=[{**RETRY, "retryDelay": "1.5s"}]),
            UpstreamRateLimited,
            {"retryable": True, "retry_after": 1.5, "upstream_type": "RESOURCE_EXHAUSTED"},
        ),
        (
            429,
            error_body(429, "RESOURCE_EXHAUSTED", details=[PER_DAY, RETRY]),
            UpstreamRateLimited,
            {"retryable": False, "retry_after": 20.0, "upstream_type": "RESOURCE_EXHAUSTED"},
        ),
        (
            429,
            error_body(429, "RESOURCE_EXHAUSTED"),
            UpstreamRateLimited,
            {"retryable": True, "upstream_type": "RESOURCE_EXHAUSTED"},
        ),
        (
            429,
            error_body(429, "RESOURCE_EXHAUSTED", details=[{**RETRY, "retryDelay": 20}]),
            UpstreamRateLimited,
            {"retryable": True, "upstream_type": "RESOURCE_EXHAUSTED"},
        ),
        (
            500,
            error_body(500, "INTERNAL"),
            UpstreamError,
            {"retryable": True, "upstream_type": "INTERNAL"},
        ),
        (502, b"<html>Bad Gateway</html>", UpstreamError, {"retryable": True}),
        (
            503,
            error_body(503, "UNAVAILABLE"),
            UpstreamError,
            {"retryable": True, "upstream_type": "UNAVAILABLE"},
        ),
        (
            504,
            error_body(504, "DEADLINE_EXCEEDED"),
            UpstreamTimeout,
            {"retryable": True, "upstream_type": "DEADLINE_EXCEEDED"},
        ),
        (400, b"", UpstreamRejected, {"retryable": False}),
        (400, b'{"unexpected": true}', UpstreamRejected, {"retryable": False}),
        (400, b'{"error": "just a string"}', UpstreamRejected, {"retryable": False}),
        (400, b'{"error": {"code": "four hundred"}}', UpstreamRejected, {"retryable": False}),
        (
            400,
            b"[" + error_body(400, "INVALID_ARGUMENT") + b"]",
            UpstreamRejected,
            {"retryable": False, "upstream_type": "INVALID_ARGUMENT"},
        ),
        (400, b'["not an error"]', UpstreamRejected, {"retryable": False}),
        (
            403,
            error_body(403, "PERMISSION_DENIED", details=[{**KEY_INVALID, "reason": ""}]),
            UpstreamRejected,
            {"retryable": False, "upstream_type": "PERMISSION_DENIED"},
        ),
    ],
)
def test_decode_error(status, body, cls, expected):
    check(status, body, cls, **expected)


@pytest.mark.parametrize(
    ("headers", "body_details", "expected"),
    [
        ({"Retry-After": "7"}, None, 7.0),
        ({"retry-after": "soon"}, None, None),
        ({"retry-after": "7"}, [RETRY], 20.0),
    ],
)
def test_retry_delay_sources(headers, body_details, expected):
    error = decode_error(429, headers, error_body(429, "RESOURCE_EXHAUSTED", details=body_details))
    assert error.retry_after == expected


def test_retry_after_header_is_read_for_non_json_bodies():
    assert decode_error(503, {"Retry-After": "3"}, b"overloaded").retry_after == 3.0


def test_message_is_safe_and_informative():
    error = decode_error(400, {}, error_body(400, "INVALID_ARGUMENT", 'Unknown name "foo"'))
    assert error.message == 'gemini returned 400 INVALID_ARGUMENT: Unknown name "foo"'


def test_non_json_body_is_not_echoed():
    error = decode_error(502, {}, b"<html>secret proxy page</html>")
    assert "secret" not in error.message
    assert "502" in error.message


def test_long_messages_are_cut():
    error = decode_error(400, {}, error_body(400, "INVALID_ARGUMENT", "x" * 5000))
    assert len(error.message) < 1100


def test_provider_name_can_be_overridden():
    error = decode_error(500, {}, error_body(500, "INTERNAL", ""), provider="gemini-eu")
    assert error.provider == "gemini-eu"
    assert error.message == "gemini-eu returned 500 INTERNAL: no message"
