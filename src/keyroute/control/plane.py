"""``ControlPlane``: every management operation, shared by the CLI and the admin API.

Everything is validated here, once, for both: names are short lower-case slugs, provider keys
are printable ASCII, aliases and their targets are well-formed model ids, and base URLs pass
the operator's ``BaseUrlPolicy``. Errors never echo a secret and escape what they echo.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from keyroute.accounting.usage_report import (
    Grouping,
    UsageReport,
    UsageResult,
    parse_time,
)
from keyroute.catalogue import Catalogue, builtin
from keyroute.control import prices as price_rules
from keyroute.control.audit_log import AuditLog, EventSink
from keyroute.control.base_url import BaseUrlPolicy
from keyroute.control.caching import CachingSettings
from keyroute.control.governance import Governance
from keyroute.control.resilience import ResilienceControl
from keyroute.control.routing import RoutingControl
from keyroute.core.errors import Conflict, InvalidRequest, NotFound
from keyroute.plans import DEFAULT_PLAN, plan
from keyroute.principals import display_prefix, hash_api_key, new_api_key
from keyroute.providers import registry
from keyroute.routing.model_id import check_model_id
from keyroute.storage.base import (
    AliasRecord,
    ApiKeyRecord,
    PriceOverrideRecord,
    ProviderKeyRecord,
    Store,
    WorkspaceRecord,
    workspace_setting_key,
)
from keyroute.vault.keystore import KeyVault
from keyroute.workspace_state import RESPONSE_POLICY, ResponsePolicy

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def _check_name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        shown = ascii(value[:80])  # escaped: the value may hold control characters
        raise InvalidRequest(
            f"Invalid {what} {shown}: use 1-63 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            param="name",
        )
    return value


def _check_key(key: str) -> str:
    """A provider key travels in a request header: printable ASCII, no spaces or controls."""
    bad = next((i for i, c in enumerate(key) if not ("\x21" <= c <= "\x7e")), None)
    if bad is not None:
        raise InvalidRequest(
            f"The provider key has character U+{ord(key[bad]):04X} at position {bad}: "
            "keys are printable ASCII without spaces or control characters.",
            param="key",
        )
    return key


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    record: ApiKeyRecord
    key: str  # shown once, never stored


def _view(record: object) -> dict[str, object]:
    """A record as an admin event's old or new value: secrets masked, bytes left out."""
    values: dict[str, object] = {}
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        if field.name in _SECRET_FIELDS or isinstance(value, bytes):
            continue
        values[field.name] = value if isinstance(value, str | int | None) else str(value)
    return values


_SECRET_FIELDS = frozenset({"key_hash", "ciphertext", "nonce", "wrapped_data_key"})


