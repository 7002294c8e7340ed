"""``LocalChangeFeed``: the in-process half of every ``ChangeFeed``.

It holds, in memory, the configuration revision last seen for each workspace and the highest
revision seen overall. A store notes its own commits here at once (``note``), so a change made
through this process is visible on its very next request; a backend that shares its database
with other processes subclasses it and feeds it what they committed (``refresh``), from a
background task (``follow``), never from the request path.

Invariants:

- ``revision`` and ``latest`` are dictionary reads: no I/O, no await, no lock.
- Revisions only move forward: a late or repeated note never lowers one.
- A workspace never seen has revision 0; every committed change gives a revision above 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

log = logging.getLogger("keyroute.storage.changes")


class LocalChangeFeed:
    """A ``ChangeFeed`` of one process: it knows only the changes it is told about."""

    def __init__(self) -> None:
        self._revisions: dict[str, int] = {}
        self._latest = 0

    def revision(self, workspace_id: str) -> int:
        return self._revisions.get(workspace_id, 0)

    def latest(self) -> int:
        return self._latest

    def note(self, changes: Mapping[str, int]) -> None:
        """Record committed changes: ``workspace id -> its new revision``."""
        for workspace_id, revision in changes.items():
            if revision > self._revisions.get(workspace_id, 0):
                self._revisions[workspace_id] = revision
            if revision > self._latest:
                self._latest = revision

    def note_global(self, revision: int) -> None:
        """A committed change that belongs to no workspace (a setting) still moves ``latest``."""
        self._latest = max(self._latest, revision)

    async def refresh(self) -> None:
        """Nothing to read: every change this feed can know of was noted as it committed."""
        return None

    async def follow(self, interval: float) -> None:
        """``refresh`` every ``interval`` seconds until cancelled; a failed read is logged and
        retried at the next tick (the caches then serve what they had, as before the failure)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # a transient database error must not stop the feed
                log.exception("could not read configuration changes")
