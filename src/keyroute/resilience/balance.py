"""Weighted balancing across several provider keys of one provider.

``weighted_order(items, weight, rand)`` orders ``items`` for one request: a weighted random
order without replacement (Efraimidis-Spirakis: each item draws ``u ** (1 / weight)`` and the
largest draw goes first), so over many requests each key is tried first in proportion to its
weight, and the others follow as failover in the same weighted way. Keys of weight 0 are
standbys: they follow every weighted key, in their given order. With all weights equal the
order is uniformly random, which spreads load evenly. ``rand`` is injected (tests fix it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def weighted_order(
    items: Sequence[T], weight: Callable[[T], int], rand: Callable[[], float]
) -> list[T]:
    """``items`` in a weighted random order; weight-0 items last, in their given order."""
    drawn: list[tuple[float, int, T]] = []
    standby: list[T] = []
    for index, item in enumerate(items):
        w = weight(item)
        if w <= 0:
            standby.append(item)
            continue
        u = rand()
        drawn.append((-(u ** (1.0 / w)), index, item))
    drawn.sort(key=lambda d: (d[0], d[1]))
    return [item for *_, item in drawn] + standby
