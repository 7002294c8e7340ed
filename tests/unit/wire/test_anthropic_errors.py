"""Anthropic error bodies, both directions (``keyroute.wire.anthropic.errors``)."""

from __future__ import annotations

import json

import anthropic
import pytest

from keyroute.core.errors import (
    AuthError,
    BudgetExceeded,
    GatewayError,
    InvalidRequest,
    NoRouteAvailable,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.wire.anthropic import decode_error, encode_error
from tests.fakes.fake_anthropic import transcript_json


def from_transcript(case: str) -> UpstreamError:
    spec = transcript_json(case, "error.json")
    body = spec["body_text"].encode() if "body_text" in spec else json.dumps(spec["body"]).encode()
    return decode_error(spec["status"], spec["headers"], body)


@pytest.mark.parametrize(
    ("case", "cls", "status", "retryable", "retry_after", "upstream_type"),
    [
        ("bad_request", UpstreamRejected, 400, False, None, "invalid_request_error"),
        ("unauthorized", UpstreamRejected, 401, False, None, "authentication_error"),
        ("payload_too_large", UpstreamRejected, 413, False, None, None),
        ("rate_limited", UpstreamRateLimited, 429, True, 7.0, "rate_limit_error"),
        ("server_error", UpstreamError, 502, True, None, "api_error"),
        ("overloaded", UpstreamError, 503, True, None, "overloaded_error"),
    ],
)
def test_decode_error_transcripts(
    case: str,
    cls: type[UpstreamError],
    status: int,
    retryable: bool,
    retry_after: float | None,
    upstream_type: str | None,
) -> None:
    err = from_transcript(case)
    assert type(err) is cls
    assert (err.status_code(), err.is_retryable, err.retry_after, err.upstream_type) == (
        status,
        retryable,
        retry_after,
        upstream_type,
    )
    assert err.provider == "anthropic"
    assert err.message.startswith("anthropic returned HTTP ")


def test_error_message_says_where_it_came_from() -> None:
    err = from_transcript("bad_request")
    assert err.message == (
        "anthropic returned HTTP 400 (invalid_request_error): "
        "messages: text content blocks must be non-empty [request_id req_011BadReq]"
    )
    assert "<html>" not in from_transcript("payload_too_large").message


@pytest.mark.parametrize(
    ("status", "headers", "cls", "retryable", "retry_after"),
    [
        (429, {"Retry-After-Ms": "1500"}, UpstreamRateLimited, True, 1.5),
        (429, {"retry-after": "soon"}, UpstreamRateLimited, True, None),
        (529, {"retry-after": "3"}, UpstreamError, True, 3.0),
        (504, {}, UpstreamTimeout, True, None),
        (503, {}, UpstreamError, True, None),
        (408, {}, UpstreamError, True, None),
        (409, {}, UpstreamError, True, None),
        (402, {}, UpstreamRejected, False, None),
        (403, {}, UpstreamRejected, False, None),
        (404, {}, UpstreamRejected, False, None),
        (302, {}, UpstreamError, False, None),
    ],
)
def test_decode_error_by_status(
    status: int,
    headers: dict[str, str],
    cls: type[UpstreamError],
    retryable: bool,
    retry_after: float | None,
) -> None:
    err = decode_error(status, headers, b"", provider="anthropic-eu")
    assert (type(err), err.is_retryable, err.retry_after, err.upstream_status) == (
        cls,
        retryable,
        retry_after,
        status,
    )
    assert err.provider == "anthropic-eu"


def test_request_id_header_is_used_when_the_body_has_none() -> None:
    body = b'{"type":"error","error":{"type":"api_error","message":"boom"}}'
    assert "[request_id req_h]" in decode_error(500, {"request-id": "req_h"}, body).message


def upstream(status: int, kind: str | None = None) -> UpstreamError:
    return UpstreamError(
        "upstream failed", provider="openai", upstream_status=status, upstream_type=kind
    )


@pytest.mark.parametrize(
    ("err", "status", "error_type"),
    [
        (InvalidRequest("bad"), 400, "invalid_request_error"),
        (AuthError("who?"), 401, "authentication_error"),
        (BudgetExceeded("spent"), 429, "rate_limit_error"),
        (PermissionDenied("no"), 403, "permission_error"),
        (NotFound("model?"), 404, "not_found_error"),
        (PayloadTooLarge("big"), 413, "request_too_large"),
        (RateLimited("slow"), 429, "rate_limit_error"),
        (
            UpstreamRateLimited("slow", provider="openai", upstream_status=429),
            429,
            "rate_limit_error",
        ),
        (
            UpstreamRejected("nope", provider="openai", upstream_status=422),
            422,
            "invalid_request_error",
        ),
        (NoRouteAvailable("none"), 503, "overloaded_error"),
        (upstream(529), 529, "overloaded_error"),
        (upstream(500), 502, "api_error"),
        (upstream(504), 504, "timeout_error"),
        (GatewayError("bug"), 500, "api_error"),
    ],
)
def test_encode_error(err: GatewayError, status: int, error_type: str) -> None:
    got_status, body = encode_error(err)
    assert got_status == status
    assert json.loads(body) == {
        "type": "error",
        "error": {"type": error_type, "message": err.message},
    }
    if error_type != "request_too_large":  # documented type, missing from the SDK's union
        anthropic.types.ErrorResponse.model_validate_json(body)


def test_a_providers_529_reaches_anthropic_clients_as_529() -> None:
    import json as _json

    from keyroute.core.errors import UpstreamError
    from keyroute.wire.anthropic import encode_error as encode

    status, body = encode(UpstreamError("busy", provider="anthropic", upstream_status=529))
    assert status == 529
    assert _json.loads(body)["error"]["type"] == "overloaded_error"
