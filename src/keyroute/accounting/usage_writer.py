"""``UsageWriter``: the ``RecordSink`` that stores usage rows in batches, off the request path.

A ``batching.writer.BatchWriter`` of request records into a ``UsageStore`` (whose ``append`` is
idempotent per row id); see that module for batching, retries, spilling and shutdown.

Invariants:
- Records without a workspace are not usage (see ``usage_row``): ``submit`` counts them in
  ``skipped`` and queues nothing.
- Every other record is stored exactly once, or spilled and replayed later; none is dropped.
"""

from __future__ import annotations

from keyroute.accounting.usage_row import usage_row
from keyroute.accounting.usage_spill import UsageSpill
from keyroute.batching.writer import BatchWriter
from keyroute.core.record import RequestRecord
from keyroute.storage.base import UsageRow, UsageStore


class UsageWriter(BatchWriter[RequestRecord, UsageRow]):
    """Batches request records into a ``UsageStore``; see the module docstring."""

    def __init__(
        self,
        store: UsageStore,
        spill: UsageSpill,
        *,
        batch_size: int = 500,
        interval: float = 0.5,
        capacity: int = 50_000,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
        grace: float = 10.0,
    ) -> None:
        super().__init__(
            store,
            spill,
            usage_row,
            name="usage",
            batch_size=batch_size,
            interval=interval,
            capacity=capacity,
            retry_delay=retry_delay,
            max_retry_delay=max_retry_delay,
            grace=grace,
        )
        self.skipped = 0  # records with no workspace

    def submit(self, item: RequestRecord) -> None:
        if item.workspace_id is None:
            self.skipped += 1
            return
        super().submit(item)
