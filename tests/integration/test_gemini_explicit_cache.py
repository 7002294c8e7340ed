"""Gemini explicit context caching, end to end: the official ``openai`` SDK talks to keyroute,
keyroute to a fake Gemini API that implements ``cachedContents`` (create, use, expiry, usage;
``tests/fakes/fake_gemini_cache.py``).

With ``gemini_explicit`` on (set here through the admin API; the CLI flag is tested in
``test_cli_caching_admin.py``), a conversation with a 6,000-token system prompt gets one cache,
created on the second request (the first sighting cannot tell a reused prefix from a one-off),
read by every later turn, streamed or not; the usage report (``keyroute usage --json``'s
document) gives exactly the dollars saved that the catalogue's prices give by hand, the cache's
creation and storage included. When Gemini drops the cache before keyroute expected, the turn
is answered without it and the next one creates a new cache (of the longest prefix that pays
by then: the system prompt and the first turn). With the option off (the default) nothing is
created.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from typing import Any

import httpx
import openai
import pytest

from keyroute.control.plane import ControlPlane
from keyroute.control.usage_views import usage_document
from tests.fakes.fake_gemini import DEFAULT_API_KEY, FakeGemini, create_fake_gemini
from tests.fakes.fake_gemini_cache import ContextCacheSim
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration
MODEL = "gemini-3.5-flash"
STATUSES: list[str | None] = []
TTL_SECONDS = 300


def system_prompt(tokens: int = 6000) -> str:
    rules: list[str] = []
    i = 0
    while sum(len(r) + 1 for r in rules) < tokens * 4:
        rules.append(f"Rule {i}: answer questions about item {i * 7 % 101} precisely.")
        i += 1
    return " ".join(rules)[: tokens * 4]


class Clock:
    """The fake's clock: real time plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(gateway: Gateway, clock: Clock) -> Iterator[FakeGemini]:
    fake = create_fake_gemini()
    fake.contexts = ContextCacheSim(clock=clock)
    with serve(fake) as url:
        gateway.control(
            lambda c: c.add_provider_key("default", "gemini", DEFAULT_API_KEY, base_url=url)
        )
        yield fake


