"""``AuditWriter``: the ``RecordSink`` that appends every request and admin event to the audit
log, in batches, off the request path.

A ``batching.writer.BatchWriter`` into an ``AuditStore``, whose ``append`` chains the rows inside
its write transaction and skips ids it already has; see ``batching.writer`` for batching,
retries, spilling (``audit-*.jsonl`` files) and shutdown. ``submit`` costs a deque append: the
record becomes an entry (its JSON) on the background task, not on the request path.

Invariants:
- Every record with a workspace is logged, whatever its outcome; none is sampled or dropped.
- Records with no workspace (refused before authentication) go to the gateway-level log through
  a token bucket (``gateway_rate`` per second, bursts of ``gateway_burst``): past it they are
  counted, not queued, and the next one admitted carries ``suppressed_before`` (how many were
  left out), so a flood of unknown keys cannot fill the disk and the log still says it happened.
- Admin events (``log_event``) are never rate-limited.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from keyroute.audit.bodies import sealed_body
from keyroute.audit.entries import AdminEvent, admin_entry, request_entry
from keyroute.batching.spill import Spill
from keyroute.batching.writer import BatchWriter
from keyroute.core.audit import AuditEntry, AuditStore
from keyroute.core.record import RequestRecord

Item: TypeAlias = "RequestRecord | AdminEvent | tuple[RequestRecord, int]"


def encode_entry(entry: AuditEntry) -> str:
    values = {f.name: getattr(entry, f.name) for f in dataclasses.fields(AuditEntry)}
    values["time"] = entry.time.isoformat()
    values["body"] = None if entry.body is None else entry.body.hex()
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def decode_entry(line: str) -> AuditEntry:
    values = json.loads(line)
    names = {f.name for f in dataclasses.fields(AuditEntry)}
    if not isinstance(values, dict) or set(values) != names:
        raise ValueError("not an audit entry")
    values["time"] = datetime.fromisoformat(values["time"])
    if values["body"] is not None:
        values["body"] = bytes.fromhex(values["body"])
    return AuditEntry(**values)


class AuditSpill(Spill[AuditEntry]):
    """Audit spill files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, prefix="audit", encode=encode_entry, decode=decode_entry)


def _entry(item: Item, row_id: str) -> AuditEntry:
    if isinstance(item, AdminEvent):
        return admin_entry(item, row_id)
    if isinstance(item, tuple):
        record, suppressed = item
        return request_entry(record, row_id, {"suppressed_before": suppressed})
    entry = request_entry(item, row_id)
    if item.body_capture is not None:  # the workspace logs bodies: redacted and sealed here
        entry = dataclasses.replace(entry, body=sealed_body(item))
    return entry


class AuditWriter(BatchWriter[Item, AuditEntry]):
    """Batches request records and admin events into an ``AuditStore``."""

    def __init__(
        self,
        store: AuditStore,
        spill: AuditSpill,
        *,
        gateway_rate: float = 20.0,
        gateway_burst: int = 100,
        clock: Callable[[], float] = time.monotonic,
        batch_size: int = 200,  # small batches: each holds the event loop a few ms at most
        interval: float = 0.2,
        capacity: int = 50_000,
        retry_delay: float = 0.1,
        max_retry_delay: float = 2.0,
        grace: float = 10.0,
    ) -> None:
        super().__init__(
            store,
            spill,
            _entry,
            name="audit",
            batch_size=batch_size,
            interval=interval,
            capacity=capacity,
            retry_delay=retry_delay,
            max_retry_delay=max_retry_delay,
            grace=grace,
        )
        self._rate = gateway_rate
        self._burst = float(gateway_burst)
        self._tokens = float(gateway_burst)
        self._clock = clock
        self._refilled = clock()
        self.suppressed = 0  # gateway-level records left out by the rate limit, in all
        self._suppressed_since = 0  # ... since the last one admitted

    def submit(self, item: Item) -> None:
        if isinstance(item, RequestRecord) and item.workspace_id is None:
            if not self._admit():
                self.suppressed += 1
                self._suppressed_since += 1
                return
            if self._suppressed_since:
                item, self._suppressed_since = (item, self._suppressed_since), 0
        super().submit(item)

    def log_event(self, event: AdminEvent) -> None:
        """An admin event (the control plane's ``AuditSink``)."""
        super().submit(event)

    def _admit(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
