"""``keyroute.core.errors``: the error tree, its class attributes and upstream status mapping."""

from __future__ import annotations

import re

import pytest

from keyroute.core import errors
from keyroute.core.errors import (
    AuthError,
    BudgetExceeded,
    ConfigError,
    Conflict,
    GatewayError,
    HeadersTooLarge,
    InvalidRequest,
    ModelNotFound,
    NoRouteAvailable,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    RequestsLimited,
    RequestTimeout,
    UnsupportedFeature,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)


def check(cls: type[UpstreamError], upstream_status: int, expected: int) -> None:
    err = cls("boom", provider="p", upstream_status=upstream_status)
    assert err.status_code() == expected


@pytest.mark.parametrize(
    ("upstream_status", "expected"),
    [
        (400, 400),
        (401, 401),
        (403, 403),
        (404, 404),
        (408, 408),
        (409, 409),
        (413, 413),
        (422, 422),
        (429, 429),
        (499, 499),
        (500, 502),
        (501, 502),
        (502, 502),
        (503, 503),
        (504, 504),
        (505, 502),
        (529, 503),
        (0, 502),
        (200, 502),
        (399, 502),
    ],
)
def test_upstream_error_status_mapping(upstream_status: int, expected: int) -> None:
    check(UpstreamError, upstream_status, expected)


@pytest.mark.parametrize(
    ("cls", "upstream_status", "expected"),
    [
        (UpstreamTimeout, 0, 504),
        (UpstreamTimeout, 500, 504),
        (UpstreamTimeout, 504, 504),
        (UpstreamRateLimited, 0, 429),
        (UpstreamRateLimited, 503, 429),
        (UpstreamRateLimited, 429, 429),
        (UpstreamRejected, 0, 400),
        (UpstreamRejected, 401, 401),
        (UpstreamRejected, 422, 422),
        (UpstreamRejected, 529, 503),
    ],
)
def test_upstream_subclass_status(
    cls: type[UpstreamError], upstream_status: int, expected: int
) -> None:
    check(cls, upstream_status, expected)


@pytest.mark.parametrize(
    ("cls", "status", "code", "etype", "retryable"),
    [
        (GatewayError, 500, "internal_error", "api_error", False),
        (InvalidRequest, 400, "invalid_request", "invalid_request_error", False),
        (UnsupportedFeature, 400, "unsupported_feature", "invalid_request_error", False),
        (PayloadTooLarge, 413, "payload_too_large", "invalid_request_error", False),
        (RequestTimeout, 408, "request_timeout", "invalid_request_error", False),
        (HeadersTooLarge, 431, "request_header_too_large", "invalid_request_error", False),
        (NotFound, 404, "not_found", "invalid_request_error", False),
        (ModelNotFound, 404, "model_not_found", "invalid_request_error", False),
        (AuthError, 401, "invalid_api_key", "authentication_error", False),
        (PermissionDenied, 403, "permission_denied", "permission_error", False),
        (BudgetExceeded, 429, "budget_exceeded", "insufficient_quota", False),
        (QuotaExceeded, 429, "quota_exceeded", "insufficient_quota", False),
        (RequestsLimited, 429, "rate_limited", "rate_limit_error", True),
        (RateLimited, 429, "rate_limit_exceeded", "rate_limit_error", True),
        (Conflict, 409, "conflict", "invalid_request_error", False),
        (NoRouteAvailable, 503, "no_route_available", "api_error", True),
        (UpstreamError, 502, "upstream_error", "api_error", True),
        (UpstreamTimeout, 504, "upstream_timeout", "api_error", True),
        (UpstreamRateLimited, 429, "rate_limit_exceeded", "rate_limit_error", True),
        (UpstreamRejected, 400, "upstream_rejected", "invalid_request_error", False),
        (ConfigError, 500, "config_error", "api_error", False),
    ],
)
def test_class_attributes(
    cls: type[GatewayError], status: int, code: str, etype: str, retryable: bool
) -> None:
    assert (cls.status, cls.code, cls.type, cls.retryable) == (status, code, etype, retryable)


def test_gateway_error_status_code_is_its_class_status() -> None:
    err = Conflict("taken", param="name")
    assert (err.status_code(), err.message, err.param, str(err)) == (409, "taken", "name", "taken")


def test_rate_limited_keeps_retry_after() -> None:
    assert RateLimited("slow down", retry_after=1.5).retry_after == 1.5
    assert RateLimited("slow down").retry_after is None


@pytest.mark.parametrize(
    ("cls", "override", "expected"),
    [
        (UpstreamError, None, True),
        (UpstreamError, False, False),
        (UpstreamRejected, None, False),
        (UpstreamRejected, True, True),
        (UpstreamRateLimited, False, False),
    ],
)
def test_is_retryable(cls: type[UpstreamError], override: bool | None, expected: bool) -> None:
    assert cls("x", provider="p", retryable=override).is_retryable is expected


def test_upstream_error_fields() -> None:
    err = UpstreamError(
        "m",
        provider="openai",
        upstream_status=418,
        param="a",
        upstream_type="t",
        upstream_code="c",
        retry_after=2.0,
    )
    assert (err.provider, err.upstream_status, err.param) == ("openai", 418, "a")
    assert (err.upstream_type, err.upstream_code, err.retry_after) == ("t", "c", 2.0)


_TREE_NAME = re.compile(r"[A-Z][A-Za-z]+")
_TREE_STATUS = re.compile(r"^\s+(\d{3}|4xx)\b")


def _documented_tree() -> list[tuple[int, str, str | None]]:
    """``(depth, class name, status)`` for each line of the tree drawn in the module docstring."""
    rows: list[tuple[int, str, str | None]] = []
    for line in (errors.__doc__ or "").splitlines():
        if not line.startswith("    ") or not line.strip():
            continue
        match = _TREE_NAME.search(line)
        assert match is not None, line
        status = _TREE_STATUS.match(line[match.end() :])
        depth = (match.start() - 4) // 4
        rows.append((depth, match.group(), status.group(1) if status else None))
    return rows


def test_upstream_text_is_bounded() -> None:
    huge = "m" * 1_000_000
    err = UpstreamError(huge, provider="p", param=huge, upstream_type=huge, upstream_code=huge)
    assert err.message == "m" * 4096 + " ... (truncated)"
    assert err.args == (err.message,)
    for field in (err.param, err.upstream_type, err.upstream_code):
        assert field == "m" * 256 + " ... (truncated)"
    short = UpstreamError("short", provider="p", upstream_code="c")
    assert (short.message, short.param, short.upstream_code) == ("short", None, "c")


def test_docstring_tree_matches_the_classes() -> None:
    rows = _documented_tree()
    assert rows[0][1] == "GatewayError"
    parents: list[str] = []
    for depth, name, status in rows:
        cls = getattr(errors, name)
        del parents[depth:]
        if parents:
            assert cls.__bases__ == (getattr(errors, parents[-1]),), name
        if status is not None and status != "4xx":
            assert cls.status == int(status), name
        parents.append(name)
    documented = {name for _, name, _ in rows}
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, GatewayError)
    }
    # ModelNotFound is a NotFound with its own code; everything else is drawn.
    assert defined - documented == {"ModelNotFound"}
