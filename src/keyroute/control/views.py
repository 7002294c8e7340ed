"""JSON-ready views of records. Secrets never appear: keys show a prefix or last four characters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec

from keyroute.catalogue.entries import ModelEntry, PriceBand, PriceSheet
from keyroute.plans import PLANS
from keyroute.providers import registry
from keyroute.storage.base import (
    AliasRecord,
    ApiKeyRecord,
    PriceOverrideRecord,
    ProviderKeyRecord,
    WorkspaceRecord,
)


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
        "paused_at": _time(k.paused_at),
        "active": k.revoked_at is None,
        "paused": k.paused_at is not None,
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


def number(value: Decimal) -> msgspec.Raw:
    """An exact decimal as a JSON number (``2.50``, never a float's ``2.4999...``)."""
    return msgspec.Raw(format(value, "f").encode())


def _band(band: PriceBand) -> dict[str, Any]:
    return {name: number(price) for name, price in band.prices().items()}


def price_sheet_view(sheet: PriceSheet) -> dict[str, Any]:
    """A sheet's prices (USD per million tokens) with its provenance and long-context tiers."""
    return {
        **_band(sheet),
        "source": sheet.source,
        "effective_date": sheet.effective_date.isoformat(),
        "checked": list(sheet.checked),
        "note": sheet.note,
        "tiers": [{"above_input_tokens": t.above_input_tokens, **_band(t)} for t in sheet.tiers],
        **({} if sheet.cache_storage is None else {"cache_storage": number(sheet.cache_storage)}),
    }


def model_view(entry: ModelEntry, day: date) -> dict[str, Any]:
    """A catalogue model; ``prices`` is the sheet in effect on ``day`` (None: no known price),
    ``price_schedule`` every sheet, past and future."""
    sheet = entry.sheet_at(day)
    return {
        "id": entry.ref,
        "provider": entry.provider,
        "model": entry.id,
        "family": entry.family,
        "aliases": list(entry.aliases),
        "description": entry.description,
        "context_window": entry.context_window,
        "max_output_tokens": entry.max_output_tokens,
        "capabilities": msgspec.structs.asdict(entry.capabilities),
        "prices": None if sheet is None else price_sheet_view(sheet),
        "price_schedule": [price_sheet_view(s) for s in entry.prices],
    }


def price_override_view(r: PriceOverrideRecord) -> dict[str, Any]:
    discount = r.discount_percent
    return {
        "workspace_id": r.workspace_id,
        "provider": r.provider,
        "model": r.model or None,
        "discount_percent": None if discount is None else number(discount),
        "prices": None if r.prices is None else {k: number(v) for k, v in r.prices.items()},
        "updated_at": _time(r.updated_at),
    }


def provider_views() -> list[dict[str, Any]]:
    """Every provider keyroute speaks to, as ``keyroute providers`` and the admin API show it."""
    views = []
    for name in registry.provider_names():
        spec = registry.spec(name)
        views.append(
            {
                "id": name,
                "label": spec.label,
                "wire_format": spec.wire,
                "default_base_url": spec.base_url,
                "requires_key": spec.requires_key,
            }
        )
    return views
