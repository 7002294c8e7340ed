"""``SqliteAlertStore``: alert channels, rules, states, history and leases on a ``SqliteStore``.

It shares its store's engines (readers, and the writer that opens ``BEGIN IMMEDIATE``).

Invariants:

- A rule's transition is claimed by compare-and-set on its ``version`` inside one write
  transaction, so of several workers (``keyroute serve --workers N``) evaluating the same rule
  exactly one wins and notifies.
- A lease is taken or renewed in one write transaction: the row is replaced only if it is
  expired or already held by the same holder.
- None of these writes is a configuration change (no change-feed revision moves).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from keyroute.core.alert_store import (
    AlertChannelRecord,
    AlertEventRecord,
    AlertRuleRecord,
    AlertStateRecord,
)
from keyroute.core.errors import Conflict, NotFound
from keyroute.storage.schema import (
    alert_channels,
    alert_events,
    alert_rules,
    alert_states,
    leases,
    workspaces,
)


def _rule(row: Any) -> AlertRuleRecord:
    fields = dict(row._mapping)
    fields["params"] = json.loads(fields["params"])
    return AlertRuleRecord(**fields)


class SqliteAlertStore:
    def __init__(self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]]) -> None:
        self._engines = engines

    async def _rows(self, statement: Any) -> list[Any]:
        async with self._engines()[0].connect() as conn:
            return list((await conn.execute(statement)).all())

    async def add_alert_channel(self, record: AlertChannelRecord) -> None:
        async with self._engines()[1].begin() as conn:
            found = await conn.execute(
                select(workspaces.c.id).where(workspaces.c.id == record.workspace_id)
            )
            if found.first() is None:
                raise NotFound(f"workspace {record.workspace_id!r} does not exist")
            try:
                await conn.execute(
                    insert(alert_channels).values(
                        id=record.id,
                        workspace_id=record.workspace_id,
                        name=record.name,
                        kind=record.kind,
                        target=record.target,
                        created_at=record.created_at,
                        secret_nonce=record.secret_nonce,
                        secret_ciphertext=record.secret_ciphertext,
                    )
                )
            except IntegrityError as exc:
                raise Conflict(f"an alert channel named {record.name!r} already exists") from exc

    async def list_alert_channels(self, workspace_id: str) -> list[AlertChannelRecord]:
        rows = await self._rows(
            select(alert_channels)
            .where(alert_channels.c.workspace_id == workspace_id)
            .order_by(alert_channels.c.name)
        )
        return [AlertChannelRecord(**dict(row._mapping)) for row in rows]

    async def delete_alert_channel(self, workspace_id: str, name: str) -> bool:
        async with self._engines()[1].begin() as conn:
            row = (
                await conn.execute(
                    select(alert_channels.c.id).where(
                        alert_channels.c.workspace_id == workspace_id,
                        alert_channels.c.name == name,
                    )
                )
            ).first()
            if row is None:
                return False
            users = (
                (
                    await conn.execute(
                        select(alert_rules.c.name).where(alert_rules.c.channel_id == row.id)
                    )
                )
                .scalars()
                .all()
            )
            if users:
                raise Conflict(
                    f"alert channel {name!r} is used by rule(s) {', '.join(sorted(users))}: "
                    "remove them first"
                )
            await conn.execute(delete(alert_channels).where(alert_channels.c.id == row.id))
        return True

    async def add_alert_rule(self, record: AlertRuleRecord) -> None:
        async with self._engines()[1].begin() as conn:
            try:
                await conn.execute(
                    insert(alert_rules).values(
                        id=record.id,
                        workspace_id=record.workspace_id,
                        name=record.name,
                        channel_id=record.channel_id,
                        kind=record.kind,
                        params=json.dumps(dict(record.params), sort_keys=True),
                        cooldown_seconds=record.cooldown_seconds,
                        action=record.action,
                        created_at=record.created_at,
                    )
                )
            except IntegrityError as exc:
                raise Conflict(f"an alert rule named {record.name!r} already exists") from exc

    async def list_alert_rules(self, workspace_id: str | None = None) -> list[AlertRuleRecord]:
        statement = select(alert_rules).order_by(alert_rules.c.workspace_id, alert_rules.c.name)
        if workspace_id is not None:
            statement = statement.where(alert_rules.c.workspace_id == workspace_id)
        return [_rule(row) for row in await self._rows(statement)]

    async def delete_alert_rule(self, workspace_id: str, name: str) -> bool:
        async with self._engines()[1].begin() as conn:
            result = await conn.execute(
                delete(alert_rules).where(
                    alert_rules.c.workspace_id == workspace_id, alert_rules.c.name == name
                )
            )
        return bool(result.rowcount)

    async def alert_states(self, workspace_id: str) -> dict[str, AlertStateRecord]:
        rows = await self._rows(
            select(alert_states).where(alert_states.c.workspace_id == workspace_id)
        )
        return {row.rule_id: AlertStateRecord(**dict(row._mapping)) for row in rows}

    async def claim_alert_transition(self, state: AlertStateRecord) -> bool:
        values = {
            "level": state.level,
            "version": state.version,
            "since": state.since,
            "notified_at": state.notified_at,
        }
        async with self._engines()[1].begin() as conn:
            # The writer's BEGIN IMMEDIATE holds SQLite's write lock: read, compare, write.
            stored = (
                await conn.execute(
                    select(alert_states.c.version).where(alert_states.c.rule_id == state.rule_id)
                )
            ).scalar()
            if (stored or 0) != state.version - 1:
                return False
            if stored is None:
                exists = await conn.execute(
                    select(alert_rules.c.id).where(alert_rules.c.id == state.rule_id)
                )
                if exists.first() is None:
                    return False
                await conn.execute(
                    insert(alert_states).values(
                        rule_id=state.rule_id, workspace_id=state.workspace_id, **values
                    )
                )
            else:
                await conn.execute(
                    update(alert_states)
                    .where(alert_states.c.rule_id == state.rule_id)
                    .values(**values)
                )
        return True

    async def append_alert_events(self, records: Sequence[AlertEventRecord]) -> None:
        if not records:
            return
        async with self._engines()[1].begin() as conn:
            wanted = {r.workspace_id for r in records}
            present = set(
                (await conn.execute(select(workspaces.c.id).where(workspaces.c.id.in_(wanted))))
                .scalars()
                .all()
            )
            rows = [
                {
                    "id": r.id,
                    "workspace_id": r.workspace_id,
                    "time": r.time,
                    "rule": r.rule,
                    "kind": r.kind,
                    "alert_id": r.alert_id,
                    "channel": r.channel,
                    "attempt": r.attempt,
                    "outcome": r.outcome,
                    "detail": r.detail,
                }
                for r in records
                if r.workspace_id in present
            ]
            if rows:
                await conn.execute(insert(alert_events), rows)

    async def list_alert_events(
        self, workspace_id: str, *, since: datetime | None = None, limit: int = 200
    ) -> list[AlertEventRecord]:
        statement = select(alert_events).where(alert_events.c.workspace_id == workspace_id)
        if since is not None:
            statement = statement.where(alert_events.c.time >= since)
        statement = statement.order_by(alert_events.c.time.desc(), alert_events.c.id.desc())
        rows = await self._rows(statement.limit(limit))
        return [AlertEventRecord(**dict(row._mapping)) for row in reversed(rows)]

    async def claim_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        until = now + timedelta(seconds=ttl_seconds)
        async with self._engines()[1].begin() as conn:
            row = (await conn.execute(select(leases).where(leases.c.name == name))).first()
            if row is None:
                await conn.execute(
                    insert(leases).values(name=name, holder=holder, expires_at=until)
                )
                return True
            if row.holder != holder and row.expires_at > now:
                return False
            await conn.execute(
                update(leases).where(leases.c.name == name).values(holder=holder, expires_at=until)
            )
        return True
