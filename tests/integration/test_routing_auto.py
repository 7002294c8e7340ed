"""Acceptance: ``model: "auto"`` through a running ``keyroute serve`` with two fake upstream
models (the shipped OpenAI policy's mini and full model, both served by a fake OpenAI).

Every prompt of the held-out file (never trained on) goes through the gateway. The router's
decision travels back in ``x-keyroute-route``; the APGR measured from those headers (each
prompt's score against its strong/weak labels) must equal the offline evaluation of the shipped
scorer on the same file, and each request must have gone to the model its score and threshold
say. Then the money and the feedback: the usage report prices the routed requests at the
reference model, and the routing report shows the saving and the feedback given.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from keyroute.router import Scorer
from keyroute.router.metrics import apgr
from keyroute.wire.openai.request import decode_request
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.fakes.process import serve_process
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration

HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "router" / "heldout_mmlu.jsonl"
WEAK, STRONG = "openai/gpt-4.1-mini", "openai/gpt-4.1"


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()]


def _body(prompt: str) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": prompt}]}


async def _send(url: str, key: str, rows: list[dict[str, Any]]) -> list[httpx.Response]:
    gate = asyncio.Semaphore(8)
    headers = {"authorization": f"Bearer {key}"}

    async def one(client: httpx.AsyncClient, row: dict[str, Any]) -> httpx.Response:
        async with gate:
            return await client.post(
                url + "/v1/chat/completions", json=_body(row["prompt"]), headers=headers
            )

    async with httpx.AsyncClient(timeout=60) as client:
        return list(await asyncio.gather(*(one(client, row) for row in rows)))


def test_auto_routes_held_out_prompts_as_the_offline_evaluation_does(gateway: Gateway) -> None:
    rows = _rows()
    fake = FakeOpenAI()
    with serve(fake.app) as upstream:
        # A workspace that holds only an OpenAI key: no routing configuration at all.
        gateway.cli_json("workspace", "create", "solo")
        gateway.control(
            lambda c: c.add_provider_key("solo", "openai", UPSTREAM_KEY, base_url=upstream + "/v1")
        )
        key = gateway.cli_json("api-key", "create", "--workspace", "solo")["key"]
        env = {**os.environ, **gateway.env}
        with serve_process([sys.executable, "-m", "keyroute"], env) as server:
            listed = httpx.get(
                server.url + "/v1/models", headers={"authorization": f"Bearer {key}"}
            ).json()
            ids = [m["id"] for m in listed["data"]]
            assert "auto" in ids and "auto:openai" in ids
            answers = asyncio.run(_send(server.url, key, rows))
            assert all(a.status_code == 200 for a in answers), [a.text for a in answers[:3]]
            routes = [json.loads(a.headers["x-keyroute-route"]) for a in answers]
            streamed = httpx.post(
                server.url + "/v1/chat/completions",
                json={**_body(rows[0]["prompt"]), "stream": True},
                headers={"authorization": f"Bearer {key}"},
            )
            assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
            assert json.loads(streamed.headers["x-keyroute-route"])["policy"] == "openai"
            feedback = httpx.post(
                server.url + "/v1/feedback",
                json={"request_id": answers[0].headers["x-request-id"], "thumbs": "down"},
                headers={"authorization": f"Bearer {key}"},
            )
            assert feedback.status_code == 200, feedback.text
    # Each decision is explained, and followed.
    for route, answer in zip(routes, answers, strict=True):
        assert route["policy"] == "openai" and route["reference"] == STRONG
        assert {"model", "score", "threshold", "reason"} <= set(route)
        assert route["model"] == (STRONG if route["score"] >= route["threshold"] else WEAK)
        assert answer.headers["x-keyroute-model"] == route["model"]
    sent = [r.body["model"] for r in fake.requests if not r.body.get("stream")]
    chosen = [r["model"].partition("/")[2] for r in routes]
    assert sorted(sent) == sorted(chosen)
    assert 0 < chosen.count("gpt-4.1") < len(rows)  # both models answered
    # The headers' APGR is the offline evaluation's on the same file.
    scorer = Scorer.load()
    offline = [
        scorer.score(decode_request(msgspec.json.encode(_body(row["prompt"])))) for row in rows
    ]
    assert [r["score"] for r in routes] == offline
    strong = [float(row["strong"]) for row in rows]
    weak = [float(row["weak"]) for row in rows]
    measured = apgr([r["score"] for r in routes], strong=strong, weak=weak)
    assert measured == apgr(offline, strong=strong, weak=weak)
    assert measured > 0.5
    # Savings, measured: every routed request priced at the reference model too.
    usage = gateway.cli_json("usage", "--workspace", "solo", "--by", "policy")
    (line,) = [d for d in usage["data"] if d["policy"] == "openai"]
    assert line["routed_requests"] == len(rows) + 1  # and the streamed one
    assert float(line["routing_saving_usd"]) > 0
    assert float(line["reference_cost_usd"]) > float(line["cost_usd"])
    report = gateway.cli_json("routing", "report", "--workspace", "solo")
    by_model = {d["model"]: d for d in report["data"]}
    assert set(by_model) == {WEAK, STRONG}
    assert sum(d["requests"] for d in report["data"]) == len(rows) + 1
    assert float(by_model[STRONG]["routing_saving_usd"]) == 0
    assert float(by_model[WEAK]["routing_saving_usd"]) > 0
    assert sum(d["feedback"] for d in report["data"]) == 1
    assert sum(d["thumbs_down"] for d in report["data"]) == 1
    assert [d["policy"] for d in report["days"]] == ["openai"]
