"""``SqliteSignatureStore``: tool-call signatures on the SQLite file of a ``SqliteStore``.

It shares its store's engines. Invariants: a put is one transaction that skips rows of
workspaces that no longer exist (inside it, so a deletion cannot race a late batch into a
foreign-key failure) and replaces a row with the same key; none of its writes is a configuration
change (no change-feed revision moves, no cache is dropped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from keyroute.storage.base import SignatureRecord
from keyroute.storage.schema import tool_signatures
from keyroute.storage.sqlite_upsert import upsert_for_live_workspaces


class SqliteSignatureStore:
    def __init__(self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]]) -> None:
        self._engines = engines

    async def put_signatures(self, records: Sequence[SignatureRecord]) -> int:
        if not records:
            return 0
        async with self._engines()[1].begin() as conn:
            return await upsert_for_live_workspaces(
                conn,
                tool_signatures,
                [dataclasses.asdict(r) for r in records],
                key=(
                    tool_signatures.c.workspace_id,
                    tool_signatures.c.call_id,
                    tool_signatures.c.model,
                ),
                replace=("nonce", "ciphertext", "created_at"),
            )

    async def get_signatures(
        self, workspace_id: str, model: str, call_ids: Sequence[str]
    ) -> list[SignatureRecord]:
        if not call_ids:
            return []
        async with self._engines()[0].connect() as conn:
            rows = (
                await conn.execute(
                    select(tool_signatures).where(
                        tool_signatures.c.workspace_id == workspace_id,
                        tool_signatures.c.model == model,
                        tool_signatures.c.call_id.in_(set(call_ids)),
                    )
                )
            ).all()
        return [SignatureRecord(**dict(row._mapping)) for row in rows]

    async def prune_signatures(self, before: datetime) -> int:
        async with self._engines()[1].begin() as conn:
            result = await conn.execute(
                delete(tool_signatures).where(tool_signatures.c.created_at < before)
            )
        return result.rowcount
