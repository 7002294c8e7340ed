"""``keyroute workspace set-plan``, ``keyroute budget``, ``keyroute ratelimit`` and their admin
routes against a running gateway over one SQLite data dir: the running server's workspace state
carries each change (through the change feed), every change is an audit record with the old and
new values, and bad input is a clear error and exit 1 (the admin API: a 4xx naming the field)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import keyroute.cli.main  # noqa: F401  (registers every command on the group)
from keyroute.admission.policy import Budget, Limits, PlanQuota, RateLimit
from keyroute.cli.group import cli
from keyroute.control.plane import ControlPlane
from keyroute.core.money import Cost
from keyroute.core.record import RequestRecord
from keyroute.workspace_state import WorkspaceDirectory
from tests.integration.conftest import Gateway
from tests.integration.test_usage_cli_admin import inject

pytestmark = pytest.mark.integration
PICO = 10**12


def limits(gateway: Gateway) -> Limits:
    """The default workspace's ``WorkspaceState.limits`` as a gateway process loads them."""

    async def read(c: ControlPlane) -> Limits:
        ws = await c.workspace("default")
        return (await WorkspaceDirectory(c.store, c.vault).get(ws.id)).limits

    return gateway.control(read)


def run(gateway: Gateway, *args: str) -> Result:
    """The real ``keyroute`` command, in this process (a subprocess per call is seconds)."""
    result = CliRunner().invoke(cli, list(args), env=gateway.env, catch_exceptions=False)
    gateway.settle()
    return result


