"""``spawn``: the only way to start a background task. It keeps a reference and logs failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("keyroute.tasks")


class TaskGroup:
    """Background tasks owned by one component; ``close()`` cancels and awaits them all."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def scoped(coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
    """A task owned by the calling request, which must cancel and await it before it returns
    (a disconnect watcher, the two halves of a relay). Not for background work: use ``spawn``."""
    return asyncio.create_task(coro, name=name)
