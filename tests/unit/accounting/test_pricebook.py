"""``PriceBook``: catalogue prices, workspace overrides and discounts, and the acceptance table:
for each provider family, the cost of a request with cache reads, cache writes, reasoning and
(where the provider has one) a long-context tier equals the hand computation from the catalogue,
list and paid, with a negotiated discount set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from keyroute.accounting.pricebook import PriceBook, override_band
from keyroute.catalogue import builtin
from keyroute.catalogue.entries import PriceBand
from keyroute.core.money import UNKNOWN, Cost, apply_discount, usd_to_pico
from keyroute.core.response import Usage
from keyroute.storage.base import PriceOverrideRecord, WorkspaceRecord
from keyroute.storage.memory import MemoryStore

pytestmark = pytest.mark.anyio

D = Decimal
TODAY = date(2026, 12, 3)
T0 = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    await store.create_workspace(
        WorkspaceRecord(
            id="w1", name="w1", plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
        )
    )
    yield store


async def override(
    store: MemoryStore,
    provider: str,
    model: str = "",
    discount: str | None = None,
    **prices: str,
) -> None:
    await store.set_price_override(
        PriceOverrideRecord(
            workspace_id="w1",
            provider=provider,
            model=model,
            updated_at=T0,
            discount_percent=None if discount is None else D(discount),
            prices={k: D(v) for k, v in prices.items()} or None,
        )
    )


async def book(store: MemoryStore, day: date = TODAY) -> PriceBook:
    prices = PriceBook(builtin(), store, today=lambda: day)
    await prices.prepare("w1")
    return prices


# Acceptance: one row per provider family. Prices are copied by hand from models.toml.


@dataclass(frozen=True)
class Case:
    provider: str
    model: str
    usage: Usage
    list_usd: str  # the hand computation, shown in the comment of each row
    discount: str
    discount_on: str  # "provider" or "model"


CASES = [
    # gpt-6.2-sol above 272K input: tier $4 in, $0.20 cached, $5 write, $15 out.
    # 50,000 x 4 + 200,000 x 0.20 + 50,000 x 5 + 10,000 x 15 (reasoning inside) = 640,000 / 1M
    Case(
        "openai",
        "gpt-6.2-sol",
        Usage(
            input_tokens=300_000,
            cache_read_tokens=200_000,
            cache_write_tokens=50_000,
            output_tokens=10_000,
            reasoning_tokens=4_000,
        ),
        "0.64",
        "10",
        "model",
    ),
    # claude-haiku-5-5 above 100K: $0.50 in, $0.05 read, $0.625 5m, $1.00 1h, $2.50 out.
    # 30,000 x 0.5 + 100,000 x 0.05 + 15,000 x 0.625 + 5,000 x 1 + 1,000 x 2.5 = 36,875 / 1M
    Case(
        "anthropic",
        "claude-haiku-5-5",
        Usage(
            input_tokens=150_000,
            cache_read_tokens=100_000,
            cache_write_tokens=20_000,
            cache_write_1h_tokens=5_000,
            output_tokens=1_000,
            reasoning_tokens=500,
        ),
        "0.036875",
        "15",
        "provider",
    ),
    # gemini-3.1-pro-preview above 200K: $4 in, $0.40 cached, writes at input, $18 out.
    # 90,000 x 4 + 150,000 x 0.40 + 10,000 x 4 + 20,000 x 18 (thinking inside) = 820,000 / 1M
    Case(
        "gemini",
        "gemini-3.1-pro-preview",
        Usage(
            input_tokens=250_000,
            cache_read_tokens=150_000,
            cache_write_tokens=10_000,
            output_tokens=20_000,
            reasoning_tokens=8_000,
        ),
        "0.82",
        "20",
        "model",
    ),
    # deepseek-flash (peak): $0.30 miss, $0.006 hit, $1.20 out; DeepSeek has no long-context
    # tier, so a 500K prompt pays the flat rate.
    # 99,000 x 0.30 + 400,000 x 0.006 + 1,000 x 0.30 (write at input) + 30,000 x 1.20 = 68,400
    Case(
        "deepseek",
        "deepseek-flash",
        Usage(
            input_tokens=500_000,
            cache_read_tokens=400_000,
            cache_write_tokens=1_000,
            output_tokens=30_000,
            reasoning_tokens=20_000,
        ),
        "0.0684",
        "5",
        "provider",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.provider)
async def test_cost_equals_the_hand_computation(store: MemoryStore, case: Case) -> None:
    model = case.model if case.discount_on == "model" else ""
    await override(store, case.provider, model, discount=case.discount)
    cost = (await book(store)).cost("w1", case.provider, case.model, case.usage)
    listed = usd_to_pico(case.list_usd)
    assert cost.list_pico == listed
    paid = D(case.list_usd) * (100 - D(case.discount)) / 100
    assert cost.paid_pico == usd_to_pico(paid) == apply_discount(listed, D(case.discount))
    assert cost.known


# Rules.


async def test_no_override_pays_list(store: MemoryStore) -> None:
    cost = (await book(store)).cost("w1", "openai", "gpt-4o-mini", Usage(input_tokens=1_000_000))
    assert cost == Cost(
        list_pico=usd_to_pico("0.15"),
        paid_pico=usd_to_pico("0.15"),
        uncached_pico=usd_to_pico("0.15"),
    )


async def test_unknown_model_is_unknown_never_zero(store: MemoryStore) -> None:
    prices = await book(store)
    assert prices.cost("w1", "openai", "gpt-99", Usage(input_tokens=5)) is UNKNOWN
    assert prices.cost("w1", "openai-compatible", "x", Usage(input_tokens=5)) is UNKNOWN
    before_launch = await book(store, date(2026, 10, 1))
    assert before_launch.cost("w1", "gemini", "gemini-4-argon", Usage(input_tokens=5)) is UNKNOWN


async def test_self_hosted_costs_zero(store: MemoryStore) -> None:
    cost = (await book(store)).cost("w1", "ollama", "llama3", Usage(input_tokens=9))
    assert (cost.list_pico, cost.paid_pico) == (0, 0)


async def test_model_discount_beats_provider_discount(store: MemoryStore) -> None:
    await override(store, "anthropic", discount="15")
    await override(store, "anthropic", "claude-opus-5", discount="40")
    prices = await book(store)
    usage = Usage(output_tokens=1_000_000)
    assert prices.cost("w1", "anthropic", "claude-opus-5", usage).paid_pico == usd_to_pico(15)
    assert prices.cost("w1", "anthropic", "claude-opus-5-5", usage).paid_pico == usd_to_pico(17)


async def test_alias_finds_the_models_override(store: MemoryStore) -> None:
    await override(store, "anthropic", "claude-haiku-4-5", discount="50")
    prices = await book(store)
    cost = prices.cost("w1", "anthropic", "claude-haiku-4-5-20251001", Usage(input_tokens=10**6))
    assert (cost.list_pico, cost.paid_pico) == (usd_to_pico(1), usd_to_pico("0.5"))


async def test_price_override_replaces_list_and_drops_tiers(store: MemoryStore) -> None:
    await override(store, "openai", "gpt-6.2-sol", input="1", output="5", discount="10")
    prices = await book(store)
    usage = Usage(input_tokens=400_000, cache_read_tokens=100_000, output_tokens=100_000)
    cost = prices.cost("w1", "openai", "gpt-6.2-sol", usage)
    # 300,000 x 1 + 100,000 x 0.10 (catalogue's base cached price kept) + 100,000 x 5
    assert cost.list_pico == usd_to_pico("0.81")
    assert cost.paid_pico == usd_to_pico("0.729")


async def test_override_prices_a_model_the_catalogue_does_not_know(store: MemoryStore) -> None:
    await override(store, "openai-compatible", "my-llm", input="0.5", output="1")
    cost = (await book(store)).cost("w1", "openai-compatible", "my-llm", Usage(input_tokens=10**6))
    assert cost.list_pico == usd_to_pico("0.5")


async def test_an_override_applies_on_the_next_request(store: MemoryStore) -> None:
    prices = await book(store)
    usage = Usage(input_tokens=1_000_000)
    assert prices.cost("w1", "openai", "gpt-4o", usage).paid_pico == usd_to_pico("2.5")
    await override(store, "openai", discount="20")  # another process would do the same
    await prices.prepare("w1")
    assert prices.cost("w1", "openai", "gpt-4o", usage).paid_pico == usd_to_pico(2)


async def test_the_sheet_follows_the_day(store: MemoryStore) -> None:
    day = [date(2026, 11, 30)]
    prices = PriceBook(builtin(), store, today=lambda: day[0])
    await prices.prepare("w1")
    usage = Usage(output_tokens=1_000_000)
    assert prices.cost("w1", "gemini", "gemini-4-argon", usage).list_pico == usd_to_pico(10)
    day[0] = date(2026, 12, 1)
    assert prices.cost("w1", "gemini", "gemini-4-argon", usage).list_pico == usd_to_pico(20)


async def test_cost_needs_prepare(store: MemoryStore) -> None:
    prices = PriceBook(builtin(), store)
    with pytest.raises(LookupError, match="prepare"):
        prices.cost("w1", "openai", "gpt-4o", Usage())
    await prices.prepare("w1")
    prices.invalidate("w1")
    with pytest.raises(LookupError):
        prices.cost("w1", "openai", "gpt-4o", Usage())
    await prices.prepare("w1")
    prices.invalidate()
    with pytest.raises(LookupError):
        prices.cost("w1", "openai", "gpt-4o", Usage())


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"input": D(1)}, "needs output"),
        ({"bogus": D(1)}, "unknown token class bogus"),
        ({"input": D(-1), "output": D(1)}, "non-negative"),
    ],
)
def test_override_band_errors(prices: dict[str, Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        override_band(None, prices)


def test_override_band_swaps_write_style() -> None:
    base = PriceBand(input=D(1), output=D(2), cache_write=D("1.25"))
    swapped = override_band(base, {"cache_write_5m": D("1.5")})
    assert (swapped.cache_write, swapped.cache_write_5m) == (None, D("1.5"))
    back = override_band(swapped, {"cache_write": D("1.1")})
    assert (back.cache_write, back.cache_write_5m) == (D("1.1"), None)
