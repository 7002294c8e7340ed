"""The usage writer's cost on the request path and its sustained rate into SQLite.

1. ``submit()``: the synchronous call the request path makes per request, timed over many
   calls (best of several rounds), in microseconds.
2. Sustained rate: a producer submits records in bursts (yielding to the event loop between
   bursts, as requests do) while the background task writes them to a fresh SQLite database;
   the rate is records stored per second of wall time, from the first submit until the last
   record is stored. Every record is counted in the database at the end.

    .venv/bin/python bench/usage_writer.py [--records 200000] [--batch-size 500]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from keyroute.accounting.usage_spill import UsageSpill
from keyroute.accounting.usage_writer import UsageWriter
from keyroute.core.money import Cost
from keyroute.core.record import RequestRecord
from keyroute.core.response import Usage
from keyroute.storage.base import UsageQuery, WorkspaceRecord
from keyroute.storage.sqlite import SqliteStore
from keyroute.tasks import TaskGroup

USAGE = Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=800, reasoning_tokens=40)
COST = Cost(list_pico=480_000_000, paid_pico=408_000_000, uncached_pico=900_000_000)


def records(n: int, workspace_id: str) -> list[RequestRecord]:
    now = datetime.now(UTC)
    return [
        RequestRecord(
            request_id=f"req_{i:024x}",
            started_at=now,
            endpoint="/v1/chat/completions",
            inbound_format="openai",
            operation="chat",
            workspace_id=workspace_id,
            api_key_id=f"key_{i % 7}",
            requested_model="demo/fast",
            served_model="demo/fast",
            provider="demo",
            provider_key_id="pk_1",
            usage=USAGE,
            cost=COST,
            status=200,
            total_ms=12.5,
            upstream_ms=11.0,
            ttft_ms=3.0,
        )
        for i in range(n)
    ]


async def open_store(directory: Path) -> SqliteStore:
    store = SqliteStore(str(directory / "keyroute.db"))
    await store.migrate()
    await store.open()
    await store.create_workspace(
        WorkspaceRecord(
            id="ws_bench",
            name="bench",
            plan="free",
            created_at=datetime.now(UTC),
            wrapped_data_key=b"k",
            master_key_id="m",
        )
    )
    return store


def append_cost(n: int) -> float:
    """Microseconds per ``deque.append`` in the same loop: the floor ``submit`` is compared to."""
    batch = records(n, "ws_bench")
    best = float("inf")
    for _ in range(5):
        queue: deque[RequestRecord] = deque()
        append = queue.append
        started = time.perf_counter()
        for record in batch:
            append(record)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def submit_cost(directory: Path, n: int) -> float:
    """Microseconds per ``submit`` (best of 5 rounds of ``n`` calls), nothing written."""
    batch = records(n, "ws_bench")
    best = float("inf")
    for round_ in range(5):
        writer = UsageWriter(
            _NoStore(), UsageSpill(directory / f"spill-{round_}"), capacity=n, batch_size=500
        )
        submit = writer.submit
        started = time.perf_counter()
        for record in batch:
            submit(record)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


class _NoStore:
    async def append(self, rows: object) -> int:
        raise AssertionError("not started")

    async def totals(self, query: object) -> list[object]:
        return []


async def sustained(directory: Path, n: int, batch_size: int, burst: int) -> dict[str, float]:
    store = await open_store(directory)
    writer = UsageWriter(
        store.usage,
        UsageSpill(directory / "spill"),
        batch_size=batch_size,
        capacity=max(n, 50_000),
        grace=600.0,
    )
    tasks = TaskGroup()
    writer.start(tasks.spawn)
    batch = records(n, "ws_bench")
    started = time.perf_counter()
    cpu_started = time.process_time()
    for i in range(0, n, burst):
        for record in batch[i : i + burst]:
            writer.submit(record)
        await asyncio.sleep(0)
    await writer.close()  # returns once every queued record is stored
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await tasks.close()
    groups = await store.usage.totals(UsageQuery(workspace_id="ws_bench"))
    stored = groups[0].totals.requests
    await store.close()
    assert stored == n, (stored, n)
    return {
        "records": n,
        "batch_size": batch_size,
        "seconds": round(elapsed, 3),
        "records_per_second": round(n / elapsed),
        "cpu_us_per_record": round(cpu / n * 1e6, 1),
        "stored": stored,
        "spilled": writer.spilled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--burst", type=int, default=100, help="submits between loop yields")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        result = {
            "submit_us": round(submit_cost(directory, 100_000), 3),
            "deque_append_us": round(append_cost(100_000), 3),
            "sustained": asyncio.run(
                sustained(directory, args.records, args.batch_size, args.burst)
            ),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
