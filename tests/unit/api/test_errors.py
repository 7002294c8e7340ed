"""``keyroute.api.errors``: errors -> status, headers and body in the caller's format."""

from __future__ import annotations

import json
import logging

import pytest

from keyroute.api.errors import (
    InternalError,
    as_gateway_error,
    error_headers,
    render_error,
    render_stream_error,
)
from keyroute.core.errors import (
    AuthError,
    BudgetExceeded,
    GatewayError,
    InvalidRequest,
    QuotaExceeded,
    RateLimited,
    RequestsLimited,
    UpstreamError,
    UpstreamRateLimited,
)
from keyroute.wire.headers import retry_after_seconds
from keyroute.wire.sse import SSEParser


@pytest.mark.parametrize(
    ("err", "headers"),
    [
        (InvalidRequest("x"), []),
        (RateLimited("x"), []),
        (RateLimited("x", retry_after=2.0), [("retry-after", "2")]),
        (RateLimited("x", retry_after=0.2), [("retry-after", "1")]),  # rounded up
        (RateLimited("x", retry_after=0.0), [("retry-after", "0")]),
        (UpstreamRateLimited("x", provider="p", retry_after=20.5), [("retry-after", "21")]),
        (UpstreamError("x", provider="p"), []),
        (RequestsLimited("x", retry_after=12.5), [("retry-after", "13")]),
        (QuotaExceeded("x"), [("x-should-retry", "false")]),
        (BudgetExceeded("x", retry_after=3600.0), [("x-should-retry", "false")]),
    ],
)
def test_error_headers(err: GatewayError, headers: list[tuple[str, str]]) -> None:
    assert error_headers(err) == headers


@pytest.mark.parametrize("raw", ["inf", "1e999", "nan", "-5", "soon"])
def test_any_upstream_retry_after_renders(raw: str) -> None:
    err = UpstreamRateLimited(
        "x", provider="p", retry_after=retry_after_seconds({"retry-after": raw})
    )
    for name, value in error_headers(err):
        assert name == "retry-after" and value.isdigit()


def test_as_gateway_error_passes_gateway_errors_through() -> None:
    err = AuthError("who")
    assert as_gateway_error(err, "req-1") is err


def test_as_gateway_error_hides_other_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="keyroute.api"):
        err = as_gateway_error(KeyError("secret detail"), "req-9")
    assert isinstance(err, InternalError)
    assert (err.status_code(), err.code) == (500, "internal_error")
    assert "req-9" in err.message and "secret detail" not in err.message
    assert "req-9" in caplog.text and caplog.records[0].exc_info is not None


@pytest.mark.parametrize(
    ("fmt", "expected_type"),
    [("openai", "invalid_request_error"), ("anthropic", "invalid_request_error")],
)
def test_render_error(fmt: str, expected_type: str) -> None:
    status, raw = render_error(InvalidRequest("bad", param="model"), fmt)  # type: ignore[arg-type]
    body = json.loads(raw)
    assert status == 400
    assert body["error"]["type"] == expected_type
    assert body["error"]["message"] == "bad"
    if fmt == "anthropic":
        assert body["type"] == "error"


@pytest.mark.parametrize(("fmt", "event"), [("openai", None), ("anthropic", "error")])
def test_render_stream_error_is_one_sse_event(fmt: str, event: str | None) -> None:
    raw = render_stream_error(UpstreamError("boom", provider="p"), fmt)  # type: ignore[arg-type]
    parser = SSEParser()
    (sse,) = parser.feed(raw)
    assert parser.close() == []
    assert sse.event == event
    assert json.loads(sse.data)["error"]["message"] == "boom"
