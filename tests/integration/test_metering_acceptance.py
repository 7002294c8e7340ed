"""Issue acceptance for metering: 1,000 requests of mixed kind through a served gateway (whole,
streamed with and without ``include_usage``, streams the client abandons, upstream errors) are
exactly 1,000 usage records after SIGTERM, one per ``x-request-id``, and ``keyroute usage``
totals are the exact sum of the stored per-request costs. The official ``openai`` SDK's default
streaming call (no ``stream_options``) is metered from the usage the gateway asked for, and the
client never sees a usage chunk."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import openai
import pytest

from keyroute.core.money import usd_text
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI, Reply, default_stream, error_body
from tests.fakes.process import serve_process
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration
MESSAGES = [{"role": "user", "content": "count the tokens of this prompt, please"}]


@contextmanager
def served(gateway: Gateway) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``keyroute serve`` over the gateway's data dir; each upstream error is one answer here
    (a metering test: no retries, no breaker cutting a failing upstream off)."""
    env = {
        **os.environ,
        **gateway.env,
        "KEYROUTE__RESILIENCE__MAX_RETRIES": "0",
        "KEYROUTE__RESILIENCE__BREAKERS": "false",
    }
    with serve_process([sys.executable, "-m", "keyroute"], env) as server:
        yield server.url, server.proc


async def _traffic(url: str, key: str) -> tuple[set[str], dict[str, int]]:
    """1,000 requests, 16 at a time. Returns every ``x-request-id`` and a count per kind."""
    auth = {"authorization": f"Bearer {key}"}
    chat = url + "/v1/chat/completions"
    kinds = ["whole"] * 400 + ["stream"] * 200 + ["stream_usage"] * 200
    kinds += ["abandoned"] * 100 + ["failing"] * 100
    ids: set[str] = set()
    counts: dict[str, int] = {}
    gate = asyncio.Semaphore(16)

    async def one(client: httpx.AsyncClient, kind: str) -> None:
        body: dict[str, object] = {"model": "openai/gpt-4o-mini", "messages": MESSAGES}
        if kind == "stream":
            body["stream"] = True
        elif kind == "stream_usage":
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        elif kind == "abandoned":
            body |= {"model": "slow/gpt-4o-mini", "stream": True}
        elif kind == "failing":
            body["model"] = "failing/gpt-4o-mini"
        async with gate, client.stream("POST", chat, json=body, headers=auth) as resp:
            ids.add(resp.headers["x-request-id"])
            if kind == "abandoned":
                seen = 0
                async for line in resp.aiter_lines():  # 10 content chunks, then the client leaves
                    seen += line.startswith("data:")
                    if seen == 11:
                        break
            else:
                text = (await resp.aread()).decode()
                assert resp.status_code == (502 if kind == "failing" else 200), text
                if kind == "stream":  # the client did not ask: no usage chunk reaches it
                    assert '"usage":{' not in text.replace(" ", "")
                if kind == "stream_usage":
                    assert '"prompt_tokens":12' in text.replace(" ", "")
        counts[kind] = counts.get(kind, 0) + 1

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, kind) for kind in kinds))
    return ids, counts


def test_a_thousand_mixed_requests_are_a_thousand_exact_usage_records(gateway: Gateway) -> None:
    fast, slow, failing = FakeOpenAI(), FakeOpenAI(), FakeOpenAI()
    slow.push(*[Reply.stream(default_stream(["w"] * 40, True), delay=0.05) for _ in range(100)])
    error = error_body("The server had an error.", "server_error")
    failing.push(*[Reply.json(500, error) for _ in range(100)])
    with serve(fast.app) as a, serve(slow.app) as b, serve(failing.app) as c:
        for name, provider, base in (
            ("openai", "openai", a),
            ("slow", "openai-compatible", b),
            ("failing", "openai-compatible", c),
        ):
            gateway.control(
                lambda ctl, n=name, p=provider, u=base: ctl.add_provider_key(  # type: ignore[misc]
                    "default", p, UPSTREAM_KEY, name=n, base_url=u + "/v1"
                )
            )
        with served(gateway) as (url, proc):
            ids, counts = asyncio.run(_traffic(url, gateway.api_key))
            proc.send_signal(signal.SIGTERM)  # at once: the writer may still hold records
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert len(ids) == 1000 and sum(counts.values()) == 1000
    # The gateway asked every upstream stream for its usage, whatever the client asked.
    assert all(
        r.body["stream_options"] == {"include_usage": True}
        for r in fast.requests
        if r.body.get("stream")
    )
    with sqlite3.connect(gateway.data_dir / "keyroute.db") as db:
        rows = db.execute(
            "SELECT request_id, status, stream_outcome, usage_estimated, output_tokens, "
            "paid_pico, list_pico FROM usage"
        ).fetchall()
    db.close()
    assert len(rows) == 1000 and {r[0] for r in rows} == ids
    by_id = {r[0]: r for r in rows}
    abandoned = [r for r in rows if r[2] == "cancelled"]
    # Billed for what was streamed (ten one-word chunks), flagged as estimated.
    assert len(abandoned) == 100 and all(r[3] == 1 and r[4] >= 3 for r in abandoned)
    assert sum(1 for r in rows if r[1] == 502) == 100
    assert sum(1 for r in rows if r[2] == "completed" and not r[3]) == 400
    doc = gateway.cli_json("usage", "--workspace", "default")
    assert doc["requests"] == 1000
    paid = sum(r[5] for r in by_id.values() if r[5] is not None)
    listed = sum(r[6] for r in by_id.values() if r[6] is not None)
    assert doc["cost_usd"] == usd_text(paid) and doc["list_cost_usd"] == usd_text(listed)
    assert paid > 0


def test_the_sdks_default_stream_is_metered_without_showing_usage(gateway: Gateway) -> None:
    fake = FakeOpenAI()
    with serve(fake.app) as upstream:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        with served(gateway) as (url, proc):
            client = openai.OpenAI(base_url=url + "/v1", api_key=gateway.api_key, max_retries=0)
            with client.chat.completions.create(
                model="openai/gpt-4o-mini",
                messages=MESSAGES,
                stream=True,  # type: ignore[arg-type]
            ) as stream:
                chunks = list(stream)
            request_id = stream.response.headers["x-request-id"]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert chunks and all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there!"
    with sqlite3.connect(gateway.data_dir / "keyroute.db") as db:
        row = db.execute(
            "SELECT input_tokens, cached_input_tokens, output_tokens, usage_estimated, "
            "stream_outcome, paid_pico FROM usage WHERE request_id = ?",
            (request_id,),
        ).fetchone()
    db.close()
    assert row == (12, 4, 3, 0, "completed", row[5]) and row[5] > 0
