"""``Reader.spent_since``: the board's day plus the store for what is older, cached."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyroute.alerts.readings import Reader
from keyroute.alerts.sources import NoBudgets
from tests.unit.alerts.harness import USD, Harness, utc

pytestmark = pytest.mark.anyio


async def test_month_to_date_reads_the_store_only_past_the_board() -> None:
    h = Harness(utc("2026-05-20T12:00:00"))
    await h.setup()
    await h.spend(7.0, at=utc("2026-05-03T09:00:00"))  # weeks ago: only in the store
    await h.spend(2.0, at=utc("2026-04-30T23:00:00"))  # last month
    await h.engine.sync("w1", h.clock.now)  # the board's first sync: the last day
    h.engine.board.add(
        "w1", h.clock.now, key="k1", model="m", user=None, spend_pico=3 * USD, failed=False
    )
    reader = Reader(h.engine.board, h.store.usage, NoBudgets())
    month = utc("2026-05-01T00:00:00")
    assert await reader.spent_since("w1", month, h.clock.now) == 10 * USD
    await h.spend(5.0, at=utc("2026-05-04T00:00:00"))  # the older part is cached for the hour
    assert await reader.spent_since("w1", month, h.clock.now) == 10 * USD
    later = h.clock.now + timedelta(hours=1)
    assert await reader.spent_since("w1", month, later) == 15 * USD
    # A period inside the board's day reads the board alone.
    assert await reader.spent_since("w1", utc("2026-05-20T00:00:00"), h.clock.now) == 3 * USD


async def test_budget_rules_without_budgets_read_nothing() -> None:
    from keyroute.alerts.rules import RuleInput

    h = Harness(utc("2026-05-20T12:00:00"))
    await h.setup()
    await h.rule("b", RuleInput(kind="budget_threshold", value="80"))
    await h.rule("p", RuleInput(kind="projection"))
    await h.spend(1000.0)
    assert await h.evaluate() == []


async def test_a_key_or_user_reads_its_own_spend_from_the_store_and_the_board() -> None:
    h = Harness(utc("2026-05-20T12:00:00"))
    await h.setup()
    await h.spend(7.0, at=utc("2026-05-03T09:00:00"), key="k1", user="u1")
    await h.spend(4.0, at=utc("2026-05-03T09:00:00"), key="k2")
    await h.spend(1.0, at=utc("2026-05-20T11:00:00"), key="k2", user="u1")
    await h.engine.sync("w1", h.clock.now)
    reader = Reader(h.engine.board, h.store.usage, NoBudgets())
    month, now = utc("2026-05-01T00:00:00"), h.clock.now
    assert await reader.spent_since("w1", month, now, ("key", "k1")) == 7 * USD
    assert await reader.spent_since("w1", month, now, ("key", "k2")) == 5 * USD
    assert await reader.spent_since("w1", month, now, ("user", "u1")) == 8 * USD
    assert await reader.spent_since("w1", month, now) == 12 * USD
