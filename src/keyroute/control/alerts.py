"""``AlertAdmin``: alert channels, rules, tests and history, for the CLI and the admin API.

It is also what the evaluator reaches the rest of keyroute through: ``open_channel`` opens a
channel's secret with the vault, ``pause_key`` and ``downgrade`` act through the control plane
(audited, as actor ``alerts``). ``downgrade`` stores an ``AlertDowngrade`` workspace setting
(a configuration change, so every worker's next request sees it): until ``resume``, the
workspace budget's downgrade model serves every chat request.

Invariants: a channel's secret (a webhook signing secret, a Slack webhook URL) is sealed with
the workspace's data key before it is stored and never shown again; a webhook URL passes the
same ``BaseUrlPolicy`` as a provider base URL; an email address is one bare address (no
display name, no header-breaking characters).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keyroute.admission.policy import Limits
from keyroute.alerts.delivery import Channel, Deliverer, event_id
from keyroute.alerts.durations import parse_duration
from keyroute.alerts.messages import Alert, Spender
from keyroute.alerts.rules import RuleError, RuleInput, rule_from_record, rule_input
from keyroute.alerts.sources import Budget
from keyroute.control.audit_log import Actor, acting_as
from keyroute.control.plane import ControlPlane
from keyroute.core.alert_store import (
    ALERT_DOWNGRADE_SETTING,
    AlertChannelKind,
    AlertChannelRecord,
    AlertDowngrade,
    AlertEventRecord,
    AlertRuleRecord,
    AlertStateRecord,
)
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.storage.base import UsageQuery, workspace_setting_key

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
)
ALERTS_ACTOR = Actor("alerts")
LimitsOf = Callable[[str], Awaitable[Limits]]
_PICO = Decimal(10**12)
_UNITS = {
    "burn_rate": "usd_per_hour",
    "anomaly": "x_baseline",
    "budget_threshold": "percent",
    "projection": "usd",
    "error_rate": "percent",
    "request_rate": "requests_per_hour",
}


class WorkspaceBudgets:
    """The ``BudgetSource`` of the evaluator: a workspace's budgets (``keyroute budget``: the
    workspace's own daily and monthly caps, and those of its gateway keys and end users), read
    from its cached ``Limits``, in the workspace's time zone."""

    def __init__(self, limits: LimitsOf) -> None:
        self._limits = limits

    async def budgets(self, workspace_id: str) -> list[Budget]:
        limits = await self._limits(workspace_id)
        found = []
        for budget in limits.budgets:
            for period, cap in (("day", budget.daily_pico), ("month", budget.monthly_pico)):
                if cap:
                    found.append(
                        Budget(
                            period=period,  # type: ignore[arg-type]
                            limit_usd=Decimal(cap) / _PICO,
                            timezone=limits.timezone,
                            scope=budget.scope,
                            subject=budget.subject,
                        )
                    )
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class AddedChannel:
    record: AlertChannelRecord
    secret: str | None  # a generated signing secret, shown once


def rule_spec(fields: Mapping[str, str | bool | None]) -> RuleInput:
    """The rule of CLI options or admin API fields (``alerts.rules.rule_input``); a wrong one is
    an ``InvalidRequest`` naming the field."""
    try:
        return rule_input(fields)
    except RuleError as exc:
        raise InvalidRequest(str(exc), param=exc.param) from None


def _name(value: str, what: str, param: str) -> str:
    if not _NAME.match(value or ""):
        raise InvalidRequest(
            f"{what} {value!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit.",
            param=param,
        )
    return value


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def slack_display(url: str) -> str:
    """A Slack webhook URL as shown: its host and the first path part only."""
    head, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    first = path.split("/")[0] if path else ""
    return f"{head}://{host}/{first}/..." if first else f"{head}://{host}/..."


