"""Every mode of the hostile upstream, through a real gateway process, for every provider format.

The gateway runs as ``keyroute serve`` in a subprocess (the production server stack) with small
upstream time limits (1 s to the head, 1 s between reads, 2.5 s in all), so each hostile
answer ends within a few seconds. For each case the client gets its own format's error with the
right status (502 or 504), or, once a stream's head is sent, an in-band error event of that
kind; and the gateway process's peak memory
(``VmHWM``, reset before each case through ``/proc/PID/clear_refs``) rises by less than 50 MB,
whatever the upstream sent (64 MiB bodies, a 128 MiB gzip bomb, a 32 MiB error message); an
error text the upstream wrote reaches the client cut to a few KB.
Nothing here waits on a clock: the client's own timeout only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keyroute.cli.bootstrap import initialise
from keyroute.config.load import load
from keyroute.services import Services
from tests.fakes.hostile_upstream import MODES, PROVIDERS, HostileUpstream

pytestmark = pytest.mark.integration

MB = 1_000_000
LIMITS = {
    "KEYROUTE__UPSTREAM__CONNECT_TIMEOUT_SECONDS": "2",
    "KEYROUTE__UPSTREAM__FIRST_BYTE_TIMEOUT_SECONDS": "1",
    "KEYROUTE__UPSTREAM__IDLE_TIMEOUT_SECONDS": "1",
    "KEYROUTE__UPSTREAM__TIMEOUT_SECONDS": "2.5",
    # Each hostile answer is judged alone: no retries, and no circuit opened by the last mode.
    "KEYROUTE__RESILIENCE__MAX_RETRIES": "0",
    "KEYROUTE__RESILIENCE__BREAKERS": "false",
}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}

# mode -> (status without streaming, what a stream gets): ("status", N) is a plain error answer
# before any stream starts; ("event", N) is a 200 stream that ends with an in-band error of
# the kind a status N has (upstream_error for 502, upstream_timeout for 504).
EXPECTED: dict[str, tuple[int, tuple[str, int]]] = {
    "ok": (200, ("event", 200)),
    "redirect": (502, ("status", 502)),
    "huge_body": (502, ("event", 502)),
    "bomb": (502, ("event", 502)),
    "huge_line": (502, ("event", 502)),
    "huge_error": (502, ("status", 502)),
    "stream_error": (502, ("event", 502)),
    "silent_head": (504, ("status", 504)),
    "silent_mid": (504, ("event", 504)),
    "trickle": (504, ("event", 504)),
    "foreign": (502, ("event", 502)),
    "html": (502, ("event", 502)),
    "truncated": (502, ("event", 502)),
    "empty": (502, ("event", 502)),
    "garbage": (502, ("status", 502)),
    "bad_encoding": (502, ("event", 502)),
}
CODES = {502: "upstream_error", 504: "upstream_timeout"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_line(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


@dataclass
class Gateway:
    url: str
    key: str
    pid: int

    def peak_rise(self, case: Case) -> tuple[httpx.Response, int]:
        """The answer to ``case`` and how far it raised the gateway's peak memory."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # peak RSS := current RSS
        before = status_line(self.pid, "VmRSS")
        resp = case.send(self)
        return resp, status_line(self.pid, "VmHWM") - before


