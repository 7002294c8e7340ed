"""``AlertEngine``: the background evaluator.

Every ``interval`` seconds the worker holding the ``alerts-evaluator`` lease re-reads the recent
usage of each workspace with rules from the usage store (every worker's requests), evaluates
every rule, and claims each transition with a compare-and-set on the rule's state: exactly one
worker notifies it, even if two evaluate at once. A request that cost at least
``immediate_cost_usd`` wakes this worker's evaluator for its workspace at once (after
``settle`` seconds, the usage writer's time to store it), lease or not.

Transitions are written to the history; notifications go out as background tasks
(``Deliverer``), so a dead receiver slows nothing; a rule's action (pause the top key, or
downgrade) runs on its first firing, and its outcome is in the message and the history.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from keyroute.alerts.compose import compose
from keyroute.alerts.delivery import Deliverer, event_id
from keyroute.alerts.evaluate import Reading, Transition, plan
from keyroute.alerts.messages import Alert
from keyroute.alerts.readings import Reader
from keyroute.alerts.rules import Rule, rule_from_record
from keyroute.alerts.sources import Actions, BudgetSource, ChannelOpener
from keyroute.alerts.velocity import DIMENSIONS, Counts, Dimension, VelocityBoard
from keyroute.core.alert_store import AlertEventRecord
from keyroute.storage.base import Store, UsageQuery

log = logging.getLogger("keyroute.alerts")
LEASE = "alerts-evaluator"
Spawn = Callable[..., Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    interval: float = 15.0
    settle: float = 1.0
    immediate_pico: int = 10**12
    overlap_seconds: float = 900.0
    lease_seconds: float = 45.0


class AlertEngine:
    def __init__(
        self,
        *,
        store: Store,
        board: VelocityBoard,
        deliverer: Deliverer,
        channels: ChannelOpener,
        actions: Actions,
        budgets: BudgetSource,
        clock: Callable[[], datetime],
        holder: str,
        settings: EngineSettings,
        spawn: Callable[[Coroutine[Any, Any, Any]], Any],
    ) -> None:
        self._store = store
        self.board = board
        self._deliverer = deliverer
        self._channels = channels
        self._actions = actions
        self._reader = Reader(board, store.usage, budgets)
        self._clock = clock
        self._holder = holder
        self.settings = settings
        self._spawn = spawn
        self._synced: set[str] = set()
        self._urgent: set[str] = set()
        self._wake = asyncio.Event()
        self.cycles = 0

    # The sink side (request path): a dictionary addition, and perhaps a wake-up.
    def urgent(self, workspace_id: str) -> None:
        self._urgent.add(workspace_id)
        self._wake.set()

    async def run(self) -> None:
        """Evaluate every ``interval`` seconds, and at once when woken; until cancelled."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.interval)
            except TimeoutError:
                only: set[str] | None = None
            else:
                await asyncio.sleep(self.settings.settle)
                self._wake.clear()
                only, self._urgent = self._urgent, set()
            try:
                await self.evaluate(only)
            except Exception:  # the evaluator outlives a failed cycle (storage hiccup)
                log.exception("alert evaluation failed")

    async def evaluate(self, only: set[str] | None = None) -> list[Alert]:
        """One cycle: every workspace's rules if this worker holds the lease, or only the
        ``only`` workspaces (woken by an expensive request), lease or not."""
        now = self._clock()
        if only is None:
            held = await self._store.alerts.claim_lease(
                LEASE, self._holder, now, self.settings.lease_seconds
            )
            if not held:
                self._synced.clear()  # another worker evaluates; resync if this one takes over
                return []
        rules = [rule_from_record(r) for r in await self._store.alerts.list_alert_rules()]
        by_workspace: dict[str, list[Rule]] = defaultdict(list)
        for rule in rules:
            if only is None or rule.workspace_id in only:
                by_workspace[rule.workspace_id].append(rule)
        sent: list[Alert] = []
        for workspace_id, workspace_rules in by_workspace.items():
            await self.sync(workspace_id, now)
            sent.extend(await self._evaluate_workspace(workspace_id, workspace_rules, now))
        self.board.prune(now)
        self.cycles += 1
        return sent

    async def sync(self, workspace_id: str, now: datetime) -> None:
        """Make the board's recent buckets (its whole day, the first time) what the usage
        store holds: every worker's requests, not only this one's."""
        back = self.board.retention_seconds if workspace_id not in self._synced else None
        seconds = back if back is not None else self.settings.overlap_seconds
        since = datetime.fromtimestamp(self.board.bucket(now - timedelta(seconds=seconds)), UTC)
        width = self.board.bucket_seconds
        usage = self._store.usage
        total: dict[int, Counts] = {}
        for group in await usage.totals(
            UsageQuery(workspace_id=workspace_id, since=since, bucket_seconds=width)
        ):
            total[_bucket(group.key[0])] = _counts(group.totals)
        by: dict[Dimension, dict[int, dict[str | None, Counts]]] = {}
        for dim in DIMENSIONS:
            per: dict[int, dict[str | None, Counts]] = defaultdict(dict)
            for group in await usage.totals(
                UsageQuery(
                    workspace_id=workspace_id, since=since, bucket_seconds=width, group_by=(dim,)
                )
            ):
                value = group.key[1]
                per[_bucket(group.key[0])][value if isinstance(value, str) else None] = _counts(
                    group.totals
                )
            by[dim] = per
        self.board.replace(workspace_id, since, total, by)
        self._synced.add(workspace_id)

    async def _evaluate_workspace(
        self, workspace_id: str, rules: list[Rule], now: datetime
    ) -> list[Alert]:
        states = await self._store.alerts.alert_states(workspace_id)
        sent = []
        for rule in rules:
            reading = await self._reader.read(rule, now)
            if reading is None:
                continue
            transition = plan(rule, states.get(rule.id), reading, now)
            if transition is None or not await self._store.alerts.claim_alert_transition(
                transition.state
            ):
                continue
            if transition.notifies:
                sent.append(await self._notify(rule, transition, reading, now))
        return sent

    async def _notify(
        self, rule: Rule, transition: Transition, reading: Reading, now: datetime
    ) -> Alert:
        workspace = await self._store.get_workspace(rule.workspace_id)
        keys = await self._store.list_api_keys(rule.workspace_id)
        alert = compose(
            rule,
            transition,
            reading,
            board=self.board,
            workspace_name=workspace.name if workspace else rule.workspace_id,
            key_names={k.id: k.name for k in keys},
            now=now,
        )
        events = [self._event(alert, alert.event if alert.event != "reminder" else "firing", now)]
        if transition.kind == "firing" and rule.action != "notify":
            taken = await self._act(rule, alert)
            alert = _with_action(alert, taken)
            events.append(
                AlertEventRecord(
                    id=event_id(now),
                    workspace_id=rule.workspace_id,
                    time=now,
                    rule=rule.name,
                    kind="action",
                    alert_id=alert.id,
                    outcome=rule.action,
                    detail=json.dumps({"action": rule.action, "result": taken}),
                )
            )
        await self._store.alerts.append_alert_events(events)
        channel = await self._channels.open_channel(rule.workspace_id, rule.channel_id)
        if channel is not None:
            self._spawn(self._deliverer.deliver(channel, alert))
        return alert

    async def _act(self, rule: Rule, alert: Alert) -> str:
        reason = f"alert rule {rule.name}: {alert.description}"
        try:
            if rule.action == "pause-key":
                # A gateway key's budget rule pauses that key; any other rule the top spender.
                top = alert.top_keys[0].id if alert.top_keys else None
                if rule.scope == "key":
                    top = rule.subject
                if top is None:
                    return "no gateway key to pause: no spend by a key in the window"
                return await self._actions.pause_key(rule.workspace_id, top, reason)
            return await self._actions.downgrade(rule.workspace_id, rule.name, reason)
        except Exception as exc:  # the notification still goes out, saying the action failed
            log.exception("alert action %s of rule %s failed", rule.action, rule.name)
            return f"{rule.action} failed: {exc}"

    def _event(self, alert: Alert, kind: Any, now: datetime) -> AlertEventRecord:
        return AlertEventRecord(
            id=event_id(now),
            workspace_id=alert.workspace_id,
            time=now,
            rule=alert.rule,
            kind=kind,
            alert_id=alert.id,
            outcome=alert.event,
            detail=json.dumps(alert.as_json(), sort_keys=True),
        )


def _bucket(key: object) -> int:
    assert isinstance(key, datetime)  # noqa: S101 - a bucketed query's first key part
    return int(key.timestamp())


def _counts(totals: Any) -> Counts:
    return Counts(totals.paid_pico, totals.requests, totals.failed_requests)


def _with_action(alert: Alert, taken: str) -> Alert:
    return replace(alert, action_taken=taken)
