"""The error classification table: one failed attempt -> what the attempt loop does next.

Decided from the upstream's own status and error body (``UpstreamError.upstream_status``,
``upstream_type``, ``upstream_code``, the message), never from the status shown to the client:

=====================================================  =========
condition                                              decision
=====================================================  =========
no answer (connection refused or reset, timeout)       retry
408, 409, 425, 429 rate limit, 500, 502-504, 529       retry
429 quota or billing exhausted                          failover
401, 402, 403 (the key: auth, billing, permission)      failover
400 spend limit or billing (Anthropic, Gemini)          failover
404 (model not found or retired)                        failover
a content refusal, when the fallback policy says so    failover
400 context length exceeded                            context
413 request too large                                   context
any other 4xx (the request itself is wrong)             fatal
=====================================================  =========

``retry``: try the same target again after a backoff (or another key of the same provider at
once); ``failover``: go to the next candidate without retrying; ``context``: go on only to a
candidate with a larger context window; ``fatal``: the client gets the error unchanged.
"""

from __future__ import annotations

from enum import Enum

from keyroute.core.errors import UpstreamError

_RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
_KEY_STATUSES = frozenset({401, 402, 403})
_QUOTA_CODES = frozenset(
    {"insufficient_quota", "credit_balance_exhausted", "billing_error", "billing_not_active"}
)
_CONTEXT_HINTS = (
    "context_length_exceeded",
    "context window",
    "context_window",
    "maximum context length",
    "prompt is too long",
    "too many tokens",
    "input token count",
    "exceeds the maximum number of tokens",
)
_BILLING_HINTS = ("spend limit", "credit balance", "billing", "quota exceeded for")


REFUSAL = "content_refusal"  # the upstream code of a refusal the fallback policy fails over


class Decision(Enum):
    RETRY = "retry"
    FAILOVER = "failover"
    CONTEXT = "context"
    FATAL = "fatal"


def classify(error: UpstreamError) -> Decision:
    """What to do after ``error`` (see the module table)."""
    status = error.upstream_status
    text = " ".join(
        part.lower() for part in (error.upstream_code, error.upstream_type, error.message) if part
    )
    if status == 0:
        return Decision.RETRY
    if error.upstream_code == REFUSAL:
        return Decision.FAILOVER
    if status == 429:
        if (error.upstream_code or "") in _QUOTA_CODES or not error.is_retryable:
            return Decision.FAILOVER
        return Decision.RETRY
    if status in _RETRY_STATUSES:
        return Decision.RETRY if error.is_retryable or status == 529 else Decision.FAILOVER
    if status in _KEY_STATUSES or status == 404:
        return Decision.FAILOVER
    if status == 413 or any(hint in text for hint in _CONTEXT_HINTS):
        return Decision.CONTEXT
    if status == 400 and (
        (error.upstream_code or "") in _QUOTA_CODES
        or error.upstream_type == "FAILED_PRECONDITION"
        or any(hint in text for hint in _BILLING_HINTS)
    ):
        return Decision.FAILOVER
    if 500 <= status < 600:
        return Decision.RETRY
    return Decision.FATAL
