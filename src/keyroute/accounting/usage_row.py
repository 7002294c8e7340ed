"""``usage_row``: one finished request record as one row of the usage table.

Invariants:
- A record without a workspace (refused before authentication) has no row: usage belongs to a
  workspace, and an unauthenticated flood must not grow the table (the audit log keeps those).
- The row's time is timezone-aware UTC even if a record's ``started_at`` were naive (read as
  UTC), so a row can never fail the store's timezone check and block its batch.
- Costs are copied as they are: an unknown price stays ``None``; a missing usage is all zeros.
- The end-user tag is the client's free text: one longer than ``MAX_TAG`` characters is kept as
  its first 200 characters, ``…#`` and 16 hex digits of its SHA-256, so a huge tag cannot
  bloat the table and two long tags stay apart.
"""

from __future__ import annotations

import hashlib
from datetime import UTC

from keyroute.core.record import RequestRecord
from keyroute.core.response import Usage
from keyroute.storage.base import UsageRow

_NO_USAGE = Usage()
MAX_TAG = 256


def stored_tag(tag: str | None) -> str | None:
    """``tag`` as the usage table keeps it (see the module docstring)."""
    if tag is None or len(tag) <= MAX_TAG:
        return tag
    digest = hashlib.sha256(tag.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{tag[:200]}…#{digest}"


def usage_row(record: RequestRecord, row_id: str) -> UsageRow | None:
    """The usage row of ``record`` with id ``row_id``, or ``None`` when it belongs to no
    workspace. ``row_id`` must be unique and the same each time one record is converted."""
    if record.workspace_id is None:
        return None
    usage = record.usage or _NO_USAGE
    cost = record.cost
    started = record.started_at
    policy = record.route.get("policy") if record.route else None
    return UsageRow(
        id=row_id,
        request_id=record.request_id,
        workspace_id=record.workspace_id,
        time=started.replace(tzinfo=UTC) if started.tzinfo is None else started.astimezone(UTC),
        api_key_id=record.api_key_id,
        end_user=stored_tag(record.end_user),
        endpoint=record.endpoint,
        operation=record.operation,
        inbound_format=record.inbound_format,
        requested_model=record.requested_model,
        served_model=record.served_model,
        provider=record.provider,
        provider_key_id=record.provider_key_id,
        route_policy=policy if isinstance(policy, str) else None,
        cache_outcome=record.cache,
        attempts=len(record.attempts),
        status=record.status,
        error_code=record.error_code,
        stream_outcome=record.stream_outcome,
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        usage_estimated=record.usage_estimated,
        paid_pico=None if cost is None else cost.paid_pico,
        list_pico=None if cost is None else cost.list_pico,
        uncached_pico=None if cost is None else cost.uncached_pico,
        reference_pico=None if cost is None else cost.reference_pico,
        total_ms=record.total_ms,
        upstream_ms=record.upstream_ms,
        ttft_ms=record.ttft_ms,
    )
