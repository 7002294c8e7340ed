"""CPU per request of admission and settlement alone: ``Admission.admit`` then ``Ticket.settle``.

A workspace with a monthly quota, a rate limit (requests and tokens per minute, for the
workspace and for its gateway key) and a daily and monthly budget, all far above the run, so
every request does the whole work and none is refused. One process; ``--ledger sqlite`` is the
ledger ``keyroute serve`` uses on SQLite (leases: almost every reservation is served from
memory), ``memory`` the in-process one. The figure is the cost the pipeline's admission slot
and the meter's settlement add to a non-streaming request (the worst-case pricing included,
``--no-pricing`` leaves it out).

    python bench/admission.py [--requests 200000] [--ledger sqlite|memory]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import uvloop

from keyroute.accounting.pricebook import PriceBook
from keyroute.admission.policy import Budget, Limits, PlanQuota, RateLimit
from keyroute.admission.stage import Admission, Demand
from keyroute.catalogue import builtin
from keyroute.core.money import Cost, usd_to_pico
from keyroute.core.record import RequestRecord
from keyroute.core.response import Usage
from keyroute.ledger import Ledger
from keyroute.ledger.memory import MemoryLedger
from keyroute.ledger.sqlite import SqliteLedger
from keyroute.storage.memory import MemoryStore

LIMITS = Limits(
    plan=PlanQuota(name="custom", monthly_requests=100_000_000),
    timezone="Europe/Paris",
    rate_limits=(
        RateLimit(requests_per_minute=100_000_000, tokens_per_minute=10**12),
        RateLimit(scope="key", subject="key-1", requests_per_minute=100_000_000),
    ),
    budgets=(Budget(daily_pico=usd_to_pico(10**6), monthly_pico=usd_to_pico(10**7)),),
)


async def main(requests: int, backend: str, pricing: bool) -> None:
    ledger: Ledger
    if backend == "sqlite":
        ledger = SqliteLedger(Path(tempfile.mkdtemp()) / "bench.ledger")
    else:
        ledger = MemoryLedger()
    tasks: list[asyncio.Task[object]] = []
    await ledger.start(lambda coro, name: tasks.append(asyncio.ensure_future(coro)))
    stage = Admission(ledger)
    prices = PriceBook(builtin(), MemoryStore())
    await prices.prepare("ws-1")
    usage = Usage(input_tokens=20, output_tokens=30)
    record = RequestRecord(
        request_id="r", started_at=datetime.now(UTC), endpoint="/v1", inbound_format="openai"
    )
    record.usage = usage
    record.cost = Cost(list_pico=1000, paid_pico=1000)
    worst = Usage(input_tokens=20, output_tokens=16_384)

    async def one() -> None:
        cost = prices.cost("ws-1", "openai", "gpt-4o", worst).paid_pico if pricing else 1000
        demand = Demand(workspace_id="ws-1", key_id="key-1", user=None, tokens=20, cost=cost)
        ticket = await stage.admit(LIMITS, demand, [])
        ticket.settle(record)

    for _ in range(2000):
        await one()
    started = time.process_time()
    for _ in range(requests):
        await one()
    cpu_us = (time.process_time() - started) / requests * 1e6
    print(
        msgspec.json.encode(
            {"ledger": backend, "requests": requests, "cpu_us_per_request": round(cpu_us, 2)}
        ).decode()
    )
    for task in tasks:
        task.cancel()
    await ledger.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--ledger", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--no-pricing", action="store_true")
    args = parser.parse_args()
    uvloop.run(main(args.requests, args.ledger, not args.no_pricing))
