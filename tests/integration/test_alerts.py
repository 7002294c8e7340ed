"""Burn-rate alerts through a served gateway.

Acceptance: a runaway agent (requests of $0.05 each at 300 a minute, through two workers of
``keyroute serve`` to a fake upstream) trips a $100-an-hour rule. Its notification reaches a
real local webhook receiver (signed) and a real SMTP server (aiosmtpd, STARTTLS and AUTH) well
within 60 seconds of the rate crossing the threshold, exactly once per cooldown, naming the
right top key; a "resolved" message follows once the loop stops. The rule's windows are short
(24 s, confirmed over 2 s, in 1-second buckets, evaluated every 0.25 s) so the test runs in
seconds of real time at the real request rate; the evaluation is the production one. Waits are
on the receivers' arrivals, not sleeps.

A receiver that is down gets retries with backoff, the failures are in the history, and the
requests keep being served (their latency with and without the failing deliveries is printed).
A rule with ``--action downgrade`` switches the workspace to its budget downgrade model until
``keyroute alerts resume``. The Contract section of the issue (every command with ``--json``,
every rule kind and option, the webhook's fields and headers, the SMTP keys, errors naming the
flag or field) is checked through the real CLI and admin API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from keyroute.cli import main as _registers_every_command  # noqa: F401
from keyroute.cli.group import cli
from keyroute.storage.sqlite import sqlite_path
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


def admin(gateway: Gateway, method: str, path: str, status: int = 200, **body: object) -> Any:
    """The admin API of workspace ``default``: the decoded answer, checked to be ``status``."""
    response = httpx.request(
        method,
        f"{gateway.url}/admin/v1/workspaces/default{path}",
        json=body or None,
        headers={"authorization": f"Bearer {gateway.admin_token}"},
        timeout=30,
    )
    if status == 200:
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == status, response.text
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
    url: str,
    key: str,
    seconds: float,
    latencies: list[float],
    every: float = 0.2,
    until: Any = None,
) -> list[float]:
    """A request every ``every`` seconds (300 a minute by default) for ``seconds``, or until
    ``until()`` is true; returns when each one finished (monotonic)."""
    done: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < seconds and not (until is not None and until()):
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


def chat(gateway: Gateway, key: str | None = None) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json=BODY,
        headers={"authorization": f"Bearer {key or gateway.api_key}"},
        timeout=30,
    )


def wait_for(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """For state with no arrival to wait on (the history behind the admin API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def webhook_events(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(b) for b in receiver.bodies()]


def arrived(receiver: WebhookReceiver, state: str) -> list[dict[str, Any]]:
    return [e for e in webhook_events(receiver) if e["state"] == state]


def mail_subjects(inbox: SmtpInbox) -> list[str]:
    return [m["Subject"] for m in inbox.received()]


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def signed(delivery: Any, secret: str) -> bool:
    stamp = delivery.headers["x-keyroute-timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + delivery.body, hashlib.sha256)
    return bool(delivery.headers["x-keyroute-signature"] == "sha256=" + mac.hexdigest())


@pytest.mark.timeout(120)  # about 20 s of real time at the real request rate, two workers
def test_a_runaway_agent_trips_a_burn_rate_rule_once_and_resolves(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with (
        smtp_server(tmp_path, "alerts", "smtp-password") as inbox,
        serve(receiver.app) as hook,
        setup(tmp_path) as (gateway, fake),
    ):
        agent_key = keyroute(gateway, "api-key", "create", "-w", "default", "--name", "agent")
        channel = ("alerts", "channel", "add", "--workspace", "default", "--name")
        keyroute(
            gateway, *channel, "hook", "--webhook", hook + "/hook", "--secret-stdin", stdin=SECRET
        )
        keyroute(gateway, *channel, "oncall", "--email", "oncall@example.com")
        for name, channel_name in (("runaway", "hook"), ("runaway-mail", "oncall")):
            rule = keyroute(
                gateway,
                "alerts",
                "add",
                "--workspace",
                "default",
                "--name",
                name,
                "--channel",
                channel_name,
                "--burn-rate",
                "100",
                "--per",
                "hour",
                "--window",
                "36s",
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

            notified: list[float] = []

            def enough() -> bool:
                """Both notifications arrived, and the agent kept spending 2 s (8 evaluations)
                after them: long enough for a duplicate to show."""
                if not notified and arrived(receiver, "firing") and inbox.received():
                    notified.append(time.monotonic())
                return bool(notified) and time.monotonic() - notified[0] > 2.0

            async def traffic() -> list[float]:
                # The runaway agent, and a quiet key spending a little alongside.
                runaway = agent(server.url, agent_key["key"], 30.0, latencies, until=enough)
                quiet = agent(server.url, gateway.api_key, 2.0, [], every=1.0)
                done, _ = await asyncio.gather(runaway, quiet)
                return done

            done = asyncio.run(traffic())
            assert notified, "no notification while the agent ran"
            # $100 an hour over the 37 s the window's buckets span is $1.03: with the quiet
            # key's two requests, the agent's 19th crosses it (the 2 s confirmation window
            # holds $0.50 a second by then).
            crossed = done[18]
            firing = receiver.wait_for(lambda: arrived(receiver, "firing"))
            received_at = receiver.received[0].at
            assert received_at - crossed < 60
            inbox.wait_for(lambda: [s for s in mail_subjects(inbox) if "FIRING" in s])
            assert inbox.arrivals[0] - crossed < 60
            # The loop has stopped: the short window empties and the rule resolves.
            receiver.wait_for(lambda: arrived(receiver, "resolved"))
            inbox.wait_for(lambda: [s for s in mail_subjects(inbox) if "RESOLVED" in s])

            def delivered() -> list[dict[str, Any]]:
                """The history once it has every delivery (written after the receiver's
                answer, so a moment after the arrival)."""
                rows = keyroute(gateway, "alerts", "history", "--workspace", "default")
                done = [e for e in rows if e["outcome"] == "delivered"]
                return rows if len(done) >= 4 else []

            history = wait_for(delivered)
    events = webhook_events(receiver)
    assert [e["state"] for e in events] == ["firing", "resolved"]  # once per cooldown
    alert = firing[0]
    assert alert["rule"] == "runaway" and alert["workspace"] == "default"
    assert alert["threshold"] == 100.0 and alert["value"] >= 100.0
    assert alert["top_keys"][0]["id"] == agent_key["id"]
    assert alert["top_keys"][0]["name"] == "agent"
    assert alert["how_to_act"] == f"keyroute api-key pause --workspace default {agent_key['id']}"
    assert events[1]["alert_id"] == alert["alert_id"] and events[1]["fired_at"] == alert["fired_at"]
    assert signed(receiver.received[0], SECRET)
    subjects = mail_subjects(inbox)
    assert len(subjects) == 2 and "FIRING" in subjects[0] and "RESOLVED" in subjects[1]
    mail = body_of(inbox.received()[0])
    assert f"agent [{agent_key['id']}]" in mail
    assert inbox.logins == ["alerts", "alerts"]
    outcomes = [(e["rule"], e["kind"], e["outcome"]) for e in history]
    for rule_name in ("runaway", "runaway-mail"):
        assert outcomes.count((rule_name, "firing", "firing")) == 1
        assert outcomes.count((rule_name, "resolved", "resolved")) == 1
        assert outcomes.count((rule_name, "delivery", "delivered")) == 2
    print(
        f"\nwebhook {received_at - crossed:.2f} s, email {inbox.arrivals[0] - crossed:.2f} s "
        "after the rate crossed the threshold"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LIVE = {**FAST, "KEYROUTE__ALERTS__ENABLED": "true"}


@pytest.mark.timeout(60)
def test_a_dead_receiver_is_retried_in_the_background(tmp_path: Path) -> None:
    with setup(tmp_path, **LIVE, KEYROUTE__ALERTS__DELIVERY_ATTEMPTS="4") as (gateway, fake):
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
            """The first firing's delivery attempts: under load the short window can calm
            down and the rule fire again, and a "resolved" message may be retried at the same
            time, so the first firing is followed alone, attempt by attempt."""
            history = admin(gateway, "GET", "/alerts/history")["data"]
            firings = [e["alert_id"] for e in history if e["kind"] == "firing"]
            if not firings:
                return []
            return [
                e
                for e in history
                if e["kind"] == "delivery"
                and e["detail"]["event"] == "firing"
                and e["alert_id"] == firings[0]
            ]

        failing: list[float] = []
        # $100 an hour over the 13 s the buckets span is $0.36: the 8th request crosses it;
        # the agent spends until the first firing's last attempt failed.
        asyncio.run(
            agent(
                gateway.url,
                gateway.api_key,
                30.0,
                failing,
                until=lambda: [d for d in attempts() if d["outcome"] == "gave-up"],
            )
        )
        tried = attempts()
        history = admin(gateway, "GET", "/alerts/history")["data"]
    assert [(d["attempt"], d["outcome"]) for d in tried] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
        (4, "gave-up"),
    ]
    assert [d["time"] for d in tried] == sorted(d["time"] for d in tried)
    # The failed deliveries changed nothing about the rule: it fired once for that alert and
    # resolved (if it did) only by its own reading, with a "resolved" transition of its own.
    transitions = [
        (e["kind"], e["outcome"]) for e in history if e["alert_id"] == tried[0]["alert_id"]
    ]
    assert transitions.count(("firing", "firing")) == 1
    assert all(kind in {"firing", "resolved", "delivery"} for kind, _ in transitions)
    assert "ClientConnectorError" in tried[-1]["detail"]["error"]
    print(
        f"\nrequest latency: median {statistics.median(baseline) * 1e3:.1f} ms before, "
        f"{statistics.median(failing) * 1e3:.1f} ms while deliveries to a dead receiver retried"
    )


def audit_actions(gateway: Gateway) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["audit", "export", "--workspace", "default", "--format", "jsonl"], env=gateway.env
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line]


@pytest.mark.timeout(60)
def test_a_downgrade_rule_switches_the_workspace_until_resumed(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with serve(receiver.app) as hook, setup(tmp_path, **LIVE) as (gateway, fake):
        ws = ("--workspace", "default")
        keyroute(
            gateway, "alerts", "channel", "add", *ws, "--name", "hook", "--webhook", hook + "/hook"
        )
        rule: tuple[str, ...] = ("alerts", "add", *ws, "--name", "shift", "--channel", "hook")
        rule += ("--burn-rate", "100", "--window", "12s", "--escalate", "100000")
        rule += ("--action", "downgrade")
        keyroute(gateway, *rule)
        # Without a downgrade model the action says so, and nothing is switched.
        asyncio.run(agent(gateway.url, gateway.api_key, 20.0, [], until=receiver.received.copy))
        (unset,) = receiver.wait_for(lambda: arrived(receiver, "firing"))
        assert unset["action_taken"].startswith("no budget downgrade model is configured")
        assert "x-keyroute-downgraded-from" not in chat(gateway).headers
        keyroute(gateway, "alerts", "remove", *ws, "--name", "shift")
        keyroute(
            gateway,
            "budget",
            "set",
            *ws,
            "--monthly",
            "1000",
            "--action",
            "downgrade",
            "--downgrade-to",
            "openai/gpt-4o",
        )
        keyroute(gateway, *rule[:5], "shift-2", *rule[6:])  # fires on the spend in its window
        asyncio.run(
            agent(
                gateway.url,
                gateway.api_key,
                20.0,
                [],
                until=lambda: len(arrived(receiver, "firing")) > 1,
            )
        )
        fired = receiver.wait_for(lambda: arrived(receiver, "firing")[1:])[0]
        assert fired["rule"] == "shift-2" and fired["action"] == "downgrade"
        undo = "undo: keyroute alerts resume --workspace default"
        assert fired["action_taken"] == (
            f"switched the workspace's chat requests to openai/gpt-4o ({undo})"
        )
        # The downgrade stays in force without its rule, until resumed.
        keyroute(gateway, "alerts", "remove", *ws, "--name", "shift-2")
        switched = chat(gateway)
        assert switched.status_code == 200
        assert switched.headers["x-keyroute-downgraded-from"] == "openai/gpt-4o-mini"
        assert switched.json()["model"] == "openai/gpt-4o"
        assert fake.requests[-1].body["model"] == "gpt-4o"
        history = keyroute(gateway, "alerts", "history", *ws)
        (action,) = [e for e in history if e["kind"] == "action" and e["rule"] == "shift-2"]
        assert action["detail"]["result"] == fired["action_taken"]
        logged = wait_for(
            lambda: [
                e for e in audit_actions(gateway) if e.get("action") == "workspace.alert_downgrade"
            ]
        )
        assert logged[0]["actor"] == "alerts"
        resumed = keyroute(gateway, "alerts", "resume", *ws)
        assert (resumed["model"], resumed["rule"], resumed["resumed"]) == (
            "openai/gpt-4o",
            "shift-2",
            True,
        )
        back = chat(gateway)
        assert "x-keyroute-downgraded-from" not in back.headers
        assert fake.requests[-1].body["model"] == "gpt-4o-mini"
        again = keyroute(gateway, "alerts", "resume", *ws, code=1)
        assert again["error"]["param"] == "workspace"
        assert admin(gateway, "POST", "/alerts/resume", 404)["error"]["param"] == "workspace"
        ended = wait_for(
            lambda: [
                e
                for e in audit_actions(gateway)
                if e.get("action") == "workspace.alert_downgrade_end"
            ]
        )
        assert ended[0]["actor"].startswith("cli")


def usage_rows(gateway: Gateway) -> int:
    with closing(sqlite3.connect(sqlite_path(gateway.config.resolved_database_url))) as db:
        return int(db.execute("SELECT count(*) FROM usage").fetchone()[0])


def refused(gateway: Gateway, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """The JSON error of a ``keyroute`` command that must fail with exit status 1."""
    error: dict[str, Any] = keyroute(gateway, *args, stdin=stdin, code=1)["error"]
    return error


RULES: tuple[tuple[str, ...], ...] = (
    # (name, channel, kind and options...): every kind, every option.
    ("burn", "signed", "--burn-rate", "48", "--per", "day", "--window", "12h", "--escalate", "96"),
    ("odd", "mail", "--anomaly", "5", "--baseline", "14d", "--min-spend", "2"),
    ("budget-key", "plain", "--budget-threshold", "80", "--key", "agent", "--action", "pause-key"),
    ("budget-user", "team", "--budget-threshold", "50", "--user", "team-a", "--escalate", "90"),
    ("month", "plain", "--projection", "--action", "downgrade", "--cooldown", "2h"),
    ("errors", "plain", "--error-rate", "10", "--min-requests", "50", "--window", "10m"),
    ("flood", "plain", "--request-rate", "100", "--per", "minute", "--cooldown", "5m"),
)


@pytest.mark.timeout(120)
def test_the_contract_through_the_cli_and_the_admin_api(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with serve(receiver.app) as hook, setup(tmp_path) as (gateway, fake):
        ws = ("--workspace", "default")
        agent_key = keyroute(gateway, "api-key", "create", *ws, "--name", "agent")
        asyncio.run(agent(gateway.url, agent_key["key"], 0.4, []))
        wait_for(lambda: usage_rows(gateway) >= 2)  # the usage writer stored them
        # Channels: a webhook with its secret piped in, one with a generated secret, Slack, email.
        add = ("alerts", "channel", "add", *ws, "--name")
        url = hook + "/hook"
        signed_channel = keyroute(
            gateway, *add, "signed", "--webhook", url, "--secret-stdin", stdin=SECRET
        )
        assert (signed_channel["kind"], signed_channel["signed"]) == ("webhook", True)
        assert "secret" not in signed_channel
        plain = keyroute(gateway, *add, "plain", "--webhook", url)
        assert plain["secret"].startswith("whsec_")
        slack = keyroute(gateway, *add, "team", "--slack", "https://hooks.slack.com/services/T/B/X")
        assert slack["target"] == "https://hooks.slack.com/services/..."
        keyroute(gateway, *add, "mail", "--email", "oncall@example.com")
        listed = keyroute(gateway, "alerts", "channel", "list", *ws)
        assert [c["name"] for c in listed] == ["mail", "plain", "signed", "team"]
        # Rules: every kind and option.
        for name, channel_name, *options in RULES:
            added = keyroute(
                gateway, "alerts", "add", *ws, "--name", name, "--channel", channel_name, *options
            )
            assert (added["name"], added["channel"], added["state"]) == (name, channel_name, "ok")
        rules = {r["name"]: r for r in keyroute(gateway, "alerts", "list", *ws)}
        assert rules["burn"]["params"] == {
            "per": "day",
            "threshold": "2",
            "window_seconds": "43200",
            "escalate": "4",
        }
        assert rules["burn"]["description"] == "spend above $48.00/day over 12h"
        assert rules["odd"]["params"]["baseline_days"] == "14"
        assert rules["budget-key"]["params"]["subject"] == agent_key["id"]
        assert rules["budget-key"]["action"] == "pause-key"
        assert (
            rules["budget-user"]["description"] == "budget use of end user team-a at or above 50%"
        )
        assert (rules["month"]["action"], rules["month"]["cooldown_seconds"]) == ("downgrade", 7200)
        assert rules["errors"]["params"]["min_requests"] == "50"
        assert rules["flood"]["params"]["threshold"] == "6000"
        # A test notification: the webhook body's fields and its signature.
        tested = keyroute(gateway, "alerts", "test", *ws, "--name", "burn")
        assert tested["delivered"] is True and tested["channel"] == "signed"
        (delivery,) = receiver.received
        body = json.loads(delivery.body)
        for field in ("rule", "workspace", "state", "value", "threshold", "window", "fired_at"):
            assert field in body, field
        assert (body["rule"], body["workspace"], body["state"]) == ("burn", "default", "firing")
        assert body["top_keys"][0] == {
            "id": agent_key["id"],
            "name": "agent",
            "spend_usd": 0.1,
            "requests": 2,
        }
        assert abs(int(delivery.headers["x-keyroute-timestamp"]) - time.time()) < 60
        assert signed(delivery, SECRET)
        failed = keyroute(gateway, "alerts", "test", *ws, "--name", "odd", code=1)
        assert failed["delivered"] is False and "SMTP" in failed["error"]
        history = keyroute(gateway, "alerts", "history", *ws, "--since", "1h", "--limit", "10")
        assert [(e["rule"], e["kind"], e["outcome"]) for e in history] == [
            ("burn", "test", "test"),
            ("burn", "delivery", "delivered"),
            ("odd", "test", "test"),
            ("odd", "delivery", "gave-up"),
        ]
        # Pause and resume a key; no downgrade is in force to resume.
        assert keyroute(gateway, "api-key", "pause", *ws, agent_key["id"])["paused"] is True
        assert chat(gateway, agent_key["key"]).json()["error"]["code"] == "api_key_paused"
        assert keyroute(gateway, "api-key", "resume", *ws, agent_key["id"])["paused"] is False
        assert chat(gateway, agent_key["key"]).status_code == 200
        assert refused(gateway, "alerts", "resume", *ws)["param"] == "workspace"
        # Bad input: one line naming the flag (JSON with --json), never a traceback.
        rule = ("alerts", "add", *ws, "--name", "x", "--channel", "plain")
        for args, param in (
            ((*add, "y"), "webhook"),
            ((*add, "y", "--webhook", url, "--email", "a@example.com"), "webhook"),
            ((*add, "y", "--webhook", "http://169.254.169.254/x"), "webhook"),
            ((*add, "y", "--slack", "http://hooks.slack.com/x"), "slack"),
            ((*add, "y", "--email", "a@example.com", "--secret-stdin"), "secret"),
            ((*add, "y", "--email", "not-an-address"), "email"),
            ((*add, "bad name", "--email", "a@example.com"), "name"),
            ((*add, "signed", "--email", "a@example.com"), None),  # taken: a conflict
            (rule, "burn_rate"),
            ((*rule, "--burn-rate", "5", "--projection"), "projection"),
            ((*rule, "--burn-rate", "lots"), "burn_rate"),
            ((*rule, "--burn-rate", "5", "--per", "week"), "per"),
            ((*rule, "--burn-rate", "5", "--window", "soon"), "window"),
            ((*rule, "--burn-rate", "5", "--escalate", "1"), "escalate"),
            ((*rule, "--burn-rate", "5", "--cooldown", "0s"), "cooldown"),
            ((*rule, "--anomaly", "5", "--baseline", "36h"), "baseline"),
            ((*rule, "--anomaly", "5", "--timezone", "Mars/Olympus"), "timezone"),
            ((*rule, "--anomaly", "5", "--min-spend", "x"), "min_spend"),
            ((*rule, "--error-rate", "150"), "error_rate"),
            ((*rule, "--error-rate", "5", "--min-requests", "many"), "min_requests"),
            ((*rule, "--budget-threshold", "80", "--key", "nobody"), "key"),
            ((*rule, "--budget-threshold", "80", "--key", "agent", "--user", "u"), "user"),
            ((*rule, "--budget-threshold", "80", "--timezone", "UTC"), "timezone"),
            ((*rule, "--request-rate", "5", "--key", "agent"), "key"),
            ((*rule, "--projection", "--per", "hour"), "per"),
            (("alerts", "add", *ws, "--name", "x", "--channel", "none", "--projection"), "channel"),
            (("alerts", "remove", *ws, "--name", "none"), "name"),
            (("alerts", "test", *ws, "--name", "none"), "name"),
            (("alerts", "history", *ws, "--since", "yesterday"), "since"),
            (("alerts", "history", *ws, "--limit", "0"), "limit"),
            (("alerts", "list", "--workspace", "none"), "workspace"),
            (("api-key", "resume", *ws, agent_key["id"]), "id"),
        ):
            error = refused(gateway, *args, stdin="")
            assert error["param"] == param, (args, error)
            assert "Traceback" not in error["message"]
        assert (
            "--per does not apply to --projection"
            in refused(gateway, *rule, "--projection", "--per", "hour")["message"]
        )
        # The admin API takes the same fields, and names the field of a bad one.
        added = admin(
            gateway,
            "POST",
            "/alerts",
            name="hourly",
            channel="plain",
            request_rate=60,
            per="minute",
        )
        assert added["params"]["threshold"] == "3600"
        for body_fields, param, status in (
            ({"burn_rate": "abc"}, "burn_rate", 400),
            ({"burn_rate": 5, "min_spend": "1"}, "min_spend", 400),
            ({"burn_rate": 5, "speed": "x"}, "speed", 400),
            ({"projection": "yes"}, "projection", 400),
            ({"projection": True, "key": "nobody"}, "key", 404),
            ({"burn_rate": 5, "window": ["1h"]}, "window", 400),
        ):
            fields = {"name": "y", "channel": "plain", **body_fields}
            error = admin(gateway, "POST", "/alerts", status, **fields)
            assert error["error"]["param"] == param, (body_fields, error)
        bad_hook = admin(gateway, "POST", "/alerts/channels", 400, name="y", webhook="file:///x")
        assert bad_hook["error"]["param"] == "webhook"
        assert admin(gateway, "GET", "/alerts/history?limit=x", 400)["error"]["param"] == "limit"
        assert admin(gateway, "POST", "/alerts/hourly/test")["delivered"] is True
        assert admin(gateway, "DELETE", "/alerts/hourly")["removed"] is True
        # Removing: a rule, then its channel (a channel in use is refused).
        assert keyroute(gateway, "alerts", "remove", *ws, "--name", "odd")["removed"] is True
        assert (
            refused(gateway, "alerts", "channel", "remove", *ws, "--name", "plain")["param"] is None
        )
        removed = keyroute(gateway, "alerts", "channel", "remove", *ws, "--name", "mail")
        assert removed == {"name": "mail", "removed": True}
    # The SMTP server's keys, from the environment; the password is never shown.
    smtp = {
        "KEYROUTE__ALERTS__SMTP__HOST": "smtp.example.com",
        "KEYROUTE__ALERTS__SMTP__PORT": "2525",
        "KEYROUTE__ALERTS__SMTP__USERNAME": "alerts",
        "KEYROUTE__ALERTS__SMTP__PASSWORD": "smtp-secret-password",
        "KEYROUTE__ALERTS__SMTP__STARTTLS": "true",
        "KEYROUTE__ALERTS__SMTP__FROM": "keyroute@example.com",
    }
    checked = CliRunner().invoke(cli, ["check-config", "--json"], env={**gateway.env, **smtp})
    assert checked.exit_code == 0, checked.output
    assert msgspec.json.decode(checked.stdout)["alerts_smtp"] == {
        "host": "smtp.example.com",
        "port": 2525,
        "username": "alerts",
        "password_set": True,
        "starttls": True,
        "from": "keyroute@example.com",
    }
    assert "smtp-secret-password" not in checked.stdout
    clear = {**smtp, "KEYROUTE__ALERTS__SMTP__STARTTLS": "false"}
    refusal = CliRunner().invoke(cli, ["check-config", "--json"], env={**gateway.env, **clear})
    assert refusal.exit_code == 1 and "clear text" in refusal.stdout
    assert "smtp-secret-password" not in refusal.stdout
