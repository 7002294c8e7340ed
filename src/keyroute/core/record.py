"""The request record: one per request, whatever its outcome, filled as the request runs.

The HTTP frame creates a ``RequestRecord`` before authentication (so a refused request has one
too); the pipeline and the ``Meter`` fill it as the request runs (route, attempts, usage, cost,
timings, outcome); and it is handed exactly once to every ``RecordSink`` (usage store, audit
log, metrics, alert windows) when the request is over: answered, failed, or abandoned by the
client mid-stream.

Invariants:
- One record per request, delivered once. After delivery it is frozen by convention: sinks
  read it, never write it.
- Sinks are called synchronously and must not block or await: they queue the record for
  background work (``RecordSink.submit`` is ``put_nowait``-cheap).
- No prompt or completion text lives here; ``usage`` holds token counts only.
- Times: ``started_at`` is wall-clock UTC; durations are milliseconds from a monotonic clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypeAlias

from keyroute.core.money import Cost
from keyroute.core.response import Usage

Operation: TypeAlias = Literal["chat", "chat_stream", "embeddings", "count_tokens", "models"]
StreamOutcome: TypeAlias = Literal["completed", "cancelled", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One try at one upstream target (the fallback loop may make several per request)."""

    provider: str  # provider id (``anthropic``, ``openai-compatible``...)
    model: str  # the served model id as the client sees it (``anthropic/claude-...``)
    provider_key_id: str
    status: int  # the upstream's HTTP status; 0 when it never answered
    error_class: str | None = None  # ``retry``, ``failover``, ``fatal``...; None on success
    error_code: str | None = None  # the gateway error code, None on success
    duration_ms: float = 0.0


@dataclass(slots=True, kw_only=True)
class RequestRecord:
    """Everything known about one request; see the module docstring for who fills what."""

    request_id: str
    started_at: datetime
    endpoint: str  # the path served, e.g. ``/v1/chat/completions``
    inbound_format: str  # the client's wire format: ``openai``, ``anthropic``...
    operation: Operation | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    # Who: filled once authentication succeeds.
    workspace_id: str | None = None
    api_key_id: str | None = None
    api_key_name: str | None = None
    end_user: str | None = None  # OpenAI ``user``, Anthropic ``metadata.user_id``...
    # What: the model asked for, and the one that answered.
    requested_model: str | None = None
    served_model: str | None = None  # ``provider/model`` as the client sees it
    provider: str | None = None
    upstream_model: str | None = None  # the model name the provider was sent (prices key on it)
    provider_key_id: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    route: dict[str, object] | None = None  # the router's decision and why
    cache: str | None = None  # ``hit``, ``partial``, ``miss``, ``write``, ``response-hit``
    # Admission: ``admitted``, ``downgraded``, or the refusal's error code (``quota_exceeded``,
    # ``rate_limited``, ``budget_exceeded``); None when no limit applied or it never got there.
    admission: str | None = None
    # How much.
    usage: Usage | None = None
    usage_estimated: bool = False  # True when some tokens were estimated, not reported
    cost: Cost | None = None
    # What an explicit provider cache this request created costs besides its tokens (Gemini
    # ``cachedContents``: the cached tokens written at the input price and their storage for
    # the cache's lifetime); the ``Meter`` adds it to ``cost`` (not to the uncached cost).
    cache_upkeep: Cost | None = None
    # How it went.
    status: int = 0  # the HTTP status the client got
    error_code: str | None = None
    stream: bool = False
    stream_outcome: StreamOutcome | None = None
    total_ms: float = 0.0
    upstream_ms: float = 0.0
    ttft_ms: float | None = None  # time to the first content byte sent to the client
    # The bodies, only when the workspace logs them (``body_capture``): what the client sent
    # and what it got, cut at ``BodyCapture.max_bytes``; redacted and sealed off the request
    # path by the audit writer.
    body_capture: BodyCapture | None = None
    request_body: bytes | None = None
    response_body: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyCapture:
    """A workspace that logs request and response bodies: how much to keep, and ``seal``,
    which redacts a body text and encrypts it with the workspace's data key (for
    ``request_id``), run by the audit writer off the request path."""

    seal: Callable[[str, str], bytes]
    max_bytes: int = 65_536


class RecordSink(Protocol):
    """A consumer of finished request records (usage store, audit, metrics, alerts)."""

    def submit(self, record: RequestRecord) -> None:
        """Take a finished record. Synchronous and non-blocking: queue, never await."""
