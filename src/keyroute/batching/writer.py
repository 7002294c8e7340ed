"""``BatchWriter``: items queued by a synchronous ``submit`` and written to a store in batches,
off the request path, by one background task.

``submit`` (synchronous, a deque append) queues an item with its row id; the background task
wakes every ``interval`` seconds, or as soon as ``batch_size`` items wait, converts them to rows
(``to_row``) and writes them through the store's ``append`` in batches of at most ``batch_size``.

Invariants (no item is silently lost, none is stored twice):
- The memory queue is bounded by ``capacity``. Past it, ``submit`` spills the item's row to a
  local file (``Spill``) instead of queueing it: memory stays bounded, the request path pays one
  buffered file write, and the rows are replayed once the queue has drained.
- A batch leaves memory only after the store acknowledged it. A failed batch is retried with
  exponential backoff (split in halves first, so one bad row cannot hold back the others); the
  store's ``append`` must be idempotent per row id, so a retry or a replay never stores twice.
- ``close`` stops the task after a last drain; whatever the store still refuses at the deadline
  is spilled (fsynced) and replayed by the next process to start. An item submitted after
  ``close`` is spilled at once.
- Each item gets its row id when submitted (a random prefix per writer, then a counter): unique
  and fixed, so every retry, spill and replay of it is the same row.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from keyroute.batching.spill import ClaimedFile, Spill

log = logging.getLogger("keyroute.batching.writer")

T = TypeVar("T")
R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)

Spawn = Callable[..., "asyncio.Task[Any]"]


class BatchStore(Protocol[R_contra]):
    """Where the rows go: ``append`` stores a batch atomically, skipping ids it already has,
    and returns how many rows were new."""

    async def append(self, rows: Sequence[R_contra], /) -> int: ...


class BatchWriter(Generic[T, R]):
    """Batches items into a ``BatchStore``; see the module docstring."""

    def __init__(
        self,
        store: BatchStore[R],
        spill: Spill[R],
        to_row: Callable[[T, str], R | None],
        *,
        name: str,
        batch_size: int = 500,
        interval: float = 0.5,
        capacity: int = 50_000,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
        grace: float = 10.0,
    ) -> None:
        if batch_size < 1 or capacity < batch_size:
            raise ValueError("a batch writer needs 1 <= batch_size <= capacity")
        self._name = name
        self._to_row = to_row
        self._store = store
        self._spill = spill
        self._batch_size = batch_size
        self._interval = interval
        self._capacity = capacity
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._grace = grace
        self._id_prefix = f"{name[:1]}{secrets.token_hex(6)}-"
        self._numbers = itertools.count(1)
        self._queue: deque[tuple[str, T]] = deque()
        self._retry: deque[list[R]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._closed = False
        self._replay_due = True  # a previous process may have left spill files
        self._failures_in_a_row = 0
        self.written = 0  # rows the store took as new
        self.duplicates = 0  # rows the store already had (a retried or replayed batch)
        self.failures = 0  # failed store writes (each retried)

    # The request path

    def submit(self, item: T) -> None:
        entry = (f"{self._id_prefix}{next(self._numbers):x}", item)
        if self._closed:
            self._spill_records([entry])
            self._spill.seal()  # durable now, and claimable by the next process
        elif len(self._queue) >= self._capacity:
            self._spill_records([entry])
        else:
            self._queue.append(entry)
            if len(self._queue) == self._batch_size:
                self._wake.set()

    @property
    def queued(self) -> int:
        """Items and rows in memory, not yet acknowledged by the store."""
        return len(self._queue) + sum(len(rows) for rows in self._retry)

    @property
    def spilled(self) -> int:
        return self._spill.spilled

    # Lifecycle

    def start(self, spawn: Spawn) -> None:
        """Start the background task with ``spawn(coro, name=...)`` (``TaskGroup.spawn``)."""
        if self._task is None:
            self._task = spawn(self._run(), name=f"{self._name}-writer")
            atexit.register(self._spill_at_exit)

    def _spill_at_exit(self) -> None:
        """The last resort when ``close`` never ran (a forced exit skipped the lifespan
        shutdown): write what is still in memory to a spill file, synchronously."""
        if self.queued:
            self._spill_remaining()
        self._spill.close()

    async def close(self) -> None:
        """Drain everything to the store within ``grace`` seconds, spill the rest, stop."""
        timeout = self._grace
        deadline = time.monotonic() + timeout
        self._closed = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None and not self.queued:
            self._spill.close()  # never started, nothing submitted (a CLI command)
            return
        if task is not None:
            # Let the loop finish its cycle and stop by itself. A write hung past the deadline
            # is cancelled: its rows are still in memory (they leave only once acknowledged)
            # and are spilled below.
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        try:
            stored = await self.drain(deadline=deadline)
        except OSError:  # the spill directory is unreadable: keep what is in memory
            log.exception("could not replay spilled %s rows at shutdown", self._name)
            stored = False
        if not stored:
            self._spill_remaining()
        try:
            self._spill.close()
        except OSError:
            log.exception("could not close the %s spill file", self._name)
        if self.queued:  # only if even the spill file could not be written
            log.error(
                "%d %s rows not stored or spilled yet; trying again at exit",
                self.queued,
                self._name,
            )
        else:
            atexit.unregister(self._spill_at_exit)

    async def drain(self, *, deadline: float | None = None) -> bool:
        """Write everything in memory, then replay spill files; ``False`` if the deadline came
        first (the rest stays queued). Not to be run while the background task runs."""
        while self._retry or self._queue:
            if deadline is None:
                written = await self._write_one()
            else:
                try:  # a hung write must not hold shutdown past the deadline
                    written = await asyncio.wait_for(
                        self._write_one(), max(deadline - time.monotonic(), 0.0)
                    )
                except TimeoutError:
                    return False
            if not written:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(self._backoff())
        return await self._replay(deadline)

    # The background task

    async def _run(self) -> None:
        while not self._closed:
            if len(self._queue) < self._batch_size and not self._retry:
                await self._pause(self._interval)
            self._wake.clear()
            await self._cycle()

    async def _pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``; a full batch or ``close`` wakes it early."""
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    async def _cycle(self) -> None:
        while self._retry or self._queue:
            if not await self._write_one():
                await self._pause(self._backoff())
                return
        self._spill.sync()
        if self._spill.pending or self._replay_due:
            await self._replay(None)

    # Batches

    async def _write_one(self) -> bool:
        """Write the next batch (a retried one first); ``True`` when the store took it."""
        if self._retry:
            rows, taken = self._retry[0], 0
        else:
            taken = min(len(self._queue), self._batch_size)
            rows = self._rows(self._queue[i] for i in range(taken))
        try:
            added = await self._store.append(rows)
        except Exception as exc:  # a background boundary: every store failure is retried
            self._failed(rows, taken, exc)
            return False
        if taken:
            for _ in range(taken):
                self._queue.popleft()
        else:
            self._retry.popleft()
        self._failures_in_a_row = 0
        self.written += added
        self.duplicates += len(rows) - added
        return True

    def _failed(self, rows: list[R], taken: int, exc: Exception) -> None:
        self.failures += 1
        self._failures_in_a_row += 1
        log.warning("%s batch of %d rows not stored (will retry): %s", self._name, len(rows), exc)
        if taken:
            for _ in range(taken):
                self._queue.popleft()
        else:
            self._retry.popleft()
        if len(rows) > 1:
            half = len(rows) // 2
            self._retry.extendleft([rows[half:], rows[:half]])
        else:
            self._retry.append(rows)  # behind the others: a bad row cannot block them

    def _backoff(self) -> float:
        exponent = min(self._failures_in_a_row - 1, 16)
        return float(min(self._retry_delay * 2**exponent, self._max_retry_delay))

    # Spilling

    def _rows(self, entries: Iterable[tuple[str, T]]) -> list[R]:
        rows = (self._to_row(item, row_id) for row_id, item in entries)
        return [row for row in rows if row is not None]

    def _spill_records(self, entries: list[tuple[str, T]]) -> None:
        self._spill.write(self._rows(entries))

    def _spill_remaining(self) -> None:
        count = self.queued
        try:
            for rows in self._retry:
                self._spill.write(rows)
            self._spill_records(list(self._queue))
            self._spill.sync()
        except OSError:
            log.exception(
                "could not spill %d %s rows to %s", count, self._name, self._spill.directory
            )
            return
        log.warning("%s store unavailable at shutdown: %d rows spilled", self._name, count)
        self._retry.clear()
        self._queue.clear()

    async def _replay(self, deadline: float | None) -> bool:
        """Store every claimable spill file's rows; ``False`` if a write failed. Files not
        replayed in full (a failure, the deadline, a cancellation) are released, kept."""
        self._spill.seal()
        claimed = self._spill.claim()
        try:
            while claimed:
                done = await self._replay_file(claimed[0], deadline)
                self._spill.release(claimed.pop(0), done=done)
                if not done:
                    self._replay_due = True
                    return False
                if deadline is not None and time.monotonic() >= deadline:
                    self._replay_due = bool(claimed)
                    return True
        finally:
            for left in claimed:
                self._spill.release(left, done=False)
        self._replay_due = False
        return True

    async def _replay_file(self, claimed: ClaimedFile, deadline: float | None) -> bool:
        for rows in self._spill.batches(claimed, self._batch_size):
            try:
                if deadline is None:
                    added = await self._store.append(rows)
                else:
                    remaining = max(deadline - time.monotonic(), 0.0)
                    added = await asyncio.wait_for(self._store.append(rows), remaining)
            except Exception as exc:  # a background boundary: the file stays for later
                log.warning("spilled %s rows not stored yet (will retry): %r", self._name, exc)
                return False
            self.written += added
            self.duplicates += len(rows) - added
        return True
