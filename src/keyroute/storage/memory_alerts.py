"""``MemoryAlertStore``: the reference ``AlertStore``, dictionaries in one process.

The shared suite (``tests/unit/storage/test_alert_store.py``) checks the SQL backend against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from keyroute.core.alert_store import (
    AlertChannelRecord,
    AlertEventRecord,
    AlertRuleRecord,
    AlertStateRecord,
)
from keyroute.core.errors import Conflict, NotFound


class MemoryAlertStore:
    def __init__(self, workspace_exists: Callable[[str], bool]) -> None:
        self._exists = workspace_exists
        self._channels: dict[str, AlertChannelRecord] = {}
        self._rules: dict[str, AlertRuleRecord] = {}
        self._states: dict[str, AlertStateRecord] = {}
        self._events: list[AlertEventRecord] = []
        self._leases: dict[str, tuple[str, datetime]] = {}

    async def add_alert_channel(self, record: AlertChannelRecord) -> None:
        if not self._exists(record.workspace_id):
            raise NotFound(f"workspace {record.workspace_id!r} does not exist")
        if any(
            c.workspace_id == record.workspace_id and c.name == record.name
            for c in self._channels.values()
        ):
            raise Conflict(f"an alert channel named {record.name!r} already exists")
        self._channels[record.id] = record

    async def list_alert_channels(self, workspace_id: str) -> list[AlertChannelRecord]:
        found = [c for c in self._channels.values() if c.workspace_id == workspace_id]
        return sorted(found, key=lambda c: c.name)

    async def delete_alert_channel(self, workspace_id: str, name: str) -> bool:
        channel = next(
            (
                c
                for c in self._channels.values()
                if (c.workspace_id, c.name) == (workspace_id, name)
            ),
            None,
        )
        if channel is None:
            return False
        users = sorted(r.name for r in self._rules.values() if r.channel_id == channel.id)
        if users:
            raise Conflict(
                f"alert channel {name!r} is used by rule(s) {', '.join(users)}: remove them first"
            )
        del self._channels[channel.id]
        return True

    async def add_alert_rule(self, record: AlertRuleRecord) -> None:
        if any(
            r.workspace_id == record.workspace_id and r.name == record.name
            for r in self._rules.values()
        ):
            raise Conflict(f"an alert rule named {record.name!r} already exists")
        self._rules[record.id] = record

    async def list_alert_rules(self, workspace_id: str | None = None) -> list[AlertRuleRecord]:
        found = [
            r
            for r in self._rules.values()
            if workspace_id is None or r.workspace_id == workspace_id
        ]
        return sorted(found, key=lambda r: (r.workspace_id, r.name))

    async def delete_alert_rule(self, workspace_id: str, name: str) -> bool:
        rule = next(
            (r for r in self._rules.values() if (r.workspace_id, r.name) == (workspace_id, name)),
            None,
        )
        if rule is None:
            return False
        del self._rules[rule.id]
        self._states.pop(rule.id, None)
        return True

    async def alert_states(self, workspace_id: str) -> dict[str, AlertStateRecord]:
        return {k: v for k, v in self._states.items() if v.workspace_id == workspace_id}

    async def claim_alert_transition(self, state: AlertStateRecord) -> bool:
        if state.rule_id not in self._rules:
            return False
        stored = self._states.get(state.rule_id)
        if (stored.version if stored else 0) != state.version - 1:
            return False
        self._states[state.rule_id] = state
        return True

    async def append_alert_events(self, records: Sequence[AlertEventRecord]) -> None:
        self._events.extend(r for r in records if self._exists(r.workspace_id))

    async def list_alert_events(
        self, workspace_id: str, *, since: datetime | None = None, limit: int = 200
    ) -> list[AlertEventRecord]:
        found = [
            e
            for e in self._events
            if e.workspace_id == workspace_id and (since is None or e.time >= since)
        ]
        found.sort(key=lambda e: (e.time, e.id))
        return found[-limit:] if limit else []

    async def claim_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        held = self._leases.get(name)
        if held is not None and held[0] != holder and held[1] > now.astimezone(UTC):
            return False
        self._leases[name] = (holder, now.astimezone(UTC) + timedelta(seconds=ttl_seconds))
        return True

    def forget_workspace(self, workspace_id: str) -> None:
        self._channels = {k: v for k, v in self._channels.items() if v.workspace_id != workspace_id}
        self._rules = {k: v for k, v in self._rules.items() if v.workspace_id != workspace_id}
        self._states = {k: v for k, v in self._states.items() if v.workspace_id != workspace_id}
        self._events = [e for e in self._events if e.workspace_id != workspace_id]
