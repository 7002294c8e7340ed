"""Cache-aware and multi-candidate routing through a running gateway, over real sockets.

- A fake Anthropic API that counts cache reads and writes from the breakpoints it receives
  (``tests/fakes/fake_anthropic_cache.py``): a conversation warm on Claude Sonnet stays there
  on an easy turn that the quality decision alone would send to Claude Haiku, because Haiku is
  not confidently cheaper once the cache discount is lost; a conversation whose answers are long
  moves; a hard turn leaves a weaker warm model; the same conversation in another workspace is
  cold. Each decision is explained in ``x-keyroute-route`` and in the request's audit record.
- A fake OpenAI API: a three-candidate policy sends held-out prompts to all three models, each
  where its score falls on the header's threshold ladder; a stream's cache reads, reported at
  its end, warm the conversation for its next turn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyroute.control.plane import ControlPlane
from keyroute.routing.ladder import rung
from tests.fakes.fake_anthropic import FakeAnthropic, create_fake_anthropic
from tests.fakes.fake_anthropic_cache import PromptCacheSim
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration
ANTHROPIC_KEY = "sk-ant-test"
HAIKU, SONNET = "anthropic/claude-haiku-5-5", "anthropic/claude-sonnet-5-5"
HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "router" / "heldout_mmlu.jsonl"
LADDER = ("openai/gpt-4o-mini", "openai/gpt-4.1-mini", "openai/gpt-4.1")


def system_prompt(topic: str, tokens: int = 10_000) -> str:
    """About ``tokens`` tokens of varied text (four characters a token)."""
    rules = [f"Rule {i} of {topic}: answer about item {i * 7 % 101} briefly." for i in range(900)]
    return " ".join(rules)[: tokens * 4]


@dataclass
class Anthropic:
    fake: FakeAnthropic
    sim: PromptCacheSim
    other_key: str  # a gateway key of the workspace "other"


@pytest.fixture
def anthropic(gateway: Gateway) -> Iterator[Anthropic]:
    fake = create_fake_anthropic(api_key=ANTHROPIC_KEY)
    sim = fake.cache = PromptCacheSim()
    with serve(fake.app) as url:

        async def setup(c: ControlPlane) -> str:
            other = await c.create_workspace("other")
            for workspace in ("default", "other"):
                await c.add_provider_key(workspace, "anthropic", ANTHROPIC_KEY, base_url=url)
                # "cheap": the quality decision always picks Haiku (no share to the strongest).
                await c.routing.set_policy(
                    workspace,
                    policy="cheap",
                    candidates=[HAIKU, SONNET],
                    reference=SONNET,
                    max_strong_share=0.0,
                )
            return (await c.create_api_key(other.id)).key

        yield Anthropic(fake=fake, sim=sim, other_key=gateway.control(setup))


def chat(gw: Gateway, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    answer = httpx.post(
        gw.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key or gw.api_key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer


def route(answer: httpx.Response) -> dict[str, Any]:
    decision: dict[str, Any] = json.loads(answer.headers["x-keyroute-route"])
    assert {"policy", "model", "score", "threshold", "reason"} <= set(decision)
    return decision


def audited_routes(gw: Gateway, count: int) -> dict[str, dict[str, Any]]:
    """The ``route`` of the workspace's audited requests, by request id, once ``count`` are
    stored (the audit writer works in the background)."""
    deadline = time.monotonic() + 20
    while True:
        out = gw.cli("audit", "export", "--workspace", "default").stdout
        records = [json.loads(line) for line in out.splitlines() if line]
        routes = {r["request_id"]: r["route"] for r in records if r.get("route")}
        if len(routes) >= count or time.monotonic() > deadline:
            return routes
        time.sleep(0.2)


def test_a_warm_conversation_stays_unless_moving_is_surely_cheaper(
    gateway: Gateway, anthropic: Anthropic
) -> None:
    fake, sim = anthropic.fake, anthropic.sim
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt("support")},
        {"role": "user", "content": "What is item 3?"},
    ]
    # Turn 1, asked of Sonnet by name: its answer writes the prefix to Sonnet's cache.
    first = chat(gateway, {"model": SONNET, "messages": messages, "max_tokens": 50})
    assert first.headers["x-keyroute-cache"] == "write"
    assert sim.outcomes[-1].written > 9_000
    messages += [
        {"role": "assistant", "content": first.json()["choices"][0]["message"]["content"]},
        {"role": "user", "content": "And item 4?"},
    ]
    # Turn 2 through "cheap": Haiku by quality, but Sonnet is warm and short answers make Haiku's
    # cold prompt (written at $0.125 a million) dearer than Sonnet's cached one ($0.10).
    second = chat(gateway, {"model": "auto:cheap", "messages": messages, "max_tokens": 50})
    decision = route(second)
    assert decision["model"] == SONNET and decision["tier"] == "warm"
    assert decision["cache"]["outcome"] == "stay" and decision["cache"]["warm_model"] == SONNET
    assert decision["cache"]["warm_tokens"] > 9_000
    costs = decision["cache"]["estimated_usd"]
    assert costs[SONNET] < costs[HAIKU]
    assert "warm on anthropic/claude-sonnet-5-5" in decision["reason"]
    assert fake.received[-1].json["model"] == "claude-sonnet-5-5"
    assert sim.outcomes[-1].read > 9_000  # the cache discount was had
    cached = second.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached == sim.outcomes[-1].read

    # The same conversation in another workspace is cold there: Haiku, no cache say.
    other = chat(
        gateway,
        {"model": "auto:cheap", "messages": messages, "max_tokens": 50},
        key=anthropic.other_key,
    )
    assert route(other)["model"] == HAIKU and "cache" not in route(other)

    # Another conversation whose earlier answer was long (about 2,000 tokens): Sonnet's output
    # price outweighs its cache discount, and the conversation moves to Haiku.
    long: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt("essays")},
        {"role": "user", "content": "Write about item 5."},
    ]
    chat(gateway, {"model": SONNET, "messages": long, "max_tokens": 50})
    long += [
        {"role": "assistant", "content": "An essay. " * 800},
        {"role": "user", "content": "Thanks."},
    ]
    moved = route(chat(gateway, {"model": "auto:cheap", "messages": long, "max_tokens": 4000}))
    assert moved["model"] == HAIKU and moved["tier"] == "weak"
    assert moved["cache"]["outcome"] == "move"
    assert "even after losing the cache discount" in moved["reason"]
    assert fake.received[-1].json["model"] == "claude-haiku-5-5"

    # The request record keeps the same explanation (and from there the audit record).
    routes = audited_routes(gateway, 2)
    assert routes[second.headers["x-request-id"]] == decision


def test_a_hard_turn_gives_up_a_weaker_warm_model(gateway: Gateway, anthropic: Anthropic) -> None:
    gateway.control(
        lambda c: c.routing.set_policy(
            "default",
            policy="strong",
            candidates=[HAIKU, SONNET],
            reference=SONNET,
            quality=1.0,  # every request to the strongest
        )
    )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt("law")},
        {"role": "user", "content": "Summarise item 1."},
    ]
    first = chat(gateway, {"model": HAIKU, "messages": messages, "max_tokens": 50})
    messages += [
        {"role": "assistant", "content": first.json()["choices"][0]["message"]["content"]},
        {"role": "user", "content": "Now item 2."},
    ]
    decision = route(chat(gateway, {"model": "auto:strong", "messages": messages}))
    assert decision["model"] == SONNET and decision["tier"] == "strong"
    assert decision["cache"]["outcome"] == "upgrade" and decision["cache"]["warm_model"] == HAIKU
    assert anthropic.fake.received[-1].json["model"] == "claude-sonnet-5-5"


def test_three_candidates_and_a_streams_late_cache_reads(gateway: Gateway) -> None:
    rows = [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()][:60]
    fake = FakeOpenAI()
    with serve(fake.app) as upstream:

        async def setup(c: ControlPlane) -> None:
            await c.add_provider_key("default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1")
            await c.routing.set_policy(
                "default",
                policy="three",
                candidates=list(LADDER),
                reference=LADDER[-1],
                max_strong_share=0.2,
            )

        gateway.control(setup)
        with httpx.Client(timeout=30) as client:
            headers = {"authorization": f"Bearer {gateway.api_key}"}
            answers = [
                client.post(
                    gateway.url + "/v1/chat/completions",
                    json={"model": "auto:three", "messages": [{"role": "user", "content": r}]},
                    headers=headers,
                )
                for r in (row["prompt"] for row in rows)
            ]
            decisions = [route(a) for a in answers]
            # A conversation's first turn streamed by gpt-4.1: the fake reports its cache reads
            # in the last chunk only; the tracker hears of them when the stream ends.
            conversation = [{"role": "user", "content": "Tell me about item 9."}]
            streamed = client.post(
                gateway.url + "/v1/chat/completions",
                json={"model": "openai/gpt-4.1", "messages": conversation, "stream": True},
                headers=headers,
            )
            assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
            assert "x-keyroute-cache" not in streamed.headers  # unknown when the head was sent
            conversation += [
                {"role": "assistant", "content": "Hello there!"},
                {"role": "user", "content": "Thanks, that is all."},
            ]
            body = {"model": "auto:three", "messages": conversation}
            next_turn = route(
                client.post(gateway.url + "/v1/chat/completions", json=body, headers=headers)
            )
    chosen = [d["model"] for d in decisions]
    assert set(chosen) == set(LADDER), chosen  # the middle model is used too
    for decision in decisions:
        ladder = decision["thresholds"]
        assert len(ladder) == 2 and ladder == sorted(ladder)
        assert ladder[-1] == decision["threshold"]
        assert decision["model"] == LADDER[rung(decision["score"], ladder)]
        assert decision["tier"] == ("weak", "middle", "strong")[LADDER.index(decision["model"])]
    sent = sorted(r.body["model"] for r in fake.requests[: len(rows)])
    assert sent == sorted(m.partition("/")[2] for m in chosen)
    # gpt-4.1 is warm with the stream's 4 cached tokens: too few to keep an easy turn there.
    assert next_turn["cache"]["warm_model"] == "openai/gpt-4.1"
    assert next_turn["cache"]["warm_tokens"] == 4
    warm_choice = next_turn["model"] == "openai/gpt-4.1"
    assert next_turn["cache"]["outcome"] == ("warm" if warm_choice else "move")
