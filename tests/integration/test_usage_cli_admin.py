"""``keyroute usage`` and ``GET /admin/v1/workspaces/{id}/usage`` over a real SQLite data dir,
and the acceptance count: every request through a served gateway is one usage record after
SIGTERM, and the report's cost is the exact sum of the stored per-request costs."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from keyroute.core.money import Cost, usd_text
from keyroute.core.record import RequestRecord
from keyroute.core.response import Usage
from keyroute.services import Services
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration

DAY1 = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
PICO = 10**12


def inject(gw: Gateway, records: list[RequestRecord]) -> None:
    """Hand records to a real ``Services``' usage writer, as the pipeline does, then close it."""

    async def main() -> None:
        services = await Services.open(gw.config)
        try:
            for record in records:
                for sink in services.record_sinks:
                    sink.submit(record)
        finally:
            await services.close()

    asyncio.run(main())


def made(
    ws: str, n: int, model: str, cost: Cost | None, at: datetime, **fields: object
) -> RequestRecord:
    return RequestRecord(
        request_id=f"req_{n}",
        started_at=at,
        endpoint="/v1/chat/completions",
        inbound_format="openai",
        workspace_id=ws,
        api_key_id="key_a",
        served_model=model,
        provider=model.split("/")[0],
        status=200,
        cost=cost,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def reported(gateway: Gateway) -> Gateway:
    ws = gateway.control(lambda c: c.workspace("default")).id
    usage = Usage(
        input_tokens=1000,
        output_tokens=500,
        cache_read_tokens=600,
        cache_write_tokens=100,
        cache_write_1h_tokens=40,
        reasoning_tokens=50,
    )
    third = PICO // 3  # 333333333333 pico-dollars: not a float-friendly amount
    inject(
        gateway,
        [
            made(ws, 1, "demo/fast", Cost(list_pico=third, paid_pico=third - 7), DAY1, usage=usage),
            made(ws, 2, "demo/fast", Cost(list_pico=third, paid_pico=third - 7), DAY1, usage=usage),
            made(ws, 3, "demo/smart", Cost(list_pico=5, paid_pico=5), DAY1 + timedelta(hours=2)),
            made(ws, 4, "openai/mystery", None, DAY1 + timedelta(hours=2), end_user="=cmd"),
        ],
    )
    return gateway


def test_cli_reports_exact_totals(reported: Gateway) -> None:
    doc = reported.cli_json("usage", "--workspace", "default")
    assert doc["requests"] == 4
    assert (doc["input_tokens"], doc["cached_input_tokens"], doc["cache_write_tokens"]) == (
        2000,
        1200,
        200,
    )
    assert (doc["output_tokens"], doc["reasoning_tokens"]) == (1000, 100)
    assert doc["cost_usd"] == "0.666666666657"
    assert doc["list_cost_usd"] == "0.666666666671"
    assert doc["discount_saving_usd"] == "0.000000000014"
    assert doc["cost_unknown_requests"] == 1
    assert doc["data"] == [{k: v for k, v in doc.items() if k in doc["data"][0]}]


def test_cli_groups_and_filters(reported: Gateway) -> None:
    by_model = reported.cli_json("usage", "--workspace", "default", "--by", "model")
    assert [(d["model"], d["requests"], d["cost_usd"]) for d in by_model["data"]] == [
        ("demo/fast", 2, "0.666666666652"),
        ("demo/smart", 1, "0.000000000005"),
        ("openai/mystery", 1, "0"),
    ]
    assert by_model["data"][2]["cost_unknown_requests"] == 1
    by_day = reported.cli_json("usage", "--workspace", "default", "--by", "day")
    assert [(d["day"], d["requests"]) for d in by_day["data"]] == [
        ("2026-03-01", 2),
        ("2026-03-02", 2),
    ]
    march_2 = reported.cli_json(
        "usage", "--workspace", "default", "--since", "2026-03-02", "--until", "2026-03-02"
    )
    assert march_2["requests"] == 2 and march_2["since"] == "2026-03-02T00:00:00Z"
    text = reported.cli("usage", "--workspace", "default", "--by", "provider").stdout
    assert "TOTAL" in text and "openai" in text


def test_cli_csv(reported: Gateway) -> None:
    out = reported.cli("usage", "--workspace", "default", "--by", "user", "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["user"], r["requests"]) for r in rows] == [("", "3"), ("'=cmd", "1")]


def test_cli_errors_name_the_option(reported: Gateway) -> None:
    proc = reported.cli("usage", "--workspace", "default", "--since", "soon", "--json", check=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["param"] == "since"
    proc = reported.cli("usage", "--workspace", "nope", check=False)
    assert proc.returncode == 1 and "nope" in proc.stderr
    proc = reported.cli("usage", "--workspace", "default", "--by", "colour", check=False)
    assert proc.returncode == 2 and "colour" in proc.stderr


def test_admin_matches_the_cli(reported: Gateway) -> None:
    headers = {"authorization": f"Bearer {reported.admin_token}"}
    url = f"{reported.url}/admin/v1/workspaces/default/usage"
    with httpx.Client(headers=headers, timeout=30) as client:
        answer = client.get(url, params={"by": "model"})
        assert answer.status_code == 200
        assert answer.json() == reported.cli_json(
            "usage", "--workspace", "default", "--by", "model"
        )
        csv_answer = client.get(url, params={"by": "day", "format": "csv"})
        assert csv_answer.headers["content-type"].startswith("text/csv")
        assert (
            csv_answer.text
            == reported.cli("usage", "--workspace", "default", "--by", "day", "--csv").stdout
        )
        for params, param in [
            ({"by": "colour"}, "by"),
            ({"format": "xml"}, "format"),
            ({"colour": "red"}, "colour"),
            ({"until": "2026-02-30"}, "until"),
        ]:
            refused = client.get(url, params=params)
            assert refused.status_code == 400
            assert refused.json()["error"]["param"] == param
        assert client.get(url.replace("default", "nope")).status_code == 404
    assert httpx.get(url, timeout=30).status_code == 401


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _requests(url: str, key: str) -> int:
    """Mixed traffic; returns how many requests were authenticated (each one is usage)."""
    auth = {"authorization": f"Bearer {key}"}
    chat = url + "/v1/chat/completions"
    message = [{"role": "user", "content": "count the tokens of this prompt"}]
    counted = 0
    with httpx.Client(timeout=30) as client:
        for i in range(12):
            body: dict[str, object] = {"model": "demo/fast", "messages": message}
            if i % 3 == 1:
                body |= {"stream": True, "stream_options": {"include_usage": True}}
            elif i % 3 == 2:
                body |= {"stream": True, "model": "demo/smart"}
            answer = client.post(chat, json=body, headers=auth)
            assert answer.status_code == 200, answer.text
            counted += 1
        bad: list[dict[str, object]] = [
            {"model": "nowhere/model", "messages": message},
            {"model": "demo/fast"},
        ]
        for wrong in bad:
            assert client.post(chat, json=wrong, headers=auth).status_code in (400, 404)
            counted += 1
        for _ in range(2):  # streams the client leaves after the first chunk
            body = {"model": "demo/smart", "messages": message, "stream": True}
            with client.stream("POST", chat, json=body, headers=auth) as stream:
                next(stream.iter_lines())
            counted += 1
        refused = client.post(chat, json={"model": "demo/fast", "messages": message})
        assert refused.status_code == 401  # no workspace: not usage
    return counted


@pytest.mark.parametrize("workers", [1, 2])
def test_every_request_is_one_usage_record_after_sigterm(gateway: Gateway, workers: int) -> None:
    port = _free_port()
    env = {**os.environ, **gateway.env}
    command = ["serve", "--port", str(port), "--workers", str(workers), "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyroute", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        json.loads(proc.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        counted = _requests(url, gateway.api_key)
        proc.send_signal(signal.SIGTERM)  # at once: the writer may still hold records
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    doc = gateway.cli_json("usage", "--workspace", "default", "--by", "model")
    assert doc["requests"] == counted == 16
    with sqlite3.connect(gateway.data_dir / "keyroute.db") as db:
        stored = db.execute(
            "SELECT COUNT(*), SUM(paid_pico), SUM(list_pico), SUM(input_tokens) FROM usage "
            "WHERE paid_pico IS NOT NULL AND list_pico IS NOT NULL"
        ).fetchone()
    db.close()
    known = counted - doc["cost_unknown_requests"]
    assert stored[0] == known >= 14
    assert doc["cost_usd"] == usd_text(stored[1]) and doc["list_cost_usd"] == usd_text(stored[2])
    assert stored[1] > 0 and stored[3] > 0
    fast = next(d for d in doc["data"] if d["model"] == "demo/fast")
    assert fast["requests"] >= 8
    assert not list((gateway.data_dir / "spill").glob("*.jsonl"))
