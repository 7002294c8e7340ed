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
from keyroute.audit.entries import AdminEvent
from keyroute.control.alerts import AlertAdmin, WorkspaceBudgets, channel_view, rule_view
from keyroute.control.base_url import BaseUrlPolicy
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import Conflict, InvalidRequest, KeyPaused, NotFound
from keyroute.notifiers.webhook import HttpNotifier
from keyroute.principals import PrincipalCache
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key
from keyroute.workspace_state import WorkspaceDirectory
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
        ({"webhook": "http://169.254.169.254/latest"}, "webhook"),
        ({"webhook": "not a url"}, "webhook"),
        ({"webhook": ""}, "webhook"),
        ({"slack": "ftp://hooks.slack.example.com/x"}, "slack"),
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
    assert bad.value.param == "burn_rate"
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
    assert "no budget downgrade model" in await admin.downgrade(ws.id, "r", "rule")


async def test_budgets_are_the_workspace_key_and_user_caps_in_its_zone() -> None:
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
        Budget(
            period="day", limit_usd=Decimal(1), timezone="Asia/Tokyo", scope="key", subject="k1"
        ),
    ]


async def test_downgrade_switches_the_workspace_until_resumed() -> None:
    store = MemoryStore()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    events: list[AdminEvent] = []

    class Sink:
        def log_event(self, event: AdminEvent) -> None:
            events.append(event)

    vault = KeyVault(store, keyring)
    plane = ControlPlane(store, vault, clock=lambda: T0, events=Sink())
    ws = await plane.create_workspace("acme")
    directory = WorkspaceDirectory(store, vault)

    async def limits(workspace_id: str) -> Limits:
        return (await directory.get(workspace_id)).limits

    notifier = HttpNotifier(timeout=5)
    admin = AlertAdmin(
        plane,
        Deliverer({"webhook": notifier}, store.alerts.append_alert_events, clock=lambda: T0),
        clock=lambda: T0,
        limits=limits,
    )
    said = await admin.downgrade(ws.id, "runaway", "alert rule runaway: spend above $100.00/hour")
    assert said.startswith("no budget downgrade model is configured for this workspace")
    assert "keyroute budget set --workspace acme" in said and said.endswith("nothing switched")
    assert (await directory.get(ws.id)).alert_downgrade is None and events[-1].action != (
        "workspace.alert_downgrade"
    )
    await plane.governance.set_budget(
        "acme", monthly="100", action="downgrade", downgrade_to="openai/gpt-4o-mini"
    )
    said = await admin.downgrade(ws.id, "runaway", "alert rule runaway: spend above $100.00/hour")
    assert said == (
        "switched the workspace's chat requests to openai/gpt-4o-mini "
        "(undo: keyroute alerts resume --workspace acme)"
    )
    assert (await directory.get(ws.id)).alert_downgrade == "openai/gpt-4o-mini"
    audited = events[-1]
    assert (audited.action, audited.actor, audited.target) == (
        "workspace.alert_downgrade",
        "alerts",
        ws.id,
    )
    assert audited.new is not None and audited.new["rule"] == "runaway"
    again = await admin.downgrade(ws.id, "other", "alert rule other: x")
    assert again.startswith("already switched to openai/gpt-4o-mini since 2026-12-03T03:00:00Z")
    in_force = await admin.downgrade_in_force(ws.id)
    assert in_force is not None and (in_force.rule, in_force.since) == ("runaway", T0)
    ended = await admin.resume("acme")
    assert ended.model == "openai/gpt-4o-mini"
    assert (await directory.get(ws.id)).alert_downgrade is None
    assert events[-1].action == "workspace.alert_downgrade_end"
    with pytest.raises(NotFound) as none:
        await admin.resume("acme")
    assert none.value.param == "workspace"
    await notifier.close()


async def test_budget_rules_name_a_key_by_name_or_id_or_an_end_user(admin: AlertAdmin) -> None:
    plane = admin._control
    created = await plane.create_api_key("acme", "agent")
    await admin.add_channel("acme", "ops", email="oncall@example.com")
    by_name = await admin.add_rule(
        "acme", "k", "ops", RuleInput(kind="budget_threshold", value="80", key="agent")
    )
    assert by_name.params["scope"] == "key" and by_name.params["subject"] == created.record.id
    by_user = await admin.add_rule("acme", "u", "ops", RuleInput(kind="projection", user="bob"))
    assert (by_user.params["scope"], by_user.params["subject"]) == ("user", "bob")
    with pytest.raises(NotFound) as unknown:
        await admin.add_rule(
            "acme", "x", "ops", RuleInput(kind="budget_threshold", value="80", key="nope")
        )
    assert unknown.value.param == "key"
    with pytest.raises(InvalidRequest) as bad_tag:
        await admin.add_rule("acme", "x", "ops", RuleInput(kind="projection", user="a\nb"))
    assert bad_tag.value.param == "user"
    with pytest.raises(InvalidRequest) as not_budget:
        await admin.add_rule(
            "acme", "x", "ops", RuleInput(kind="burn_rate", value="5", key="agent")
        )
    assert not_budget.value.param == "key"
