"""Exact cost of token usage: every token class priced once, tiers by prompt size."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyroute.accounting.cost import Tariff, TokenRates, check_usage
from keyroute.catalogue.entries import PriceBand, PriceSheet, Tier
from keyroute.core.money import Cost, usd_to_pico
from keyroute.core.response import Usage

D = Decimal


def band(**prices: str) -> PriceBand:
    return PriceBand(**{k: D(v) for k, v in prices.items()})  # type: ignore[arg-type]


ANTHROPIC_LIKE = band(
    input="3", cached_input="0.3", cache_write_5m="3.75", cache_write_1h="6", output="15"
)


def check(price: PriceBand | PriceSheet, usage: Usage, usd: str, discount: str = "0") -> None:
    cost = Tariff.of(price).cost(usage, D(discount))
    assert cost.list_pico == usd_to_pico(usd)
    paid = D(usd) * (100 - D(discount)) / 100
    assert cost.paid_pico == usd_to_pico(paid.quantize(D("0.000000000001")))


@pytest.mark.parametrize(
    ("usage", "usd"),
    [
        (Usage(), "0"),
        (Usage(input_tokens=1_000_000), "3"),
        (Usage(output_tokens=1_000_000, reasoning_tokens=600_000), "15"),  # reasoning is output
        (Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000), "0.3"),
        (Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000), "3.75"),
        (
            Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000, cache_write_1h_tokens=1),
            "3.75000225",  # 999,999 at 3.75 + 1 at 6
        ),
        # 1 uncached (3e-6) + 2 read (0.6e-6) + 3 short writes (11.25e-6) + 4 one-hour (24e-6)
        # + 5 output (75e-6)
        (
            Usage(
                input_tokens=10,
                cache_read_tokens=2,
                cache_write_tokens=7,
                cache_write_1h_tokens=4,
                output_tokens=5,
            ),
            "0.00011385",
        ),
        (Usage(input_tokens=1), "0.000003"),  # one token: 3,000,000 pico-dollars
    ],
)
def test_each_class_once(usage: Usage, usd: str) -> None:
    check(ANTHROPIC_LIKE, usage, usd)


def test_discount_rounds_half_even_to_the_pico_dollar() -> None:
    cost = Tariff.of(band(input="0.000001", output="0")).cost(Usage(input_tokens=1), D("50"))
    assert cost == Cost(list_pico=1, paid_pico=0, uncached_pico=1)  # 0.5 -> 0


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        # no read price: reads at input; no write price: writes at input
        (
            band(input="2", output="8"),
            TokenRates(2_000_000, 2_000_000, 2_000_000, 2_000_000, 8_000_000),
        ),
        # one write rate (OpenAI): 1h writes fall back to it
        (
            band(input="2", cached_input="0.1", cache_write="2.5", output="10"),
            TokenRates(2_000_000, 100_000, 2_500_000, 2_500_000, 10_000_000),
        ),
        (ANTHROPIC_LIKE, TokenRates(3_000_000, 300_000, 3_750_000, 6_000_000, 15_000_000)),
    ],
)
def test_fallback_rates(price: PriceBand, expected: TokenRates) -> None:
    assert TokenRates.of(price) == expected


def test_long_context_tier_prices_the_whole_request() -> None:
    sheet = PriceSheet(
        effective_date=date(2026, 1, 1),
        source="s",
        input=D(2),
        cached_input=D("0.2"),
        output=D(12),
        tiers=(Tier(above_input_tokens=200_000, input=D(4), cached_input=D("0.4"), output=D(18)),),
    )
    at_edge = Usage(input_tokens=200_000, cache_read_tokens=100_000, output_tokens=1_000)
    above = Usage(input_tokens=200_001, cache_read_tokens=100_000, output_tokens=1_000)
    check(sheet, at_edge, "0.232")  # 100,000 x 2 + 100,000 x 0.2 + 1,000 x 12, per million
    check(sheet, above, "0.458004")  # 100,001 x 4 + 100,000 x 0.4 + 1,000 x 18


def test_uncached_cost_prices_every_prompt_token_at_input() -> None:
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=900_000, output_tokens=0)
    cost = Tariff.of(ANTHROPIC_LIKE).cost(usage)
    assert (cost.list_pico, cost.uncached_pico) == (usd_to_pico("0.57"), usd_to_pico("3"))


@pytest.mark.parametrize(
    "usage",
    [
        Usage(input_tokens=-1),
        Usage(input_tokens=5, cache_read_tokens=3, cache_write_tokens=3),
        Usage(input_tokens=5, cache_write_tokens=1, cache_write_1h_tokens=2),
        Usage(output_tokens=1, reasoning_tokens=2),
    ],
)
def test_inconsistent_usage_is_refused(usage: Usage) -> None:
    with pytest.raises(ValueError, match="exceed|negative"):
        check_usage(usage)


def test_a_price_finer_than_a_pico_dollar_per_token_is_refused() -> None:
    with pytest.raises(ValueError, match="not whole pico-dollars"):
        TokenRates.of(band(input="0.0000001", output="1"))


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    input_tokens = draw(st.integers(0, 2_000_000))
    reads = draw(st.integers(0, input_tokens))
    writes = draw(st.integers(0, input_tokens - reads))
    output = draw(st.integers(0, 200_000))
    return Usage(
        input_tokens=input_tokens,
        cache_read_tokens=reads,
        cache_write_tokens=writes,
        cache_write_1h_tokens=draw(st.integers(0, writes)),
        output_tokens=output,
        reasoning_tokens=draw(st.integers(0, output)),
    )


@given(usage=usages(), price=st.decimals("0", "100", places=6))
def test_every_token_is_priced_exactly_once(usage: Usage, price: Decimal) -> None:
    # With one price for every class, however the prompt splits into reads, writes and
    # uncached tokens (and the output into reasoning), the cost is all tokens at that price.
    flat = PriceBand(
        input=price,
        cached_input=price,
        cache_write_5m=price,
        cache_write_1h=price,
        output=price,
    )
    cost = Tariff.of(flat).cost(usage)
    expected = (usage.input_tokens + usage.output_tokens) * price * 10**6
    assert cost.list_pico == cost.uncached_pico == int(expected)
