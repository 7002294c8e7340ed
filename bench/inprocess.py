"""CPU per non-streaming request through the ASGI app in-process, without sockets.

The gateway's own work only: no HTTP server, no client, and the ``demo`` provider answering
in-process, so the figure is stable enough to compare two revisions run one after the other
(``make bench`` measures the whole path over real sockets). It initialises a fresh SQLite data
directory, freezes the start-up heap as ``keyroute serve`` does, warms up, then times
``--requests`` sequential requests with ``time.process_time``; ``--profile`` prints the
functions that cost the most.

    python bench/inprocess.py [--requests 3000] [--profile]
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


async def main(requests: int, profile: bool) -> None:
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

    for _ in range(300):
        await one()
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for _ in range(requests):
        await one()
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
    args = parser.parse_args()
    uvloop.run(main(args.requests, args.profile))
