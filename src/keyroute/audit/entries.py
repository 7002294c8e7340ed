"""Audit entries from finished request records and from admin events.

Invariants:
- A request record becomes one entry of its workspace's chain, or of the gateway-level chain
  (``GATEWAY_LOG``) when it was refused before a workspace was known.
- ``data`` holds every field of the record under the names of the export schema
  (``docs/audit.md``): token counts by class, cost paid and at list price as decimal USD
  strings (``None`` when the price is unknown), attempts, route, timings. No prompt or
  completion text, no provider key (only its id).
- Admin events carry who, from where, what and the old and new values, secrets masked by the
  caller (``AdminEvent`` is built by the control plane, which knows which fields are secret),
  and then every string in them redacted by the default rules of ``redact.py`` (a key pasted
  into a name or a URL is not logged either).
- Times are UTC.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from keyroute.audit.redact import Redactor
from keyroute.core.audit import GATEWAY_LOG, AuditEntry
from keyroute.core.money import usd_text
from keyroute.core.record import Attempt, RequestRecord
from keyroute.core.response import Usage

_NO_USAGE = Usage()
_ATTEMPT_FIELDS = tuple(f.name for f in dataclasses.fields(Attempt))
_DATA = msgspec.json.Encoder(order="sorted")


def data_json(data: dict[str, object]) -> str:
    """An entry's ``data``: canonical JSON text (sorted keys, no spaces, non-ASCII as is).

    msgspec writes what ``core.audit.canonical_json`` writes, byte for byte, for strings,
    integers, booleans, null, lists and objects, at a fifteenth of the CPU; a float it may
    write in another, equal form (``1e-05`` as ``0.00001``). The hash covers the stored text,
    so either form verifies.
    """
    return _DATA.encode(data).decode()


_REDACT = Redactor()


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminEvent:
    """One management action, as the control plane saw it."""

    action: str  # ``key.add``, ``key.revoke``, ``workspace.create``, ``audit.export``...
    time: datetime
    workspace_id: str | None  # None: a gateway-wide action (its entry goes to the gateway log)
    actor: str  # ``admin-token``, ``cli:<user>``
    client_ip: str | None = None
    target: str | None = None  # the id or name acted on
    old: dict[str, object] | None = None
    new: dict[str, object] | None = None
    details: dict[str, object] = field(default_factory=dict)


def utc(when: datetime) -> datetime:
    if when.tzinfo is UTC:
        return when
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _attempt(attempt: Attempt) -> dict[str, object]:
    """An attempt's fields by name (what ``dataclasses.asdict`` gives, for a fifth of the CPU)."""
    return {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}


def _usage(record: RequestRecord) -> dict[str, object]:
    usage = record.usage or _NO_USAGE
    cost = record.cost
    return {
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "usage_estimated": record.usage_estimated,
        "cost_usd": usd_text(cost.paid_pico) if cost is not None else None,
        "list_cost_usd": usd_text(cost.list_pico) if cost is not None else None,
    }


def request_data(record: RequestRecord) -> dict[str, object]:
    """Every field of ``record`` under its export name."""
    return {
        "request_id": record.request_id,
        "workspace": record.workspace_id,
        "key_id": record.api_key_id,
        "key_name": record.api_key_name,
        "user": record.end_user,
        "client_ip": record.client_ip,
        "user_agent": record.user_agent,
        "endpoint": record.endpoint,
        "inbound_format": record.inbound_format,
        "operation": record.operation,
        "model": record.requested_model,
        "served_model": record.served_model,
        "provider": record.provider,
        "upstream_model": record.upstream_model,
        "provider_key_id": record.provider_key_id,
        "attempts": [_attempt(attempt) for attempt in record.attempts],
        "route": record.route,
        "cache": record.cache,
        **_usage(record),
        "status": record.status,
        "upstream_status": record.attempts[-1].status if record.attempts else None,
        "error_code": record.error_code,
        "stream": record.stream,
        "stream_outcome": record.stream_outcome,
        "total_ms": round(record.total_ms, 3),
        "upstream_ms": round(record.upstream_ms, 3),
        "ttft_ms": None if record.ttft_ms is None else round(record.ttft_ms, 3),
    }


def request_entry(
    record: RequestRecord, row_id: str, extra: dict[str, object] | None = None
) -> AuditEntry:
    """The audit entry of a finished request record (``extra`` joins its data)."""
    data = request_data(record)
    if extra:
        data.update(extra)
    return AuditEntry(
        id=row_id,
        log=record.workspace_id or GATEWAY_LOG,
        time=utc(record.started_at),
        kind="request",
        request_id=record.request_id,
        api_key_id=record.api_key_id,
        model=record.requested_model,
        served_model=record.served_model,
        status=record.status,
        end_user=record.end_user,
        data=data_json(data),
    )


def admin_entry(event: AdminEvent, row_id: str) -> AuditEntry:
    """The audit entry of an admin event; the values it carries are redacted (``redact.py``)."""
    data: dict[str, object] = {
        "action": event.action,
        "workspace": event.workspace_id,
        "actor": event.actor,
        "client_ip": event.client_ip,
        "target": _REDACT.value(event.target),
        "old": _REDACT.value(event.old),
        "new": _REDACT.value(event.new),
        "details": _REDACT.value(event.details) or None,
    }
    return AuditEntry(
        id=row_id,
        log=event.workspace_id or GATEWAY_LOG,
        time=utc(event.time),
        kind="admin",
        action=event.action,
        end_user=event.actor,
        data=data_json(data),
    )
