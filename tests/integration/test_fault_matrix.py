"""Fallback acceptance: every fault a provider has, for every provider format, streamed and not,
through a real ``keyroute serve`` and a real upstream socket (``tests/fakes/hostile_upstream``).

Each fault runs behind a provider key of its own (``{fault}-{provider}``); the request names it
and a healthy key of the same provider as its fallback (``x-keyroute-fallback: ok-...``). The
client must get a correct answer from the fallback, with ``x-keyroute-model``,
``x-keyroute-fallback-from`` and ``x-keyroute-attempts`` saying so, or, once a stream's first
content reached it, a clean in-band error; never a 200 for a request no candidate answered.
Every attempt is in the request's audit record. Limits are small (1 s to the head, 1 s between
reads, 2.5 s in all); retries are off and breakers too, so each fault is judged alone, except in
the breaker test at the end, which runs its own gateway with breakers on.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keyroute.catalogue import builtin
from keyroute.cli.bootstrap import initialise
from keyroute.config.load import load
from keyroute.services import Services
from tests.fakes.hostile_upstream import FAULTS, PROVIDERS, HostileUpstream
from tests.fakes.process import ServeProcess, serve_process

pytestmark = pytest.mark.integration

LIMITS = {
    "KEYROUTE__UPSTREAM__CONNECT_TIMEOUT_SECONDS": "2",
    "KEYROUTE__UPSTREAM__FIRST_BYTE_TIMEOUT_SECONDS": "1",
    "KEYROUTE__UPSTREAM__IDLE_TIMEOUT_SECONDS": "1",
    "KEYROUTE__UPSTREAM__TIMEOUT_SECONDS": "2.5",
    "KEYROUTE__RESILIENCE__MAX_RETRIES": "0",
    "KEYROUTE__RESILIENCE__BREAKERS": "false",
    "KEYROUTE__SERVER__CHANGE_POLL_SECONDS": "0.1",
}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-3.5-flash"}
# Faults of the hostile upstream's own catalogue that matter here too.
EXTRA = ("silent_head", "silent_mid", "truncated", "garbage", "refused")
# Faults that strike after a stream's first content event reached the client: no failover,
# an in-band error instead.
AFTER_CONTENT = {"reset_content", "cut", "silent_mid"}
# Faults with no answer from the upstream at all (a network error).
NETWORK = ("reset", "reset_head", "refused", "silent_head")


def closed_port() -> int:
    """A port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def windows(provider: str) -> tuple[str, str]:
    """``provider``'s chat model with the smallest context window in the catalogue, and a
    fallback with a larger one (``ok-{provider}/{model}``; of another of ``PROVIDERS`` when all
    of ``provider``'s models have one window)."""
    chat = [m for m in builtin().models if not m.capabilities.embeddings]
    small = min((m for m in chat if m.provider == provider), key=lambda m: m.context_window)
    bigger = sorted(
        (m for m in chat if m.provider in PROVIDERS and m.context_window > small.context_window),
        key=lambda m: m.provider != provider,
    )
    assert bigger, f"no catalogue model has a larger window than {small.ref}"
    return small.id, f"ok-{bigger[0].provider}/{bigger[0].id}"


@dataclass
class Gateway:
    server: ServeProcess
    key: str
    token: str
    hostile: HostileUpstream
    data: Path
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keyroute", *args],
            env={**os.environ, **self.env, "KEYROUTE_ADMIN_TOKEN": self.token},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            return http.request(
                method,
                self.server.url + "/admin/v1" + path,
                json=body,
                headers={"authorization": f"Bearer {self.token}"},
            )

    def send(
        self,
        model: str,
        *,
        stream: bool,
        fallback: str | None = None,
        client: str = "openai",
    ) -> httpx.Response:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 16,
            "stream": stream,
        }
        headers = {"x-api-key": self.key}
        if fallback:
            headers["x-keyroute-fallback"] = fallback
        path = "/v1/messages" if client == "anthropic" else "/v1/chat/completions"
        with httpx.Client(timeout=30) as http:  # a hang fails the test; nothing waits on it
            return http.post(self.server.url + path, json=body, headers=headers)


def _keys(hostile: str, refused: str) -> list[tuple[str, str, str]]:
    """(name, provider, base URL) of every key the matrix uses."""
    keys = []
    for provider in PROVIDERS:
        suffix = "/v1" if provider == "openai" else ""
        for fault in ("ok", "switch", *FAULTS, *EXTRA):
            base = refused if fault == "refused" else f"{hostile}/{fault}"
            keys.append((f"{fault}-{provider}", provider, base + suffix))
    return keys


