"""The one error tree of keyroute.

::

    GatewayError
    ├── InvalidRequest                400  the client's request is malformed or inconsistent
    │   ├── UnsupportedFeature        400  valid, but the chosen provider cannot do it
    │   ├── PayloadTooLarge           413
    │   ├── RequestTimeout            408  the request head or body did not arrive in time
    │   ├── HeadersTooLarge           431  the request head is over the limit
    │   ├── ContextTooLong            400  no candidate's context window holds the request
    │   └── NotFound                  404  unknown model, workspace, key
    ├── AuthError                     401  missing or bad gateway key / admin token
    │   └── PermissionDenied          403
    │       └── KeyPaused             403  the key is paused (`keyroute api-key resume`)
    ├── RateLimited                   429  a keyroute limit (not the provider's)
    │   ├── RequestsLimited           429  a workspace's or key's rate limit (``rate_limited``)
    │   ├── QuotaExceeded             429  the plan's monthly request quota (no retry helps)
    │   └── BudgetExceeded            429  a daily or monthly USD budget (no retry helps)
    ├── Conflict                      409  e.g. a name that already exists
    ├── NoRouteAvailable              503
    ├── ShuttingDown                  503  the gateway is stopping; retry on another instance
    ├── UpstreamError                 502  the provider failed; status mirrors the provider's
    │   ├── UpstreamTimeout           504
    │   ├── UpstreamRateLimited       429  keeps the provider's retry-after
    │   └── UpstreamRejected          4xx  the provider refused the request (400, 401, 404...)
    └── ConfigError                   500  keyroute's own configuration is wrong (never client data)

Every class declares ``status``, ``code``, ``type`` and ``retryable``; messages are safe to show
a client (they never hold key material). Only ``keyroute.api.errors`` turns them into HTTP.
"""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    """Base of every error keyroute raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    type: ClassVar[str] = "api_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def status_code(self) -> int:
        """The HTTP status for this instance (upstream errors mirror the provider's)."""
        return self.status


class InvalidRequest(GatewayError):
    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class UnsupportedFeature(InvalidRequest):
    code = "unsupported_feature"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "payload_too_large"


class RequestTimeout(InvalidRequest):
    status = 408
    code = "request_timeout"


class HeadersTooLarge(InvalidRequest):
    status = 431
    code = "request_header_too_large"


class ContextTooLong(InvalidRequest):
    code = "context_length_exceeded"


class NotFound(InvalidRequest):
    status = 404
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class AuthError(GatewayError):
    status = 401
    code = "invalid_api_key"
    type = "authentication_error"


class PermissionDenied(AuthError):
    status = 403
    code = "permission_denied"
    type = "permission_error"


class KeyPaused(PermissionDenied):
    """The gateway key is paused (by an admin or an alert rule's action) until resumed."""

    code = "api_key_paused"

    def __init__(self, message: str, *, workspace_id: str = "", api_key_id: str = "") -> None:
        super().__init__(message)
        self.workspace_id = workspace_id  # the key is known: its answer carries its limits
        self.api_key_id = api_key_id


class RateLimited(GatewayError):
    status = 429
    code = "rate_limit_exceeded"
    type = "rate_limit_error"
    retryable = True

    def __init__(
        self, message: str, *, param: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after


class RequestsLimited(RateLimited):
    """A rate limit of the workspace or its gateway key: retry after ``retry_after``."""

    code = "rate_limited"


class QuotaExceeded(RateLimited):
    """The plan's monthly request quota is used up until the month resets."""

    code = "quota_exceeded"
    type = "insufficient_quota"
    retryable = False


class BudgetExceeded(RateLimited):
    """A budget's cap is reached (or this request's worst case would pass it)."""

    code = "budget_exceeded"
    type = "insufficient_quota"
    retryable = False


class Conflict(GatewayError):
    status = 409
    code = "conflict"
    type = "invalid_request_error"


class NoRouteAvailable(GatewayError):
    status = 503
    code = "no_route_available"
    type = "api_error"
    retryable = True


class ShuttingDown(GatewayError):
    status = 503
    code = "shutting_down"
    type = "api_error"
    retryable = True


MAX_UPSTREAM_MESSAGE_CHARS = 4096
MAX_UPSTREAM_FIELD_CHARS = 256


def _bounded(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, saying so; an upstream chooses its own error text."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + " ... (truncated)"


class UpstreamError(GatewayError):
    """The provider failed. ``upstream_status`` is what the provider answered (0: no answer).

    The provider writes the message, type, code and param this error carries to the client:
    they are cut to ``MAX_UPSTREAM_MESSAGE_CHARS`` and ``MAX_UPSTREAM_FIELD_CHARS``, so a
    hostile upstream cannot make keyroute relay megabytes.
    """

    status = 502
    code = "upstream_error"
    type = "api_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        upstream_status: int = 0,
        param: str | None = None,
        upstream_type: str | None = None,
        upstream_code: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(
            _bounded(message, MAX_UPSTREAM_MESSAGE_CHARS) or "",
            param=_bounded(param, MAX_UPSTREAM_FIELD_CHARS),
        )
        self.provider = provider
        self.upstream_status = upstream_status
        self.upstream_type = _bounded(upstream_type, MAX_UPSTREAM_FIELD_CHARS)
        self.upstream_code = _bounded(upstream_code, MAX_UPSTREAM_FIELD_CHARS)
        self.retry_after = retry_after
        self.is_retryable = type(self).retryable if retryable is None else retryable

    def status_code(self) -> int:
        """4xx and 502-504 are mirrored; 500 becomes 502 and 529 (overloaded) becomes 503."""
        upstream = self.upstream_status
        if 400 <= upstream < 500 or upstream in (502, 503, 504):
            return upstream
        if upstream == 529:
            return 503
        return self.status


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamRateLimited(UpstreamError):
    status = 429
    code = "rate_limit_exceeded"
    type = "rate_limit_error"

    def status_code(self) -> int:
        return 429


class UpstreamRejected(UpstreamError):
    status = 400
    code = "upstream_rejected"
    type = "invalid_request_error"
    retryable = False


class ConfigError(GatewayError):
    status = 500
    code = "config_error"
    type = "api_error"
