"""``keyroute.core.money``: exact conversions, discounts and the unknown cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keyroute.core.money import (
    FREE,
    UNKNOWN,
    Cost,
    apply_discount,
    pico_to_usd,
    usd_text,
    usd_to_pico,
)


@pytest.mark.parametrize(
    ("usd", "pico"),
    [
        ("0", 0),
        ("1", 10**12),
        ("0.075", 75_000_000_000),
        ("0.0000000375", 37_500),  # $0.0375 per million tokens, per token
        ("3", 3 * 10**12),
        ("-0.5", -(5 * 10**11)),
    ],
)
def test_usd_and_pico_round_trip(usd: str, pico: int) -> None:
    assert usd_to_pico(usd) == pico
    assert pico_to_usd(pico) == Decimal(usd)


def test_sub_pico_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="pico"):
        usd_to_pico("0.0000000000001")


@pytest.mark.parametrize(
    ("pico", "text"),
    [(None, None), (0, "0"), (1, "0.000000000001"), (1_500_000_000_000, "1.5"), (10**13, "10")],
)
def test_usd_text_is_plain_decimal(pico: int | None, text: str | None) -> None:
    assert usd_text(pico) == text


@pytest.mark.parametrize(
    ("pico", "percent", "paid"),
    [
        (1000, "0", 1000),
        (1000, "15", 850),
        (1000, "100", 0),
        (3, "50", 2),  # 1.5 rounds half-even to 2
        (5, "50", 2),  # 2.5 rounds half-even to 2
        (7, "12.5", 6),  # 6.125 -> 6
    ],
)
def test_discount(pico: int, percent: str, paid: int) -> None:
    assert apply_discount(pico, Decimal(percent)) == paid


@pytest.mark.parametrize("percent", ["-1", "100.01"])
def test_discount_out_of_range(percent: str) -> None:
    with pytest.raises(ValueError, match="percentage"):
        apply_discount(100, Decimal(percent))


def test_known_and_unknown() -> None:
    assert FREE.known and FREE.paid_pico == 0
    assert not UNKNOWN.known
    assert not Cost(list_pico=10, paid_pico=None).known
