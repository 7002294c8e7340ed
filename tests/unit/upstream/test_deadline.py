"""``keyroute.upstream.deadline.Deadline``: one timer, the right limit named, cancellation kept."""

from __future__ import annotations

import asyncio

import pytest

from keyroute.core.errors import UpstreamTimeout
from keyroute.core.timeouts import Timeouts
from keyroute.upstream.deadline import Deadline

pytestmark = pytest.mark.anyio


async def forever() -> bytes:
    await asyncio.Event().wait()
    return b""


async def ready() -> bytes:
    return b"x"


def deadline(**seconds: float) -> Deadline:
    return Deadline(
        Timeouts(**{"first_byte": 5.0, "idle": 5.0, "total": 5.0, **seconds}), provider="p"
    )


@pytest.mark.parametrize(
    ("limits", "body", "message"),
    [
        ({"first_byte": 0.02}, False, "no response head within 0.02 s"),
        ({"idle": 0.02}, True, "sent nothing for 0.02 s in the middle of its answer"),
        ({"total": 0.02}, False, "did not finish answering within 0.02 s"),
        ({"total": 0.02}, True, "did not finish answering within 0.02 s"),
    ],
)
async def test_the_limit_that_expires_is_named(
    limits: dict[str, float], body: bool, message: str
) -> None:
    d = deadline(**limits)
    if body:
        d.head_received()
    with pytest.raises(UpstreamTimeout, match=message):
        await d.wait(forever)
    d.stop()


async def test_once_expired_every_later_wait_fails_without_calling_the_step() -> None:
    d = deadline(first_byte=0.02)
    with pytest.raises(UpstreamTimeout):
        await d.wait(forever)
    called: list[bool] = []

    async def step() -> bytes:
        called.append(True)
        return b""

    with pytest.raises(UpstreamTimeout):
        await d.wait(step)
    assert called == []


async def test_quick_steps_pass_and_stop_drops_the_timer() -> None:
    d = deadline(first_byte=0.05, idle=0.05)
    assert await d.wait(ready) == b"x"
    d.head_received()
    for _ in range(100):
        assert await d.wait(ready) == b"x"
    d.stop()
    d.stop()  # idempotent
    await asyncio.sleep(0.1)  # past every limit: nothing fires after stop
    assert await d.wait(ready) == b"x"


async def test_an_outside_cancellation_stays_a_cancellation() -> None:
    d = deadline(first_byte=5.0)
    task = asyncio.ensure_future(d.wait(forever))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    d.stop()
