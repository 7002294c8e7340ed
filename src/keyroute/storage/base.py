"""Storage protocols and the records they hold.

Every backend (``memory``, ``sqlite``; ``postgres`` later) implements ``Store`` and passes the one
behavioural suite in ``tests/unit/storage``. Records are plain frozen dataclasses; times are
timezone-aware UTC. Secrets are never stored in plaintext: gateway keys as SHA-256 hashes, provider
keys as AES-GCM ciphertext made by ``keyroute.vault``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceRecord:
    id: str
    name: str
    plan: str
    created_at: datetime
    wrapped_data_key: bytes
    master_key_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    """A gateway key. ``key_hash`` is the SHA-256 hex of the full key; ``prefix`` is shown."""

    id: str
    workspace_id: str
    name: str
    prefix: str
    key_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderKeyRecord:
    """A provider key, encrypted with the workspace data key.

    The AAD of ``aad_version`` 2 binds the ciphertext to its workspace, key id, provider and base
    URL; version 1 (rows written by keyroute 0.1, workspace and key id only) is re-sealed by
    ``keyroute migrate``. ``fingerprint`` is a short SHA-256 of the plaintext and ``last4`` its
    last four characters: the only parts of the key ever shown.
    """

    id: str
    workspace_id: str
    provider: str
    name: str
    base_url: str | None
    ciphertext: bytes
    nonce: bytes
    fingerprint: str
    last4: str
    created_at: datetime
    revoked_at: datetime | None = None
    aad_version: int = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasRecord:
    workspace_id: str
    alias: str
    target: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceOverrideRecord:
    """A workspace's negotiated prices for one provider (``model == ""``) or one model.

    ``discount_percent`` (0 to 100) comes off the list price; ``prices`` (token class ->
    USD per million tokens, the classes of ``keyroute.catalogue.entries.TOKEN_CLASSES``)
    replaces the catalogue's list price for a model. Either may be None (not overridden).
    """

    workspace_id: str
    provider: str
    model: str
    updated_at: datetime
    discount_percent: Decimal | None = None
    prices: Mapping[str, Decimal] | None = None


class Store(Protocol):
    """Everything keyroute persists. All methods are coroutines except ``revision``.

    Names are unique per scope: workspace names globally, api-key and provider-key names per
    workspace among non-revoked keys, aliases per workspace. A violation raises
    ``keyroute.core.errors.Conflict``. Deleting a workspace deletes every row that belongs to it,
    its wrapped data key included (crypto-shredding).
    """

    async def open(self) -> None:
        """Connect and check the schema is current (``migrate`` brings it there)."""
        ...

    async def close(self) -> None: ...

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        ...

    def revision(self) -> int:
        """A number that changes whenever any process commits a configuration change.

        Cheap: the request path calls it on every request to know when to drop its caches.
        Usage bookkeeping (``record_api_key_use``) does not move it.
        """
        ...

    # Workspaces
    async def create_workspace(self, record: WorkspaceRecord) -> None: ...
    async def get_workspace(self, workspace_id: str) -> WorkspaceRecord | None: ...
    async def find_workspace(self, name: str) -> WorkspaceRecord | None: ...
    async def list_workspaces(self) -> list[WorkspaceRecord]: ...
    async def delete_workspace(self, workspace_id: str) -> bool: ...

    async def rewrap_data_keys(
        self, rewrap: Callable[[WorkspaceRecord], Awaitable[tuple[bytes, str]]]
    ) -> int:
        """Replace every workspace's (wrapped_data_key, master_key_id) in one transaction."""
        ...

    # Gateway API keys
    async def create_api_key(self, record: ApiKeyRecord) -> None: ...
    async def list_api_keys(self, workspace_id: str) -> list[ApiKeyRecord]: ...
    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...
    async def revoke_api_key(self, workspace_id: str, key_id: str, at: datetime) -> bool: ...
    async def record_api_key_use(self, last_used: Mapping[str, datetime]) -> None:
        """Batch update of last-used times (``id -> time``); never lowers a stored time."""
        ...

    # Provider keys
    async def add_provider_key(self, record: ProviderKeyRecord) -> None: ...
    async def list_provider_keys(self, workspace_id: str) -> list[ProviderKeyRecord]:
        """Active (non-revoked) keys first by creation time; revoked ones are included too."""
        ...

    async def revoke_provider_key(self, workspace_id: str, key_id: str, at: datetime) -> bool: ...
    async def reseal_provider_keys(
        self,
        reseal: Callable[[WorkspaceRecord, ProviderKeyRecord], Awaitable[tuple[bytes, bytes]]],
    ) -> int:
        """Re-seal every provider key whose ``aad_version`` is below 2, in one transaction.

        ``reseal`` returns the new ``(nonce, ciphertext)``; the row then gets ``aad_version`` 2.
        If it raises, nothing changes. Returns how many rows were re-sealed.
        """
        ...

    # Aliases
    async def set_alias(self, record: AliasRecord) -> None: ...
    async def list_aliases(self, workspace_id: str) -> list[AliasRecord]: ...
    async def delete_alias(self, workspace_id: str, alias: str) -> bool: ...

    # Price overrides (one row per workspace, provider and model; model "" = whole provider)
    async def set_price_override(self, record: PriceOverrideRecord) -> None:
        """Insert or replace the row for (workspace, provider, model)."""
        ...

    async def list_price_overrides(self, workspace_id: str) -> list[PriceOverrideRecord]:
        """Ordered by provider, then model (the provider-wide row first)."""
        ...

    async def delete_price_override(self, workspace_id: str, provider: str, model: str) -> bool: ...

    # Settings (admin token hash, instance metadata)
    async def get_setting(self, key: str) -> str | None: ...
    async def set_setting(self, key: str, value: str) -> None: ...
