"""``MemorySignatureStore``: the reference ``SignatureStore``, a dictionary in one process.

The shared suite (``tests/unit/storage/test_signature_store.py``) checks the SQL backend against
it: a put replaces the same (workspace, call id, model), skips unknown workspaces and is all or
nothing; a get matches the model exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from keyroute.storage.base import SignatureRecord


class MemorySignatureStore:
    def __init__(self, workspace_exists: Callable[[str], bool]) -> None:
        self._exists = workspace_exists
        self._rows: dict[tuple[str, str, str], SignatureRecord] = {}

    async def put_signatures(self, records: Sequence[SignatureRecord]) -> int:
        kept = [r for r in records if self._exists(r.workspace_id)]
        for r in kept:
            self._rows[(r.workspace_id, r.call_id, r.model)] = r
        return len(kept)

    async def get_signatures(
        self, workspace_id: str, model: str, call_ids: Sequence[str]
    ) -> list[SignatureRecord]:
        found = (self._rows.get((workspace_id, call_id, model)) for call_id in set(call_ids))
        return [r for r in found if r is not None]

    async def prune_signatures(self, before: datetime) -> int:
        cutoff = before.astimezone(UTC)
        old = [key for key, r in self._rows.items() if r.created_at < cutoff]
        for key in old:
            del self._rows[key]
        return len(old)

    def forget_workspace(self, workspace_id: str) -> None:
        self._rows = {k: v for k, v in self._rows.items() if k[0] != workspace_id}
