"""The shapes of the catalogue file and the rules every entry obeys.

A price is USD per million tokens, an exact ``Decimal`` with at most six decimal places, so that
each token costs a whole number of pico-dollars (``core.money``) and a request's cost is an
exact integer sum.

Token classes (``TOKEN_CLASSES``), each priced once and only once by ``accounting.cost``:
- ``input``: prompt tokens neither read from nor written to a cache;
- ``cached_input``: prompt tokens read from a cache;
- ``cache_write``: prompt tokens written to a cache, for providers with one write rate
  (OpenAI GPT-5.6 and later); ``cache_write_5m`` / ``cache_write_1h`` for providers that bill
  by the cache's lifetime (Anthropic). A band gives ``cache_write`` or ``cache_write_5m``,
  never both;
- ``output``: completion tokens, reasoning included (providers bill thinking as output).

A class a band does not price is billed as the provider bills it: cache writes with no write
price at the input price (OpenAI before GPT-5.6, Gemini implicit caching), one-hour writes with
no one-hour price at the short write price, cache reads with no read price at the input price.

A sheet's ``cache_storage`` is not a token class: it is USD per million tokens per hour of an
explicit context cache's lifetime (Gemini ``cachedContents``), billed besides the tokens.

A ``PriceSheet`` is the tariff from its ``effective_date`` on (a model's sheets are in date
order; the newest one in effect applies). Its ``tiers`` are long-context bands: a request whose
whole prompt (``Usage.input_tokens``, cache reads and writes included) is above a tier's
``above_input_tokens`` pays that tier's prices on every token of the request.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec

TOKEN_CLASSES: tuple[str, ...] = (
    "input",
    "cached_input",
    "cache_write",
    "cache_write_5m",
    "cache_write_1h",
    "output",
)
"""Every token class a price band can name, in display order."""

_MAX_DECIMALS = 6


class CatalogueError(ValueError):
    """The catalogue file is invalid; the message names the entry and the field."""


class Capabilities(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a model can do. Every flag is stated in the file; none is assumed."""

    streaming: bool
    tools: bool
    parallel_tools: bool
    vision: bool
    json_mode: bool
    json_schema: bool
    embeddings: bool
    prompt_caching: bool
    reasoning: bool
    # The shortest prompt prefix the provider caches; None when caching is off or unpublished.
    min_cacheable_tokens: int | None = None


class PriceBand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """USD per million tokens for each token class this band bills."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None

    def prices(self) -> dict[str, Decimal]:
        """The classes this band prices, in ``TOKEN_CLASSES`` order."""
        found = {name: getattr(self, name) for name in TOKEN_CLASSES}
        return {name: value for name, value in found.items() if value is not None}


class Tier(PriceBand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A long-context band: applies when the whole prompt is above ``above_input_tokens``."""

    above_input_tokens: int


class PriceSheet(PriceBand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One model's tariff from ``effective_date`` on, with where it was read."""

    effective_date: date
    source: str
    # Further pages the prices were cross-checked against.
    checked: tuple[str, ...] = ()
    note: str | None = None
    tiers: tuple[Tier, ...] = ()
    # USD per million tokens per hour that an explicit context cache of this model is stored
    # (Gemini ``cachedContents``); None when the model has no explicit cache keyroute may create.
    cache_storage: Decimal | None = None

    def band_for(self, prompt_tokens: int) -> PriceBand:
        """The band a request with a ``prompt_tokens`` prompt pays (tiers are ascending)."""
        band: PriceBand = self
        for tier in self.tiers:
            if prompt_tokens > tier.above_input_tokens:
                band = tier
        return band


class ModelEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One model of one provider. ``id`` is the name the provider's API expects."""

    provider: str
    id: str
    family: str
    context_window: int
    max_output_tokens: int
    capabilities: Capabilities
    aliases: tuple[str, ...] = ()
    description: str = ""
    prices: tuple[PriceSheet, ...] = ()

    @property
    def ref(self) -> str:
        """``provider/id``, the model id clients use."""
        return f"{self.provider}/{self.id}"

    def sheet_at(self, day: date) -> PriceSheet | None:
        """The price sheet in effect on ``day``; None when no sheet is (no known price)."""
        current = None
        for sheet in self.prices:
            if sheet.effective_date <= day:
                current = sheet
        return current


class ProviderEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Catalogue facts about a provider as a whole.

    ``bare_prefixes``: a model name without ``provider/`` that starts with one of these belongs
    to this provider (``claude-`` -> anthropic). ``self_hosted``: the gateway's operator runs
    the models, no one bills per token, so every model of this provider costs 0 unless a
    workspace override prices it. ``host_lists_models``: the host serves far more models than
    the catalogue describes, so model listings ask the host rather than show the catalogue's.
    """

    bare_prefixes: tuple[str, ...] = ()
    self_hosted: bool = False
    host_lists_models: bool = False


def check_price(value: Decimal, where: str) -> None:
    if not value.is_finite() or value < 0:
        raise CatalogueError(f"{where}: a price must be a non-negative number, not {value}")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _MAX_DECIMALS:
        raise CatalogueError(
            f"{where}: {value} has more than {_MAX_DECIMALS} decimal places (USD per million)"
        )


def check_band(band: PriceBand, where: str) -> None:
    for name, value in band.prices().items():
        check_price(value, f"{where}.{name}")
    if band.cache_write is not None and band.cache_write_5m is not None:
        raise CatalogueError(f"{where}: give cache_write or cache_write_5m, not both")


def check_sheet(sheet: PriceSheet, where: str) -> None:
    check_band(sheet, where)
    if sheet.cache_storage is not None:
        check_price(sheet.cache_storage, f"{where}.cache_storage")
    if not sheet.source.strip():
        raise CatalogueError(f"{where}.source: every price needs its source")
    floor = 0
    for i, tier in enumerate(sheet.tiers):
        here = f"{where}.tiers[{i}]"
        check_band(tier, here)
        if tier.above_input_tokens <= floor:
            raise CatalogueError(f"{here}.above_input_tokens: tiers must be positive and ascending")
        floor = tier.above_input_tokens
        if set(tier.prices()) != set(sheet.prices()):
            raise CatalogueError(
                f"{here}: a tier must price the same token classes as its sheet "
                f"({', '.join(sheet.prices())})"
            )


def check_model(entry: ModelEntry, where: str) -> None:
    """Rules msgspec's types cannot say; raises ``CatalogueError`` naming the field."""
    if not entry.id or "/" in entry.provider or not entry.provider:
        raise CatalogueError(f"{where}: provider and id must be non-empty (provider has no '/')")
    for name in ("context_window", "max_output_tokens"):
        if getattr(entry, name) < 0:
            raise CatalogueError(f"{where}.{name}: must not be negative")
    if entry.max_output_tokens > entry.context_window:
        raise CatalogueError(f"{where}.max_output_tokens: larger than the context window")
    caps = entry.capabilities
    if not caps.prompt_caching and caps.min_cacheable_tokens is not None:
        raise CatalogueError(
            f"{where}.capabilities.min_cacheable_tokens: set, but prompt_caching is false"
        )
    previous: date | None = None
    for i, sheet in enumerate(entry.prices):
        check_sheet(sheet, f"{where}.prices[{i}]")
        if previous is not None and sheet.effective_date <= previous:
            raise CatalogueError(
                f"{where}.prices[{i}].effective_date: sheets must be in ascending date order"
            )
        previous = sheet.effective_date
