"""``SqliteRoutingStore``: routing policies and answer feedback on the SQLite file of a
``SqliteStore``.

It shares its store's engines. Policy writes are configuration changes: they run in the
store's configuration write (``write``), which moves the workspace's revision in the change
feed so every worker reloads the workspace's policies. Feedback is data: a plain write
transaction that moves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, delete, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keyroute.core.errors import NotFound
from keyroute.storage.base import (
    FeedbackRecord,
    FeedbackTotals,
    RequestSummary,
    RoutingPolicyRecord,
)
from keyroute.storage.schema import routing_feedback, routing_policies, usage, workspaces

Write = Callable[[str], AbstractAsyncContextManager[AsyncConnection]]


def _policy(row: Row[Any]) -> RoutingPolicyRecord:
    fields = dict(row._mapping)
    fields["candidates"] = tuple(json.loads(fields["candidates"]))
    fields["is_default"] = bool(fields["is_default"])
    return RoutingPolicyRecord(**fields)


async def _require_workspace(conn: AsyncConnection, workspace_id: str) -> None:
    found = await conn.scalar(select(workspaces.c.id).where(workspaces.c.id == workspace_id))
    if found is None:
        raise NotFound(f"workspace {workspace_id!r} does not exist")


class SqliteRoutingStore:
    def __init__(
        self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]], write: Write
    ) -> None:
        self._engines = engines
        self._write = write

    async def set_routing_policy(self, record: RoutingPolicyRecord) -> None:
        row = {
            "workspace_id": record.workspace_id,
            "name": record.name,
            "candidates": json.dumps(list(record.candidates)),
            "reference": record.reference,
            "quality": record.quality,
            "max_strong_share": record.max_strong_share,
            "is_default": record.is_default,
            "updated_at": record.updated_at,
        }
        statement = sqlite_insert(routing_policies).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[routing_policies.c.workspace_id, routing_policies.c.name],
            set_={k: statement.excluded[k] for k in row if k not in ("workspace_id", "name")},
        )
        async with self._write(record.workspace_id) as conn:
            await _require_workspace(conn, record.workspace_id)
            if record.is_default:
                await conn.execute(
                    update(routing_policies)
                    .where(routing_policies.c.workspace_id == record.workspace_id)
                    .values(is_default=False)
                )
            await conn.execute(statement)

    async def list_routing_policies(self, workspace_id: str) -> list[RoutingPolicyRecord]:
        async with self._engines()[0].connect() as conn:
            rows = (
                await conn.execute(
                    select(routing_policies)
                    .where(routing_policies.c.workspace_id == workspace_id)
                    .order_by(routing_policies.c.name)
                )
            ).all()
        return [_policy(row) for row in rows]

    async def delete_routing_policy(self, workspace_id: str, name: str) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                delete(routing_policies).where(
                    routing_policies.c.workspace_id == workspace_id,
                    routing_policies.c.name == name,
                )
            )
        return result.rowcount > 0

    async def find_request(self, workspace_id: str, request_id: str) -> RequestSummary | None:
        model = func.coalesce(usage.c.served_model, usage.c.requested_model)
        async with self._engines()[0].connect() as conn:
            row = (
                await conn.execute(
                    select(usage.c.time, usage.c.route_policy, model.label("model"))
                    .where(usage.c.workspace_id == workspace_id, usage.c.request_id == request_id)
                    .order_by(usage.c.time.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return RequestSummary(
            workspace_id=workspace_id,
            request_id=request_id,
            time=row.time,
            policy=row.route_policy,
            model=row.model,
        )

    async def put_feedback(self, record: FeedbackRecord) -> None:
        row = {
            "workspace_id": record.workspace_id,
            "request_id": record.request_id,
            "score": record.score,
            "thumbs": record.thumbs,
            "label": record.label,
            "policy": record.policy,
            "model": record.model,
            "request_time": record.request_time,
            "created_at": record.created_at,
        }
        statement = sqlite_insert(routing_feedback).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[routing_feedback.c.workspace_id, routing_feedback.c.request_id],
            set_={k: statement.excluded[k] for k in row if k not in ("workspace_id", "request_id")},
        )
        async with self._engines()[1].begin() as conn:
            await _require_workspace(conn, record.workspace_id)
            await conn.execute(statement)

    async def feedback_totals(
        self, workspace_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[FeedbackTotals]:
        c = routing_feedback.c
        where = [c.workspace_id == workspace_id]
        if since is not None:
            where.append(c.request_time >= since)
        if until is not None:
            where.append(c.request_time < until)
        statement = (
            select(
                c.policy,
                c.model,
                func.count().label("n"),
                func.sum(c.score).label("score_sum"),
                func.sum(case((c.thumbs == "up", 1), else_=0)).label("up"),
                func.sum(case((c.thumbs == "down", 1), else_=0)).label("down"),
            )
            .where(and_(*where))
            .group_by(c.policy, c.model)
            .order_by(c.policy.is_not(None), c.policy, c.model.is_not(None), c.model)
        )
        async with self._engines()[0].connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [
            FeedbackTotals(
                policy=row.policy,
                model=row.model,
                count=int(row.n),
                score_sum=float(row.score_sum or 0.0),
                thumbs_up=int(row.up or 0),
                thumbs_down=int(row.down or 0),
            )
            for row in rows
        ]
