"""What the request path needs to know about a workspace, cached in memory.

A ``WorkspaceState`` holds the workspace's active provider keys and aliases; provider keys are
decrypted on first use and kept (a ``Secret``) until the state is dropped. States are dropped
whenever ``Store.revision()`` moves, so a provider key added or revoked by any process takes
effect on the next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keyroute.core.errors import AuthError
from keyroute.core.secret import Secret
from keyroute.storage.base import ProviderKeyRecord, Store, WorkspaceRecord
from keyroute.vault.keystore import KeyVault


@dataclass(slots=True)
class WorkspaceState:
    workspace: WorkspaceRecord
    provider_keys: list[ProviderKeyRecord]
    aliases: dict[str, str]
    _secrets: dict[str, Secret] = field(default_factory=dict)


class WorkspaceDirectory:
    def __init__(self, store: Store, vault: KeyVault) -> None:
        self._store = store
        self._vault = vault
        self._states: dict[str, WorkspaceState] = {}
        self._revision = store.revision()

    def _check_revision(self) -> None:
        revision = self._store.revision()
        if revision != self._revision:
            self._revision = revision
            self._states.clear()

    async def get(self, workspace_id: str) -> WorkspaceState:
        self._check_revision()
        state = self._states.get(workspace_id)
        if state is None:
            state = await self._load(workspace_id)
            self._states[workspace_id] = state
        return state

    async def _load(self, workspace_id: str) -> WorkspaceState:
        workspace = await self._store.get_workspace(workspace_id)
        if workspace is None:
            raise AuthError("This gateway key's workspace no longer exists.")
        keys = [
            k for k in await self._store.list_provider_keys(workspace_id) if k.revoked_at is None
        ]
        aliases = {a.alias: a.target for a in await self._store.list_aliases(workspace_id)}
        return WorkspaceState(workspace=workspace, provider_keys=keys, aliases=aliases)

    def secret(self, state: WorkspaceState, record: ProviderKeyRecord) -> Secret:
        """The decrypted provider key, cached for the life of ``state``."""
        cached = state._secrets.get(record.id)
        if cached is None:
            cached = (
                self._vault.open_provider_key(state.workspace, record)
                if record.ciphertext
                else Secret("")
            )
            state._secrets[record.id] = cached
        return cached