@contextmanager
def running(
    tmp: Path, hostile: HostileUpstream, url: str, extra: dict[str, str]
) -> Iterator[Gateway]:
    """A ``keyroute serve`` over a fresh data dir with every key of ``_keys``."""
    data = tmp / "data"
    env = {"KEYROUTE_DATA_DIR": str(data), **LIMITS, **extra}
    config = load(env=env)
    details = asyncio.run(initialise(config)).details
    key, token = details["api_key"], details["admin_token"]
    refused = f"http://127.0.0.1:{closed_port()}"

    async def add_keys() -> None:
        services = await Services.open(config)
        try:
            for name, provider, base in _keys(url, refused):
                await services.control.add_provider_key(
                    "default", provider, "sk-fault-0123456789", name=name, base_url=base
                )
        finally:
            await services.close()

    asyncio.run(add_keys())
    with serve_process([sys.executable, "-m", "keyroute"], {**os.environ, **env}) as server:
        yield Gateway(server=server, key=key, token=token, hostile=hostile, data=data, env=env)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    hostile = HostileUpstream()
    with hostile.running() as url:
        with running(tmp_path_factory.mktemp("faults"), hostile, url, {}) as gw:
            yield gw


@dataclass(frozen=True)
class Case:
    fault: str
    provider: str
    stream: bool

    @property
    def model(self) -> str:
        return f"{self.fault}-{self.provider}/{MODELS[self.provider]}"

    @property
    def fallback(self) -> str:
        return f"ok-{self.provider}/{MODELS[self.provider]}"


CASES = [
    Case(fault, provider, stream)
    for fault in (*FAULTS, *EXTRA)
    if fault != "context"
    for provider in PROVIDERS
    for stream in (False, True)
]


def in_band_error(resp: httpx.Response) -> dict[str, object] | None:
    for line in resp.text.splitlines():
        if line.startswith("data: {") and '"error"' in line:
            return dict(json.loads(line[6:])["error"])
    return None


def answered_text(resp: httpx.Response, stream: bool) -> str:
    if not stream:
        return str(resp.json()["choices"][0]["message"]["content"])
    parts = []
    for line in resp.text.splitlines():
        if line.startswith("data: {") and '"choices"' in line:
            for choice in json.loads(line[6:])["choices"]:
                parts.append(choice.get("delta", {}).get("content") or "")
    return "".join(parts)


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"{c.fault}-{c.provider}-{'stream' if c.stream else 'whole'}"
)
def test_each_fault_ends_with_the_fallback_or_a_clean_in_band_error(
    gateway: Gateway, case: Case
) -> None:
    resp = gateway.send(case.model, stream=case.stream, fallback=case.fallback)
    assert resp.status_code == 200, resp.text[:300]
    headers = resp.headers
    # Anthropic's first event (message_start) holds no content: a stall after it still fails
    # over.
    after_content = case.fault in AFTER_CONTENT and not (
        case.fault == "silent_mid" and case.provider == "anthropic"
    )
    if case.stream and after_content:
        # The first content reached the client: it keeps it, and the stream ends with an
        # error event in its own format, from the model that started it.
        assert headers["x-keyroute-model"] == case.model
        assert "x-keyroute-fallback-from" not in headers
        assert answered_text(resp, True) == "hi"
        assert in_band_error(resp) is not None, resp.text[-300:]
        assert headers["x-keyroute-attempts"] == "1"
        return
    assert in_band_error(resp) is None, resp.text[-300:]
    assert answered_text(resp, case.stream) == "hi"
    assert headers["x-keyroute-model"] == case.fallback
    assert headers["x-keyroute-fallback-from"] == case.model
    # A key that answered 429 with retry-after rests meanwhile: a request in that second skips
    # it without an attempt.
    resting = case.fault == "rate_limited"
    assert headers["x-keyroute-attempts"] in (("1", "2") if resting else ("2",))


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", NETWORK)
def test_a_network_error_with_no_fallback_is_never_a_200(
    gateway: Gateway, fault: str, provider: str, stream: bool
) -> None:
    resp = gateway.send(f"{fault}-{provider}/{MODELS[provider]}", stream=stream)
    assert resp.status_code in (502, 504), resp.text[:300]
    error = resp.json()["error"]
    assert error["code"] in ("upstream_error", "upstream_timeout"), error
    assert resp.headers["x-keyroute-attempts"] == "1"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_context_error_fails_over_only_to_a_larger_window(
    gateway: Gateway, provider: str, stream: bool
) -> None:
    small, large = windows(provider)
    model = f"context-{provider}/{small}"
    same = f"ok-{provider}/{small}"
    # The same window cannot hold it either: the client gets the provider's 400.
    resp = gateway.send(model, stream=stream, fallback=same)
    assert resp.status_code == 400, resp.text[:300]
    assert resp.headers["x-keyroute-attempts"] == "1"
    bigger = large
    resp = gateway.send(model, stream=stream, fallback=f"{same}, {bigger}")
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["x-keyroute-model"] == bigger
    assert resp.headers["x-keyroute-attempts"] == "2"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_anthropic_client_gets_the_fallback_too(gateway: Gateway, provider: str) -> None:
    model = f"status_503-{provider}/{MODELS[provider]}"
    fallback = f"ok-{provider}/{MODELS[provider]}"
    resp = gateway.send(model, stream=True, fallback=fallback, client="anthropic")
    assert resp.status_code == 200 and "event: error" not in resp.text, resp.text[:300]
    assert resp.headers["x-keyroute-fallback-from"] == model


