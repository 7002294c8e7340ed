"""``keyroute.control.governance.Governance``: plans, rate limits and budgets through the
control plane, over a ``MemoryStore``; every change an admin event with old and new values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.audit.entries import AdminEvent
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import GatewayError, InvalidRequest, NotFound
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 3, 12, tzinfo=UTC)
USD = 10**12


class Events:
    def __init__(self) -> None:
        self.events: list[AdminEvent] = []

    def log_event(self, event: AdminEvent) -> None:
        self.events.append(event)


@pytest.fixture
async def setup() -> tuple[ControlPlane, Events]:
    store = MemoryStore()
    events = Events()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    plane = ControlPlane(store, KeyVault(store, keyring), clock=lambda: T0, events=events)
    await plane.create_workspace("w")
    await plane.create_api_key("w", "ci")
    await plane.set_alias("w", "cheap", "openai/gpt-4o-mini")
    return plane, events


async def refused(
    coro: object, param: str, words: str, cls: type[GatewayError] = InvalidRequest
) -> None:
    with pytest.raises(cls) as info:
        await coro  # type: ignore[misc]
    assert info.value.param == param, info.value.message
    assert words in info.value.message


async def test_plans(setup: tuple[ControlPlane, Events]) -> None:
    plane, events = setup
    gov = plane.governance
    first = await gov.plan("w")
    assert (first.plan, first.monthly_requests, first.timezone) == ("free", 2_500, "UTC")
    state = await gov.set_plan("w", "custom", quota="250000", timezone="Europe/Paris")
    assert (state.plan, state.monthly_requests, state.timezone) == (
        "custom",
        250_000,
        "Europe/Paris",
    )
    assert (await plane.workspace("w")).plan == "custom"
    kept = await gov.set_plan("w", "custom", timezone="UTC")  # quota kept while custom
    assert (kept.monthly_requests, kept.timezone) == (250_000, "UTC")
    unlimited = await gov.set_plan("w", "custom", quota="unlimited")
    assert unlimited.monthly_requests is None
    named = await gov.set_plan("w", "scale")
    assert (named.plan, named.monthly_requests, named.timezone) == ("scale", 500_000, "UTC")
    last = events.events[-1]
    assert (last.action, last.target) == ("plan.set", (await plane.workspace("w")).id)
    assert last.old == {"plan": "custom", "monthly_requests": None, "timezone": "UTC"}
    assert last.new == {"plan": "scale", "monthly_requests": 500_000, "timezone": "UTC"}


async def test_plan_errors(setup: tuple[ControlPlane, Events]) -> None:
    gov = setup[0].governance
    await refused(gov.set_plan("w", "platinum"), "plan", "Plans: free, build")
    await refused(gov.set_plan("w", "build", quota="5"), "quota", "fixed quota of 100,000")
    await refused(gov.set_plan("w", "custom"), "quota", "--quota unlimited")
    await refused(gov.set_plan("w", "custom", quota="-3"), "quota", "whole number")
    await refused(gov.set_plan("w", "free", timezone="Moon/Base"), "timezone", "Unknown time zone")
    await refused(gov.set_plan("nope", "free"), "workspace", "No workspace", NotFound)
    assert (await gov.plan("w")).plan == "free"  # nothing changed


async def test_rate_limits(setup: tuple[ControlPlane, Events]) -> None:
    plane, events = setup
    gov = plane.governance
    key = (await plane.list_api_keys("w"))[0]
    mine = await gov.set_rate_limit("w", requests_per_minute="600")
    assert (mine.api_key_id, mine.requests_per_minute, mine.tokens_per_minute) == ("", 600, None)
    await gov.set_rate_limit("w", "ci", tokens_per_minute=10_000)
    merged = await gov.set_rate_limit("w", key.id, requests_per_minute=5)  # by id, merged
    assert (merged.requests_per_minute, merged.tokens_per_minute) == (5, 10_000)
    assert events.events[-1].old == {"requests_per_minute": None, "tokens_per_minute": 10_000}
    assert events.events[-1].target == f"key:{key.id}"
    _, found = await gov.rate_limits("w")
    assert [r.api_key_id for r in found] == ["", key.id]
    _, only = await gov.rate_limits("w", "ci")
    assert [r.api_key_id for r in only] == [key.id]
    lifted = await gov.set_rate_limit("w", "ci", tokens_per_minute="none")
    assert lifted.tokens_per_minute is None
    await refused(
        gov.set_rate_limit("w", "ci", requests_per_minute=None), "requests_per_minute", "no limit"
    )
    cleared = await gov.clear_rate_limit("w", "ci")
    assert cleared.requests_per_minute == 5
    assert events.events[-1].action == "ratelimit.clear"
    await refused(gov.clear_rate_limit("w", "ci"), "key", "No rate limit", NotFound)
    await gov.clear_rate_limit("w")
    await refused(gov.clear_rate_limit("w"), "workspace", "No rate limit", NotFound)


async def test_rate_limit_errors(setup: tuple[ControlPlane, Events]) -> None:
    plane = setup[0]
    gov = plane.governance
    await refused(gov.set_rate_limit("w"), "requests_per_minute", "--rpm")
    await refused(gov.set_rate_limit("w", requests_per_minute=0), "requests_per_minute", "from 1")
    await refused(gov.set_rate_limit("w", tokens_per_minute="-5"), "tokens_per_minute", "from 1")
    await refused(
        gov.set_rate_limit("w", "nokey", requests_per_minute=1), "key", "No gateway key", NotFound
    )
    key = (await plane.list_api_keys("w"))[0]
    await plane.revoke_api_key("w", key.id)
    await refused(gov.set_rate_limit("w", key.id, requests_per_minute=1), "key", "revoked")
    await refused(  # a revoked key is not found by its name any more
        gov.set_rate_limit("w", "ci", requests_per_minute=1), "key", "No gateway key", NotFound
    )


async def test_budgets(setup: tuple[ControlPlane, Events]) -> None:
    plane, events = setup
    gov = plane.governance
    mine = await gov.set_budget("w", daily="10", monthly="200")
    assert (mine.scope, mine.subject, mine.daily_pico, mine.monthly_pico) == (
        "workspace",
        "",
        10 * USD,
        200 * USD,
    )
    assert (mine.action, mine.downgrade_to, mine.thresholds) == ("block", None, (50, 80, 100))
    assert events.events[-1].new == {
        "daily_pico": 10 * USD,
        "monthly_pico": 200 * USD,
        "action": "block",
        "downgrade_to": None,
        "thresholds": "50,80,100",
    }
    merged = await gov.set_budget("w", monthly="300", action="downgrade", downgrade_to="cheap")
    assert (merged.daily_pico, merged.monthly_pico, merged.downgrade_to) == (
        10 * USD,
        300 * USD,
        "cheap",
    )
    no_daily = await gov.set_budget("w", daily="none", thresholds="75,100")
    assert (no_daily.daily_pico, no_daily.action, no_daily.thresholds) == (
        None,
        "downgrade",
        (75, 100),
    )
    await gov.set_budget("w", "ci", monthly="5", action="downgrade", downgrade_to="openai/gpt-4o")
    await gov.set_budget("w", user="alice@example.com", daily="0.25")
    _, every = await gov.budgets("w")
    assert [(b.scope, b.action) for b in every] == [
        ("workspace", "downgrade"),
        ("key", "downgrade"),
        ("user", "block"),
    ]
    _, alice = await gov.budgets("w", user="alice@example.com")
    assert [b.daily_pico for b in alice] == [USD // 4]
    blocked = await gov.set_budget("w", action="block")
    assert blocked.downgrade_to is None
    cleared = await gov.clear_budget("w", user="alice@example.com")
    assert cleared.subject == "alice@example.com"
    assert events.events[-1].action == "budget.clear"
    await refused(gov.clear_budget("w", user="alice@example.com"), "user", "No budget", NotFound)
    await gov.clear_budget("w")
    await refused(gov.clear_budget("w"), "workspace", "No budget", NotFound)
    await refused(gov.clear_budget("w", "nokey"), "key", "No gateway key", NotFound)


async def test_budget_errors(setup: tuple[ControlPlane, Events]) -> None:
    gov = setup[0].governance
    await refused(gov.set_budget("w"), "daily", "daily cap, a monthly cap or both")
    await refused(gov.set_budget("w", daily="-1"), "daily", "negative")
    await refused(gov.set_budget("w", daily="20", monthly="10"), "daily", "could never apply")
    await refused(gov.set_budget("w", monthly="1", action="stop"), "action", "block or downgrade")
    await refused(
        gov.set_budget("w", monthly="1", action="downgrade"), "downgrade_to", "--downgrade-to"
    )
    await refused(
        gov.set_budget("w", monthly="1", downgrade_to="cheap"), "downgrade_to", "--action downgrade"
    )
    await refused(
        gov.set_budget("w", monthly="1", action="downgrade", downgrade_to="acme/unknown-9"),
        "downgrade_to",
        "Unknown model",
    )
    await refused(
        gov.set_budget("w", monthly="1", action="downgrade", downgrade_to="../etc"),
        "downgrade_to",
        "",
    )
    await refused(gov.set_budget("w", "ci", "bob", monthly="1"), "user", "not both")
    await refused(gov.set_budget("w", user="", monthly="1"), "user", "1 to 256")
    await refused(gov.set_budget("w", monthly="1", thresholds="80,50"), "thresholds", "increasing")
    assert (await gov.budgets("w"))[1] == []


async def test_a_model_the_workspace_prices_can_be_the_downgrade(
    setup: tuple[ControlPlane, Events],
) -> None:
    plane = setup[0]
    await plane.set_prices(
        "w", provider="openai", model="my-finetune", prices={"input": "1", "output": "2"}
    )
    record = await plane.governance.set_budget(
        "w", monthly="1", action="downgrade", downgrade_to="openai/my-finetune"
    )
    assert record.downgrade_to == "openai/my-finetune"
