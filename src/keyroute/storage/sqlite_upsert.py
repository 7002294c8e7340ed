"""``upsert_for_live_workspaces``: the one write of the sealed per-workspace stores on SQLite.

Invariant: rows whose workspace no longer exists are skipped (a background writer may flush
after a workspace was deleted, and its keys were shredded with it); a row with the same key
replaces the stored one. Runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Table, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from keyroute.storage.schema import workspaces


async def upsert_for_live_workspaces(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[Column[Any]],
    replace: Sequence[str],
) -> int:
    """Insert ``rows`` (each with a ``workspace_id``), replacing the ``replace`` columns of a
    row with the same ``key``; returns how many rows were written."""
    wanted = {row["workspace_id"] for row in rows}
    if not wanted:
        return 0
    present = set(
        (await conn.execute(select(workspaces.c.id).where(workspaces.c.id.in_(wanted))))
        .scalars()
        .all()
    )
    kept = [row for row in rows if row["workspace_id"] in present]
    if kept:
        statement = sqlite_insert(table)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(key),
                set_={name: statement.excluded[name] for name in replace},
            ),
            kept,
        )
    return len(kept)
