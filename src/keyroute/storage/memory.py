"""``MemoryStore``: the reference ``Store``, held in dictionaries of one process.

Used by tests and by ``memory://`` configurations; nothing survives a restart. Its behaviour is
the specification the SQL backends are checked against by the shared suite in
``tests/unit/storage``. Every mutation moves the changed workspace's revision in ``changes``
(a setting moves only ``latest``); reads and no-ops do not.

Listing order (shared with every backend): workspaces by name; API keys by creation time;
provider keys active first, then by creation time; aliases by alias.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from keyroute.core.errors import Conflict, NotFound
from keyroute.storage.base import (
    AliasRecord,
    ApiKeyRecord,
    PriceOverrideRecord,
    ProviderKeyRecord,
    WorkspaceRecord,
    workspace_setting_key,
)
from keyroute.storage.caching_settings import SettingsCachingStore
from keyroute.storage.changes import LocalChangeFeed
from keyroute.storage.memory_alerts import MemoryAlertStore
from keyroute.storage.memory_audit import MemoryAuditStore
from keyroute.storage.memory_governance import MemoryGovernanceStore
from keyroute.storage.memory_resilience import MemoryResilienceStore
from keyroute.storage.memory_responses import MemoryResponseStateStore
from keyroute.storage.memory_routing import MemoryRoutingStore
from keyroute.storage.memory_signatures import MemorySignatureStore
from keyroute.storage.memory_usage import MemoryUsageStore

_Record = TypeVar(
    "_Record", WorkspaceRecord, ApiKeyRecord, ProviderKeyRecord, AliasRecord, PriceOverrideRecord
)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
    return value.astimezone(UTC)


def _in_utc(record: _Record) -> _Record:
    """The record with every time in UTC, as the SQL backends return it."""
    times: dict[str, Any] = {
        field.name: _utc(value)
        for field in dataclasses.fields(record)
        if isinstance(value := getattr(record, field.name), datetime)
    }
    return dataclasses.replace(record, **times)


class MemoryStore:
    """A ``Store`` in memory. ``url`` is accepted so every backend is built the same way."""

    def __init__(self, url: str = "memory://") -> None:
        self._url = url
        self._sequence = 0
        self.changes = LocalChangeFeed()
        self._workspaces: dict[str, WorkspaceRecord] = {}
        self._api_keys: dict[str, ApiKeyRecord] = {}
        self._provider_keys: dict[str, ProviderKeyRecord] = {}
        self._aliases: dict[tuple[str, str], AliasRecord] = {}
        self._prices: dict[tuple[str, str, str], PriceOverrideRecord] = {}
        self._settings: dict[str, str] = {}
        self._usage = MemoryUsageStore(lambda workspace_id: workspace_id in self._workspaces)
        self._signatures = MemorySignatureStore(lambda ws: ws in self._workspaces)
        self._responses = MemoryResponseStateStore(lambda ws: ws in self._workspaces)
        self._audit = MemoryAuditStore()
        self._governance = MemoryGovernanceStore(
            lambda ws: ws in self._workspaces, self._replace_plan, self._changed
        )
        self._caching = SettingsCachingStore(self.get_setting, self.set_workspace_setting)
        self._routing = MemoryRoutingStore(
            exists=lambda ws: ws in self._workspaces,
            changed=self._changed,
            usage_rows=self._usage.rows,
        )
        self._resilience = MemoryResilienceStore(
            exists=lambda ws: ws in self._workspaces, changed=self._changed
        )
        self._alerts = MemoryAlertStore(lambda ws: ws in self._workspaces)

    @property
    def usage(self) -> MemoryUsageStore:
        return self._usage

    @property
    def signatures(self) -> MemorySignatureStore:
        return self._signatures

    @property
    def responses(self) -> MemoryResponseStateStore:
        return self._responses

    @property
    def caching(self) -> SettingsCachingStore:
        return self._caching

    @property
    def audit(self) -> MemoryAuditStore:
        return self._audit

    @property
    def governance(self) -> MemoryGovernanceStore:
        return self._governance

    def _replace_plan(self, workspace_id: str, plan: str) -> None:
        self._workspaces[workspace_id] = dataclasses.replace(
            self._workspaces[workspace_id], plan=plan
        )

    @property
    def routing(self) -> MemoryRoutingStore:
        return self._routing

    @property
    def resilience(self) -> MemoryResilienceStore:
        return self._resilience

    @property
    def alerts(self) -> MemoryAlertStore:
        return self._alerts

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def migrate(self) -> None:
        return None

    def _changed(self, *workspace_ids: str) -> None:
        self._sequence += 1
        self.changes.note(dict.fromkeys(workspace_ids, self._sequence))
        self.changes.note_global(self._sequence)

    def _require_workspace(self, workspace_id: str) -> None:
        if workspace_id not in self._workspaces:
            raise NotFound(f"workspace {workspace_id!r} does not exist")

    # Workspaces

    async def create_workspace(self, record: WorkspaceRecord) -> None:
        if record.id in self._workspaces:
            raise Conflict(f"workspace id {record.id!r} already exists")
        if any(w.name == record.name for w in self._workspaces.values()):
            raise Conflict(f"workspace {record.name!r} already exists")
        self._workspaces[record.id] = _in_utc(record)
        self._changed(record.id)

    async def get_workspace(self, workspace_id: str) -> WorkspaceRecord | None:
        return self._workspaces.get(workspace_id)

    async def find_workspace(self, name: str) -> WorkspaceRecord | None:
        return next((w for w in self._workspaces.values() if w.name == name), None)

    async def list_workspaces(self) -> list[WorkspaceRecord]:
        return sorted(self._workspaces.values(), key=lambda w: w.name)

    async def delete_workspace(self, workspace_id: str) -> bool:
        if self._workspaces.pop(workspace_id, None) is None:
            return False
        self._api_keys = {k: v for k, v in self._api_keys.items() if v.workspace_id != workspace_id}
        self._provider_keys = {
            k: v for k, v in self._provider_keys.items() if v.workspace_id != workspace_id
        }
        self._aliases = {k: v for k, v in self._aliases.items() if k[0] != workspace_id}
        self._prices = {k: v for k, v in self._prices.items() if k[0] != workspace_id}
        self._usage.forget_workspace(workspace_id)
        self._signatures.forget_workspace(workspace_id)
        prefix = workspace_setting_key(workspace_id, "")
        self._settings = {k: v for k, v in self._settings.items() if not k.startswith(prefix)}
        self._responses.forget_workspace(workspace_id)
        self._governance.forget_workspace(workspace_id)
        self._routing.forget(workspace_id)
        self._resilience.forget(workspace_id)
        self._alerts.forget_workspace(workspace_id)
        self._changed(workspace_id)
        return True

    async def rewrap_data_keys(
        self, rewrap: Callable[[WorkspaceRecord], Awaitable[tuple[bytes, str]]]
    ) -> int:
        # Compute everything first so a failing callback changes nothing (one "transaction").
        snapshot = list(self._workspaces.values())
        updates = {w.id: await rewrap(w) for w in snapshot}
        for workspace_id, (wrapped, master_key_id) in updates.items():
            current = self._workspaces.get(workspace_id)
            if current is not None:
                self._workspaces[workspace_id] = dataclasses.replace(
                    current, wrapped_data_key=wrapped, master_key_id=master_key_id
                )
        if updates:
            self._changed(*updates)
        return len(updates)

    # Gateway API keys

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        self._require_workspace(record.workspace_id)
        for existing in self._api_keys.values():
            if existing.id == record.id or existing.key_hash == record.key_hash:
                raise Conflict("API key conflicts with an existing key")
            if (
                record.revoked_at is None
                and existing.revoked_at is None
                and existing.workspace_id == record.workspace_id
                and existing.name == record.name
            ):
                raise Conflict(f"an active API key named {record.name!r} already exists")
        self._api_keys[record.id] = _in_utc(record)
        self._changed(record.workspace_id)

    async def list_api_keys(self, workspace_id: str) -> list[ApiKeyRecord]:
        keys = [k for k in self._api_keys.values() if k.workspace_id == workspace_id]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return next((k for k in self._api_keys.values() if k.key_hash == key_hash), None)

    async def revoke_api_key(self, workspace_id: str, key_id: str, at: datetime) -> bool:
        key = self._api_keys.get(key_id)
        if key is None or key.workspace_id != workspace_id or key.revoked_at is not None:
            return False
        self._api_keys[key_id] = dataclasses.replace(key, revoked_at=_utc(at))
        self._changed(workspace_id)
        return True

    async def pause_api_key(self, workspace_id: str, key_id: str, at: datetime | None) -> bool:
        key = self._api_keys.get(key_id)
        if key is None or key.workspace_id != workspace_id or key.revoked_at is not None:
            return False
        if (key.paused_at is None) == (at is None):
            return False
        self._api_keys[key_id] = dataclasses.replace(
            key, paused_at=None if at is None else _utc(at)
        )
        self._changed(workspace_id)
        return True

    async def record_api_key_use(self, last_used: Mapping[str, datetime]) -> None:
        # Usage bookkeeping, not configuration: it moves no revision.
        for key_id, used_at in last_used.items():
            at = _utc(used_at)
            key = self._api_keys.get(key_id)
            if key is not None and (key.last_used_at is None or key.last_used_at < at):
                self._api_keys[key_id] = dataclasses.replace(key, last_used_at=at)

    # Provider keys

    async def add_provider_key(self, record: ProviderKeyRecord) -> None:
        self._require_workspace(record.workspace_id)
        for existing in self._provider_keys.values():
            if existing.id == record.id:
                raise Conflict("provider key conflicts with an existing key")
            if (
                record.revoked_at is None
                and existing.revoked_at is None
                and existing.workspace_id == record.workspace_id
                and existing.name == record.name
            ):
                raise Conflict(f"an active provider key named {record.name!r} already exists")
        self._provider_keys[record.id] = _in_utc(record)
        self._changed(record.workspace_id)

    async def list_provider_keys(self, workspace_id: str) -> list[ProviderKeyRecord]:
        keys = [k for k in self._provider_keys.values() if k.workspace_id == workspace_id]
        return sorted(keys, key=lambda k: (k.revoked_at is not None, k.created_at, k.id))

    async def revoke_provider_key(self, workspace_id: str, key_id: str, at: datetime) -> bool:
        key = self._provider_keys.get(key_id)
        if key is None or key.workspace_id != workspace_id or key.revoked_at is not None:
            return False
        self._provider_keys[key_id] = dataclasses.replace(key, revoked_at=_utc(at))
        self._changed(workspace_id)
        return True

    async def reseal_provider_keys(
        self,
        reseal: Callable[[WorkspaceRecord, ProviderKeyRecord], Awaitable[tuple[bytes, bytes]]],
    ) -> int:
        # Compute everything first so a failing callback changes nothing (one "transaction").
        stale = [k for k in self._provider_keys.values() if k.aad_version < 2]
        updates = {k.id: await reseal(self._workspaces[k.workspace_id], k) for k in stale}
        for key_id, (nonce, ciphertext) in updates.items():
            self._provider_keys[key_id] = dataclasses.replace(
                self._provider_keys[key_id], nonce=nonce, ciphertext=ciphertext, aad_version=2
            )
        if updates:
            self._changed(*{self._provider_keys[k].workspace_id for k in updates})
        return len(updates)

    # Aliases

    async def set_alias(self, record: AliasRecord) -> None:
        self._require_workspace(record.workspace_id)
        self._aliases[(record.workspace_id, record.alias)] = _in_utc(record)
        self._changed(record.workspace_id)

    async def list_aliases(self, workspace_id: str) -> list[AliasRecord]:
        found = [a for (ws, _), a in self._aliases.items() if ws == workspace_id]
        return sorted(found, key=lambda a: a.alias)

    async def delete_alias(self, workspace_id: str, alias: str) -> bool:
        if self._aliases.pop((workspace_id, alias), None) is None:
            return False
        self._changed(workspace_id)
        return True

    # Price overrides

    async def set_price_override(self, record: PriceOverrideRecord) -> None:
        self._require_workspace(record.workspace_id)
        prices = None if record.prices is None else dict(record.prices)
        key = (record.workspace_id, record.provider, record.model)
        self._prices[key] = dataclasses.replace(_in_utc(record), prices=prices)
        self._changed(record.workspace_id)

    async def list_price_overrides(self, workspace_id: str) -> list[PriceOverrideRecord]:
        found = [p for (ws, _, _), p in self._prices.items() if ws == workspace_id]
        return sorted(found, key=lambda p: (p.provider, p.model))

    async def delete_price_override(self, workspace_id: str, provider: str, model: str) -> bool:
        if self._prices.pop((workspace_id, provider, model), None) is None:
            return False
        self._changed(workspace_id)
        return True

    # Settings

    async def get_setting(self, key: str) -> str | None:
        return self._settings.get(key)

    async def set_workspace_setting(self, workspace_id: str, key: str, value: str) -> None:
        if workspace_id not in self._workspaces:
            raise NotFound(f"workspace {workspace_id!r} does not exist")
        self._settings[workspace_setting_key(workspace_id, key)] = value
        self._changed(workspace_id)

    async def set_setting(self, key: str, value: str) -> None:
        self._settings[key] = value
        self._changed()
