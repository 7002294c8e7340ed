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
The scope offers the disconnect signal keyroute's HTTP protocol gives the application (a
callback list per request: the client never leaves here), as ``keyroute serve`` does.
The script only needs ``create_app``, ``initialise``, ``load`` and ``Services``, so it runs
against older revisions too (``PYTHONPATH=<checkout>/src``).

``--model auto`` sends ``model: "auto"`` (the workspace holds only the ``demo`` key, so the
shipped ``demo`` policy routes between ``demo/fast`` and ``demo/smart``); ``--routing`` runs
``demo/fast`` and then ``auto`` over the same data directory and prints both and their
difference: the CPU routing adds to a request (scoring, constraints, the plan, the header).

    python bench/inprocess.py [--requests 3000] [--profile] [--no-writers] [--model M | --routing]
                              [--limits]

The workspace is on the ``custom`` plan with no quota (``free``'s 2,500 requests a month would
refuse the run) where the revision has plans; ``--limits`` sets a monthly quota, rate limits
(requests and tokens per minute) and a daily and monthly budget instead, all far above the run,
so admission and settlement do their whole work on every request without refusing one.

``bench/instructions.py`` runs this script under callgrind (``--callgrind LIB`` starts and stops
the instrumentation around the timed loop; ``--request-path`` empties the record sinks and
stretches the periodic background passes, which run by wall time and would otherwise be counted
fifty-fold under valgrind's slowdown).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import ctypes
import functools
import gc
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import uvloop

from keyroute.api.app import create_app
from keyroute.cli.bootstrap import initialise
from keyroute.config.load import load
from keyroute.services import Services

try:
    from keyroute.api.asgi import DISCONNECT_SIGNAL
except ImportError:  # a revision without the signal
    DISCONNECT_SIGNAL = None

PROMPT = "Explain, step by step, why the sum of two odd integers is always even."


def body(model: str) -> bytes:
    return msgspec.json.encode({"model": model, "messages": [{"role": "user", "content": PROMPT}]})


class Signal:
    """The per-request disconnect signal ``api.connection`` offers (the client never leaves)."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return functools.partial(self.callbacks.remove, callback)


def _request(scope: dict[str, Any]) -> dict[str, Any]:
    request = dict(scope)
    if DISCONNECT_SIGNAL is not None:
        request["extensions"] = {DISCONNECT_SIGNAL: {"subscribe": Signal().subscribe}}
    return request


def quiet_background() -> None:
    """Stretch the periodic background passes (ledger, last-used flusher, record writers) to
    ten minutes, so that under callgrind only the requests' own work is counted."""
    import importlib

    passes = (
        ("keyroute.ledger.sqlite", "SqliteLedger", "__init__"),
        ("keyroute.accounting.usage_writer", "UsageWriter", "__init__"),
        ("keyroute.audit.writer", "AuditWriter", "__init__"),
    )
    for module, cls, name in passes:
        try:
            function = getattr(getattr(importlib.import_module(module), cls), name)
        except (ImportError, AttributeError):  # an older revision
            continue
        if function.__kwdefaults__ and "interval" in function.__kwdefaults__:
            function.__kwdefaults__["interval"] = 600.0
    try:
        from keyroute.principals import PrincipalCache
    except ImportError:
        return
    flusher = getattr(PrincipalCache, "run_flusher", None)
    if flusher is not None and flusher.__defaults__ == (2.0,):
        flusher.__defaults__ = (600.0,)


class Callgrind:
    """Callgrind's instrumentation switched from Python (``bench/instructions.py`` builds the
    library from ``valgrind/callgrind.h``); without a library, nothing."""

    def __init__(self, library: str | None) -> None:
        self._lib = ctypes.CDLL(library) if library else None

    def start(self) -> None:
        if self._lib is not None:
            self._lib.keyroute_bench_start()

    def stop(self) -> None:
        if self._lib is not None:
            self._lib.keyroute_bench_stop()


def _writers(services: Services) -> list[Any]:
    """The background record writers of this revision (none before 0.2)."""
    names = ("usage_writer", "audit_writer")
    return [w for w in (getattr(services, n, None) for n in names) if w is not None]


async def drained(services: Services) -> None:
    """Return once the writers hold nothing in memory (their records are stored)."""
    while any(w.queued for w in _writers(services)):  # noqa: ASYNC110 - the writers have no event to wait on
        await asyncio.sleep(0.005)  # idle waiting costs no CPU


async def limit(services: Services, limits: bool) -> None:
    """``custom`` with no quota, or (``limits``) a quota, rate limits and budgets."""
    governance = getattr(services.control, "governance", None)
    if governance is None:  # a revision before plans were enforced
        return
    if not limits:
        await governance.set_plan("default", "custom", quota="unlimited")
        return
    await governance.set_plan("default", "custom", quota=10_000_000)
    await governance.set_rate_limit(
        "default", requests_per_minute=1_000_000, tokens_per_minute=1_000_000_000
    )
    await governance.set_budget("default", daily="10000", monthly="100000")


async def main(
    requests: int,
    profile: bool,
    writers: bool,
    models: list[str],
    limits: bool = False,
    alerts: bool = True,
    callgrind: Callgrind | None = None,
    request_path: bool = False,
) -> None:
    env = {"KEYROUTE_DATA_DIR": tempfile.mkdtemp()}
    if not alerts:  # the velocity sink off: what alerting costs a request
        env["KEYROUTE__ALERTS__ENABLED"] = "false"
    if request_path:  # the change poll and the alert evaluator are periodic background work
        env["KEYROUTE__SERVER__CHANGE_POLL_SECONDS"] = "60"
        env["KEYROUTE__ALERTS__ENABLED"] = "false"
    try:
        config = load(env=env)
    except Exception:  # a revision without the change feed or alerts
        env.pop("KEYROUTE__SERVER__CHANGE_POLL_SECONDS", None)
        env.pop("KEYROUTE__ALERTS__ENABLED", None)
        config = load(env=env)
    key = (await initialise(config)).details["api_key"]
    setup = await Services.open(config)
    await limit(setup, limits)
    await setup.close()
    figures = [
        await measure(config, key, requests, profile, writers, m, callgrind, request_path)
        for m in models
    ]
    result: dict[str, Any] = {
        "requests": requests,
        "cpu_us_per_request": dict(zip(models, figures, strict=True)),
    }
    if len(models) == 2:
        result["routing_cpu_us_per_request"] = round(figures[1] - figures[0], 1)
    print(msgspec.json.encode(result).decode())


def _client(app: Any, scope: dict[str, Any], payload: bytes) -> Callable[[], Awaitable[None]]:
    """One sequential request through ``app``: the client never leaves, every answer is a 200."""
    never = asyncio.Event()

    async def one() -> None:
        sent: list[dict[str, Any]] = []
        pending = [{"type": "http.request", "body": payload, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await never.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(_request(scope), receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"request failed: {sent}")
        await asyncio.sleep(0)  # the loop runs between requests, as in a server

    return one


async def measure(
    config: Any,
    key: str,
    requests: int,
    profile: bool,
    writers: bool,
    model: str,
    callgrind: Callgrind | None = None,
    request_path: bool = False,
) -> float:
    """CPU microseconds per request for ``model``, on a freshly started ``Services``."""
    payload = body(model)
    services = Services.build(config)
    await services.start()
    app = create_app(services)
    if request_path:  # the request path alone: no record sinks
        getattr(services, "record_sinks", []).clear()
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
            (b"content-length", str(len(payload)).encode()),
        ],
    }
    one = _client(app, scope, payload)
    for _ in range(300):
        await one()
    await drained(services)
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    counter = callgrind or Callgrind(None)
    counter.start()
    if profiler is not None:
        profiler.enable()
    for _ in range(requests):
        await one()
    if writers:
        await drained(services)
    if profiler is not None:
        profiler.disable()
    counter.stop()
    cpu_us = (time.process_time() - started) / requests * 1e6
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    await services.close()
    gc.unfreeze()
    return round(cpu_us, 1)


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
    parser.add_argument("--limits", action="store_true", help="a quota, rate limits and budgets")
    parser.add_argument("--model", default="demo/fast", help='the model asked ("auto" routes)')
    parser.add_argument(
        "--routing", action="store_true", help="measure demo/fast, then auto, and the difference"
    )
    parser.add_argument(
        "--no-alerts", dest="alerts", action="store_false", help="alerts off (no velocity sink)"
    )
    parser.add_argument(
        "--callgrind", metavar="LIB", help="callgrind's start/stop library (bench/instructions.py)"
    )
    parser.add_argument(
        "--request-path",
        action="store_true",
        help="no record sinks, periodic background passes stretched (for instruction counts)",
    )
    args = parser.parse_args()
    chosen = ["demo/fast", "auto"] if args.routing else [args.model]
    if args.request_path:
        quiet_background()
    uvloop.run(
        main(
            args.requests,
            args.profile,
            args.writers,
            chosen,
            args.limits,
            args.alerts,
            Callgrind(args.callgrind),
            args.request_path,
        )
    )
