"""``keyroute.resilience.balance``: weighted random order across a provider's keys."""

from __future__ import annotations

import random
from collections import Counter

from keyroute.resilience.balance import weighted_order


def test_first_choices_follow_the_weights() -> None:
    weights = {"a": 3, "b": 1, "c": 0}
    rng = random.Random(7)
    firsts = Counter(
        weighted_order(["a", "b", "c"], weights.__getitem__, rng.random)[0] for _ in range(4000)
    )
    assert firsts["c"] == 0
    assert 0.70 < firsts["a"] / 4000 < 0.80  # 3 of 4


def test_every_item_stays_and_standbys_come_last_in_order() -> None:
    weights = {"a": 0, "b": 1, "c": 0, "d": 2}
    order = weighted_order(["a", "b", "c", "d"], weights.__getitem__, random.Random(1).random)
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order[2:] == ["a", "c"]


def test_equal_weights_keep_the_draws_order() -> None:
    draws = iter([0.1, 0.9])
    assert weighted_order(["a", "b"], lambda _: 1, lambda: next(draws)) == ["b", "a"]
