"""``SqliteResilienceStore``: per-workspace fallback chains, timeouts and key weights on the
SQLite file of a ``SqliteStore``.

It shares its store's engines. Every write is a configuration change: it runs in the store's
configuration write (``write``), which moves the workspace's revision in the change feed so
every worker reloads the workspace's state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keyroute.core.errors import NotFound
from keyroute.storage.base import ResiliencePolicyRecord
from keyroute.storage.schema import resilience_policies, workspaces

Write = Callable[[str], AbstractAsyncContextManager[AsyncConnection]]


class SqliteResilienceStore:
    def __init__(
        self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]], write: Write
    ) -> None:
        self._engines = engines
        self._write = write

    async def set_resilience_policy(self, record: ResiliencePolicyRecord) -> None:
        row = dataclasses.asdict(record)
        statement = sqlite_insert(resilience_policies).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[
                resilience_policies.c.workspace_id,
                resilience_policies.c.kind,
                resilience_policies.c.subject,
            ],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
        async with self._write(record.workspace_id) as conn:
            found = await conn.scalar(
                select(workspaces.c.id).where(workspaces.c.id == record.workspace_id)
            )
            if found is None:
                raise NotFound(f"workspace {record.workspace_id!r} does not exist")
            await conn.execute(statement)

    async def list_resilience_policies(self, workspace_id: str) -> list[ResiliencePolicyRecord]:
        async with self._engines()[0].connect() as conn:
            rows = (
                await conn.execute(
                    select(resilience_policies)
                    .where(resilience_policies.c.workspace_id == workspace_id)
                    .order_by(resilience_policies.c.kind, resilience_policies.c.subject)
                )
            ).all()
        return [ResiliencePolicyRecord(**dict(row._mapping)) for row in rows]

    async def delete_resilience_policy(self, workspace_id: str, kind: str, subject: str) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                delete(resilience_policies).where(
                    resilience_policies.c.workspace_id == workspace_id,
                    resilience_policies.c.kind == kind,
                    resilience_policies.c.subject == subject,
                )
            )
        return bool(result.rowcount)
