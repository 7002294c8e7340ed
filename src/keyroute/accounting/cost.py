"""The exact cost of a request's token usage at a price band, in integer pico-dollars.

Pure: no clock, no storage. ``PriceBook`` (``accounting.pricebook``) chooses the sheet, the
workspace's overrides and its discount, and asks a cached ``Tariff`` for the ``Cost``.

Every token class is priced once and only once (``core.response.Usage`` defines cache reads and
writes as subsets of ``input_tokens`` and reasoning as a subset of ``output_tokens``):

    uncached input     = input - reads - writes   at ``input``
    cache reads                                   at ``cached_input`` (else ``input``)
    short-lived writes = writes - one-hour writes at ``cache_write_5m`` or ``cache_write``
                                                  (else ``input``)
    one-hour writes                               at ``cache_write_1h`` (else the short price)
    output (reasoning included)                   at ``output``

The band is chosen by the whole prompt (``input_tokens``): a long-context tier applies to every
token of the request. A price of ``p`` USD per million tokens is ``p * 10**6`` pico-dollars per
token, a whole number because catalogue and override prices have at most six decimal places, so
the sum is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from keyroute.catalogue.entries import PriceBand, PriceSheet
from keyroute.core.money import Cost, apply_discount
from keyroute.core.response import Usage

_PICO_PER_TOKEN_PER_USD_PER_MILLION = 10**6


def _pico_per_token(usd_per_million: Decimal) -> int:
    value = usd_per_million * _PICO_PER_TOKEN_PER_USD_PER_MILLION
    if value != value.to_integral_value():
        raise ValueError(f"{usd_per_million} USD per million tokens is not whole pico-dollars")
    return int(value)


@dataclass(frozen=True, slots=True)
class TokenRates:
    """A band's prices in pico-dollars per token, every class resolved (no fallbacks left)."""

    input: int
    cached_input: int
    cache_write_short: int
    cache_write_1h: int
    output: int

    @classmethod
    def of(cls, band: PriceBand) -> TokenRates:
        input_rate = _pico_per_token(band.input)
        cached = band.cached_input
        short = band.cache_write_5m if band.cache_write_5m is not None else band.cache_write
        short_rate = input_rate if short is None else _pico_per_token(short)
        long = band.cache_write_1h
        return cls(
            input=input_rate,
            cached_input=input_rate if cached is None else _pico_per_token(cached),
            cache_write_short=short_rate,
            cache_write_1h=short_rate if long is None else _pico_per_token(long),
            output=_pico_per_token(band.output),
        )


def check_usage(usage: Usage) -> None:
    """Refuse counts that break ``Usage``'s invariants (a negative or inconsistent report)."""
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.reasoning_tokens,
    )
    if min(counts) < 0:
        raise ValueError(f"token counts must not be negative: {usage}")
    if usage.cache_read_tokens + usage.cache_write_tokens > usage.input_tokens:
        raise ValueError(f"cache reads and writes exceed the prompt: {usage}")
    if usage.cache_write_1h_tokens > usage.cache_write_tokens:
        raise ValueError(f"one-hour writes exceed all cache writes: {usage}")
    if usage.reasoning_tokens > usage.output_tokens:
        raise ValueError(f"reasoning exceeds the output: {usage}")


def rates_cost(rates: TokenRates, usage: Usage) -> int:
    """Pico-dollars for ``usage`` at ``rates``; each token class priced exactly once."""
    short_writes = usage.cache_write_tokens - usage.cache_write_1h_tokens
    return (
        usage.uncached_input_tokens * rates.input
        + usage.cache_read_tokens * rates.cached_input
        + short_writes * rates.cache_write_short
        + usage.cache_write_1h_tokens * rates.cache_write_1h
        + usage.output_tokens * rates.output
    )


def uncached_cost(rates: TokenRates, usage: Usage) -> int:
    """What the same tokens would have cost with no prompt caching (every prompt token at
    ``input``), for the caching saving."""
    return usage.input_tokens * rates.input + usage.output_tokens * rates.output


@dataclass(frozen=True, slots=True)
class Tariff:
    """A price sheet resolved to per-token rates: the base band and its long-context tiers.

    Built once per sheet (``PriceBook`` caches it), so costing a request is integer arithmetic.
    """

    base: TokenRates
    tiers: tuple[tuple[int, TokenRates], ...] = ()  # (above_input_tokens, rates), ascending

    @classmethod
    def of(cls, sheet: PriceSheet | PriceBand) -> Tariff:
        tiers = sheet.tiers if isinstance(sheet, PriceSheet) else ()
        return cls(
            base=TokenRates.of(sheet),
            tiers=tuple((t.above_input_tokens, TokenRates.of(t)) for t in tiers),
        )

    def rates_for(self, prompt_tokens: int) -> TokenRates:
        rates = self.base
        for above, tier in self.tiers:
            if prompt_tokens > above:
                rates = tier
        return rates

    def cost(self, usage: Usage, discount: Decimal | None = None) -> Cost:
        """The ``Cost`` of ``usage``: list price, paid less ``discount`` percent, uncached."""
        check_usage(usage)
        rates = self.rates_for(usage.input_tokens)
        listed = rates_cost(rates, usage)
        return Cost(
            list_pico=listed,
            paid_pico=listed if not discount else apply_discount(listed, discount),
            uncached_pico=uncached_cost(rates, usage),
        )
