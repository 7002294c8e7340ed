"""JSON-ready views of records. Secrets never appear: keys show a prefix or last four characters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyroute.plans import PLANS
from keyroute.storage.base import AliasRecord, ApiKeyRecord, ProviderKeyRecord, WorkspaceRecord


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def workspace_view(w: WorkspaceRecord) -> dict[str, Any]:
    quota = PLANS[w.plan].monthly_requests if w.plan in PLANS else None
    return {
        "id": w.id,
        "name": w.name,
        "plan": w.plan,
        "monthly_request_quota": quota,
        "created_at": _time(w.created_at),
    }


def api_key_view(k: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": k.id,
        "workspace_id": k.workspace_id,
        "name": k.name,
        "prefix": k.prefix,
        "created_at": _time(k.created_at),
        "last_used_at": _time(k.last_used_at),
        "revoked_at": _time(k.revoked_at),
        "active": k.revoked_at is None,
    }


def provider_key_view(k: ProviderKeyRecord) -> dict[str, Any]:
    return {
        "id": k.id,
        "workspace_id": k.workspace_id,
        "provider": k.provider,
        "name": k.name,
        "base_url": k.base_url,
        "fingerprint": k.fingerprint,
        "last4": k.last4,
        "created_at": _time(k.created_at),
        "revoked_at": _time(k.revoked_at),
        "active": k.revoked_at is None,
    }


def alias_view(a: AliasRecord) -> dict[str, Any]:
    return {"alias": a.alias, "target": a.target, "created_at": _time(a.created_at)}
