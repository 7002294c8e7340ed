"""Builders shared by the accounting tests: request records and a store with workspaces."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from keyroute.core.record import RequestRecord
from keyroute.storage.base import WorkspaceRecord
from keyroute.storage.memory import MemoryStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_numbers = itertools.count()


def record(ws: str | None = "w1", at: timedelta = timedelta(0), **fields: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "request_id": f"req_{next(_numbers):024x}",
        "started_at": T0 + at,
        "endpoint": "/v1/chat/completions",
        "inbound_format": "openai",
        "workspace_id": ws,
        "status": 200,
    }
    values.update(fields)
    return RequestRecord(**values)


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


async def memory_store(*workspaces: str) -> MemoryStore:
    store = MemoryStore()
    for ws in workspaces or ("w1",):
        await store.create_workspace(workspace(ws))
    return store