@dataclass(frozen=True)
class Case:
    mode: str
    provider: str
    stream: bool
    client: str = "openai"  # the client's wire format

    def send(self, gw: Gateway) -> httpx.Response:
        model = f"{self.mode}-{self.provider}/{MODELS[self.provider]}"
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 16,
            "stream": self.stream,
        }
        path = "/v1/messages" if self.client == "anthropic" else "/v1/chat/completions"
        with httpx.Client(timeout=30) as client:  # a hang fails the test, nothing waits on it
            return client.post(gw.url + path, json=body, headers={"x-api-key": gw.key})


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"keyroute serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.1):
                return
        except OSError:
            asyncio.run(asyncio.sleep(0.05))
    raise RuntimeError("keyroute serve did not listen")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data = tmp_path_factory.mktemp("hostile") / "data"
    env = {"KEYROUTE_DATA_DIR": str(data), **LIMITS}
    config = load(env=env)
    key = asyncio.run(initialise(config)).details["api_key"]
    with HostileUpstream().running() as hostile:

        async def add_keys() -> None:
            services = await Services.open(config)
            try:
                for mode in MODES:
                    for provider in PROVIDERS:
                        base = f"{hostile}/{mode}" + ("/v1" if provider == "openai" else "")
                        await services.control.add_provider_key(
                            "default",
                            provider,
                            "sk-hostile-0123456789",
                            name=f"{mode}-{provider}",
                            base_url=base,
                        )
            finally:
                await services.close()

        asyncio.run(add_keys())
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "keyroute", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_listening(port, proc)
            gw = Gateway(url=f"http://127.0.0.1:{port}", key=key, pid=proc.pid)
            for provider in PROVIDERS:  # warm up every path before measuring anything
                for stream in (False, True):
                    assert Case("ok", provider, stream).send(gw).status_code == 200
            yield gw
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def in_band_error(resp: httpx.Response, client: str) -> dict[str, object] | None:
    """The error event a stream ended with, or ``None`` if it ended cleanly."""
    text = resp.text
    if client == "anthropic":
        if "event: error" not in text:
            return None
        data = text.split("event: error\ndata: ", 1)[1].split("\n", 1)[0]
        return dict(json.loads(data)["error"])
    for line in text.splitlines():
        if line.startswith("data: {") and '"error"' in line:
            return dict(json.loads(line[6:])["error"])
    return None


def check(case: Case, resp: httpx.Response) -> None:
    plain, (kind, status) = EXPECTED[case.mode]
    expected = status if case.stream else plain
    # A stream that fails before its first content is answered as a plain error (nothing had
    # reached the client, so it could still have failed over); after it, in the stream.
    if case.stream and kind == "event" and (expected == 200 or resp.status_code == 200):
        assert resp.status_code == 200, resp.text[:300]
        error = in_band_error(resp, case.client)
        if expected == 200:
            assert error is None, error
            return
        assert error is not None, resp.text[:300]
        relayed = str(error.get("code") or error.get("type"))
        if case.mode == "stream_error":  # the upstream's own code, bounded
            assert len(relayed) < 300, relayed
        elif case.client == "openai":
            assert relayed == CODES[expected], error
        else:
            assert relayed == ("timeout_error" if expected == 504 else "api_error"), error
        assert len(str(error["message"])) < 5_000
        return
    assert resp.status_code == expected, resp.text[:300]
    if expected == 200:
        return
    body = resp.json()
    if case.client == "anthropic":
        assert body["type"] == "error" and body["error"]["message"], body
        message = body["error"]["message"]
    elif case.mode == "stream_error":  # the upstream's own code, bounded
        assert len(str(body["error"]["code"])) < 300, body
        message = body["error"]["message"]
    else:
        assert body["error"]["code"] == CODES[expected], body
        message = body["error"]["message"]
    assert len(message) < 5_000  # a 32 MiB error message is never relayed whole
    if case.mode == "redirect":
        assert "redirect" in message


CASES = [Case(m, p, s) for m in MODES if m != "ok" for p in PROVIDERS for s in (False, True)]
CASES += [Case(m, "anthropic", s, client="anthropic") for m in MODES for s in (False, True)]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=lambda c: f"{c.client}-{c.provider}-{c.mode}-{'stream' if c.stream else 'whole'}",
)
def test_hostile_upstream(gateway: Gateway, case: Case) -> None:
    resp, rise = gateway.peak_rise(case)
    check(case, resp)
    assert rise < 50 * MB, f"peak memory rose by {rise / MB:.1f} MB"