class ControlPlane:
    def __init__(
        self,
        store: Store,
        vault: KeyVault,
        *,
        clock: Callable[[], datetime] | None = None,
        base_urls: BaseUrlPolicy | None = None,
        catalogue: Catalogue | None = None,
        events: EventSink | None = None,
    ) -> None:
        """``events`` receives an ``AdminEvent`` for every change made (the audit writer)."""
        self.store = store
        self.vault = vault
        self.base_urls = base_urls or BaseUrlPolicy()
        self.catalogue = catalogue or builtin()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.audit = AuditLog(store, self.workspace, events, self._clock, vault)
        self.governance = Governance(store, self.workspace, self.audit, self.catalogue, self._clock)
        self.caching = CachingSettings(store, self.workspace, self.audit.emit)
        self.routing = RoutingControl(store, self.workspace, self.audit, self._clock)
        self.resilience = ResilienceControl(store, self.workspace, self.audit, self._clock)

    # Workspaces
    async def create_workspace(self, name: str, plan_name: str | None = None) -> WorkspaceRecord:
        _check_name(name, "workspace name")
        chosen = plan(plan_name or DEFAULT_PLAN).name
        if await self.store.find_workspace(name) is not None:
            raise Conflict(f"A workspace named '{name}' already exists.", param="name")
        workspace_id = _new_id("ws")
        wrapped, master_id = self.vault.new_workspace_key(workspace_id)
        record = WorkspaceRecord(
            id=workspace_id,
            name=name,
            plan=chosen,
            created_at=self._clock(),
            wrapped_data_key=wrapped,
            master_key_id=master_id,
        )
        await self.store.create_workspace(record)
        self.audit.emit("workspace.create", record.id, target=record.id, new=_view(record))
        return record

    async def workspace(self, name_or_id: str) -> WorkspaceRecord:
        found = await self.store.get_workspace(name_or_id)
        if found is None:
            found = await self.store.find_workspace(name_or_id)
        if found is None:
            raise NotFound(f"No workspace named or with id '{name_or_id}'.", param="workspace")
        return found

    async def list_workspaces(self) -> list[WorkspaceRecord]:
        return await self.store.list_workspaces()

    async def delete_workspace(self, name_or_id: str) -> WorkspaceRecord:
        """Delete a workspace and everything in it; its data key goes too (crypto-shredding)."""
        workspace = await self.workspace(name_or_id)
        await self.store.delete_workspace(workspace.id)
        self.vault.forget(workspace.id)
        self.audit.emit("workspace.delete", workspace.id, target=workspace.id, old=_view(workspace))
        return workspace

    # Gateway API keys
    async def create_api_key(self, name_or_id: str, name: str | None = None) -> CreatedApiKey:
        workspace = await self.workspace(name_or_id)
        key = new_api_key()
        key_name = _check_name(name, "key name") if name else f"key-{secrets.token_hex(3)}"
        record = ApiKeyRecord(
            id=_new_id("key"),
            workspace_id=workspace.id,
            name=key_name,
            prefix=display_prefix(key),
            key_hash=hash_api_key(key),
            created_at=self._clock(),
        )
        await self.store.create_api_key(record)
        self.audit.emit("key.add", workspace.id, target=record.id, new=_view(record))
        return CreatedApiKey(record=record, key=key)

    async def list_api_keys(self, name_or_id: str) -> list[ApiKeyRecord]:
        workspace = await self.workspace(name_or_id)
        return await self.store.list_api_keys(workspace.id)

    async def revoke_api_key(self, name_or_id: str, key_id: str) -> None:
        workspace = await self.workspace(name_or_id)
        if not await self.store.revoke_api_key(workspace.id, key_id, self._clock()):
            raise NotFound(
                f"No active gateway key '{key_id}' in workspace '{workspace.name}'.", param="id"
            )
        self.audit.emit("key.revoke", workspace.id, target=key_id)

    async def pause_api_key(self, name_or_id: str, key_id: str, reason: str | None = None) -> None:
        """Pause gateway key ``key_id``: its requests are refused until ``resume_api_key``."""
        workspace = await self.workspace(name_or_id)
        if not await self.store.pause_api_key(workspace.id, key_id, self._clock()):
            raise NotFound(
                f"No active, unpaused gateway key '{key_id}' in workspace '{workspace.name}'.",
                param="id",
            )
        details: dict[str, object] = {"reason": reason} if reason else {}
        self.audit.emit("key.pause", workspace.id, target=key_id, details=details)

    async def resume_api_key(self, name_or_id: str, key_id: str) -> None:
        workspace = await self.workspace(name_or_id)
        if not await self.store.pause_api_key(workspace.id, key_id, None):
            raise NotFound(
                f"No paused gateway key '{key_id}' in workspace '{workspace.name}'.", param="id"
            )
        self.audit.emit("key.resume", workspace.id, target=key_id)

    # Provider keys
    async def add_provider_key(
        self,
        name_or_id: str,
        provider: str,
        key: str,
        *,
        name: str | None = None,
        base_url: str | None = None,
    ) -> ProviderKeyRecord:
        workspace = await self.workspace(name_or_id)
        spec = registry.spec(provider)
        key = _check_key(key.strip())
        if not key and spec.requires_key:
            raise InvalidRequest(f"Provider '{provider}' needs a key.", param="key")
        if spec.base_url is None and not base_url:
            raise InvalidRequest(
                f"Provider '{provider}' needs a base URL (--base-url).", param="base_url"
            )
        if provider == "demo" and base_url:
            raise InvalidRequest("The demo provider takes no base URL.", param="base_url")
        url = (
            registry.normalize_base_url(provider, self.base_urls.check(base_url))
            if base_url
            else None
        )
        key_name = _check_name(name, "key name") if name else provider
        key_id = _new_id("pk")
        nonce, ciphertext, fingerprint, last4 = b"", b"", "", ""  # a keyless provider
        if key:
            nonce, ciphertext, fingerprint, last4 = self.vault.seal_provider_key(
                workspace, key_id, key, provider=provider, base_url=url
            )
        record = ProviderKeyRecord(
            id=key_id,
            workspace_id=workspace.id,
            provider=provider,
            name=key_name,
            base_url=url,
            ciphertext=ciphertext,
            nonce=nonce,
            fingerprint=fingerprint,
            last4=last4,
            created_at=self._clock(),
        )
        await self.store.add_provider_key(record)
        self.audit.emit("provider_key.add", workspace.id, target=key_id, new=_view(record))
        return record

    async def list_provider_keys(self, name_or_id: str) -> list[ProviderKeyRecord]:
        workspace = await self.workspace(name_or_id)
        return await self.store.list_provider_keys(workspace.id)

    async def revoke_provider_key(self, name_or_id: str, key_id: str) -> None:
        workspace = await self.workspace(name_or_id)
        if not await self.store.revoke_provider_key(workspace.id, key_id, self._clock()):
            raise NotFound(
                f"No active provider key '{key_id}' in workspace '{workspace.name}'.", param="id"
            )
        self.audit.emit("provider_key.revoke", workspace.id, target=key_id)

    # Aliases
    async def set_alias(self, name_or_id: str, alias: str, target: str) -> AliasRecord:
        workspace = await self.workspace(name_or_id)
        check_model_id(alias, param="alias")
        if "/" in alias or len(alias) > 128:
            raise InvalidRequest(
                "An alias is a name without '/', up to 128 characters.", param="alias"
            )
        check_model_id(target, param="target")
        if "/" not in target:
            raise InvalidRequest(
                "An alias points at a model id like 'openai/gpt-4o-mini'.", param="target"
            )
        record = AliasRecord(
            workspace_id=workspace.id, alias=alias, target=target, created_at=self._clock()
        )
        old = {a.alias: a.target for a in await self.store.list_aliases(workspace.id)}.get(alias)
        await self.store.set_alias(record)
        self.audit.emit(
            "alias.set",
            workspace.id,
            target=alias,
            old=None if old is None else {"target": old},
            new={"target": target},
        )
        return record

    async def list_aliases(self, name_or_id: str) -> list[AliasRecord]:
        workspace = await self.workspace(name_or_id)
        return await self.store.list_aliases(workspace.id)

    async def delete_alias(self, name_or_id: str, alias: str) -> None:
        workspace = await self.workspace(name_or_id)
        if not await self.store.delete_alias(workspace.id, alias):
            raise NotFound(f"No alias '{alias}' in workspace '{workspace.name}'.", param="alias")
        self.audit.emit("alias.delete", workspace.id, target=alias)

    # Price overrides (checked in ``control.prices``)
    async def set_prices(
        self,
        name_or_id: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        discount: object = None,
        prices: Mapping[str, object] | None = None,
    ) -> PriceOverrideRecord:
        """Set a discount and/or prices for a provider or model; fields not given are kept."""
        workspace = await self.workspace(name_or_id)
        raw: dict[str, Any] = {"provider": provider, "model": model, "discount": discount}
        raw.update(prices or {})
        given = {k: v for k, v in raw.items() if v is not None}
        existing = {
            (r.provider, r.model): r.prices
            for r in await self.store.list_price_overrides(workspace.id)
            if r.prices
        }
        change = price_rules.change(self.catalogue, given, self._clock().date(), existing)
        return await self._apply_prices(workspace.id, change)

    async def _apply_prices(
        self, workspace_id: str, change: price_rules.PriceChange
    ) -> PriceOverrideRecord:
        current = {
            (r.provider, r.model): r for r in await self.store.list_price_overrides(workspace_id)
        }.get((change.provider, change.model))
        merged_prices = dict(current.prices or {}) if current else {}
        merged_prices.update(change.prices or {})
        kept_discount = current.discount_percent if current else None
        record = PriceOverrideRecord(
            workspace_id=workspace_id,
            provider=change.provider,
            model=change.model,
            updated_at=self._clock(),
            discount_percent=change.discount if change.discount is not None else kept_discount,
            prices=merged_prices or None,
        )
        await self.store.set_price_override(record)
        self.audit.emit(
            "prices.set",
            workspace_id,
            target=f"{record.provider}/{record.model}" if record.model else record.provider,
            old=None if current is None else _view(current),
            new=_view(record),
        )
        return record

    async def list_prices(self, name_or_id: str) -> list[PriceOverrideRecord]:
        workspace = await self.workspace(name_or_id)
        return await self.store.list_price_overrides(workspace.id)

    async def clear_prices(
        self, name_or_id: str, *, provider: str | None = None, model: str | None = None
    ) -> tuple[str, str]:
        """Remove the override of a provider or model; returns its (provider, model)."""
        workspace = await self.workspace(name_or_id)
        key = price_rules.target(self.catalogue, provider, model)
        if not await self.store.delete_price_override(workspace.id, *key):
            shown = key[0] + (f"/{key[1]}" if key[1] else "")
            raise NotFound(
                f"No price override for '{shown}' in workspace '{workspace.name}'.",
                param="model" if key[1] else "provider",
            )
        self.audit.emit("prices.clear", workspace.id, target="/".join(k for k in key if k))
        return key

    async def import_prices(
        self, name_or_id: str, text: str, fmt: str, *, replace: bool = False
    ) -> list[PriceOverrideRecord]:
        """Apply every override of a TOML, JSON or CSV file (all checked first); ``replace``
        removes the workspace's other overrides."""
        workspace = await self.workspace(name_or_id)
        changes = price_rules.parse_file(self.catalogue, text, fmt, self._clock().date())
        if replace:
            for old in await self.store.list_price_overrides(workspace.id):
                await self.store.delete_price_override(workspace.id, old.provider, old.model)
        return [await self._apply_prices(workspace.id, c) for c in changes]

    # Admin token
    # Usage
    async def set_response_storage(
        self, name_or_id: str, *, store: bool, retention_days: float | None = None
    ) -> ResponsePolicy:
        """Whether the workspace keeps Responses API turns (``previous_response_id``), and for
        how long (``None``: the server's default); effective on the next request."""
        if retention_days is not None and not 0 < retention_days <= 3650:
            raise InvalidRequest("retention_days must be above 0 and at most 3650.")
        workspace = await self.workspace(name_or_id)
        key = workspace_setting_key(workspace.id, RESPONSE_POLICY)
        old = ResponsePolicy.parse(await self.store.get_setting(key))
        policy = ResponsePolicy(store=store, retention_days=retention_days)
        await self.store.set_workspace_setting(workspace.id, RESPONSE_POLICY, policy.dump())
        self.audit.emit(
            "responses.update",
            workspace.id,
            target=workspace.id,
            old={"store": old.store, "retention_days": old.retention_days},
            new={"store": policy.store, "retention_days": policy.retention_days},
        )
        return policy

    async def response_storage(self, name_or_id: str) -> ResponsePolicy:
        workspace = await self.workspace(name_or_id)
        key = workspace_setting_key(workspace.id, RESPONSE_POLICY)
        return ResponsePolicy.parse(await self.store.get_setting(key))

    async def usage(
        self,
        name_or_id: str,
        *,
        by: str | None = None,
        since: str | None = None,
        until: str | None = None,
        zone: tzinfo | None = None,
    ) -> UsageResult:
        """A workspace's usage report; ``since``/``until`` as ``parse_time`` reads them.

        ``zone`` is the report's time zone for day boundaries (default: the workspace's own,
        ``keyroute workspace set-plan --timezone``, UTC unless set).
        """
        workspace = await self.workspace(name_or_id)
        if zone is None:
            zone = ZoneInfo((await self.governance.plan(workspace.id)).timezone)
        now = self._clock()
        start = None if since is None else parse_time(since, param="since", now=now, zone=zone)
        end = None if until is None else parse_time(until, param="until", now=now, zone=zone)
        # ``run`` refuses a ``by`` outside ``Grouping`` with an error naming it.
        result = await UsageReport(self.store.usage).run(
            workspace.id, by=cast(Grouping | None, by), since=start, until=end, zone=zone
        )
        if by != "key":
            return result
        keys = await self.store.list_api_keys(workspace.id)
        return dataclasses.replace(result, names={k.id: k.name for k in keys})

    async def set_admin_token(self) -> str:
        token = "kra-" + secrets.token_urlsafe(32)
        await self.store.set_setting("admin_token_sha256", hash_api_key(token))
        return token

    async def check_admin_token(self, token: str | None) -> bool:
        if not token:
            return False
        stored = await self.store.get_setting("admin_token_sha256")
        return stored is not None and secrets.compare_digest(stored, hash_api_key(token))
