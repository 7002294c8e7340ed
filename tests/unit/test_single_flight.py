"""``keyroute.single_flight.SingleFlight``: one load per key for concurrent callers."""

from __future__ import annotations

import asyncio

import pytest

from keyroute.single_flight import SingleFlight

pytestmark = pytest.mark.anyio


class Loader:
    """Counts its calls and finishes each when the test says so."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> int:
        self.calls += 1
        call = self.calls
        await self.release.wait()
        return call


async def test_concurrent_callers_share_one_load() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    load = Loader()
    waiters = [asyncio.ensure_future(flights.run("k", load)) for _ in range(4)]
    other = asyncio.ensure_future(flights.run("other", load))
    await asyncio.sleep(0)
    assert len(flights) == 2
    load.release.set()
    assert await asyncio.gather(*waiters) == [1, 1, 1, 1]
    assert await other == 2
    assert len(flights) == 0
    assert await flights.run("k", load) == 3  # a later call loads again: nothing is cached


async def test_a_failed_load_fails_every_waiter_and_is_retried_next_time() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()

    async def fail() -> int:
        await gate.wait()
        raise ValueError("boom")

    waiters = [asyncio.ensure_future(flights.run("k", fail)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [ValueError] * 3
    with pytest.raises(ValueError):
        await flights.run("k", fail)  # alone: the exception is raised, not left unretrieved


async def test_a_cancelled_leader_does_not_fail_the_others() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    load = Loader()
    leader = asyncio.ensure_future(flights.run("k", load))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(flights.run("k", load))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    load.release.set()
    assert await follower == 2  # it loaded again itself
    assert leader.cancelled()


async def test_a_cancelled_follower_leaves_the_load_running() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    load = Loader()
    leader = asyncio.ensure_future(flights.run("k", load))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(flights.run("k", load))
    await asyncio.sleep(0)
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    load.release.set()
    assert await leader == 1