class AlertAdmin:
    def __init__(
        self,
        control: ControlPlane,
        tester: Deliverer,
        *,
        clock: Callable[[], datetime] | None = None,
        limits: LimitsOf | None = None,
    ) -> None:
        self._control = control
        self._store = control.store
        self._alerts = control.store.alerts
        self._tester = tester
        self._clock = clock or (lambda: datetime.now(UTC))
        self._limits = limits

    # Channels
    async def add_channel(
        self,
        workspace: str,
        name: str,
        *,
        webhook: str | None = None,
        slack: str | None = None,
        email: str | None = None,
        secret: str | None = None,
    ) -> AddedChannel:
        ws = await self._control.workspace(workspace)
        _name(name, "channel name", "name")
        options = (("webhook", webhook), ("slack", slack), ("email", email))
        given = [k for k, v in options if v is not None]
        if len(given) != 1:
            raise InvalidRequest(
                "Give exactly one of --webhook URL, --slack URL or --email ADDRESS.",
                param="webhook",
            )
        kind: AlertChannelKind = given[0]  # type: ignore[assignment]
        if secret is not None and kind != "webhook":
            raise InvalidRequest(
                "A signing secret (--secret-stdin) is for --webhook channels only.",
                param="secret",
            )
        generated = None
        if kind == "webhook":
            target = self._url(webhook or "", "webhook")
            if secret is None:
                secret = generated = "whsec_" + secrets.token_urlsafe(32)
            elif not 16 <= len(secret.strip()) <= 512:
                raise InvalidRequest(
                    "A webhook signing secret (--secret-stdin) is 16 to 512 characters.",
                    param="secret",
                )
            secret = secret.strip()
        elif kind == "slack":
            checked = self._url(slack or "", "slack")
            if not checked.startswith("https://"):
                raise InvalidRequest("A --slack webhook URL is https://.", param="slack")
            target, secret = slack_display(checked), checked
        else:
            target = (email or "").strip()
            if not _EMAIL.match(target) or len(target) > 254:
                raise InvalidRequest(f"--email {email!r} is not an email address.", param="email")
        channel_id = _new_id("ch")
        nonce = ciphertext = None
        if secret is not None:
            nonce, ciphertext = self._control.vault.seal_channel_secret(
                ws, channel_id, kind, secret
            )
        record = AlertChannelRecord(
            id=channel_id,
            workspace_id=ws.id,
            name=name,
            kind=kind,
            target=target,
            created_at=self._clock(),
            secret_nonce=nonce,
            secret_ciphertext=ciphertext,
        )
        await self._alerts.add_alert_channel(record)
        self._control.audit.emit(
            "alert_channel.add", ws.id, target=channel_id, new=channel_view(record)
        )
        return AddedChannel(record=record, secret=generated)

    def _url(self, url: str, param: str) -> str:
        """``url`` as the ``BaseUrlPolicy`` allows it; its refusal names the field."""
        try:
            return self._control.base_urls.check(url)
        except InvalidRequest as exc:
            message = exc.message.replace("Invalid base URL", f"Invalid --{param} URL", 1)
            raise InvalidRequest(message, param=param) from None

    async def list_channels(self, workspace: str) -> list[AlertChannelRecord]:
        ws = await self._control.workspace(workspace)
        return await self._alerts.list_alert_channels(ws.id)

    async def remove_channel(self, workspace: str, name: str) -> None:
        ws = await self._control.workspace(workspace)
        if not await self._alerts.delete_alert_channel(ws.id, name):
            raise NotFound(f"No alert channel '{name}' in workspace '{ws.name}'.", param="name")
        self._control.audit.emit("alert_channel.remove", ws.id, target=name)

    # Rules
    async def add_rule(
        self, workspace: str, name: str, channel: str, spec: RuleInput
    ) -> AlertRuleRecord:
        ws = await self._control.workspace(workspace)
        _name(name, "rule name", "name")
        found = {c.name: c for c in await self._alerts.list_alert_channels(ws.id)}
        if channel not in found:
            raise NotFound(
                f"No alert channel '{channel}' in workspace '{ws.name}'.", param="channel"
            )
        budget_rule = spec.kind in ("budget_threshold", "projection")
        if budget_rule and (spec.key is not None or spec.user is not None):
            whom = await self._control.governance.subject(ws, spec.key, spec.user)
            spec = replace(
                spec,
                key=whom.subject if whom.scope == "key" else None,
                user=whom.subject if whom.scope == "user" else None,
            )
        try:
            params = spec.settings()
            cooldown = spec.cooldown_seconds()
            action = spec.checked_action()
        except RuleError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None
        record = AlertRuleRecord(
            id=_new_id("ar"),
            workspace_id=ws.id,
            name=name,
            channel_id=found[channel].id,
            kind=spec.kind,
            params=params,
            cooldown_seconds=cooldown,
            action=action,
            created_at=self._clock(),
        )
        await self._alerts.add_alert_rule(record)
        self._control.audit.emit(
            "alert_rule.add", ws.id, target=record.id, new=rule_view(record, channel, None)
        )
        return record

    async def list_rules(
        self, workspace: str
    ) -> list[tuple[AlertRuleRecord, str, AlertStateRecord | None]]:
        ws = await self._control.workspace(workspace)
        names = {c.id: c.name for c in await self._alerts.list_alert_channels(ws.id)}
        states = await self._alerts.alert_states(ws.id)
        return [
            (r, names.get(r.channel_id, r.channel_id), states.get(r.id))
            for r in await self._alerts.list_alert_rules(ws.id)
        ]

    async def remove_rule(self, workspace: str, name: str) -> None:
        ws = await self._control.workspace(workspace)
        if not await self._alerts.delete_alert_rule(ws.id, name):
            raise NotFound(f"No alert rule '{name}' in workspace '{ws.name}'.", param="name")
        self._control.audit.emit("alert_rule.remove", ws.id, target=name)

    async def test(self, workspace: str, name: str) -> dict[str, object]:
        """Send a test notification of rule ``name`` through its channel, once, and say how
        it went (the attempt is in the history too)."""
        ws = await self._control.workspace(workspace)
        rules = {r.name: r for r in await self._alerts.list_alert_rules(ws.id)}
        if name not in rules:
            raise NotFound(f"No alert rule '{name}' in workspace '{ws.name}'.", param="name")
        rule = rule_from_record(rules[name])
        channel = await self.open_channel(ws.id, rule.channel_id)
        if channel is None:
            raise NotFound(f"The channel of rule '{name}' no longer exists.", param="name")
        now = self._clock()
        alert = Alert(
            id=f"al_test_{secrets.token_hex(6)}",
            rule=rule.name,
            rule_id=rule.id,
            kind=rule.kind,
            workspace=ws.name,
            workspace_id=ws.id,
            event="test",
            level=0,
            description=rule.describe(),
            value=Decimal(0),
            threshold=rule.threshold,
            unit=_UNITS[rule.kind],
            window="test",
            fired_at=now,
            sent_at=now,
            top_keys=await self._top_keys(ws.id, now),
            action=rule.action,
        )
        await self._alerts.append_alert_events(
            [
                AlertEventRecord(
                    id=event_id(now),
                    workspace_id=ws.id,
                    time=now,
                    rule=rule.name,
                    kind="test",
                    alert_id=alert.id,
                    outcome="test",
                    detail=json.dumps(alert.as_json(), sort_keys=True),
                )
            ]
        )
        delivered = await self._tester.deliver(channel, alert)
        last = (await self._alerts.list_alert_events(ws.id, since=now, limit=50))[-1:]
        error = json.loads(last[0].detail).get("error") if last and not delivered else None
        return {
            "rule": rule.name,
            "channel": channel.name,
            "alert_id": alert.id,
            "delivered": delivered,
            "error": error,
        }

    async def _top_keys(self, workspace_id: str, now: datetime) -> list[Spender]:
        groups = await self._store.usage.totals(
            UsageQuery(workspace_id=workspace_id, since=now - timedelta(hours=1), group_by=("key",))
        )
        names = {k.id: k.name for k in await self._store.list_api_keys(workspace_id)}
        ranked = sorted(groups, key=lambda g: -g.totals.paid_pico)[:3]
        return [
            Spender(
                id=str(g.key[0]) if g.key[0] else None,
                name=names.get(str(g.key[0])),
                spend_usd=Decimal(g.totals.paid_pico) / Decimal(10**12),
                requests=g.totals.requests,
            )
            for g in ranked
        ]

    async def history(
        self, workspace: str, *, since: str | None = None, limit: int = 200
    ) -> list[AlertEventRecord]:
        ws = await self._control.workspace(workspace)
        if not 1 <= limit <= 10_000:
            raise InvalidRequest("--limit is 1 to 10000.", param="limit")
        start = None
        if since:
            try:
                start = self._clock() - timedelta(seconds=parse_duration(since, what="since"))
            except ValueError:
                try:
                    start = datetime.fromisoformat(since)
                except ValueError:
                    raise InvalidRequest(
                        f"--since {since!r} is neither a duration (7d) nor an ISO time.",
                        param="since",
                    ) from None
                if start.tzinfo is None:
                    start = start.replace(tzinfo=UTC)
        return await self._alerts.list_alert_events(ws.id, since=start, limit=limit)

    # What the evaluator uses
    async def open_channel(self, workspace_id: str, channel_id: str) -> Channel | None:
        ws = await self._store.get_workspace(workspace_id)
        if ws is None:
            return None
        for record in await self._alerts.list_alert_channels(workspace_id):
            if record.id == channel_id:
                secret = None
                if record.secret_nonce is not None and record.secret_ciphertext is not None:
                    secret = self._control.vault.open_channel_secret(
                        ws, record.id, record.kind, record.secret_nonce, record.secret_ciphertext
                    )
                return Channel(
                    id=record.id,
                    name=record.name,
                    kind=record.kind,
                    target=record.target,
                    secret=secret,
                )
        return None

    async def pause_key(self, workspace_id: str, key_id: str, reason: str) -> str:
        with acting_as(ALERTS_ACTOR):
            await self._control.pause_api_key(workspace_id, key_id, reason)
        return f"paused gateway key {key_id} (undo: keyroute api-key resume)"

    async def downgrade(self, workspace_id: str, rule: str, reason: str) -> str:
        ws = await self._store.get_workspace(workspace_id)
        if ws is None:
            return "the workspace no longer exists: nothing switched"
        model = (await self._limits(workspace_id)).downgrade_model if self._limits else None
        if model is None:
            return (
                "no budget downgrade model is configured for this workspace (keyroute budget "
                f"set --workspace {ws.name} --monthly USD --action downgrade --downgrade-to "
                "MODEL): nothing switched"
            )
        undo = f"undo: keyroute alerts resume --workspace {ws.name}"
        current = await self.downgrade_in_force(ws.id)
        if current is not None:
            return f"already switched to {current.model} since {_time(current.since)} ({undo})"
        switched = AlertDowngrade(rule=rule, model=model, since=self._clock(), reason=reason)
        await self._store.set_workspace_setting(ws.id, ALERT_DOWNGRADE_SETTING, switched.dump())
        with acting_as(ALERTS_ACTOR):
            self._control.audit.emit(
                "workspace.alert_downgrade",
                ws.id,
                target=ws.id,
                new=downgrade_view(switched),
                details={"reason": reason},
            )
        return f"switched the workspace's chat requests to {model} ({undo})"

    async def downgrade_in_force(self, workspace_id: str) -> AlertDowngrade | None:
        key = workspace_setting_key(workspace_id, ALERT_DOWNGRADE_SETTING)
        return AlertDowngrade.parse(await self._store.get_setting(key))

    async def resume(self, workspace: str) -> AlertDowngrade:
        """End the alert downgrade in force: the workspace's requests are served by the models
        they name again (``NotFound`` when none is in force)."""
        ws = await self._control.workspace(workspace)
        current = await self.downgrade_in_force(ws.id)
        if current is None:
            raise NotFound(
                f"No alert downgrade is in force in workspace '{ws.name}'.", param="workspace"
            )
        await self._store.set_workspace_setting(ws.id, ALERT_DOWNGRADE_SETTING, "")
        self._control.audit.emit(
            "workspace.alert_downgrade_end", ws.id, target=ws.id, old=downgrade_view(current)
        )
        return current


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def downgrade_view(d: AlertDowngrade) -> dict[str, object]:
    return {"rule": d.rule, "model": d.model, "since": _time(d.since), "reason": d.reason}


