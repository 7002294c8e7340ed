"""A memory store with one workspace, an injected clock, and an evaluator whose notifier,
actions and budgets are recording fakes at the package's seams (its constructor arguments)."""

from __future__ import annotations

import itertools
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from keyroute.alerts.delivery import Channel, Deliverer, DeliveryFailed
from keyroute.alerts.engine import AlertEngine, EngineSettings
from keyroute.alerts.messages import Alert
from keyroute.alerts.rules import RuleInput
from keyroute.alerts.sources import Budget
from keyroute.alerts.velocity import VelocityBoard
from keyroute.core.alert_store import AlertChannelRecord, AlertRuleRecord
from keyroute.storage.base import ApiKeyRecord, UsageRow, WorkspaceRecord
from keyroute.storage.memory import MemoryStore

USD = 10**12
_ids = itertools.count()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class RecordingNotifier:
    sent: list[Alert] = field(default_factory=list)
    failures: int = 0  # how many sends fail before one succeeds

    async def send(self, channel: Channel, alert: Alert) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryFailed("HTTP 503: try later")
        self.sent.append(alert)


@dataclass
class Fixed:
    """Channels, budgets and actions, recorded."""

    budgets_: list[Budget] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    downgraded: list[str] = field(default_factory=list)

    async def open_channel(self, workspace_id: str, channel_id: str) -> Channel | None:
        return Channel(id=channel_id, name="ops", kind="webhook", target="https://x.test/")

    async def budgets(self, workspace_id: str) -> list[Budget]:
        return self.budgets_

    async def pause_key(self, workspace_id: str, key_id: str, reason: str) -> str:
        self.paused.append(key_id)
        return f"paused {key_id}"

    async def downgrade(self, workspace_id: str, rule: str, reason: str) -> str:
        self.downgraded.append(workspace_id)
        return "downgraded"


class Harness:
    def __init__(self, now: datetime, *, bucket_seconds: int = 60) -> None:
        self.clock = Clock(now)
        self.store = MemoryStore()
        self.notifier = RecordingNotifier()
        self.fixed = Fixed()
        self.pending: list[Coroutine[Any, Any, Any]] = []
        self.delays: list[float] = []

        async def sleep(seconds: float) -> None:
            self.delays.append(seconds)

        self.engine = AlertEngine(
            store=self.store,
            board=VelocityBoard(bucket_seconds=bucket_seconds),
            deliverer=Deliverer(
                {"webhook": self.notifier},
                self.store.alerts.append_alert_events,
                clock=self.clock,
                attempts=3,
                sleep=sleep,
            ),
            channels=self.fixed,
            actions=self.fixed,
            budgets=self.fixed,
            clock=self.clock,
            holder="test",
            settings=EngineSettings(),
            spawn=self.pending.append,
        )

    async def setup(self) -> None:
        t = self.clock.now - timedelta(days=30)
        await self.store.create_workspace(
            WorkspaceRecord(
                id="w1",
                name="acme",
                plan="free",
                created_at=t,
                wrapped_data_key=b"",
                master_key_id="",
            )
        )
        for key, name in (("k1", "agent"), ("k2", "batch")):
            await self.store.create_api_key(
                ApiKeyRecord(
                    id=key, workspace_id="w1", name=name, prefix="kr-x", key_hash=key, created_at=t
                )
            )
        await self.store.alerts.add_alert_channel(
            AlertChannelRecord(
                id="c1",
                workspace_id="w1",
                name="ops",
                kind="webhook",
                target="https://x.test/",
                created_at=t,
            )
        )

    async def rule(self, name: str, spec: RuleInput) -> None:
        await self.store.alerts.add_alert_rule(
            AlertRuleRecord(
                id=f"r_{name}",
                workspace_id="w1",
                name=name,
                channel_id="c1",
                kind=spec.kind,
                params=spec.settings(),
                cooldown_seconds=spec.cooldown_seconds(),
                action=spec.checked_action(),
                created_at=self.clock.now,
            )
        )

    async def spend(
        self,
        usd: float,
        *,
        at: datetime | None = None,
        key: str = "k1",
        status: int = 200,
        user: str | None = None,
    ) -> None:
        number = next(_ids)
        await self.store.usage.append(
            [
                UsageRow(
                    id=f"u{number}",
                    request_id=f"q{number}",
                    workspace_id="w1",
                    time=at or self.clock.now,
                    api_key_id=key,
                    end_user=user,
                    endpoint="/v1/chat/completions",
                    inbound_format="openai",
                    served_model="openai/gpt-4o",
                    status=status,
                    paid_pico=int(Decimal(str(usd)) * USD),
                    list_pico=int(Decimal(str(usd)) * USD),
                )
            ]
        )

    async def evaluate(self) -> list[Alert]:
        sent = await self.engine.evaluate()
        while self.pending:
            await self.pending.pop(0)
        return sent


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
