"""``SingleFlight``: concurrent loads of the same key share one call.

When many requests miss a cache for the same key at once (a burst after a change, or a flood of
one unknown gateway key), only the first runs the load; the others await its result. A load
that fails fails every waiter with the same exception. A load whose own caller is cancelled
(its client left) does not fail the others: they run the load again themselves.

In-process only, no locks held across awaits of other keys; nothing is cached here: callers keep
their own caches and use this only on a miss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        """How many loads are in flight."""
        return len(self._flights)

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        flight = self._flights.get(key)
        if flight is not None:
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                if not flight.cancelled():
                    raise  # this caller was cancelled, not the load
                return await self.run(key, load)  # the leader's caller left: load again
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value = await load()
        except Exception as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: no "never retrieved" log when nobody else waited
            raise
        except BaseException:
            flight.cancel()
            raise
        finally:
            del self._flights[key]
        flight.set_result(value)
        return value
