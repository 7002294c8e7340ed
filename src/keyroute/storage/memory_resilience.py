"""``MemoryResilienceStore``: per-workspace fallback chains, timeouts and key weights in
memory, for tests and ``memory://``. Every write calls ``changed`` (the store's change feed)."""

from __future__ import annotations

from collections.abc import Callable

from keyroute.core.errors import NotFound
from keyroute.storage.base import ResiliencePolicyRecord


class MemoryResilienceStore:
    def __init__(self, *, exists: Callable[[str], bool], changed: Callable[[str], None]) -> None:
        self._exists = exists
        self._changed = changed
        self._rows: dict[tuple[str, str, str], ResiliencePolicyRecord] = {}

    async def set_resilience_policy(self, record: ResiliencePolicyRecord) -> None:
        if not self._exists(record.workspace_id):
            raise NotFound(f"workspace {record.workspace_id!r} does not exist")
        self._rows[(record.workspace_id, record.kind, record.subject)] = record
        self._changed(record.workspace_id)

    async def list_resilience_policies(self, workspace_id: str) -> list[ResiliencePolicyRecord]:
        return [r for k, r in sorted(self._rows.items()) if k[0] == workspace_id]

    async def delete_resilience_policy(self, workspace_id: str, kind: str, subject: str) -> bool:
        found = self._rows.pop((workspace_id, kind, subject), None) is not None
        if found:
            self._changed(workspace_id)
        return found

    def forget(self, workspace_id: str) -> None:
        """The workspace was deleted: drop its settings."""
        self._rows = {k: r for k, r in self._rows.items() if k[0] != workspace_id}
