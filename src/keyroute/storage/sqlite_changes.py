"""``SqliteChangeFeed``: configuration changes committed to one SQLite file by any process.

Every configuration write of ``SqliteStore`` bumps the ``config_revision`` setting (the file's
change sequence) and, for a change to a workspace, stores that sequence number in the
workspace's row of ``workspace_changes``, in the same transaction. Writers are serialised by
``BEGIN IMMEDIATE``, so sequence numbers commit in order and "every row above the highest number
read so far" never misses one.

Invariants:

- The file is read only in ``refresh``, on a worker thread (``asyncio.to_thread``), never on the
  event loop: a request reads ``revision`` from memory.
- ``refresh`` first asks ``PRAGMA data_version`` (which moves when any other connection commits)
  and reads rows only when it moved, so an idle poll costs one pragma.
- Usage bookkeeping (last-used times) moves ``data_version`` but no sequence number: the poll
  finds nothing new and no cache is dropped.
- ``close`` never closes the connection under a read in flight on the worker thread (a lock
  serialises them; closing a sqlite3 connection another thread is using crashes the process),
  and a read that starts after ``close`` reads nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from keyroute.storage.changes import LocalChangeFeed

_ROWS = "SELECT workspace_id, revision FROM workspace_changes WHERE revision > ?"
_SEQUENCE = "SELECT value FROM settings WHERE key = 'config_revision'"


class SqliteChangeFeed(LocalChangeFeed):
    """The local feed, plus what other processes committed to the file, polled."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one user of the connection at a time, close included
        self._seen_version: int | None = None
        self._floor = 0  # the highest sequence number read from the file

    async def open(self) -> None:
        """Connect and read the current revisions (so caches start in step with the file)."""
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            self._conn = conn
        await self.refresh()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def refresh(self) -> None:
        if self._conn is None:
            return
        changes, sequence = await asyncio.to_thread(self._read_locked)
        self.note(changes)
        self.note_global(sequence)

    def _read_locked(self) -> tuple[dict[str, int], int]:
        with self._lock:
            if self._conn is None:  # closed while this read waited for its thread
                return {}, 0
            return self._read(self._conn)

    def _read(self, conn: sqlite3.Connection) -> tuple[dict[str, int], int]:
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._seen_version:
            return {}, 0
        rows = conn.execute(_ROWS, (self._floor,)).fetchall()
        row = conn.execute(_SEQUENCE).fetchone()
        sequence = int(row[0]) if row else 0
        changes = {str(ws): int(revision) for ws, revision in rows}
        # Only the rows move the floor: a commit between the two reads is read at the next poll.
        self._floor = max([self._floor, *changes.values()])
        self._seen_version = version
        return changes, sequence