def channel_view(c: AlertChannelRecord) -> dict[str, object]:
    return {
        "id": c.id,
        "workspace_id": c.workspace_id,
        "name": c.name,
        "kind": c.kind,
        "target": c.target,
        "signed": c.kind == "webhook" and c.secret_ciphertext is not None,
        "created_at": _time(c.created_at),
    }


def rule_view(
    r: AlertRuleRecord, channel: str, state: AlertStateRecord | None
) -> dict[str, object]:
    rule = rule_from_record(r)
    level = state.level if state else 0
    return {
        "id": r.id,
        "workspace_id": r.workspace_id,
        "name": r.name,
        "kind": r.kind,
        "channel": channel,
        "description": rule.describe(),
        "params": dict(r.params),
        "cooldown_seconds": r.cooldown_seconds,
        "action": r.action,
        "state": "firing" if level else "ok",
        "escalated": level >= 2,
        "firing_since": _time(state.since) if state and level else None,
        "last_notified_at": _time(state.notified_at) if state else None,
        "created_at": _time(r.created_at),
    }


def event_view(e: AlertEventRecord) -> dict[str, object]:
    try:
        detail = json.loads(e.detail) if e.detail else {}
    except ValueError:
        detail = {"text": e.detail}
    return {
        "id": e.id,
        "time": _time(e.time),
        "rule": e.rule,
        "kind": e.kind,
        "alert_id": e.alert_id,
        "channel": e.channel,
        "attempt": e.attempt,
        "outcome": e.outcome,
        "detail": detail,
    }
