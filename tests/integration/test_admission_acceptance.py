"""Acceptance for quotas, rate limits and budgets through a real ``keyroute serve``.

Limits are set with the CLI before the server starts. The fake upstream's price is made exact
(input free, output $1 per million tokens) and every answer uses exactly the request's
``max_tokens``, so a request's actual cost equals its worst-case reservation and a budget of
50 reservations admits exactly 50 requests, however they interleave.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI, Reply, chunk, completion
from tests.fakes.process import ServeProcess, serve_process
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

MODEL = "openai/gpt-4o-mini"
MAX_TOKENS = 100
COST = Decimal("0.0001")  # 100 output tokens at $1 per million
MESSAGES = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 10, "completion_tokens": MAX_TOKENS, "total_tokens": 10 + MAX_TOKENS}


@contextmanager
def served(gateway: Gateway, *limits: list[str], workers: int = 1) -> Iterator[ServeProcess]:
    """``keyroute serve`` (``workers`` processes) over an exact-priced fake OpenAI upstream,
    with ``limits`` (CLI argument lists) set before it starts."""
    fake = FakeOpenAI()
    fake.push(*(Reply.json(200, completion(usage=USAGE)) for _ in range(400)))
    with serve(fake.app) as upstream:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        gateway.cli("prices", "set", "-w", "default", "--model", MODEL, "--input", "0")
        gateway.cli("prices", "set", "-w", "default", "--model", MODEL, "--output", "1")
        for args in limits:
            gateway.cli(*args)
        env = {**os.environ, **gateway.env, "KEYROUTE__RESILIENCE__MAX_RETRIES": "0"}
        with serve_process([sys.executable, "-m", "keyroute"], env, workers=workers) as server:
            server.fake = fake  # type: ignore[attr-defined]
            yield server


async def burst(url: str, key: str, n: int) -> list[httpx.Response]:
    """``n`` chat requests at once, each on its own connection."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        body = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
        auth = {"authorization": f"Bearer {key}"}
        return await asyncio.gather(
            *(client.post(url + "/v1/chat/completions", json=body, headers=auth) for _ in range(n))
        )


def spend(gateway: Gateway, expected_requests: int) -> Decimal:
    """The recorded cost of the workspace's requests, once every record is stored."""
    deadline = time.monotonic() + 30
    while True:
        doc = gateway.cli_json("usage", "--workspace", "default")
        if doc["requests"] >= expected_requests or time.monotonic() > deadline:
            return Decimal(doc["cost_usd"])
        time.sleep(0.2)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_budget_for_fifty_requests_serves_fifty_of_two_hundred(
    gateway: Gateway, workers: int
) -> None:
    cap = 50 * COST
    budget = ["budget", "set", "-w", "default", "--daily", str(cap)]
    with served(gateway, budget, workers=workers) as server:
        answers = asyncio.run(burst(server.url, gateway.api_key, 200))
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 50
    refused = [r for r in answers if r.status_code != 200]
    assert {r.json()["error"]["code"] for r in refused} == {"budget_exceeded"}
    assert all(r.headers["x-should-retry"] == "false" for r in refused)
    message = refused[0].json()["error"]["message"]
    assert "daily budget of $0.005" in message and "resets at" in message
    # The recorded spend never passes the cap by more than one reservation (here: not at all,
    # since every request cost exactly what it reserved).
    assert spend(gateway, 200) <= cap + COST


def test_a_quota_of_one_hundred_across_two_workers(gateway: Gateway) -> None:
    plan = ["workspace", "set-plan", "default", "custom", "--quota", "100"]
    with served(gateway, plan, workers=2) as server:
        answers = asyncio.run(burst(server.url, gateway.api_key, 300))
        assert [r.status_code for r in answers].count(200) == 100
        (after,) = asyncio.run(burst(server.url, gateway.api_key, 1))
    assert after.status_code == 429
    error = after.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "custom plan allows 100 requests a month" in error["message"]
    month = after.headers["x-keyroute-quota-reset"]
    assert f"resets at {month}" in error["message"]
    assert after.headers["x-keyroute-quota-limit"] == "100"
    assert after.headers["x-keyroute-quota-remaining"] == "0"
    assert after.headers["x-should-retry"] == "false"
    served_ok = [r for r in answers if r.status_code == 200]
    assert all("x-keyroute-quota-remaining" in r.headers for r in served_ok)


