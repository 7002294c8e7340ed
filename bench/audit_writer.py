"""The audit writer's cost on the request path, its sustained rate into SQLite, and the event
loop's responsiveness while it writes.

1. ``submit()``: the synchronous call the request path makes per request (a deque append; the
   entry's JSON and hash are made later, on the background task), timed over many calls (best
   of several rounds), in microseconds.
2. Sustained rate: a producer submits records in bursts (yielding to the event loop between
   bursts, as requests do) while the background task chains and writes them to a fresh SQLite
   database; the rate is records stored per second of wall time, from the first submit until
   the last record is stored. At the end every record is in the chain and the chain verifies.
3. Loop lag: a ticker on the same loop asks to wake every millisecond while the writer works;
   how late it wakes (p50, p99, max) is what a request on that loop would wait behind it.

    .venv/bin/python bench/audit_writer.py [--records 100000] [--batch-size 200]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from keyroute.audit.verifier import verify
from keyroute.audit.writer import AuditSpill, AuditWriter
from keyroute.core.money import Cost
from keyroute.core.record import Attempt, RequestRecord
from keyroute.core.response import Usage
from keyroute.storage.sqlite import SqliteStore
from keyroute.tasks import TaskGroup

USAGE = Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=800, reasoning_tokens=40)
COST = Cost(list_pico=480_000_000, paid_pico=408_000_000, uncached_pico=900_000_000)
LOG = "ws_bench"


def records(n: int) -> list[RequestRecord]:
    now = datetime.now(UTC)
    attempt = Attempt(provider="demo", model="demo/fast", provider_key_id="pk_1", status=200)
    return [
        RequestRecord(
            request_id=f"req_{i:024x}",
            started_at=now,
            endpoint="/v1/chat/completions",
            inbound_format="openai",
            operation="chat",
            client_ip="10.0.0.7",
            user_agent="OpenAI/Python 1.99.0",
            workspace_id=LOG,
            api_key_id=f"key_{i % 7}",
            api_key_name="ci",
            requested_model="demo/fast",
            served_model="demo/fast",
            provider="demo",
            upstream_model="fast",
            provider_key_id="pk_1",
            attempts=[attempt],
            usage=USAGE,
            cost=COST,
            status=200,
            total_ms=12.5,
            upstream_ms=11.0,
            ttft_ms=3.0,
        )
        for i in range(n)
    ]


class _NoStore:
    async def append(self, rows: object, /) -> int:
        raise AssertionError("not started")


def submit_cost(directory: Path, n: int) -> float:
    """Microseconds per ``submit`` (best of 5 rounds of ``n`` calls), nothing written."""
    batch = records(n)
    best = float("inf")
    for round_ in range(5):
        writer = AuditWriter(
            _NoStore(),  # type: ignore[arg-type]
            AuditSpill(directory / f"spill-{round_}"),
            capacity=n,
            batch_size=500,
        )
        submit = writer.submit
        started = time.perf_counter()
        for record in batch:
            submit(record)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        asked = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - asked - 0.001) * 1e3)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


async def sustained(directory: Path, n: int, batch_size: int, burst: int) -> dict[str, object]:
    store = SqliteStore(str(directory / "keyroute.db"))
    await store.migrate()
    await store.open()
    writer = AuditWriter(
        store.audit,
        AuditSpill(directory / "spill"),
        batch_size=batch_size,
        capacity=max(n, 50_000),
        grace=600.0,
    )
    tasks = TaskGroup()
    writer.start(tasks.spawn)
    lags: list[float] = []
    stop = asyncio.Event()
    tasks.spawn(_ticker(lags, stop), name="ticker")
    batch = records(n)
    started = time.perf_counter()
    cpu_started = time.process_time()
    for i in range(0, n, burst):
        for record in batch[i : i + burst]:
            writer.submit(record)
        await asyncio.sleep(0)
    await writer.close()  # returns once every queued record is stored
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    stop.set()
    await tasks.close()
    verdict = await verify(store.audit, LOG)
    await store.close()
    assert verdict.ok and verdict.records == n, (verdict.problem, verdict.records, n)
    return {
        "records": n,
        "batch_size": batch_size,
        "seconds": round(elapsed, 3),
        "records_per_second": round(n / elapsed),
        "cpu_us_per_record": round(cpu / n * 1e6, 1),
        "chain_verified": verdict.records,
        "spilled": writer.spilled,
        "loop_lag_ms": {
            "p50": round(_percentile(lags, 0.5), 3),
            "p99": round(_percentile(lags, 0.99), 3),
            "max": round(max(lags, default=0.0), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--burst", type=int, default=100, help="submits between loop yields")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        result = {
            "submit_us": round(submit_cost(directory, 100_000), 3),
            "sustained": asyncio.run(
                sustained(directory, args.records, args.batch_size, args.burst)
            ),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
