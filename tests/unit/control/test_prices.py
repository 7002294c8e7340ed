"""Workspace price overrides: the checks of ``control.prices`` and the ``ControlPlane``
methods over them (a ``MemoryStore``, the shipped catalogue)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from keyroute.catalogue import builtin
from keyroute.control import prices
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio

D = Decimal
DAY = date(2026, 12, 3)
CAT = builtin()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def plane() -> ControlPlane:
    store = MemoryStore()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    plane = ControlPlane(
        store, KeyVault(store, keyring), clock=lambda: datetime(2026, 12, 3, tzinfo=UTC)
    )
    await plane.create_workspace("team")
    return plane


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("anthropic", None, ("anthropic", "")),
        (None, "openai/gpt-6.2-sol", ("openai", "gpt-6.2-sol")),
        (None, "gpt-6.2-sol", ("openai", "gpt-6.2-sol")),
        (None, "claude-haiku-4-5-20251001", ("anthropic", "claude-haiku-4-5")),  # alias -> id
        ("anthropic", "anthropic/claude-opus-5", ("anthropic", "claude-opus-5")),
        ("openai-compatible", "my-llm", ("openai-compatible", "my-llm")),
        (
            None,
            "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
            ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ),
    ],
)
def test_target(provider: str | None, model: str | None, expected: tuple[str, str]) -> None:
    assert prices.target(CAT, provider, model) == expected


@pytest.mark.parametrize(
    ("provider", "model", "param"),
    [
        (None, None, "provider"),
        ("azure", None, "provider"),
        (None, "no-such-model", "model"),
        (None, "bad model", "model"),
        ("azure", "x", "provider"),
    ],
)
def test_target_errors(provider: str | None, model: str | None, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        prices.target(CAT, provider, model)
    assert info.value.param == param


@pytest.mark.parametrize("value", ["0", "15", "12.5", 100, 0.5])
def test_good_discounts(value: object) -> None:
    assert prices.check_discount(value) == D(str(value))


@pytest.mark.parametrize("value", ["-1", "100.01", "x", "NaN", True, None, [1]])
def test_bad_discounts(value: object) -> None:
    with pytest.raises(InvalidRequest) as info:
        prices.check_discount(value)
    assert info.value.param == "discount"


@pytest.mark.parametrize(
    ("given", "param", "match"),
    [
        ({"bogus": "1"}, "bogus", "Unknown token class"),
        ({"input": "-1"}, "input", "non-negative"),
        ({"input": "0.0000001"}, "input", "decimal places"),
        ({"input": "abc"}, "input", "must be a number"),
    ],
)
def test_price_errors(given: dict[str, object], param: str, match: str) -> None:
    with pytest.raises(InvalidRequest, match=match) as info:
        prices.check_prices(CAT, "openai", "gpt-4o", given, DAY)
    assert info.value.param == param


def test_unknown_model_needs_input_and_output() -> None:
    with pytest.raises(InvalidRequest, match="needs output"):
        prices.check_prices(CAT, "openai-compatible", "x", {"input": "1"}, DAY)
    existing = {"input": D(1), "output": D(2)}
    assert prices.check_prices(CAT, "openai-compatible", "x", {"input": "3"}, DAY, existing) == {
        "input": D(3)
    }


def test_prices_need_a_model() -> None:
    with pytest.raises(InvalidRequest, match="one model") as info:
        prices.change(CAT, {"provider": "openai", "input": "1"}, DAY)
    assert info.value.param == "model"


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"provider": "openai"}, "discount"),  # nothing to set
        ({"provider": "openai", "discount": 1, "colour": "red"}, "colour"),
        ({"provider": 3, "discount": 1}, "provider"),
    ],
)
def test_change_errors(raw: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        prices.change(CAT, raw, DAY)
    assert info.value.param == param


TOML = """
[[overrides]]
provider = "anthropic"
discount = 15

