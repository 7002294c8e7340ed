"""What the request path needs to know about a workspace, cached in memory.

A ``WorkspaceState`` holds the workspace's active provider keys, aliases, Responses API
storage policy and the limits admission enforces (``limits``: plan quota, rate limits, budgets,
from the governance settings), caching settings and routing policies, and the model an alert
rule's ``downgrade`` action switched the workspace to (``alert_downgrade``); provider keys are
decrypted on first use and kept (a ``Secret``) until the state is dropped.

Invariants:

- A state remembers its workspace's revision in the store's ``ChangeFeed`` (read before the
  state was loaded) and is reloaded once that revision moves: a provider key added or revoked by
  any process takes effect as soon as the feed sees it, and a change to one workspace never drops
  another workspace's state or decrypted keys.
- A hit is a dictionary read and a revision compare: no I/O. Concurrent misses on the same
  workspace share one load (``SingleFlight``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from keyroute.admission.policy import NO_LIMITS, Limits
from keyroute.audit.bodies import SETTING as BODY_SETTING
from keyroute.audit.bodies import BodyLogging, body_capture
from keyroute.core.alert_store import ALERT_DOWNGRADE_SETTING, AlertDowngrade
from keyroute.core.errors import AuthError
from keyroute.core.record import BodyCapture
from keyroute.core.secret import Secret
from keyroute.governance.limits import limits_of
from keyroute.resilience.policy import NO_POLICIES, ResiliencePolicies
from keyroute.single_flight import SingleFlight
from keyroute.storage.base import (
    CachingSettingsRecord,
    ProviderKeyRecord,
    RoutingPolicyRecord,
    Store,
    WorkspaceRecord,
    workspace_setting_key,
)
from keyroute.vault.keystore import KeyVault


@dataclass(frozen=True, slots=True)
class ResponsePolicy:
    """Whether the workspace keeps Responses API turns, and for how long (``None``: the
    server's ``server.response_retention_days``)."""

    store: bool = True
    retention_days: float | None = None

    @classmethod
    def parse(cls, text: str | None) -> ResponsePolicy:
        if text is None:
            return cls()
        raw = json.loads(text)
        return cls(store=bool(raw["store"]), retention_days=raw["retention_days"])

    def dump(self) -> str:
        return json.dumps({"store": self.store, "retention_days": self.retention_days})


RESPONSE_POLICY = "responses"  # the workspace setting that holds its ``ResponsePolicy``


@dataclass(slots=True)
class WorkspaceState:
    workspace: WorkspaceRecord
    provider_keys: list[ProviderKeyRecord]
    aliases: dict[str, str]
    responses: ResponsePolicy = ResponsePolicy()
    limits: Limits = NO_LIMITS
    caching: CachingSettingsRecord = CachingSettingsRecord()
    routing: tuple[RoutingPolicyRecord, ...] = ()  # the workspace's own routing policies
    resilience: ResiliencePolicies = NO_POLICIES  # fallback chains, timeouts, key weights
    body_capture: BodyCapture | None = None  # set when the workspace logs bodies
    # An alert's downgrade in force (``keyroute alerts resume`` ends it): the workspace budget's
    # downgrade model, which then serves every chat request; None otherwise.
    alert_downgrade: str | None = None
    _secrets: dict[str, Secret] = field(default_factory=dict)


class WorkspaceDirectory:
    def __init__(self, store: Store, vault: KeyVault) -> None:
        self._store = store
        self._changes = store.changes
        self._vault = vault
        # workspace id -> (state, the workspace's revision before the state was loaded)
        self._states: dict[str, tuple[WorkspaceState, int]] = {}
        self._flights: SingleFlight[str, WorkspaceState] = SingleFlight()

    async def get(self, workspace_id: str) -> WorkspaceState:
        cached = self._states.get(workspace_id)
        if cached is not None and self._changes.revision(workspace_id) == cached[1]:
            return cached[0]
        return await self._flights.run(workspace_id, lambda: self._reload(workspace_id))

    async def _reload(self, workspace_id: str) -> WorkspaceState:
        revision = self._changes.revision(workspace_id)
        try:
            state = await self._load(workspace_id)
        except AuthError:
            self._states.pop(workspace_id, None)
            raise
        self._states[workspace_id] = (state, revision)
        return state

    async def _load(self, workspace_id: str) -> WorkspaceState:
        workspace = await self._store.get_workspace(workspace_id)
        if workspace is None:
            raise AuthError("This gateway key's workspace no longer exists.")
        keys = [
            k for k in await self._store.list_provider_keys(workspace_id) if k.revoked_at is None
        ]
        aliases = {a.alias: a.target for a in await self._store.list_aliases(workspace_id)}
        policy = await self._store.get_setting(workspace_setting_key(workspace_id, RESPONSE_POLICY))
        governance = await self._store.governance.governance(workspace_id)
        routing = tuple(await self._store.routing.list_routing_policies(workspace_id))
        resilience = await self._store.resilience.list_resilience_policies(workspace_id)
        bodies = await self._store.get_setting(workspace_setting_key(workspace_id, BODY_SETTING))
        limits = limits_of(workspace, governance)
        downgraded = AlertDowngrade.parse(
            await self._store.get_setting(
                workspace_setting_key(workspace_id, ALERT_DOWNGRADE_SETTING)
            )
        )
        return WorkspaceState(
            workspace=workspace,
            provider_keys=keys,
            aliases=aliases,
            responses=ResponsePolicy.parse(policy),
            limits=limits,
            caching=await self._store.caching.get_caching(workspace_id),
            routing=routing,
            resilience=ResiliencePolicies.load(resilience) if resilience else NO_POLICIES,
            body_capture=body_capture(self._vault, workspace, BodyLogging.parse(bodies)),
            alert_downgrade=limits.downgrade_model if downgraded is not None else None,
        )

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
