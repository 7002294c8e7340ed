"""``SqliteResponseStateStore``: Responses API turns on the SQLite file of a ``SqliteStore``.

It shares its store's engines. Invariants: a put is one transaction that skips rows of
workspaces that no longer exist and replaces a row with the same key; none of its writes is a
configuration change (no change-feed revision moves, no cache is dropped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from keyroute.storage.base import ResponseStateRecord
from keyroute.storage.schema import response_states
from keyroute.storage.sqlite_upsert import upsert_for_live_workspaces


class SqliteResponseStateStore:
    def __init__(self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]]) -> None:
        self._engines = engines

    async def put_responses(self, records: Sequence[ResponseStateRecord]) -> int:
        if not records:
            return 0
        async with self._engines()[1].begin() as conn:
            return await upsert_for_live_workspaces(
                conn,
                response_states,
                [dataclasses.asdict(r) for r in records],
                key=(response_states.c.workspace_id, response_states.c.response_id),
                replace=("nonce", "ciphertext", "created_at", "expires_at"),
            )

    async def get_response(self, workspace_id: str, response_id: str) -> ResponseStateRecord | None:
        async with self._engines()[0].connect() as conn:
            row = (
                await conn.execute(
                    select(response_states).where(
                        response_states.c.workspace_id == workspace_id,
                        response_states.c.response_id == response_id,
                    )
                )
            ).first()
        return None if row is None else ResponseStateRecord(**dict(row._mapping))

    async def delete_response(self, workspace_id: str, response_id: str) -> bool:
        async with self._engines()[1].begin() as conn:
            result = await conn.execute(
                delete(response_states).where(
                    response_states.c.workspace_id == workspace_id,
                    response_states.c.response_id == response_id,
                )
            )
        return bool(result.rowcount)

    async def prune_responses(self, now: datetime) -> int:
        async with self._engines()[1].begin() as conn:
            result = await conn.execute(
                delete(response_states).where(response_states.c.expires_at < now)
            )
        return result.rowcount