[[overrides]]
model = "openai/gpt-6.2-sol"
input = 1.60
output = 8
"""
JSON = '{"overrides": [{"provider": "anthropic", "discount": 15},'
JSON += ' {"model": "openai/gpt-6.2-sol", "input": 1.60, "output": 8}]}'
CSV = "provider,model,discount,input,output\nanthropic,,15,,\n,openai/gpt-6.2-sol,,1.60,8\n"


@pytest.mark.parametrize(("text", "fmt"), [(TOML, "toml"), (JSON, "json"), (CSV, "csv")])
def test_parse_file(text: str, fmt: str) -> None:
    assert prices.parse_file(CAT, text, fmt, DAY) == [
        prices.PriceChange(provider="anthropic", model="", discount=D(15)),
        prices.PriceChange(
            provider="openai", model="gpt-6.2-sol", prices={"input": D("1.60"), "output": D(8)}
        ),
    ]


@pytest.mark.parametrize(
    ("text", "fmt", "match"),
    [
        ("[[overrides]\n", "toml", "cannot be read"),
        ("{", "json", "cannot be read"),
        ('{"rules": []}', "json", "Unknown top-level key"),
        ('{"overrides": 3}', "json", "must be a list"),
        ("[3]", "json", "Entry 0: an override is a table"),
        (
            '[{"provider": "openai", "discount": 1}, {"provider": "x", "discount": 1}]',
            "json",
            "Entry 1: Unknown provider",
        ),
        ("", "yaml", "Unknown override file format"),
    ],
)
def test_parse_file_errors(text: str, fmt: str, match: str) -> None:
    with pytest.raises(InvalidRequest, match=match):
        prices.parse_file(CAT, text, fmt, DAY)


# ControlPlane


async def test_set_merges_and_clear_removes(plane: ControlPlane) -> None:
    first = await plane.set_prices("team", model="gpt-6.2-sol", discount="10")
    assert (first.provider, first.model, first.discount_percent) == ("openai", "gpt-6.2-sol", D(10))
    second = await plane.set_prices("team", model="openai/gpt-6.2-sol", prices={"input": "1.5"})
    assert second.discount_percent == D(10) and second.prices == {"input": D("1.5")}
    third = await plane.set_prices("team", model="gpt-6.2-sol", prices={"output": 7})
    assert third.prices == {"input": D("1.5"), "output": D(7)}
    await plane.set_prices("team", provider="anthropic", discount=15)
    listed = await plane.list_prices("team")
    assert [(r.provider, r.model) for r in listed] == [("anthropic", ""), ("openai", "gpt-6.2-sol")]
    assert await plane.clear_prices("team", provider="anthropic") == ("anthropic", "")
    with pytest.raises(NotFound) as info:
        await plane.clear_prices("team", provider="anthropic")
    assert info.value.param == "provider"
    with pytest.raises(NotFound) as info:
        await plane.clear_prices("team", model="gpt-4o")
    assert info.value.param == "model"


async def test_unknown_model_prices_build_up_across_calls(plane: ControlPlane) -> None:
    with pytest.raises(InvalidRequest, match="needs output"):
        await plane.set_prices("team", provider="vllm", model="mine", prices={"input": 1})
    await plane.set_prices("team", provider="vllm", model="mine", prices={"input": 1, "output": 2})
    record = await plane.set_prices("team", provider="vllm", model="mine", prices={"input": 3})
    assert record.prices == {"input": D(3), "output": D(2)}


async def test_import_is_all_or_nothing_and_can_replace(plane: ControlPlane) -> None:
    await plane.set_prices("team", provider="groq", discount=5)
    bad = '[{"provider": "openai", "discount": 1}, {"provider": "openai", "discount": 200}]'
    with pytest.raises(InvalidRequest, match="Entry 1"):
        await plane.import_prices("team", bad, "json")
    assert [r.provider for r in await plane.list_prices("team")] == ["groq"]
    applied = await plane.import_prices("team", TOML, "toml", replace=True)
    assert len(applied) == 2
    assert [r.provider for r in await plane.list_prices("team")] == ["anthropic", "openai"]


async def test_unknown_workspace(plane: ControlPlane) -> None:
    with pytest.raises(NotFound):
        await plane.set_prices("nope", provider="openai", discount=1)
