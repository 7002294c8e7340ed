"""Run an ASGI app (a fake provider, or the gateway itself) on an ephemeral loopback port.

``serve(app)`` starts uvicorn in a background thread with its own event loop, waits until the
socket listens, yields the base URL (``http://127.0.0.1:PORT``) and shuts the server down after.
Fakes run on h11 and asyncio. The gateway passes ``options=uvicorn_options(config.server)``, the
very options ``keyroute serve`` uses, so it runs on the production stack: uvloop, and httptools
behind keyroute's guarded connection protocol.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import uvicorn
import uvloop


@contextmanager
def serve(app: Any, options: Mapping[str, Any] | None = None) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    stack: dict[str, Any] = {"loop": "asyncio", "http": "h11", **(options or {})}
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **stack)
    server = uvicorn.Server(config)
    started = threading.Event()

    def run() -> None:
        async def main() -> None:
            await server.serve(sockets=[sock])

        loop = uvloop.new_event_loop() if stack["loop"] == "uvloop" else asyncio.new_event_loop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            started.set()
            break
        if not thread.is_alive():
            break
        threading.Event().wait(0.01)
    if not started.is_set():
        raise RuntimeError("test server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