def test_a_stream_abandoned_after_ten_chunks_is_billed(gateway: Gateway) -> None:
    budget = ["budget", "set", "-w", "default", "--monthly", "10"]
    with served(gateway, budget) as server:
        fake: FakeOpenAI = server.fake  # type: ignore[attr-defined]
        fake.replies.clear()
        words = [chunk({"content": "word "}) for _ in range(40)]
        fake.push(Reply.stream([chunk({"role": "assistant"}), *words, "[DONE]"], delay=0.05))
        body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 1000, "stream": True}
        seen = 0
        with (
            httpx.Client(timeout=60) as client,
            client.stream(
                "POST",
                server.url + "/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {gateway.api_key}"},
            ) as resp,
        ):
            assert resp.status_code == 200
            for line in resp.iter_lines():
                if '"content":"word ' in line:
                    seen += 1
                    if seen == 10:
                        break  # the client goes away mid-stream
        cost = spend(gateway, 1)
        assert cost > 0
        deadline = time.monotonic() + 30
        while True:
            shown = gateway.cli_json("budget", "show", "-w", "default")
            if _month_spend(shown) == cost or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    # at least the ten chunks seen (50 characters: 13 tokens estimated), at $1 per million
    assert cost >= Decimal("0.000013")
    assert _month_spend(shown) == cost


def _month_spend(shown: Any) -> Decimal | None:
    """This month's spend of the workspace budget, as ``keyroute budget show`` reports it."""
    for budget in shown["data"]:
        if budget["scope"] == "workspace" and budget.get("spent_month_usd") is not None:
            return Decimal(budget["spent_month_usd"])
    return None


def test_the_sdks_raise_rate_limit_errors_with_the_message(gateway: Gateway) -> None:
    plan = ["workspace", "set-plan", "default", "custom", "--quota", "1"]
    with served(gateway, plan) as server:
        oai = openai.OpenAI(base_url=server.url + "/v1", api_key=gateway.api_key)
        oai.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
        with pytest.raises(openai.RateLimitError) as raised:
            oai.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
        assert "Monthly request quota exceeded: the custom plan allows 1" in raised.value.message
        assert raised.value.code == "quota_exceeded"
        ant = anthropic.Anthropic(base_url=server.url, api_key=gateway.api_key)
        with pytest.raises(anthropic.RateLimitError) as refused:
            ant.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES)  # type: ignore[arg-type]
        assert "Monthly request quota exceeded: the custom plan allows 1" in str(refused.value)
        assert refused.value.response.headers["x-should-retry"] == "false"


def test_a_rate_limit_answers_rate_limited_with_retry_after(gateway: Gateway) -> None:
    limit = ["ratelimit", "set", "-w", "default", "--rpm", "2"]
    with served(gateway, limit) as server:
        oai = openai.OpenAI(base_url=server.url + "/v1", api_key=gateway.api_key, max_retries=0)
        for _ in range(2):
            raw = oai.chat.completions.with_raw_response.create(
                model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS
            )
            assert raw.headers["x-ratelimit-limit-requests"] == "2"
        with pytest.raises(openai.RateLimitError) as raised:
            oai.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
    assert raised.value.code == "rate_limited"
    assert "2 requests per minute" in raised.value.message
    headers = raised.value.response.headers
    assert 0 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"


def test_a_rate_limit_holds_across_two_workers(gateway: Gateway) -> None:
    """200 requests at once against 50 a minute on two workers: 50 pass, plus at most what the
    bucket refilled while the burst lasted (50 a minute), never a worker's share twice."""
    limit = ["ratelimit", "set", "-w", "default", "--rpm", "50"]
    with served(gateway, limit, workers=2) as server:
        started = time.monotonic()
        answers = asyncio.run(burst(server.url, gateway.api_key, 200))
        elapsed = time.monotonic() - started
    served_ok = [r for r in answers if r.status_code == 200]
    assert 50 <= len(served_ok) <= 50 + int(elapsed * 50 / 60) + 1, elapsed
    refused = [r for r in answers if r.status_code != 200]
    assert {r.json()["error"]["code"] for r in refused} == {"rate_limited"}
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
    assert all(r.headers["x-ratelimit-limit-requests"] == "50" for r in answers)
