"""``keyroute.workspace_state.WorkspaceDirectory`` over a ``MemoryStore`` and a real vault."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from keyroute.admission.policy import Budget, Limits, PlanQuota, RateLimit
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import AuthError, InvalidRequest
from keyroute.storage.base import ProviderKeyRecord
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key
from keyroute.workspace_state import ResponsePolicy, WorkspaceDirectory, WorkspaceState

pytestmark = pytest.mark.anyio
KEY = "sk-proj-0123456789abcdef"


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    async def list_provider_keys(self, workspace_id: str) -> list[ProviderKeyRecord]:
        self.loads += 1
        await anyio.lowlevel.checkpoint()  # a real read suspends: let other requests in
        return await super().list_provider_keys(workspace_id)


Setup = tuple[CountingStore, ControlPlane, WorkspaceDirectory]


@pytest.fixture
def setup() -> Setup:
    store = CountingStore()
    vault = KeyVault(store, MasterKeyring.from_env(new_master_key().hex()))
    return store, ControlPlane(store, vault), WorkspaceDirectory(store, vault)


async def test_state_holds_active_keys_and_aliases(setup: Setup) -> None:
    store, plane, directory = setup
    ws = await plane.create_workspace("w")
    demo = await plane.add_provider_key("w", "demo", "")
    gone = await plane.add_provider_key("w", "openai", KEY)
    await plane.revoke_provider_key("w", gone.id)
    await plane.set_alias("w", "fast", "demo/fast")
    state = await directory.get(ws.id)
    assert state.workspace == ws
    assert [k.id for k in state.provider_keys] == [demo.id]
    assert state.aliases == {"fast": "demo/fast"}


async def test_states_are_cached_until_the_revision_moves(setup: Setup) -> None:
    store, plane, directory = setup
    ws = await plane.create_workspace("w")
    first = await directory.get(ws.id)
    assert await directory.get(ws.id) is first
    assert store.loads == 1
    await plane.add_provider_key("w", "demo", "")
    second = await directory.get(ws.id)
    assert second is not first and len(second.provider_keys) == 1
    assert store.loads == 2


async def test_unknown_workspace(setup: Setup) -> None:
    _, _, directory = setup
    with pytest.raises(AuthError, match="no longer exists"):
        await directory.get("ws_missing")


async def test_secrets_are_decrypted_once_per_state(setup: Setup) -> None:
    _, plane, directory = setup
    ws = await plane.create_workspace("w")
    record = await plane.add_provider_key("w", "openai", KEY)
    keyless = await plane.add_provider_key("w", "demo", "")
    state = await directory.get(ws.id)
    secret = directory.secret(state, record)
    assert secret.reveal() == KEY and KEY not in repr(secret)
    assert directory.secret(state, record) is secret
    assert directory.secret(state, keyless).reveal() == ""
    assert not directory.secret(state, keyless)


async def test_deleted_workspace_is_refused_on_the_next_request(setup: Setup) -> None:
    _, plane, directory = setup
    ws = await plane.create_workspace("w")
    await directory.get(ws.id)
    await plane.delete_workspace("w")
    with pytest.raises(AuthError):
        await directory.get(ws.id)


async def test_a_change_to_one_workspace_keeps_the_others_and_their_secrets(
    setup: Setup,
) -> None:
    store, plane, directory = setup
    first = await plane.create_workspace("a")
    other = await plane.create_workspace("b")
    record = await plane.add_provider_key("a", "openai", KEY)
    state = await directory.get(first.id)
    secret = directory.secret(state, record)
    await directory.get(other.id)
    assert store.loads == 2
    await plane.set_alias("b", "fast", "demo/fast")
    assert await directory.get(first.id) is state
    assert directory.secret(state, record) is secret
    assert (await directory.get(other.id)).aliases == {"fast": "demo/fast"}
    assert store.loads == 3


async def test_concurrent_misses_share_one_load(setup: Setup) -> None:
    store, plane, directory = setup
    ws = await plane.create_workspace("w")
    states: list[WorkspaceState] = []

    async def get() -> None:
        states.append(await directory.get(ws.id))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(get)
    assert store.loads == 1
    assert all(s is states[0] for s in states)


async def test_the_response_policy_reloads_with_the_workspace(setup: Setup) -> None:
    _, plane, directory = setup
    ws = await plane.create_workspace("w")
    assert (await directory.get(ws.id)).responses == ResponsePolicy()
    assert await plane.response_storage("w") == ResponsePolicy()
    await plane.set_response_storage("w", store=False, retention_days=2.5)
    assert (await directory.get(ws.id)).responses == ResponsePolicy(store=False, retention_days=2.5)
    assert await plane.response_storage("w") == ResponsePolicy(store=False, retention_days=2.5)
    with pytest.raises(InvalidRequest):
        await plane.set_response_storage("w", store=True, retention_days=0)


async def test_limits_follow_the_governance_settings(setup: Setup) -> None:
    _, plane, directory = setup
    ws = await plane.create_workspace("w")
    key = await plane.create_api_key("w", "ci")
    state = await directory.get(ws.id)
    assert state.limits == Limits(plan=PlanQuota(name="free", monthly_requests=2_500))
    gov = plane.governance
    await gov.set_plan("w", "custom", quota="unlimited", timezone="Europe/Paris")
    await gov.set_rate_limit("w", "ci", requests_per_minute=60)
    await gov.set_budget("w", monthly="100", action="downgrade", downgrade_to="demo/fast")
    state = await directory.get(ws.id)  # every change moved the revision: reloaded
    assert state.limits == Limits(
        plan=PlanQuota(name="custom", monthly_requests=None),
        timezone="Europe/Paris",
        rate_limits=(RateLimit(scope="key", subject=key.record.id, requests_per_minute=60),),
        budgets=(Budget(monthly_pico=100 * 10**12, action="downgrade", downgrade_to="demo/fast"),),
    )
    await gov.clear_budget("w")
    assert (await directory.get(ws.id)).limits.budgets == ()
