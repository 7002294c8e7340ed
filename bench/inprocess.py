"""CPU per non-streaming request through the ASGI app in-process, without sockets.

The gateway's own work only: no HTTP server, no client, and the ``demo`` provider answering
in-process, so the figure is stable enough to compare two revisions run one after the other
(``make bench`` measures the whole path over real sockets). It initialises a fresh SQLite data
directory, freezes the start-up heap as ``keyroute serve`` does, warms up, then times
``--requests`` sequential requests with ``time.process_time``; ``--profile`` prints the
functions that cost the most.

The loop runs between requests, as it does in a server, so what a request leaves to it (its
disconnect watcher, the record writers it wakes) is counted too. The clock stops once the
background record writers (usage, audit) have stored every record of the timed requests, so
the figure includes their work, in their threads as well; ``--no-writers`` stops it right after
the last answer instead (the request path alone, as figures before 2026-12-03 were measured).
The script only needs ``create_app``, ``initialise``, ``load`` and ``Services``, so it runs
against older revisions too (``PYTHONPATH=<checkout>/src``).

    python bench/inprocess.py [--requests 3000] [--profile] [--no-writers]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import tempfile
import time
from typing import Any

import msgspec
import uvloop

from keyroute.api.app import create_app
from keyroute.cli.bootstrap import initialise
from keyroute.config.load import load
from keyroute.services import Services

BODY = msgspec.json.encode(
    {"model": "demo/fast", "messages": [{"role": "user", "content": "hello"}]}
)


def _writers(services: Services) -> list[Any]:
    """The background record writers of this revision (none before 0.2)."""
    names = ("usage_writer", "audit_writer")
    return [w for w in (getattr(services, n, None) for n in names) if w is not None]


async def drained(services: Services) -> None:
    """Return once the writers hold nothing in memory (their records are stored)."""
    while any(w.queued for w in _writers(services)):  # noqa: ASYNC110 - the writers have no event to wait on
        await asyncio.sleep(0.005)  # idle waiting costs no CPU


async def main(requests: int, profile: bool, writers: bool) -> None:
    config = load(env={"KEYROUTE_DATA_DIR": tempfile.mkdtemp()})
    key = (await initialise(config)).details["api_key"]
    services = Services.build(config)
    await services.start()
    app = create_app(services)
    gc.collect()
    gc.freeze()
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 1),
        "http_version": "1.1",
        "headers": [
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
    }
    never = asyncio.Event()

    async def one() -> None:
        sent: list[dict[str, Any]] = []
        pending = [{"type": "http.request", "body": BODY, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await never.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"request failed: {sent}")
        await asyncio.sleep(0)  # the loop runs between requests, as in a server

    for _ in range(300):
        await one()
    await drained(services)
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for _ in range(requests):
        await one()
    if writers:
        await drained(services)
    if profiler is not None:
        profiler.disable()
    cpu_us = (time.process_time() - started) / requests * 1e6
    print(
        msgspec.json.encode({"requests": requests, "cpu_us_per_request": round(cpu_us, 1)}).decode()
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    await services.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--no-writers",
        dest="writers",
        action="store_false",
        help="stop the clock after the last answer, before the record writers store its records",
    )
    args = parser.parse_args()
    uvloop.run(main(args.requests, args.profile, args.writers))
