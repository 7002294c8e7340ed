"""Added latency of keyroute over a direct call to a zero-latency fake upstream.

Starts the fake upstream and a real ``keyroute serve`` (SQLite, fresh data dir) as subprocesses,
then sends sequential (concurrency 1) non-streaming requests, alternating blocks between the
direct URL and the gateway, and reports p50/p99 of each and of the difference. With
``--stream`` it measures streamed requests (16 content chunks) the same way. Also reports the
gateway's CPU time per request (from /proc) under a closed loop at ``--concurrency``.
``--model auto`` sends the gateway ``model: "auto"`` (the shipped OpenAI routing policy routes
each request to the fake upstream's mini or full model), so the figures include routing.

    python bench/overhead.py [--requests 3000] [--stream] [--concurrency 32] [--model auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() else []


def unlimited(env: dict[str, str]) -> None:
    """Put the ``default`` workspace on the ``custom`` plan with no quota: the ``free`` plan's
    2,500 requests a month would refuse a benchmark part-way. Revisions without plans skip it."""
    try:
        keyroute(env, "workspace", "set-plan", "default", "custom", "--quota", "unlimited")
    except subprocess.CalledProcessError:
        pass


def keyroute(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        [str(BIN / "keyroute"), *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        check=True,
    )
    return proc.stdout


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], stream: bool
) -> tuple[float, float | None]:
    t0 = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as resp:
        overhead = resp.headers.get("x-keyroute-overhead-ms")
        if stream:
            async for _ in resp.content.iter_any():
                pass
        else:
            await resp.read()
        assert resp.status == 200, resp.status
    return (time.perf_counter() - t0) * 1000.0, (float(overhead) if overhead else None)


async def sequential(
    direct: str, gateway: str, key: str, n: int, stream: bool, model: str
) -> dict[str, float]:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 64,
        "temperature": 0.7,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello in sixteen words."},
        ],
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    raw_direct = json.dumps(body).encode()
    raw_gateway = json.dumps({**body, "model": model}).encode()
    times: dict[str, list[float]] = {"direct": [], "gateway": []}
    reported: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for _ in range(200):  # warm-up: pools, caches, JIT-free but page faults
            await one(session, direct, raw_direct, {}, stream)
            await one(session, gateway, raw_gateway, {"authorization": f"Bearer {key}"}, stream)
        block = 50
        for start in range(0, n, block):
            for _ in range(min(block, n - start)):
                ms, _ = await one(session, direct, raw_direct, {}, stream)
                times["direct"].append(ms)
            for _ in range(min(block, n - start)):
                ms, own = await one(
                    session, gateway, raw_gateway, {"authorization": f"Bearer {key}"}, stream
                )
                times["gateway"].append(ms)
                if own is not None:
                    reported.append(own)
    d, g = times["direct"], times["gateway"]
    return {
        "direct_p50_ms": statistics.median(d),
        "direct_p99_ms": pct(d, 0.99),
        "gateway_p50_ms": statistics.median(g),
        "gateway_p99_ms": pct(g, 0.99),
        "added_p50_ms": statistics.median(g) - statistics.median(d),
        "added_p99_ms": pct(g, 0.99) - pct(d, 0.99),
        "reported_overhead_p50_ms": statistics.median(reported) if reported else float("nan"),
    }


async def closed_loop(
    gateway: str, key: str, concurrency: int, seconds: float, stream: bool, pid: int, model: str
) -> dict[str, float]:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    raw = json.dumps(body).encode()
    headers = {"authorization": f"Bearer {key}"}
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await one(session, gateway, raw, headers, stream)
            done += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        c0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(s) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        c1 = cpu_seconds(pid)
    return {
        "requests_per_s": done / elapsed,
        "gateway_cpu_ms_per_request": (c1 - c0) * 1000 / done,
        "gateway_cores": (c1 - c0) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--model", default="openai/gpt-4o-mini", help='the gateway\'s model ("auto" routes)'
    )
    parser.add_argument(
        "--limits",
        action="store_true",
        help="a monthly quota, rate limits and budgets far above the run (default: no quota)",
    )
    args = parser.parse_args()
    up_port, gw_port = free_port(), free_port()
    data = Path(tempfile.mkdtemp(prefix="keyroute-bench-"))
    env = {**os.environ, "KEYROUTE_DATA_DIR": str(data)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [*pin(0), sys.executable, str(ROOT / "bench/upstream.py"), str(up_port)]
            )
        )
        keyroute(env, "init", "--json")
        unlimited(env)
        keyroute(
            env,
            "provider-key",
            "add",
            "--workspace",
            "default",
            "--provider",
            "openai",
            "--key-stdin",
            "--base-url",
            f"http://127.0.0.1:{up_port}/v1",
            stdin="sk-bench",
        )
        # ``free``'s 2,500 requests a month would refuse the run: no quota, or (``--limits``)
        # limits far above it, so admission does its whole work on every request.
        quota = "1000000000" if args.limits else "unlimited"
        keyroute(env, "workspace", "set-plan", "default", "custom", "--quota", quota)
        if args.limits:
            keyroute(env, "ratelimit", "set", "-w", "default", "--rpm", "100000000")
            keyroute(env, "ratelimit", "set", "-w", "default", "--tpm", "100000000000")
            keyroute(
                env, "budget", "set", "-w", "default", "--daily", "100000", "--monthly", "1000000"
            )
        key = json.loads(keyroute(env, "api-key", "create", "--workspace", "default", "--json"))
        gateway = subprocess.Popen(
            [*pin(1), str(BIN / "keyroute"), "serve", "--port", str(gw_port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        procs.append(gateway)
        wait_ready(f"http://127.0.0.1:{up_port}")
        wait_ready(f"http://127.0.0.1:{gw_port}")
        time.sleep(0.5)
        direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
        through = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        mode = "stream" if args.stream else "json"
        result = {
            "mode": mode,
            "limits": args.limits,
            "model": args.model,
            "requests": args.requests,
            "concurrency_1": asyncio.run(
                sequential(direct, through, key["key"], args.requests, args.stream, args.model)
            ),
        }
        result[f"concurrency_{args.concurrency}"] = asyncio.run(
            closed_loop(
                through,
                key["key"],
                args.concurrency,
                args.seconds,
                args.stream,
                gateway.pid,
                args.model,
            )
        )
        print(json.dumps(result, indent=2))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
