"""Burn-rate alerts through a served gateway.

Acceptance: a runaway agent (requests of $0.05 each at 300 a minute, through two workers of
``keyroute serve`` to a fake upstream) trips a $100-an-hour rule. Its notification reaches a
real local webhook receiver (signed) and a real SMTP server (aiosmtpd, STARTTLS and AUTH) well
within 60 seconds of the rate crossing the threshold, exactly once per cooldown, naming the
right top key; a "resolved" message follows once the loop stops. The rule's windows are short
(60 s, confirmed over 5 s, in 1-second buckets) so the test runs in seconds of real time at the
real request rate; the evaluation is the production one.

A receiver that is down gets retries with backoff, the failures are in the history, and the
requests keep being served (their latency with and without the failing deliveries is printed).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from keyroute.cli import main as _registers_every_command  # noqa: F401
from keyroute.cli.group import cli
from tests.fakes.alert_receivers import SmtpInbox, WebhookReceiver, smtp_server
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.fakes.process import ServeProcess, serve_process
from tests.fakes.server import serve
from tests.integration.conftest import Gateway, running_gateway

pytestmark = pytest.mark.integration
SECRET = "alert-signing-secret-0123456789"
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "work"}]}


FAST = {
    "KEYROUTE__ALERTS__BUCKET_SECONDS": "1",
    "KEYROUTE__ALERTS__EVALUATE_INTERVAL_SECONDS": "0.25",
    "KEYROUTE__ALERTS__RETRY_BASE_SECONDS": "0.2",
}


@contextmanager
def setup(tmp_path: Path, **env: str) -> Iterator[tuple[Gateway, FakeOpenAI]]:
    """A data dir with the default workspace, an upstream key to a fake OpenAI and prices that
    make each request cost exactly $0.05 (8 uncached prompt tokens at $6,250 a million); the
    in-process gateway evaluates alerts only if ``env`` says so."""
    fake = FakeOpenAI()
    with (
        serve(fake.app) as upstream,
        running_gateway(tmp_path, **{"KEYROUTE__ALERTS__ENABLED": "false", **env}) as gateway,
    ):
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        gateway.control(
            lambda c: c.set_prices(
                "default",
                model="openai/gpt-4o-mini",
                prices={"input": "6250", "cached_input": "0", "output": "0"},
            )
        )
        yield gateway, fake


def keyroute(gateway: Gateway, *args: str, stdin: str | None = None, code: int = 0) -> Any:
    """The ``keyroute`` command run in this process (the same click command as the installed
    one, without a Python start-up per call), with ``--json``; its decoded output."""
    result = CliRunner().invoke(cli, [*args, "--json"], input=stdin, env=gateway.env)
    assert result.exit_code == code, result.output
    gateway.settle()
    return msgspec.json.decode(result.stdout)


def admin(gateway: Gateway, method: str, path: str, **body: object) -> Any:
    response = httpx.request(
        method,
        f"{gateway.url}/admin/v1/workspaces/default{path}",
        json=body or None,
        headers={"authorization": f"Bearer {gateway.admin_token}"},
        timeout=30,
    )
    assert response.status_code < 300, response.text
    return response.json()


@contextmanager
def served(gateway: Gateway, workers: int, **settings: str) -> Iterator[ServeProcess]:
    env = {
        **os.environ,
        **gateway.env,
        "KEYROUTE__ALERTS__ENABLED": "true",
        **FAST,
        **settings,
    }
    with serve_process([sys.executable, "-m", "keyroute"], env, workers=workers) as server:
        yield server


async def agent(
    url: str, key: str, seconds: float, latencies: list[float], every: float = 0.2
) -> list[float]:
    """A request every ``every`` seconds (300 a minute by default) for ``seconds``; returns
    when each one finished (monotonic)."""
    done: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < seconds:
            began = time.monotonic()
            response = await client.post(
                url + "/v1/chat/completions", json=BODY, headers={"authorization": f"Bearer {key}"}
            )
            assert response.status_code == 200, response.text
            latencies.append(time.monotonic() - began)
            done.append(time.monotonic())
            sent += 1
            await asyncio.sleep(max(0.0, start + sent * every - time.monotonic()))
    return done


def wait_for(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def webhook_events(receiver: WebhookReceiver) -> list[dict[str, object]]:
    return [json.loads(b) for b in receiver.bodies()]


def mail_subjects(inbox: SmtpInbox) -> list[str]:
    return [m["Subject"] for m in inbox.received()]


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


@pytest.mark.timeout(600)  # real time at the real request rate, two workers
def test_a_runaway_agent_trips_a_burn_rate_rule_once_and_resolves(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with (
        smtp_server(tmp_path, "alerts", "smtp-password") as inbox,
        serve(receiver.app) as hook,
        setup(tmp_path) as (gateway, fake),
    ):
        agent_key = keyroute(gateway, "api-key", "create", "-w", "default", "--name", "agent")
        keyroute(
            gateway,
            "alerts",
            "channel",
            "add",
            "--workspace",
            "default",
            "--name",
            "hook",
            "--webhook",
            hook + "/hook",
            "--secret-stdin",
            stdin=SECRET,
        )
        gateway.cli_json(
            "alerts",
            "channel",
            "add",
            "--workspace",
            "default",
            "--name",
            "oncall",
            "--email",
            "oncall@example.com",
        )
        for name, channel in (("runaway", "hook"), ("runaway-mail", "oncall")):
            rule = gateway.cli_json(
                "alerts",
                "add",
                "--workspace",
                "default",
                "--name",
                name,
                "--channel",
                channel,
                "--burn-rate",
                "100",
                "--per",
                "hour",
                "--window",
                "60s",
                "--cooldown",
                "30m",
                "--escalate",
                "100000",
            )
            assert rule["state"] == "ok"
        smtp = {
            "KEYROUTE__ALERTS__SMTP__HOST": "127.0.0.1",
            "KEYROUTE__ALERTS__SMTP__PORT": str(inbox.port),
            "KEYROUTE__ALERTS__SMTP__USERNAME": "alerts",
            "KEYROUTE__ALERTS__SMTP__PASSWORD": "smtp-password",
            "KEYROUTE__ALERTS__SMTP__STARTTLS": "true",
            "KEYROUTE__ALERTS__SMTP__FROM": "keyroute@example.com",
            "KEYROUTE__ALERTS__SMTP__CA_FILE": str(inbox.cert),
        }
        with served(gateway, workers=2, **smtp) as server:
            latencies: list[float] = []

            async def traffic() -> list[float]:
                # The runaway agent, and a quiet key spending a little alongside.
                runaway = agent(server.url, agent_key["key"], 16.0, latencies)
                quiet = agent(server.url, gateway.api_key, 3.0, [], every=1.0)
                done, _ = await asyncio.gather(runaway, quiet)
                return done

            done = asyncio.run(traffic())
            # $100 an hour over the 61 s the window's buckets span is $1.69: with the quiet
            # key's three requests, the agent's 31st crosses it.
            crossed = done[30]
            firing = wait_for(
                lambda: [e for e in webhook_events(receiver) if e["state"] == "firing"]
            )
            received_at = receiver.received[0].at
            assert received_at - crossed < 60
            wait_for(lambda: [s for s in mail_subjects(inbox) if "FIRING" in s])
            assert inbox.arrivals[0] - crossed < 60
            # The loop has stopped: the short window empties and the rule resolves.
            wait_for(lambda: [e for e in webhook_events(receiver) if e["state"] == "resolved"])
            wait_for(lambda: [s for s in mail_subjects(inbox) if "RESOLVED" in s])
            history = keyroute(gateway, "alerts", "history", "--workspace", "default")
    events = webhook_events(receiver)
    assert [e["state"] for e in events] == ["firing", "resolved"]  # once per cooldown
    alert = firing[0]
    assert alert["rule"] == "runaway" and alert["workspace"] == "default"
    assert alert["threshold"] == 100.0 and alert["value"] >= 100.0
    assert alert["top_keys"][0]["id"] == agent_key["id"]
    assert alert["top_keys"][0]["name"] == "agent"
    assert alert["how_to_act"] == f"keyroute api-key pause --workspace default {agent_key['id']}"
    assert events[1]["alert_id"] == alert["alert_id"] and events[1]["fired_at"] == alert["fired_at"]
    first = receiver.received[0]
    stamp = first.headers["x-keyroute-timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + first.body, hashlib.sha256)
    assert first.headers["x-keyroute-signature"] == "sha256=" + mac.hexdigest()
    subjects = mail_subjects(inbox)
    assert len(subjects) == 2 and "FIRING" in subjects[0] and "RESOLVED" in subjects[1]
    mail = body_of(inbox.received()[0])
    assert f"agent [{agent_key['id']}]" in mail
    assert inbox.logins == ["alerts", "alerts"]
    outcomes = [(e["rule"], e["kind"], e["outcome"]) for e in history]
    for rule in ("runaway", "runaway-mail"):
        assert outcomes.count((rule, "firing", "firing")) == 1
        assert outcomes.count((rule, "resolved", "resolved")) == 1
        assert outcomes.count((rule, "delivery", "delivered")) == 2
    print(
        f"\nwebhook {received_at - crossed:.2f} s, email {inbox.arrivals[0] - crossed:.2f} s "
        "after the rate crossed the threshold"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(600)  # real time at the real request rate, two workers
def test_a_dead_receiver_is_retried_in_the_background(tmp_path: Path) -> None:
    settings = {
        **FAST,
        "KEYROUTE__ALERTS__ENABLED": "true",
        "KEYROUTE__ALERTS__DELIVERY_ATTEMPTS": "4",
    }
    with setup(tmp_path, **settings) as (gateway, fake):
        dead = f"http://127.0.0.1:{closed_port()}/hook"
        baseline: list[float] = []
        asyncio.run(agent(gateway.url, gateway.api_key, 1.0, baseline))  # before any rule
        channel = admin(gateway, "POST", "/alerts/channels", name="dead", webhook=dead)
        assert channel["secret"].startswith("whsec_")  # generated, shown once
        admin(
            gateway,
            "POST",
            "/alerts",
            name="runaway",
            channel="dead",
            burn_rate=100,
            window="12s",
            escalate="100000",
        )

        def attempts() -> list[dict[str, Any]]:
            """The firing message's delivery attempts (a "resolved" message for the same alert
            may be retried at the same time once the agent stops)."""
            history = admin(gateway, "GET", "/alerts/history")["data"]
            return [
                e for e in history if e["kind"] == "delivery" and e["detail"]["event"] == "firing"
            ]

        failing: list[float] = []
        asyncio.run(agent(gateway.url, gateway.api_key, 4.0, failing))
        deliveries = wait_for(lambda: [d for d in attempts() if d["outcome"] == "gave-up"])
        tried = attempts()
        history = admin(gateway, "GET", "/alerts/history")["data"]
    # Under load the short window can calm down and the rule fire again, so two deliveries of
    # "firing" may retry side by side: follow the first one, attempt by attempt.
    first = [next(d for d in tried if d["attempt"] == n) for n in range(1, 5)]
    assert [d["time"] for d in first] == sorted(d["time"] for d in first)
    assert [(d["attempt"], d["outcome"]) for d in first] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
        (4, "gave-up"),
    ]
    assert "ClientConnectorError" in deliveries[0]["detail"]["error"]
    # The failed deliveries changed nothing about the rule: it fired once for that alert and
    # resolved (if it did) only by its own reading, with a "resolved" transition of its own.
    transitions = [
        (e["kind"], e["outcome"]) for e in history if e["alert_id"] == first[0]["alert_id"]
    ]
    assert transitions.count(("firing", "firing")) >= 1
    assert all(kind in {"firing", "resolved", "delivery"} for kind, _ in transitions)
    print(
        f"\nrequest latency: median {statistics.median(baseline) * 1e3:.1f} ms before, "
        f"{statistics.median(failing) * 1e3:.1f} ms while deliveries to a dead receiver retried"
    )