def test_every_attempt_is_in_the_audit_record(gateway: Gateway) -> None:
    resp = gateway.send(
        "unauthorized-openai/gpt-4o-mini", stream=False, fallback="ok-openai/gpt-4o-mini"
    )
    request_id = resp.headers["x-request-id"]
    entry = None
    for _ in range(200):  # the audit writer stores a record within a cycle (0.2 s)
        export = gateway.cli("audit", "export", "--workspace", "default")
        assert export.returncode == 0, export.stderr
        found = [json.loads(line) for line in export.stdout.splitlines() if request_id in line]
        if found:
            entry = found[0]
            break
        asyncio.run(asyncio.sleep(0.05))
    assert entry is not None, "the request never reached the audit log"
    attempts = entry["attempts"]
    assert [(a["status"], a["error_class"]) for a in attempts] == [(401, "failover"), (200, None)]
    assert [a["model"] for a in attempts] == [
        "unauthorized-openai/gpt-4o-mini",
        "ok-openai/gpt-4o-mini",
    ]
    assert all(a["duration_ms"] is not None for a in attempts)


BREAKERS = {
    "KEYROUTE__RESILIENCE__BREAKERS": "true",
    "KEYROUTE__RESILIENCE__BREAKER_WINDOW": "3",
    "KEYROUTE__RESILIENCE__BREAKER_MIN_CALLS": "3",
    "KEYROUTE__RESILIENCE__BREAKER_FAILURE_RATE": "0.5",
    "KEYROUTE__RESILIENCE__BREAKER_OPEN_SECONDS": "2",
}


def test_a_breaker_stops_traffic_to_a_failing_provider_and_lets_it_back(tmp_path: Path) -> None:
    hostile = HostileUpstream()
    with hostile.running() as url, running(tmp_path, hostile, url, BREAKERS) as gw:
        model, fallback = "switch-openai/gpt-4o-mini", "ok-openai/gpt-4o-mini"
        hostile.switch = "status_503"

        def failing_calls() -> int:
            return sum(1 for mode, *_ in hostile.requests if mode == "status_503")

        for _ in range(3):  # the breaker's threshold: 3 calls, half of them failed
            resp = gw.send(model, stream=False, fallback=fallback)
            assert resp.headers["x-keyroute-model"] == fallback
        assert failing_calls() == 3
        resp = gw.send(model, stream=True, fallback=fallback)
        assert resp.status_code == 200 and resp.headers["x-keyroute-model"] == fallback
        assert resp.headers["x-keyroute-attempts"] == "1"  # skipped without a request
        assert failing_calls() == 3
        health = gw.cli("health", "--url", gw.server.url, "--json")
        assert health.returncode == 0, health.stderr
        # Open (or, on a machine slow enough for open_seconds to pass, due its probe).
        states = {r["state"] for r in json.loads(health.stdout)["data"]}
        assert states & {"open", "half_open"}, states
        table = gw.cli("health", "--url", gw.server.url)
        assert table.returncode == 0 and "PROVIDER_KEY_ID" in table.stdout, table.stderr
        # The provider recovers: after open_seconds one probe goes through and closes it.
        hostile.switch = "ok"
        served = None
        for _ in range(400):
            served = gw.send(model, stream=False, fallback=fallback).headers["x-keyroute-model"]
            if served == model:
                break
            asyncio.run(asyncio.sleep(0.025))
        assert served == model, "the breaker never let the recovered provider back"
        resp = gw.send(model, stream=False, fallback=fallback)
        assert resp.headers["x-keyroute-model"] == model
        assert resp.headers["x-keyroute-attempts"] == "1"
        rows = gw.admin("GET", "/health").json()["data"]
        assert all(r["state"] == "closed" for r in rows), rows
