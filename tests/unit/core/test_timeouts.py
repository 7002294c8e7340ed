"""``keyroute.core.timeouts.Timeouts``: safe defaults, validation, capping."""

from __future__ import annotations

import math

import pytest

from keyroute.core.timeouts import Timeouts


def test_defaults_are_bounded_and_the_total_is_the_longest() -> None:
    t = Timeouts()
    assert (t.connect, t.first_byte, t.idle, t.total) == (10.0, 120.0, 120.0, 600.0)


@pytest.mark.parametrize("field", ["connect", "first_byte", "idle", "total"])
@pytest.mark.parametrize("value", [0, -1.0, math.inf, math.nan, "5"])
def test_every_limit_must_be_a_positive_finite_number(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"Timeouts.{field}"):
        Timeouts(**{field: value})  # type: ignore[arg-type]


def test_capped() -> None:
    t = Timeouts(connect=3.0, first_byte=20.0, idle=30.0, total=40.0).capped(10.0)
    assert t == Timeouts(connect=3.0, first_byte=10.0, idle=10.0, total=10.0)
