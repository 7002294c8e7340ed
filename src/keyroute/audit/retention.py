"""``AuditPruner``: deletes audit records past their workspace's retention, in small batches.

Invariants:
- Retention is per log, in days, in the settings table (``retention_setting``); a log with no
  retention keeps everything.
- Each batch (at most ``batch`` rows, one short write transaction so appends are never held up
  for long) deletes a prefix of the chain and leaves a checkpoint naming the last record it
  deleted: the chain still verifies after any number of prunes.
- A failed pass is logged and retried at the next interval; pruning never stops the writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from keyroute.storage.base import Store

log = logging.getLogger("keyroute.audit.retention")

MAX_DAYS = 36_500


def retention_setting(log_name: str) -> str:
    return f"audit.retention_days:{log_name}"


def parse_days(text: str | None) -> Decimal | None:
    """A retention in days (``None``: keep everything; so is an empty or unreadable value)."""
    if not text:
        return None
    try:
        days = Decimal(text)
    except InvalidOperation:
        return None
    return days if 0 < days <= MAX_DAYS else None


class AuditPruner:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch: int = 500,
    ) -> None:
        self._store = store
        self._clock = clock
        self._batch = batch

    async def prune_once(self) -> int:
        """One pass over every log; the number of records deleted."""
        deleted = 0
        for name in await self._store.audit.logs():
            days = parse_days(await self._store.get_setting(retention_setting(name)))
            if days is None:
                continue
            now = self._clock()
            cutoff = now - timedelta(days=float(days))
            while True:
                count = await self._store.audit.prune(name, cutoff, limit=self._batch, now=now)
                deleted += count
                if count < self._batch:
                    break
                await asyncio.sleep(0)  # let the request path run between batches
        return deleted

    async def run(self, interval: float) -> None:
        while True:
            try:
                deleted = await self.prune_once()
            except Exception:  # a background boundary: try again next time
                log.exception("audit pruning failed; will retry")
            else:
                if deleted:
                    log.info("pruned %d audit records past their retention", deleted)
            await asyncio.sleep(interval)
