"""``keyroute.tasks.TaskGroup``: background tasks that are kept, logged and cancelled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from keyroute.tasks import TaskGroup

pytestmark = pytest.mark.anyio


async def answer() -> int:
    return 42


async def test_spawn_runs_and_forgets_finished_tasks() -> None:
    group = TaskGroup()
    task = group.spawn(answer(), name="quick")
    assert task.get_name() == "quick"
    assert group._tasks == {task}  # a reference is kept while it runs
    # The group's done callback was registered first, so it has run when the await resumes.
    assert await task == 42
    assert not group._tasks


async def test_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("broken")

    group = TaskGroup()
    with caplog.at_level(logging.ERROR, logger="keyroute.tasks"):
        task = group.spawn(boom(), name="flusher")
        await asyncio.gather(task, return_exceptions=True)
    assert "background task flusher failed" in caplog.text
    assert caplog.records[0].exc_info is not None


async def test_close_cancels_what_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    group = TaskGroup()
    task = group.spawn(forever(), name="forever")
    await started.wait()
    with caplog.at_level(logging.ERROR, logger="keyroute.tasks"):
        await group.close()
    assert task.cancelled() and cancelled == [True]
    assert caplog.text == ""  # a cancellation is not a failure


async def test_close_with_nothing_running() -> None:
    await TaskGroup().close()
