"""Rules of catalogue entries that msgspec's types cannot say."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from keyroute.catalogue.entries import (
    CatalogueError,
    PriceBand,
    PriceSheet,
    Tier,
    check_price,
    check_sheet,
)


def sheet(**changes: object) -> PriceSheet:
    fields: dict[str, object] = {
        "effective_date": date(2026, 1, 1),
        "source": "https://x",
        "input": Decimal(2),
        "output": Decimal(8),
        "cached_input": Decimal("0.2"),
    }
    fields.update(changes)
    return PriceSheet(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0", "0.000001", "12.5", "1E+2"])
def test_good_prices(value: str) -> None:
    check_price(Decimal(value), "p")


@pytest.mark.parametrize("value", ["-0.01", "0.0000001", "NaN", "Infinity"])
def test_bad_prices(value: str) -> None:
    with pytest.raises(CatalogueError, match="^p: "):
        check_price(Decimal(value), "p")


def test_band_prices_lists_only_priced_classes_in_order() -> None:
    band = PriceBand(input=Decimal(1), output=Decimal(2), cache_write_1h=Decimal(3))
    assert list(band.prices()) == ["input", "cache_write_1h", "output"]


def test_band_for_picks_the_highest_tier_below_the_prompt() -> None:
    tiers = (
        Tier(above_input_tokens=100, input=Decimal(3), output=Decimal(9), cached_input=Decimal(1)),
        Tier(above_input_tokens=200, input=Decimal(4), output=Decimal(9), cached_input=Decimal(1)),
    )
    s = sheet(tiers=tiers)
    check_sheet(s, "s")
    assert [s.band_for(n).input for n in (0, 100, 101, 200, 201)] == [2, 2, 3, 3, 4]


def test_tier_thresholds_must_ascend() -> None:
    tiers = (
        Tier(above_input_tokens=200, input=Decimal(3), output=Decimal(9), cached_input=Decimal(1)),
        Tier(above_input_tokens=100, input=Decimal(4), output=Decimal(9), cached_input=Decimal(1)),
    )
    with pytest.raises(CatalogueError, match=r"s.tiers\[1\].above_input_tokens"):
        check_sheet(sheet(tiers=tiers), "s")


def test_a_storage_price_is_checked_like_any_price() -> None:
    check_sheet(sheet(cache_storage=Decimal("4.5")), "s")
    with pytest.raises(CatalogueError, match=r"s.cache_storage"):
        check_sheet(sheet(cache_storage=Decimal("-1")), "s")