def ok(gateway: Gateway, *args: str) -> Any:
    result = run(gateway, *args, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def failed(gateway: Gateway, *args: str) -> dict[str, Any]:
    result = run(gateway, *args, "--json")
    assert result.exit_code == 1, result.stdout
    error: dict[str, Any] = json.loads(result.stdout)["error"]
    return error


def test_set_plan_and_its_errors(gateway: Gateway) -> None:
    plan = ok(gateway, "workspace", "plan", "default")  # init's workspace: no quota
    assert (plan["plan"], plan["monthly_requests"], plan["timezone"]) == ("custom", None, "UTC")
    ok(gateway, "workspace", "set-plan", "default", "free")
    plan = ok(gateway, "workspace", "plan", "default")
    assert (plan["plan"], plan["monthly_requests"], plan["timezone"]) == ("free", 2500, "UTC")
    done = ok(
        gateway,
        "workspace",
        "set-plan",
        "default",
        "custom",
        "--quota",
        "unlimited",
        "--timezone",
        "Europe/Paris",
    )
    assert (done["plan"], done["monthly_requests"], done["unlimited"]) == ("custom", None, True)
    assert done["timezone"] == "Europe/Paris"
    state = limits(gateway)
    assert state.plan == PlanQuota(name="custom", monthly_requests=None)
    assert state.timezone == "Europe/Paris"
    text = gateway.cli("workspace", "set-plan", "default", "build").stdout
    assert "build" in text and "100000" in text
    assert limits(gateway).plan == PlanQuota(name="build", monthly_requests=100_000)
    assert limits(gateway).timezone == "Europe/Paris"  # kept
    cases = [
        (("workspace", "set-plan", "default", "gold"), "plan", "Plans: free, build"),
        (("workspace", "set-plan", "nope", "free"), "workspace", "No workspace"),
        (("workspace", "set-plan", "default", "custom"), "quota", "--quota"),
        (("workspace", "set-plan", "default", "scale", "--quota", "9"), "quota", "fixed quota"),
        (("workspace", "set-plan", "default", "custom", "--quota", "-1"), "quota", "whole"),
        (
            ("workspace", "set-plan", "default", "free", "--timezone", "Mars/Base"),
            "timezone",
            "Unknown",
        ),
    ]
    for args, param, words in cases:
        error = failed(gateway, *args)
        assert error["param"] == param and words in error["message"], (args, error)
    proc = gateway.cli("workspace", "set-plan", "default", "gold", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and not proc.stdout


def test_ratelimits(gateway: Gateway) -> None:
    key = ok(gateway, "api-key", "create", "--workspace", "default", "--name", "ci")
    mine = ok(gateway, "ratelimit", "set", "--workspace", "default", "--rpm", "600")
    assert (mine["scope"], mine["requests_per_minute"], mine["tokens_per_minute"]) == (
        "workspace",
        600,
        None,
    )
    per_key = ok(
        gateway,
        "ratelimit",
        "set",
        "--workspace",
        "default",
        "--key",
        "ci",
        "--rpm",
        "10",
        "--tpm",
        "5000",
    )
    assert (per_key["key_id"], per_key["key_name"]) == (key["id"], "ci")
    assert limits(gateway).rate_limits == (
        RateLimit(requests_per_minute=600),
        RateLimit(scope="key", subject=key["id"], requests_per_minute=10, tokens_per_minute=5000),
    )
    shown = ok(gateway, "ratelimit", "show", "--workspace", "default")["data"]
    assert [(r["scope"], r["requests_per_minute"]) for r in shown] == [
        ("workspace", 600),
        ("key", 10),
    ]
    table = run(gateway, "ratelimit", "show", "--workspace", "default").stdout
    assert "key ci" in table and "600" in table
    ok(gateway, "ratelimit", "clear", "--workspace", "default", "--key", "ci")
    assert len(limits(gateway).rate_limits) == 1
    for args, param in [
        (("--rpm", "0"), "requests_per_minute"),
        (("--tpm", "-3"), "tokens_per_minute"),
        (("--rpm", "fast"), "requests_per_minute"),
        ((), "requests_per_minute"),
        (("--key", "ghost", "--rpm", "1"), "key"),
    ]:
        assert (
            failed(gateway, "ratelimit", "set", "--workspace", "default", *args)["param"] == param
        )
    assert (
        failed(gateway, "ratelimit", "clear", "--workspace", "default", "--key", "ci")["param"]
        == "key"
    )


def test_budgets_show_spend_against_caps(gateway: Gateway) -> None:
    ok(gateway, "workspace", "set-plan", "default", "free")
    ok(gateway, "api-key", "create", "--workspace", "default", "--name", "ci")
    done = ok(
        gateway,
        "budget",
        "set",
        "--workspace",
        "default",
        "--daily",
        "5",
        "--monthly",
        "100",
        "--action",
        "downgrade",
        "--downgrade-to",
        "demo/fast",
    )
    assert (done["daily_usd"], done["monthly_usd"], done["action"], done["downgrade_to"]) == (
        "5",
        "100",
        "downgrade",
        "demo/fast",
    )
    ok(gateway, "budget", "set", "--workspace", "default", "--user", "alice", "--monthly", "2.5")
    ok(gateway, "budget", "set", "--workspace", "default", "--key", "ci", "--daily", "1")
    merged = ok(gateway, "budget", "set", "--workspace", "default", "--monthly", "150")
    assert (merged["daily_usd"], merged["monthly_usd"], merged["action"]) == (
        "5",
        "150",
        "downgrade",
    )
    assert limits(gateway).budgets[0] == Budget(
        daily_pico=5 * PICO, monthly_pico=150 * PICO, action="downgrade", downgrade_to="demo/fast"
    )
    ws = gateway.control(lambda c: c.workspace("default")).id
    now = datetime.now(UTC)
    inject(
        gateway,
        [
            RequestRecord(
                request_id=f"r{n}",
                started_at=now,
                endpoint="/v1/chat/completions",
                inbound_format="openai",
                workspace_id=ws,
                api_key_id="key_x",
                end_user=user,
                served_model="demo/fast",
                status=200,
                cost=Cost(list_pico=PICO // 4, paid_pico=PICO // 4),
            )
            for n, user in enumerate(["alice", "alice", "bob"])
        ],
    )
    rows = ok(gateway, "budget", "show", "--workspace", "default")["data"]
    assert [(r["scope"], r["spent_today_usd"], r["spent_month_usd"]) for r in rows] == [
        ("workspace", "0.75", "0.75"),
        ("key", "0", "0"),
        ("user", "0.5", "0.5"),
    ]
    assert rows[2]["monthly_remaining_usd"] == "2" and rows[2]["daily_remaining_usd"] is None
    alice = ok(gateway, "budget", "show", "--workspace", "default", "--user", "alice")["data"]
    assert [r["user"] for r in alice] == ["alice"]
    usage = ok(gateway, "usage", "--workspace", "default")
    assert usage["quota"]["used"] == 3 and usage["quota"]["limit"] == 2500
    assert usage["quota"]["remaining"] == 2497
    assert [b["spent_month_usd"] for b in usage["budgets"]] == ["0.75", "0", "0.5"]
    text = run(gateway, "usage", "--workspace", "default").stdout
    assert "quota (free plan): 3 of 2,500 requests this month (UTC)" in text
    assert "budget (user alice): today 0.5 USD (no cap); this month 0.5 of 2.5 USD" in text
    ok(gateway, "budget", "clear", "--workspace", "default", "--user", "alice")
    assert len(limits(gateway).budgets) == 2
    cases = [
        (("--daily", "-1"), "daily", "negative"),
        (("--daily", "20", "--monthly", "10"), "daily", "never apply"),
        (("--monthly", "10", "--action", "stop"), "action", "block or downgrade"),
        (
            ("--key", "ci", "--monthly", "1", "--action", "downgrade"),
            "downgrade_to",
            "--downgrade-to",
        ),
        (
            ("--monthly", "10", "--action", "downgrade", "--downgrade-to", "acme/nothing"),
            "downgrade_to",
            "Unknown model",
        ),
        (("--key", "ci", "--user", "bob", "--monthly", "1"), "user", "not both"),
        (("--key", "ghost", "--monthly", "1"), "key", "No gateway key"),
        (("--user", "bob"), "daily", "daily cap, a monthly cap or both"),
    ]
    for args, param, words in cases:
        error = failed(gateway, "budget", "set", "--workspace", "default", *args)
        assert error["param"] == param and words in error["message"], (args, error)
    assert (
        failed(gateway, "budget", "clear", "--workspace", "default", "--user", "zed")["param"]
        == "user"
    )


def test_admin_api_and_audit(gateway: Gateway) -> None:
    ok(gateway, "workspace", "set-plan", "default", "free")
    with httpx.Client(
        base_url=gateway.url + "/admin/v1/workspaces/default",
        timeout=10,
        headers={"authorization": f"Bearer {gateway.admin_token}"},
    ) as api:
        assert api.get("/plan").json()["plan"] == "free"
        put = api.put("/plan", json={"plan": "custom", "quota": 1000, "timezone": "Asia/Kolkata"})
        assert put.status_code == 200 and put.json()["monthly_requests"] == 1000
        gateway.settle()
        assert limits(gateway).plan == PlanQuota(name="custom", monthly_requests=1000)
        bad = api.put("/plan", json={"plan": "custom", "quota": -5})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "quota"
        # GET's ``monthly_requests`` is accepted by PUT too; a field left out is kept.
        put = api.put("/plan", json={"monthly_requests": 1000})
        assert put.status_code == 200 and put.json()["monthly_requests"] == 1000
        bad = api.put("/plan", json={"monthly_requests": "lots"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "monthly_requests"
        bad = api.put("/plan", json={"quota": 5, "monthly_requests": 5})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "monthly_requests"
        bad = api.put("/plan", json={"timezone": "Mars/Base"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "timezone"
        assert "Mars/Base" in bad.json()["error"]["message"]
        bad = api.put("/plan", json={"plan": "scale", "quota": 9})
        assert "--" not in bad.json()["error"]["message"]
        assert api.put("/plan", json={}).json()["error"]["param"] == "plan"
        moved = api.put("/plan", json={"timezone": "Asia/Kolkata"}).json()
        assert (moved["plan"], moved["monthly_requests"]) == ("custom", 1000)
        assert api.put("/plan", json={"plan": "free", "tier": 1}).json()["error"]["param"] == "tier"
        assert api.put("/plan", content=b"[1]").status_code == 400
        assert api.delete("/plan").status_code == 405

        limit = api.put(
            "/ratelimits", json={"requests_per_minute": 100, "tokens_per_minute": "5000"}
        )
        assert limit.status_code == 200 and limit.json()["tokens_per_minute"] == 5000
        lifted = api.put("/ratelimits", json={"tokens_per_minute": None}).json()
        assert (lifted["requests_per_minute"], lifted["tokens_per_minute"]) == (100, None)
        assert [r["scope"] for r in api.get("/ratelimits").json()["data"]] == ["workspace"]
        bad = api.put("/ratelimits", json={"requests_per_minute": 1.5})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "requests_per_minute"
        assert api.get("/ratelimits?key=ghost").status_code == 404
        assert api.get("/ratelimits?who=x").json()["error"]["param"] == "who"
        assert api.delete("/ratelimits").json()["deleted"] is True
        assert api.delete("/ratelimits").status_code == 404

        budget = api.put("/budgets", json={"user": "carol", "daily_usd": "1.5", "monthly_usd": 20})
        assert budget.status_code == 200
        assert (budget.json()["user"], budget.json()["daily_usd"]) == ("carol", "1.5")
        no_daily = api.put("/budgets", json={"user": "carol", "daily_usd": None}).json()
        assert (no_daily["daily_usd"], no_daily["monthly_usd"]) == (None, "20")
        shown = api.get("/budgets", params={"user": "carol"}).json()["data"]
        assert [(b["user"], b["spent_month_usd"]) for b in shown] == [("carol", "0")]
        # Errors name the JSON fields, never the CLI's flags.
        for body, param in [
            ({"monthly_usd": "NaN"}, "monthly_usd"),
            ({"daily_usd": 20, "monthly_usd": 10}, "daily_usd"),
            ({"monthly_usd": 1, "action": "downgrade", "downgrade_to": "x/y"}, "downgrade_to"),
            ({"monthly_usd": 1, "action": "downgrade"}, "downgrade_to"),
            ({"monthly_usd": 1, "action": "stop"}, "action"),
            ({"monthly_usd": 1, "downgrade_to": "demo/fast"}, "downgrade_to"),
            ({"user": "carol", "key": "ci", "monthly_usd": 1}, "user"),
            ({"user": "dave"}, "daily_usd"),
        ]:
            bad = api.put("/budgets", json=body)
            error = bad.json()["error"]
            assert bad.status_code == 400 and error["param"] == param, (body, error)
            assert "--" not in error["message"], (body, error)
        bad = api.put("/ratelimits", json={})
        assert bad.status_code == 400 and "--" not in bad.json()["error"]["message"]
        usage = api.get("/usage").json()
        assert usage["quota"]["timezone"] == "Asia/Kolkata" and usage["quota"]["limit"] == 1000
        assert [b["user"] for b in usage["budgets"]] == ["carol"]
        assert api.delete("/budgets", params={"user": "carol"}).json()["deleted"] is True
        assert api.delete("/budgets", params={"user": "carol"}).status_code == 404
        assert api.get("/budgets").json() == {"data": []}

    wanted = ("plan.set", "ratelimit.set", "ratelimit.clear", "budget.set", "budget.clear")
    deadline = time.monotonic() + 20  # the server's audit writer flushes in the background
    while True:
        out = run(gateway, "audit", "export", "--workspace", "default", "--format", "jsonl")
        events = [json.loads(line) for line in out.stdout.splitlines() if line]
        admin = [e for e in events if e["kind"] == "admin"]
        actions = [e["action"] for e in admin]
        if all(a in actions for a in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for action in wanted:
        assert action in actions, actions
    plan_set = next(e for e in admin if e["action"] == "plan.set" and e["actor"] == "admin-token")
    assert plan_set["actor"] == "admin-token"
    assert plan_set["old"] == {"plan": "free", "monthly_requests": 2500, "timezone": "UTC"}
    assert plan_set["new"] == {
        "plan": "custom",
        "monthly_requests": 1000,
        "timezone": "Asia/Kolkata",
    }


def _chat(gateway: Gateway, user: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"model": "demo/fast", "messages": [{"role": "user", "content": "hi"}]}
    if user is not None:
        body["user"] = user
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        timeout=10,
        headers={"authorization": f"Bearer {gateway.api_key}"},
        json=body,
    )


def test_the_running_server_enforces_what_the_cli_sets(gateway: Gateway) -> None:
    """Each change reaches the serving process through the change feed, on its next request."""
    ok(gateway, "workspace", "set-plan", "default", "custom", "--quota", "0")
    refused = _chat(gateway)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert refused.headers["x-keyroute-quota-limit"] == "0"
    ok(gateway, "workspace", "set-plan", "default", "custom", "--quota", "unlimited")
    assert _chat(gateway).status_code == 200
    ok(gateway, "budget", "set", "--workspace", "default", "--user", "mallory", "--daily", "0")
    assert _chat(gateway, user="mallory").status_code == 429
    assert _chat(gateway, user="alice").status_code == 200
    ok(gateway, "budget", "clear", "--workspace", "default", "--user", "mallory")
    assert _chat(gateway, user="mallory").status_code == 200


def test_every_answer_tells_the_limits_errors_included(gateway: Gateway) -> None:
    """Once the workspace is known (a valid gateway key), every answer carries the quota and
    rate-limit headers: a refused model, a bad body, an unknown path, a paused key's 403."""
    ok(gateway, "workspace", "set-plan", "default", "custom", "--quota", "10")
    ok(gateway, "ratelimit", "set", "--workspace", "default", "--rpm", "100")
    assert _chat(gateway).status_code == 200
    bearer = {"authorization": f"Bearer {gateway.api_key}"}
    messages = [{"role": "user", "content": "hi"}]
    cases: list[tuple[str, str, Any, dict[str, str], int]] = [
        ("POST", "/v1/chat/completions", {"model": "nope/none", "messages": messages}, bearer, 0),
        ("POST", "/v1/chat/completions", {"model": "demo/fast"}, bearer, 400),
        ("POST", "/v1/chat/completions", b"{not json", bearer, 400),
        ("POST", "/v1/chat/completions", {"model": "a b", "messages": messages}, bearer, 400),
        ("GET", "/v1/chat/completions", None, bearer, 405),
        ("POST", "/v1/nowhere", None, bearer, 404),
        ("POST", "/v1/messages", {"model": "demo/fast"}, {"x-api-key": gateway.api_key}, 400),
        ("GET", "/v1/models", None, bearer, 200),
    ]
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for method, path, body, headers, status in cases:
            sent = {"json": body} if isinstance(body, dict) else {"content": body}
            answer = client.request(method, path, headers=headers, **sent)
            assert status in (0, answer.status_code), (path, body, answer.text)
            told = answer.headers
            assert told.get("x-keyroute-quota-limit") == "10", (path, body, dict(told))
            assert told["x-keyroute-quota-remaining"] == "9", (path, body)
            assert "x-keyroute-quota-reset" in told
            assert told["x-ratelimit-limit-requests"] == "100", (path, body)
            assert told["x-ratelimit-remaining-requests"] == "99", (path, body)
            assert told["x-ratelimit-reset-requests"].endswith("ms"), (path, body)
        unknown = client.post("/v1/chat/completions", headers={"authorization": "Bearer kr-no"})
        assert unknown.status_code == 401 and "x-keyroute-quota-limit" not in unknown.headers
        ws = gateway.control(lambda c: c.workspace("default"))
        (key,) = gateway.control(lambda c: c.store.list_api_keys(ws.id))
        ok(gateway, "api-key", "pause", "--workspace", "default", key.id)
        paused = client.post("/v1/chat/completions", headers=bearer, json={})
        assert paused.status_code == 403
        assert paused.headers["x-keyroute-quota-limit"] == "10"


def test_a_budget_set_mid_period_counts_what_was_already_spent(gateway: Gateway) -> None:
    ws = gateway.control(lambda c: c.workspace("default")).id
    now = datetime.now(UTC)
    spent = [
        RequestRecord(
            request_id=f"early{n}",
            started_at=now,
            endpoint="/v1/chat/completions",
            inbound_format="openai",
            workspace_id=ws,
            api_key_id="key_x",
            end_user="erin",
            served_model="demo/fast",
            status=200,
            cost=Cost(list_pico=PICO // 2, paid_pico=PICO // 2),
        )
        for n in range(2)
    ]
    inject(gateway, spent)  # 1 USD spent today, before any budget
    ok(gateway, "budget", "set", "--workspace", "default", "--user", "erin", "--monthly", "1")
    refused = _chat(gateway, user="erin")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert "$1 spent or held" in refused.json()["error"]["message"]
    ok(gateway, "budget", "set", "--workspace", "default", "--user", "erin", "--monthly", "5")
    ok(gateway, "budget", "set", "--workspace", "default", "--user", "erin", "--daily", "1")
    refused = _chat(gateway, user="erin")  # the daily cap, new, counts today's spend too
    assert refused.status_code == 429 and "daily budget" in refused.json()["error"]["message"]
    assert _chat(gateway, user="frank").status_code == 200
