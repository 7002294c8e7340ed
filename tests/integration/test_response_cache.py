"""The exact response cache on a served gateway, with a fake OpenAI upstream counting calls.

1,000 identical deterministic requests (20 at a time) make one upstream call; a sampled request
(temperature above 0, no seed) is never served from the cache unless the workspace says so; a
streamed request is replayed as a stream in the client's own format; ``Cache-Control: no-cache``
goes upstream; workspaces never share answers; cached answers cost nothing in usage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from keyroute.control.plane import ControlPlane
from keyroute.control.usage_views import usage_document
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration
MODEL = "openai/gpt-4o-mini"
BODY: dict[str, Any] = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "What is 2 + 2?"}],
    "temperature": 0,
}


BASES: dict[int, str] = {}  # id(fake) -> its base URL


@pytest.fixture
def fake(gateway: Gateway) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    with serve(fake.app) as url:
        BASES[id(fake)] = url + "/v1"
        gateway.control(
            lambda c: c.add_provider_key("default", "openai", UPSTREAM_KEY, base_url=url + "/v1")
        )
        gateway.control(lambda c: c.caching.update("default", {"response_cache": True}))
        yield fake


def chats(fake: FakeOpenAI) -> int:
    return sum(1 for r in fake.requests if r.path == "/v1/chat/completions")


async def _burst(gw: Gateway, body: dict[str, Any], n: int, headers: dict[str, str]) -> list[str]:
    gate = asyncio.Semaphore(20)
    auth = {"authorization": f"Bearer {gw.api_key}", **headers}

    async def one(client: httpx.AsyncClient) -> str:
        async with gate:
            r = await client.post(gw.url + "/v1/chat/completions", json=body, headers=auth)
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"]
            return str(r.headers.get("x-keyroute-cache", ""))

    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(*(one(client) for _ in range(n)))


def burst(gw: Gateway, body: dict[str, Any], n: int, **headers: str) -> list[str]:
    return asyncio.run(_burst(gw, body, n, headers))


def test_a_thousand_identical_requests_make_one_upstream_call(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    statuses = burst(gateway, BODY, 1000)
    assert chats(fake) == 1
    assert statuses.count("response-hit") == 999
    report = _usage(gateway, 1000)
    upstream = fake.requests[0]
    assert upstream.body["temperature"] == 0
    # Only the one upstream answer is billed: 999 requests cost nothing and used no tokens.
    assert report["input_tokens"] > 0 and report["requests"] == 1000
    single = _usage_of_first(gateway)
    assert report["cost_usd"] == single["cost_usd"]


def test_sampled_requests_are_not_cached_unless_the_workspace_says_so(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    sampled = {**BODY, "temperature": 0.7}
    assert "response-hit" not in burst(gateway, sampled, 5)
    no_temperature = {k: v for k, v in BODY.items() if k != "temperature"}
    assert "response-hit" not in burst(gateway, no_temperature, 3)
    assert chats(fake) == 8
    seeded = {**sampled, "seed": 42}
    burst(gateway, seeded, 3)
    assert chats(fake) == 9
    gateway.control(
        lambda c: c.caching.update("default", {"response_cache_nondeterministic": True})
    )
    burst(gateway, sampled, 4)
    assert chats(fake) == 10


def test_no_cache_goes_upstream_and_workspaces_do_not_share(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    burst(gateway, BODY, 2)
    assert chats(fake) == 1
    assert burst(gateway, BODY, 1, **{"cache-control": "no-cache"}) != ["response-hit"]
    assert chats(fake) == 2
    other = gateway.control(lambda c: c.create_workspace("other"))
    key = gateway.control(lambda c: c.create_api_key("other")).key
    base = BASES[id(fake)]
    gateway.control(lambda c: c.add_provider_key(other.id, "openai", UPSTREAM_KEY, base_url=base))
    gateway.control(lambda c: c.caching.update("other", {"response_cache": True}))
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=BODY,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["x-keyroute-cache"] != "response-hit"
    assert chats(fake) == 3


def test_a_stream_is_replayed_in_the_clients_format(gateway: Gateway, fake: FakeOpenAI) -> None:
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.api_key, max_retries=0)
    with sdk:
        first = sdk.chat.completions.create(**BODY, stream=True)
        text1 = "".join(c.choices[0].delta.content or "" for c in first if c.choices)
        raw = sdk.chat.completions.with_raw_response.create(**BODY, stream=True)
        text2 = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert raw.headers["x-keyroute-cache"] == "response-hit"
    assert text1 == text2 == "Hello there!" and chats(fake) == 1
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.api_key, max_retries=0)
    question: Any = [{"role": "user", "content": "What is 2 + 2?"}]
    zero = {"temperature": 0}  # this SDK version takes temperature as an extra field
    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=question, extra_body=zero
    ) as stream:
        text3 = "".join(stream.text_stream)
    # The Anthropic client asked with max_tokens (the OpenAI one did not): another request.
    assert text3 == "Hello there!" and chats(fake) == 2
    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=question, extra_body=zero
    ) as stream:
        text4 = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text4 == "Hello there!" and chats(fake) == 2 and final.stop_reason == "end_turn"


def _usage(gw: Gateway, requests: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        report = report_of(gw)
        if report["requests"] >= requests or time.monotonic() > deadline:
            return report
        time.sleep(0.3)


def _usage_of_first(gw: Gateway) -> dict[str, Any]:
    """The workspace's usage grouped by model: cached answers are served as the model asked."""
    report = report_of(gw, by="model")
    rows = [r for r in report["data"] if r["input_tokens"] > 0]
    assert len(rows) == 1
    row: dict[str, Any] = rows[0]
    return row


def report_of(gw: Gateway, by: str | None = None) -> dict[str, Any]:
    """``keyroute usage --json`` (the same document), read in-process."""

    async def work(c: ControlPlane) -> dict[str, Any]:
        return usage_document(await c.usage("default", by=by))

    return gw.control(work)
