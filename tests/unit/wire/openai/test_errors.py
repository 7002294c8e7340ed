"""``keyroute.wire.openai.errors``: upstream error answers -> typed errors; errors -> JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyroute.core.errors import (
    AuthError,
    BudgetExceeded,
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    NoRouteAvailable,
    RateLimited,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.wire.openai.errors import decode_error, encode_error, encode_stream_error


def envelope(
    message: str = "m", type: str | None = None, code: Any = None, param: str | None = None
) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": type, "param": param, "code": code}}
    ).encode()


def check(
    status: int,
    body: bytes,
    cls: type[UpstreamError],
    *,
    retryable: bool,
    headers: dict[str, str] | None = None,
    retry_after: float | None = None,
    message: str = "m",
    upstream_type: str | None = None,
    upstream_code: str | None = None,
    param: str | None = None,
    client_status: int | None = None,
) -> None:
    err = decode_error(status, headers or {}, body, "openai")
    assert type(err) is cls
    assert err.is_retryable is retryable
    assert err.retry_after == retry_after
    assert err.upstream_status == status
    assert (err.upstream_type, err.upstream_code, err.param) == (
        upstream_type,
        upstream_code,
        param,
    )
    assert err.provider == "openai"
    assert err.message == f"Provider 'openai' returned HTTP {status}: {message}"
    assert err.status_code() == (client_status if client_status is not None else status)


def test_bad_request() -> None:
    check(
        400,
        envelope("Invalid 'messages'", "invalid_request_error", None, "messages"),
        UpstreamRejected,
        retryable=False,
        message="Invalid 'messages'",
        upstream_type="invalid_request_error",
        param="messages",
    )


def test_unauthorized() -> None:
    check(
        401,
        envelope("Incorrect API key", "invalid_request_error", "invalid_api_key"),
        UpstreamRejected,
        retryable=False,
        message="Incorrect API key",
        upstream_type="invalid_request_error",
        upstream_code="invalid_api_key",
    )


@pytest.mark.parametrize("status", [403, 404, 413, 422])
def test_other_client_errors_are_rejections(status: int) -> None:
    check(status, envelope(), UpstreamRejected, retryable=False)


@pytest.mark.parametrize("status", [408, 409])
def test_timeout_and_conflict_are_retryable(status: int) -> None:
    check(status, envelope(), UpstreamError, retryable=True)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({}, None),
        ({"retry-after": "20"}, 20.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "1"}, 0.25),
    ],
)
def test_rate_limited(headers: dict[str, str], retry_after: float | None) -> None:
    check(
        429,
        envelope("Rate limit reached", "requests", "rate_limit_exceeded"),
        UpstreamRateLimited,
        retryable=True,
        headers=headers,
        retry_after=retry_after,
        message="Rate limit reached",
        upstream_type="requests",
        upstream_code="rate_limit_exceeded",
    )


@pytest.mark.parametrize("code", ["insufficient_quota", "credit_balance_exhausted"])
def test_exhausted_quota_is_not_retryable(code: str) -> None:
    check(
        429,
        envelope("You exceeded your current quota", "insufficient_quota", code),
        UpstreamRateLimited,
        retryable=False,
        message="You exceeded your current quota",
        upstream_type="insufficient_quota",
        upstream_code=code,
    )


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "client_status"),
    [
        (500, {}, True, 502),
        (502, {}, True, 502),
        (503, {"retry-after": "3"}, True, 503),
        (504, {}, True, 504),
        (529, {}, True, 503),
        (500, {"x-should-retry": "false"}, False, 502),
        (500, {"x-should-retry": "true"}, True, 502),
    ],
)
def test_server_errors(
    status: int, headers: dict[str, str], retryable: bool, client_status: int
) -> None:
    err = decode_error(status, headers, envelope("boom", "server_error"), "openai")
    assert type(err) is UpstreamError
    assert err.is_retryable is retryable
    assert err.status_code() == client_status
    assert err.retry_after == (3.0 if "retry-after" in headers else None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no details"),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"  upstream connect error  ", "upstream connect error"),
        (b"x" * 500, "x" * 200),
        (b"\xff\xfe oops", "\ufffd\ufffd oops"),
        (b'{"error": "model not loaded"}', "model not loaded"),
        (b'{"message": "flat message"}', "flat message"),
        (b'{"error": null}', "no details"),
        (b'{"error": {"message": ""}}', "no details"),
        (b'{"detail": "fastapi style"}', "no details"),
        (b"[1, 2]", "[1, 2]"),
        (b'{"error": 5}', '{"error": 5}'),
    ],
)
def test_bodies_that_are_not_the_openai_envelope(body: bytes, message: str) -> None:
    err = decode_error(502, {}, body, "vllm")
    assert err.message == f"Provider 'vllm' returned HTTP 502: {message}"
    assert err.upstream_type is None and err.upstream_code is None


def test_integer_code_becomes_text() -> None:
    assert decode_error(400, {}, envelope(code=400), "groq").upstream_code == "400"


def body_of(err: GatewayError) -> tuple[int, dict[str, Any]]:
    status, raw = encode_error(err)
    return status, json.loads(raw)


@pytest.mark.parametrize(
    ("err", "status", "error"),
    [
        (
            InvalidRequest("bad", param="messages"),
            400,
            {
                "message": "bad",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "invalid_request",
            },
        ),
        (
            ModelNotFound("nope", param="model"),
            404,
            {
                "message": "nope",
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_found",
            },
        ),
        (
            AuthError("who"),
            401,
            {
                "message": "who",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_api_key",
            },
        ),
        (
            BudgetExceeded("spent"),
            429,
            {
                "message": "spent",
                "type": "insufficient_quota",
                "param": None,
                "code": "budget_exceeded",
            },
        ),
        (
            RateLimited("slow", retry_after=1),
            429,
            {
                "message": "slow",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limit_exceeded",
            },
        ),
        (
            NoRouteAvailable("none"),
            503,
            {"message": "none", "type": "api_error", "param": None, "code": "no_route_available"},
        ),
        (
            UpstreamError("up", provider="p", upstream_status=500),
            502,
            {"message": "up", "type": "api_error", "param": None, "code": "upstream_error"},
        ),
        (
            UpstreamTimeout("slow", provider="p"),
            504,
            {"message": "slow", "type": "api_error", "param": None, "code": "upstream_timeout"},
        ),
        (
            UpstreamRejected(
                "no",
                provider="p",
                upstream_status=401,
                upstream_type="invalid_request_error",
                upstream_code="invalid_api_key",
            ),
            401,
            {
                "message": "no",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            },
        ),
        (
            UpstreamRateLimited(
                "q", provider="p", upstream_status=429, upstream_type="tokens", param="model"
            ),
            429,
            {"message": "q", "type": "tokens", "param": "model", "code": "rate_limit_exceeded"},
        ),
    ],
)
def test_encode_error(err: GatewayError, status: int, error: dict[str, Any]) -> None:
    assert body_of(err) == (status, {"error": error})


def test_encode_error_round_trips_through_decode() -> None:
    original = UpstreamRejected(
        "bad key",
        provider="p",
        upstream_status=401,
        upstream_type="invalid_request_error",
        upstream_code="invalid_api_key",
    )
    status, raw = encode_error(original)
    back = decode_error(status, {}, raw, "keyroute")
    assert (back.upstream_type, back.upstream_code, back.status_code()) == (
        "invalid_request_error",
        "invalid_api_key",
        401,
    )


def test_stream_error_is_one_sse_data_event() -> None:
    err = InvalidRequest("bad", param="x")
    raw = encode_stream_error(err)
    assert raw == b"data: " + encode_error(err)[1] + b"\n\n"
    assert raw.count(b"\n\n") == 1
