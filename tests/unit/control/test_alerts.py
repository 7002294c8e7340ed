"""``AlertAdmin`` over a ``MemoryStore``, a real ``KeyVault`` and a real local receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keyroute.admission.policy import Budget as PolicyBudget
from keyroute.admission.policy import Limits
from keyroute.alerts.delivery import Deliverer
from keyroute.alerts.rules import RuleInput
from keyroute.alerts.sources import Budget
from keyroute.control.alerts import AlertAdmin, WorkspaceBudgets, channel_view, rule_view
from keyroute.control.base_url import BaseUrlPolicy
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import Conflict, InvalidRequest, KeyPaused, NotFound
from keyroute.notifiers.webhook import HttpNotifier
from keyroute.principals import PrincipalCache
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key
from tests.fakes.alert_receivers import WebhookReceiver
from tests.fakes.server import serve

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


@pytest.fixture
async def admin() -> AsyncIterator[AlertAdmin]:
    store = MemoryStore()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    plane = ControlPlane(
        store, KeyVault(store, keyring), clock=lambda: T0, base_urls=BaseUrlPolicy()
    )
    await plane.create_workspace("acme")
    notifier = HttpNotifier(timeout=5)
    tester = Deliverer(
        {"webhook": notifier, "slack": notifier},
        store.alerts.append_alert_events,
        clock=lambda: T0,
        attempts=1,
    )
    yield AlertAdmin(plane, tester, clock=lambda: T0)
    await notifier.close()


async def test_webhook_channel_secret_is_sealed_and_generated_when_not_given(
    admin: AlertAdmin,
) -> None:
    added = await admin.add_channel("acme", "ops", webhook="https://hooks.example.com/x")
    assert added.secret is not None and added.secret.startswith("whsec_")
    record = added.record
    assert added.secret.encode() not in (record.secret_ciphertext or b"")
    channel = await admin.open_channel(record.workspace_id, record.id)
    assert channel is not None and channel.secret is not None
    assert channel.secret.reveal() == added.secret
    assert "secret" not in channel_view(record) and channel_view(record)["signed"] is True
    given = await admin.add_channel(
        "acme", "ops2", webhook="https://h.example.com/", secret="x" * 20
    )
    assert given.secret is None
    with pytest.raises(Conflict):
        await admin.add_channel("acme", "ops", email="a@example.com")


async def test_slack_url_is_kept_secret(admin: AlertAdmin) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    added = await admin.add_channel("acme", "slack", slack=url)
    assert added.record.target == "https://hooks.slack.com/services/..."
    channel = await admin.open_channel(added.record.workspace_id, added.record.id)
    assert channel is not None and channel.secret is not None and channel.secret.reveal() == url


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "webhook"),
        ({"webhook": "https://a.example.com", "email": "a@example.com"}, "webhook"),
        ({"webhook": "http://169.254.169.254/latest"}, "base_url"),
        ({"webhook": "https://a.example.com", "secret": "short"}, "secret"),
        ({"email": "a@example.com", "secret": "x" * 20}, "secret"),
        ({"email": "not an address"}, "email"),
        ({"email": "a@example.com\r\nBcc: evil@example.com"}, "email"),
        ({"slack": "http://hooks.slack.example.com/x"}, "slack"),
    ],
)
async def test_bad_channels_name_the_field(
    admin: AlertAdmin, fields: dict[str, str], param: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await admin.add_channel("acme", "c", **fields)
    assert caught.value.param == param


async def test_rules_need_a_channel_and_valid_settings(admin: AlertAdmin) -> None:
    await admin.add_channel("acme", "ops", email="oncall@example.com")
    with pytest.raises(NotFound) as missing:
        await admin.add_rule("acme", "r", "nope", RuleInput(kind="projection"))
    assert missing.value.param == "channel"
    with pytest.raises(InvalidRequest) as bad:
        await admin.add_rule("acme", "r", "ops", RuleInput(kind="burn_rate", value="x"))
    assert bad.value.param == "burn-rate"
    with pytest.raises(InvalidRequest) as bad_name:
        await admin.add_rule("acme", "a rule", "ops", RuleInput(kind="projection"))
    assert bad_name.value.param == "name"
    record = await admin.add_rule("acme", "r", "ops", RuleInput(kind="burn_rate", value="100"))
    ((listed, channel, state),) = await admin.list_rules("acme")
    assert (listed, channel, state) == (record, "ops", None)
    view = rule_view(listed, channel, state)
    assert view["state"] == "ok" and view["description"] == "spend above $100.00/hour over 1h"
    with pytest.raises(Conflict):
        await admin.remove_channel("acme", "ops")
    await admin.remove_rule("acme", "r")
    await admin.remove_channel("acme", "ops")
    with pytest.raises(NotFound):
        await admin.remove_rule("acme", "r")


async def test_test_delivers_once_and_history_tells(admin: AlertAdmin) -> None:
    receiver = WebhookReceiver()
    with serve(receiver.app) as url:
        await admin.add_channel("acme", "ops", webhook=url + "/hook", secret="s" * 32)
        await admin.add_rule("acme", "r", "ops", RuleInput(kind="burn_rate", value="100"))
        ok = await admin.test("acme", "r")
        receiver.status = 500
        failed = await admin.test("acme", "r")
    assert ok["delivered"] is True and failed["delivered"] is False
    assert str(failed["error"]).startswith("HTTP 500")
    assert json.loads(receiver.bodies()[0])["state"] == "firing"
    assert json.loads(receiver.bodies()[0])["event"] == "test"
    history = await admin.history("acme")
    assert [(e.kind, e.outcome) for e in history] == [
        ("test", "test"),
        ("delivery", "delivered"),
        ("test", "test"),
        ("delivery", "gave-up"),
    ]
    assert len(await admin.history("acme", since="1d", limit=2)) == 2
    with pytest.raises(InvalidRequest):
        await admin.history("acme", since="yesterday")


async def test_pause_action_is_audited_and_refuses_the_key(admin: AlertAdmin) -> None:
    plane = admin._control
    created = await plane.create_api_key("acme", "agent")
    principals = PrincipalCache(plane.store)
    await principals.authenticate(created.key)
    ws = await plane.workspace("acme")
    result = await admin.pause_key(ws.id, created.record.id, "rule runaway")
    assert "paused" in result
    with pytest.raises(KeyPaused, match="is paused"):
        await principals.authenticate(created.key)
    with pytest.raises(NotFound):
        await plane.pause_api_key("acme", created.record.id)  # already paused
    await plane.resume_api_key("acme", created.record.id)
    assert (await principals.authenticate(created.key)).api_key_id == created.record.id
    assert "no budget downgrade model" in await admin.downgrade(ws.id, "rule")


async def test_workspace_budgets_are_the_workspace_caps_in_its_zone() -> None:
    limits = Limits(
        timezone="Asia/Tokyo",
        budgets=(
            PolicyBudget(daily_pico=10 * 10**12, monthly_pico=200 * 10**12),
            PolicyBudget(scope="key", subject="k1", daily_pico=10**12),
        ),
    )

    async def of(workspace_id: str) -> Limits:
        return limits

    assert await WorkspaceBudgets(of).budgets("w") == [
        Budget(period="day", limit_usd=Decimal(10), timezone="Asia/Tokyo"),
        Budget(period="month", limit_usd=Decimal(200), timezone="Asia/Tokyo"),
    ]


async def test_downgrade_names_the_budget_model() -> None:
    from keyroute.control.alerts import budget_downgrade

    limits = Limits(
        budgets=(
            PolicyBudget(
                monthly_pico=10**12, action="downgrade", downgrade_to="openai/gpt-4o-mini"
            ),
        )
    )

    async def of(workspace_id: str) -> Limits:
        return limits

    said = await budget_downgrade(of)("w", "rule")
    assert said.startswith("requests switch to openai/gpt-4o-mini when the workspace budget's cap")

    async def none(workspace_id: str) -> Limits:
        return Limits()

    assert "no budget downgrade model" in await budget_downgrade(none)("w", "rule")
