"""``MemoryResponseStateStore``: the reference ``ResponseStateStore``, a dictionary in one process.

The shared suite (``tests/unit/storage/test_response_state_store.py``) checks the SQL backend
against it: a put replaces the same (workspace, response id) and skips unknown workspaces; a get
or delete never reaches another workspace's turn; pruning removes exactly the expired turns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from keyroute.storage.base import ResponseStateRecord


class MemoryResponseStateStore:
    def __init__(self, workspace_exists: Callable[[str], bool]) -> None:
        self._exists = workspace_exists
        self._rows: dict[tuple[str, str], ResponseStateRecord] = {}

    async def put_responses(self, records: Sequence[ResponseStateRecord]) -> int:
        kept = [r for r in records if self._exists(r.workspace_id)]
        for r in kept:
            self._rows[(r.workspace_id, r.response_id)] = r
        return len(kept)

    async def get_response(self, workspace_id: str, response_id: str) -> ResponseStateRecord | None:
        return self._rows.get((workspace_id, response_id))

    async def delete_response(self, workspace_id: str, response_id: str) -> bool:
        return self._rows.pop((workspace_id, response_id), None) is not None

    async def prune_responses(self, now: datetime) -> int:
        cutoff = now.astimezone(UTC)
        old = [key for key, r in self._rows.items() if r.expires_at < cutoff]
        for key in old:
            del self._rows[key]
        return len(old)

    def forget_workspace(self, workspace_id: str) -> None:
        self._rows = {k: v for k, v in self._rows.items() if k[0] != workspace_id}