def turn(sdk: openai.OpenAI, messages: list[Any], *, stream: bool = False) -> tuple[int, int]:
    """One turn; the prompt and cached tokens the client saw. Appends the answer. A whole
    answer's ``x-keyroute-cache`` goes to ``STATUSES``."""
    if stream:
        chunks = list(
            sdk.chat.completions.create(
                model=f"gemini/{MODEL}",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        usage = chunks[-1].usage
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        raw = sdk.chat.completions.with_raw_response.create(
            model=f"gemini/{MODEL}", messages=messages
        )
        STATUSES.append(raw.headers.get("x-keyroute-cache"))
        answer = raw.parse()
        usage = answer.usage
        text = answer.choices[0].message.content or ""
    assert usage is not None and usage.prompt_tokens_details is not None
    messages.append({"role": "assistant", "content": text})
    return usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens or 0


def prices() -> dict[str, Decimal]:
    text = resources.files("keyroute.catalogue").joinpath("models.toml").read_text()
    entry = next(m for m in tomllib.loads(text)["models"] if m["id"] == MODEL)
    sheet = max(entry["prices"], key=lambda p: p["effective_date"])
    return {k: Decimal(str(sheet[k])) for k in ("input", "cached_input", "cache_storage")}


def saved_by_hand(sim: ContextCacheSim) -> Decimal:
    """Reads at the input price less the cached-input price, less every cache's creation (its
    tokens at the input price) and storage for its lifetime."""
    p = prices()
    million = Decimal(1_000_000)
    saved = sum((c * (p["input"] - p["cached_input"]) for _, c in sim.outcomes), Decimal(0))
    for cache in sim.caches.values():
        saved -= cache.tokens * p["input"]
        saved -= cache.tokens * p["cache_storage"] * TTL_SECONDS / Decimal(3600)
    return saved / million


def settled_usage(gw: Gateway, requests: int) -> dict[str, Any]:
    """``keyroute usage --json`` (the same document, read in-process) once the background
    writer stored ``requests`` records."""

    async def work(c: ControlPlane) -> dict[str, Any]:
        return usage_document(await c.usage("default"))

    deadline = time.monotonic() + 30
    while True:
        report = gw.control(work)
        if report["requests"] >= requests or time.monotonic() > deadline:
            return report
        time.sleep(0.2)


def test_one_cache_is_created_reused_and_recreated_after_gemini_drops_it(
    gateway: Gateway, fake: FakeGemini, clock: Clock
) -> None:
    with httpx.Client(
        base_url=gateway.url + "/admin/v1",
        headers={"authorization": f"Bearer {gateway.admin_token}"},
    ) as admin:
        shown = admin.put("/workspaces/default/caching", json={"gemini_explicit": True}).json()
    assert shown["gemini_explicit"] is True and shown["prompt_cache_ttl"] == "5m"
    gateway.settle()
    sim = fake.contexts
    assert sim is not None
    STATUSES.clear()
    messages: list[Any] = [{"role": "system", "content": system_prompt()}]
    seen: list[tuple[int, int]] = []
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.api_key, max_retries=0) as sdk:
        for i in range(6):
            messages.append({"role": "user", "content": f"Question {i}: what about item {i}?"})
            seen.append(turn(sdk, messages, stream=i == 4))
        assert len(sim.creates) == 1
        cache_tokens = next(iter(sim.caches.values())).tokens
        assert seen[0][1] == 0  # seen once: no cache yet
        assert all(cached == cache_tokens for _, cached in seen[1:]), seen
        assert all(cached / prompt > 0.9 for prompt, cached in seen[1:]), seen
        created = sim.creates[0]
        assert created["model"] == f"models/{MODEL}" and created["ttl"] == f"{TTL_SECONDS}s"
        assert "systemInstruction" in created and "contents" not in created
        used = [r.json for r in fake.received if r.json and "cachedContent" in r.json]
        assert all("systemInstruction" not in body for body in used)

        clock.offset = TTL_SECONDS + 60.0  # Gemini expires the cache; keyroute still trusts it
        messages.append({"role": "user", "content": "And item 99?"})
        seen.append(turn(sdk, messages))
        assert seen[-1][1] == 0  # answered without the cache, transparently
        messages.append({"role": "user", "content": "And item 98?"})
        seen.append(turn(sdk, messages))
        # A fresh cache, of the longest prefix that now pays: system prompt and first turn.
        assert len(sim.creates) == 2 and len(sim.creates[1]["contents"]) == 1
        assert seen[-1][1] == list(sim.caches.values())[-1].tokens > cache_tokens
    # created and read by one request: partial; read: hit; neither: miss (turn 5 streamed)
    assert STATUSES == ["miss", "partial", "hit", "hit", "hit", "miss", "partial"]
    generated = [
        r for r in fake.received if r.path.endswith(":generateContent") or "alt" in r.query
    ]
    assert len(generated) == len(seen) + 1  # the turn Gemini refused went again, without cache
    assert sum(1 for r in generated if "cachedContent" in r.json) == len(seen) - 1

    report = settled_usage(gateway, len(seen))
    assert report["requests"] == len(seen)
    assert report["cached_input_tokens"] == sum(c for _, c in seen)
    assert Decimal(report["cache_saving_usd"]) == saved_by_hand(sim)
    assert saved_by_hand(sim) > 0


def test_with_the_option_off_no_cache_is_created(gateway: Gateway, fake: FakeGemini) -> None:
    messages: list[Any] = [{"role": "system", "content": system_prompt()}]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.api_key, max_retries=0) as sdk:
        for i in range(3):
            messages.append({"role": "user", "content": f"Question {i}?"})
            assert turn(sdk, messages)[1] == 0
    sim = fake.contexts
    assert sim is not None and sim.creates == []
    assert all("cachedContent" not in (r.json or {}) for r in fake.received)
