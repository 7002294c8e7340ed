"""``Spill``: rows a store could not take yet, kept in local append-only files.

A ``BatchWriter`` spills when its memory queue is full, and at shutdown what the store refused
until the drain deadline. Spilled rows are replayed into the store later (by this process or,
after a crash, by the next one to start), which is safe because the store's ``append`` is
idempotent per row id.

Invariants:
- One JSON-lines file per writer at a time (``<prefix>-<pid>-<random>.jsonl`` in ``directory``),
  append-only, held under an exclusive ``flock`` while open; ``claim`` takes only files nobody
  holds, so a live process's open file is never replayed under it. A file is deleted only after
  every row in it was stored.
- ``sync`` flushes and fsyncs the open file: a hard kill loses at most what was spilled since the
  last ``sync`` (the writer syncs every cycle, at most its ``interval`` of overflow).
- A line that cannot be parsed (a torn last line after a crash) is logged and skipped; it is
  the only row a crash can cost, and it was never acknowledged to anyone.
- Rows become lines through the ``encode``/``decode`` pair given to the spill (one line each, no
  newline inside).
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

log = logging.getLogger("keyroute.batching.spill")

R = TypeVar("R")


def _lock(handle: IO[Any]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@dataclasses.dataclass(slots=True)
class ClaimedFile:
    """A spill file this process holds (locked) until ``Spill.release``."""

    path: Path
    handle: IO[str]


class Spill(Generic[R]):
    """Spill files ``<prefix>-*.jsonl`` under ``directory`` (created on first use, mode 0700)."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> None:
        self.directory = directory
        self._prefix = prefix
        self._encode = encode
        self._decode = decode
        self._open: IO[str] | None = None
        self._path: Path | None = None
        self.spilled = 0  # rows written to spill files by this process

    def write(self, rows: Iterable[R]) -> None:
        """Append rows to this process's open spill file (buffered; ``sync`` makes them durable)."""
        for row in rows:
            handle = self._open if self._open is not None else self._start()
            handle.write(self._encode(row) + "\n")
            self.spilled += 1

    def _start(self) -> IO[str]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{self._prefix}-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        handle = os.fdopen(fd, "a", encoding="utf-8")
        _lock(handle)  # a fresh, unique name: nobody else can hold it
        self._open, self._path = handle, path
        return handle

    @property
    def pending(self) -> bool:
        """Whether this process has an open spill file with rows not yet replayed."""
        return self._open is not None

    def sync(self) -> None:
        if self._open is not None:
            self._open.flush()
            os.fsync(self._open.fileno())

    def seal(self) -> None:
        """Close the open file (synced) so ``claim`` can replay it; the next write starts anew."""
        if self._open is not None:
            self.sync()
            self._open.close()
            self._open = self._path = None

    def claim(self) -> list[ClaimedFile]:
        """Lock every spill file that no process holds open (this one's sealed files included)."""
        if not self.directory.is_dir():
            return []
        claimed: list[ClaimedFile] = []
        for path in sorted(self.directory.glob(f"{self._prefix}-*.jsonl")):
            if path == self._path:
                continue
            try:
                handle = path.open("r", encoding="utf-8")
            except FileNotFoundError:
                continue  # replayed and deleted by another process meanwhile
            if _lock(handle):
                claimed.append(ClaimedFile(path, handle))
            else:
                handle.close()
        return claimed

    def batches(self, claimed: ClaimedFile, size: int) -> Iterator[list[R]]:
        """The rows of a claimed file, ``size`` at a time."""
        claimed.handle.seek(0)
        batch: list[R] = []
        for number, line in enumerate(claimed.handle, start=1):
            if not line.strip():
                continue
            try:
                batch.append(self._decode(line))
            except (ValueError, TypeError) as exc:
                log.error("skipping unreadable line %d of %s: %s", number, claimed.path, exc)
                continue
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    @staticmethod
    def release(claimed: ClaimedFile, *, done: bool) -> None:
        """Unlock a claimed file, deleting it first when every row in it is stored."""
        if done:
            claimed.path.unlink(missing_ok=True)
        claimed.handle.close()

    def close(self) -> None:
        self.seal()
