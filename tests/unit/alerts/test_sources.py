from __future__ import annotations

import pytest

from keyroute.alerts.sources import NoBudgets

pytestmark = pytest.mark.anyio


async def test_no_budgets() -> None:
    assert await NoBudgets().budgets("w1") == []
