"""Automatic prompt caching, end to end: the official ``openai`` SDK talks to keyroute, keyroute
to a fake Anthropic API that counts cache reads and writes from the breakpoints it receives
(``tests/fakes/fake_anthropic_cache.py``, with the real minimum lengths).

A 20-turn conversation with a 3,000-token system prompt reads at least 85 % of its input tokens
from the cache from turn 2 on, and ``keyroute usage`` reports exactly the dollars saved that the
catalogue's prices give by hand; with automatic caching off the same conversation reads nothing.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from typing import Any

import anthropic
import openai
import pytest

from keyroute.control.plane import ControlPlane
from keyroute.control.usage_views import usage_document
from tests.fakes.fake_anthropic import FakeAnthropic, create_fake_anthropic
from tests.fakes.fake_anthropic_cache import Outcome, PromptCacheSim
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration
ANTHROPIC_KEY = "sk-ant-test"
MODEL = "claude-sonnet-5"
TURNS = 20


def system_prompt(tokens: int = 3000) -> str:
    """About ``tokens`` tokens of varied text (four characters a token)."""
    rules: list[str] = []
    i = 0
    while sum(len(r) + 1 for r in rules) < tokens * 4:
        rules.append(f"Rule {i}: answer questions about item {i * 7 % 101} precisely.")
        i += 1
    return " ".join(rules)[: tokens * 4]


@pytest.fixture
def fake(gateway: Gateway) -> Iterator[FakeAnthropic]:
    fake = create_fake_anthropic(api_key=ANTHROPIC_KEY)
    fake.cache = PromptCacheSim()
    with serve(fake.app) as url:
        gateway.control(
            lambda c: c.add_provider_key("default", "anthropic", ANTHROPIC_KEY, base_url=url)
        )
        yield fake


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.api_key, max_retries=0)


def converse(gw: Gateway, turns: int = TURNS) -> list[tuple[int, int, str | None]]:
    """One conversation; per turn: prompt tokens, cached tokens, ``x-keyroute-cache``."""
    messages: list[Any] = [{"role": "system", "content": system_prompt()}]
    seen: list[tuple[int, int, str | None]] = []
    with client(gw) as sdk:
        for turn in range(turns):
            messages.append(
                {"role": "user", "content": f"Question {turn}: what about item {turn}?"}
            )
            raw = sdk.chat.completions.with_raw_response.create(
                model=f"anthropic/{MODEL}", messages=messages, max_tokens=50
            )
            answer = raw.parse()
            usage = answer.usage
            assert usage is not None and usage.prompt_tokens_details is not None
            cached = usage.prompt_tokens_details.cached_tokens or 0
            seen.append((usage.prompt_tokens, cached, raw.headers.get("x-keyroute-cache")))
            messages.append({"role": "assistant", "content": answer.choices[0].message.content})
    return seen


def catalogue_prices() -> dict[str, Decimal]:
    """The model's current list prices, read from the shipped catalogue file itself."""
    text = resources.files("keyroute.catalogue").joinpath("models.toml").read_text()
    entry = next(m for m in tomllib.loads(text)["models"] if m["id"] == MODEL)
    sheet = max(entry["prices"], key=lambda p: p["effective_date"])
    return {k: Decimal(str(sheet[k])) for k in ("input", "cached_input", "cache_write_5m")}


def saved_by_hand(outcomes: list[Outcome]) -> Decimal:
    p = catalogue_prices()
    million = Decimal(1_000_000)
    total = Decimal(0)
    for o in outcomes:
        total += o.read * (p["input"] - p["cached_input"]) / million
        total -= o.written * (p["cache_write_5m"] - p["input"]) / million
    return total


def usage_report(gw: Gateway, requests: int) -> dict[str, Any]:
    """The workspace's usage once the background writer stored ``requests`` records."""
    deadline = time.monotonic() + 30
    while True:
        report = report_of(gw)
        if report["requests"] >= requests or time.monotonic() > deadline:
            return report
        time.sleep(0.3)


def test_a_conversation_through_the_openai_sdk_reads_its_prefix_from_the_cache(
    gateway: Gateway, fake: FakeAnthropic
) -> None:
    seen = converse(gateway)
    prompt = sum(p for p, _, _ in seen[1:])
    cached = sum(c for _, c, _ in seen[1:])
    assert cached / prompt >= 0.85, seen
    assert seen[0][1] == 0 and seen[0][2] == "write"
    assert all(status in ("hit", "partial") for _, _, status in seen[1:]), seen
    assert all(c / p >= 0.85 for p, c, _ in seen[1:]), seen
    outcomes = fake.cache.outcomes if fake.cache else []
    assert [o.read for o in outcomes] == [c for _, c, _ in seen]
    # Every request stayed within the provider's rules (the fake answers 400 otherwise) and
    # the breakpoints moved forward: turn k reads what turn k-1 wrote.
    assert all(o.read > outcomes[k].read for k, o in enumerate(outcomes[1:]))

    usage_report(gateway, TURNS)  # wait for the background writer
    report = gateway.cli_json("usage", "--workspace", "default")  # what the operator sees
    assert report["requests"] == TURNS
    assert report["cached_input_tokens"] == sum(c for _, c, _ in seen)
    assert Decimal(report["cache_saving_usd"]) == saved_by_hand(outcomes)
    assert saved_by_hand(outcomes) > 0


def test_with_automatic_caching_off_nothing_is_read(gateway: Gateway, fake: FakeAnthropic) -> None:
    gateway.control(lambda c: c.caching.update("default", {"prompt_cache": "off"}))
    seen = converse(gateway, turns=5)
    assert all(c == 0 for _, c, _ in seen) and {s for _, _, s in seen} == {"miss"}
    assert all("cache_control" not in str(r.json) for r in fake.received)
    report = usage_report(gateway, 5)
    assert report["cached_input_tokens"] == 0 and Decimal(report["cache_saving_usd"]) == 0


def test_an_anthropic_client_sees_reads_and_writes(gateway: Gateway, fake: FakeAnthropic) -> None:
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.api_key, max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "first"}]
    first = sdk.messages.create(
        model=f"anthropic/{MODEL}", system=system_prompt(), messages=messages, max_tokens=20
    )
    assert first.usage.cache_creation_input_tokens and first.usage.cache_creation_input_tokens > 0
    messages += [
        {"role": "assistant", "content": first.content[0].text},  # type: ignore[union-attr]
        {"role": "user", "content": "second"},
    ]
    raw = sdk.messages.with_raw_response.create(
        model=f"anthropic/{MODEL}", system=system_prompt(), messages=messages, max_tokens=20
    )
    second = raw.parse()
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert raw.headers["x-keyroute-cache"] == "partial"


def test_a_stream_reports_its_cache_use_in_the_header_and_the_usage(
    gateway: Gateway, fake: FakeAnthropic
) -> None:
    converse(gateway, turns=1)
    messages: list[Any] = [
        {"role": "system", "content": system_prompt()},
        {"role": "user", "content": "Question 0: what about item 0?"},
    ]
    with client(gateway) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model=f"anthropic/{MODEL}",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(raw.parse())
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 3000
    assert raw.headers["x-keyroute-cache"] == "hit"


def report_of(gw: Gateway, by: str | None = None) -> dict[str, Any]:
    """``keyroute usage --json`` (the same document), read in-process."""

    async def work(c: ControlPlane) -> dict[str, Any]:
        return usage_document(await c.usage("default", by=by))

    return gw.control(work)
