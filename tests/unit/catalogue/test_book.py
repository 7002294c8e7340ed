"""The catalogue loader, and the schema test of the shipped data file."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from keyroute.catalogue import builtin
from keyroute.catalogue.book import DATA_FILE, parse
from keyroute.catalogue.entries import TOKEN_CLASSES, CatalogueError
from keyroute.providers.openai_compatible import PRESETS

MODEL = """
[[models]]
provider = "acme"
id = "m1"
family = "m"
aliases = ["m1-2026"]
context_window = 1000
max_output_tokens = 100
capabilities = { streaming = true, tools = true, parallel_tools = false, vision = false, json_mode = true, json_schema = false, embeddings = false, prompt_caching = true, min_cacheable_tokens = 512, reasoning = false }

[[models.prices]]
effective_date = 2026-01-01
source = "https://acme.example/pricing"
input = 1.25
output = 5
"""  # noqa: E501


def test_parse_a_model() -> None:
    catalogue = parse(MODEL)
    entry = catalogue.get("acme", "m1")
    assert entry is not None and catalogue.get("acme", "m1-2026") is entry
    assert entry.ref == "acme/m1" and entry.capabilities.min_cacheable_tokens == 512
    sheet = entry.prices[0]
    assert (sheet.input, sheet.output, sheet.cached_input) == (Decimal("1.25"), Decimal(5), None)
    assert isinstance(sheet.input, Decimal)  # never a float
    assert catalogue.find("acme/m1") is entry and catalogue.find("m1-2026") is entry
    assert catalogue.find("other/m1") is None
    assert catalogue.find("nope") is None
    assert catalogue.provider_models("acme") == ("m1",)
    assert catalogue.provider("acme").self_hosted is False


def test_bare_name_that_two_providers_share_is_ambiguous() -> None:
    catalogue = parse(MODEL + MODEL.replace('"acme"', '"zeta"'))
    assert catalogue.find("m1") is None
    assert catalogue.find("zeta/m1") is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("input = 1.25", 'input = "x"'), "model 'acme/m1' (entry 0): Invalid decimal"),
        (("input = 1.25", "input = -1"), "prices[0].input: a price must be a non-negative"),
        (("input = 1.25", "input = 0.0000001"), "prices[0].input: 1E-7 has more than 6"),
        (("output = 5", "output = 5\ncache_write = 1\ncache_write_5m = 1"), "not both"),
        (("output = 5", "output = 5\nbogus = 1"), "unknown field `bogus`"),
        (('family = "m"\n', ""), "missing required field `family`"),
        (("max_output_tokens = 100", "max_output_tokens = 5000"), "larger than the context"),
        (("prompt_caching = true", "prompt_caching = false"), "min_cacheable_tokens: set"),
        (('source = "https://acme.example/pricing"', 'source = " "'), "needs its source"),
        (("[[models]]", "[oops]\n[[models]]"), "unknown top-level key(s) oops"),
        (('id = "m1"', 'id = ""'), "provider and id must be non-empty"),
    ],
)
def test_errors_name_the_entry_and_field(change: tuple[str, str], message: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(message)):
        parse(MODEL.replace(*change))


def test_duplicate_ids_and_aliases_are_refused() -> None:
    with pytest.raises(CatalogueError, match="'m1' is already used by acme/m1"):
        parse(MODEL + MODEL)


TIERED = (
    MODEL
    + """
[[models.prices.tiers]]
above_input_tokens = 200
input = 2.5
output = 10
"""
)


def test_tiers_must_match_their_sheet_and_ascend() -> None:
    tier = parse(TIERED).models[0].prices[0]
    assert tier.band_for(200) is tier and tier.band_for(201) is tier.tiers[0]
    with pytest.raises(CatalogueError, match="same token classes"):
        parse(TIERED.replace("output = 10", "output = 10\ncached_input = 1"))
    with pytest.raises(CatalogueError, match="positive and ascending"):
        parse(TIERED.replace("above_input_tokens = 200", "above_input_tokens = 0"))


def test_sheets_must_be_in_date_order() -> None:
    later = (
        '\n[[models.prices]]\neffective_date = 2025-01-01\nsource = "s"\ninput = 1\noutput = 1\n'
    )
    with pytest.raises(CatalogueError, match=r"prices\[1\].effective_date: .*ascending"):
        parse(MODEL + later)


def test_not_toml() -> None:
    with pytest.raises(CatalogueError, match="models.toml: not valid TOML"):
        parse("[[models]\n")


# The shipped file.


def test_the_data_file_ships_in_the_package() -> None:
    assert resources.files("keyroute.catalogue").joinpath(DATA_FILE).is_file()


def test_the_shipped_catalogue_is_valid_and_covers_every_provider() -> None:
    catalogue = builtin()
    providers = {m.provider for m in catalogue.models}
    hosted = {"openai", "anthropic", "gemini", "demo"}
    presets = set(PRESETS) - {"openai-compatible", "ollama", "vllm"}
    assert hosted | presets <= providers
    assert catalogue.provider("ollama").self_hosted and catalogue.provider("vllm").self_hosted


def test_every_shipped_model_is_priced_today_with_a_source() -> None:
    today = date(2026, 12, 3)
    for entry in builtin().models:
        sheet = entry.sheet_at(today)
        assert sheet is not None, entry.ref
        assert sheet.source and sheet.effective_date <= today, entry.ref
        if entry.provider != "demo":
            assert sheet.source.startswith("https://"), entry.ref
        assert set(sheet.prices()) <= set(TOKEN_CLASSES)


def test_long_context_tiers_exist_for_each_big_provider() -> None:
    tiered = {m.provider for m in builtin().models for s in m.prices if s.tiers}
    assert {"openai", "anthropic", "gemini"} <= tiered


def test_scheduled_price_change() -> None:
    argon = builtin().find("gemini/gemini-4-argon")
    assert argon is not None
    before, after = argon.sheet_at(date(2026, 11, 30)), argon.sheet_at(date(2026, 12, 1))
    assert before is not None and after is not None
    assert (before.input, after.input) == (Decimal(2), Decimal(4))
    assert argon.sheet_at(date(2026, 10, 1)) is None  # before launch: no known price


def test_pyproject_ships_the_data_file_in_the_wheel() -> None:
    root = Path(__file__).resolve().parents[3]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["keyroute"]
    assert any(fnmatch.fnmatch(f"catalogue/{DATA_FILE}", p) for p in patterns), patterns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[providers.acme]\nself_hosted = 3\n", "providers: Expected `bool`"),
        ("models = 3\n", "'models' must be an array of tables"),
        (MODEL.replace("context_window = 1000", "context_window = -1"), "must not be negative"),
    ],
)
def test_file_level_errors(text: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(message)):
        parse(text)


def test_bare_names_without_a_family_have_no_provider() -> None:
    assert builtin().provider_for_bare_model("claude-opus-5") == "anthropic"
    assert builtin().provider_for_bare_model("o3-mini") == "openai"
    assert builtin().provider_for_bare_model("llama3") is None
