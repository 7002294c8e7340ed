"""Fallback chains, timeouts and key weights through the CLI and the admin API of a running
``keyroute serve``, and the body's ``models`` field in every chat wire format, against the
hostile upstream's fault modes (``test_fault_matrix.running``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.fakes.hostile_upstream import HostileUpstream
from tests.integration.test_fault_matrix import Gateway, running

pytestmark = pytest.mark.integration

DOWN = "status_503-openai/gpt-4o-mini"
UP = "ok-openai/gpt-4o-mini"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    hostile = HostileUpstream()
    with hostile.running() as url, running(tmp_path_factory.mktemp("fb"), hostile, url, {}) as g:
        yield g


def eventually(check: Callable[[], bool]) -> bool:
    """``check`` turns true once the server's change feed has seen a CLI change (it polls
    every 0.1 s); bounded, so a change never seen fails the test."""
    for _ in range(300):
        if check():
            return True
        time.sleep(0.02)
    return False


def served(gw: Gateway, model: str) -> str | None:
    resp = gw.send(model, stream=False)
    return resp.headers.get("x-keyroute-model") if resp.status_code == 200 else None


def test_cli_fallback_set_show_clear_drive_the_running_gateway(gw: Gateway) -> None:
    assert gw.send(DOWN, stream=False).status_code == 503
    done = gw.cli("fallback", "set", "-w", "default", DOWN, UP, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["chain"] == [UP]
    assert eventually(lambda: served(gw, DOWN) == UP)
    resp = gw.send(DOWN, stream=True)
    assert resp.status_code == 200 and resp.headers["x-keyroute-fallback-from"] == DOWN
    shown = json.loads(gw.cli("fallback", "show", "-w", "default", "--json").stdout)
    assert [(s["model"], s["chain"]) for s in shown] == [(DOWN, [UP])]
    table = gw.cli("fallback", "show", "-w", "default")
    assert DOWN in table.stdout and UP in table.stdout
    assert gw.cli("fallback", "clear", "-w", "default", DOWN).returncode == 0
    assert eventually(lambda: gw.send(DOWN, stream=False).status_code == 503)
    again = gw.cli("fallback", "clear", "-w", "default", DOWN)
    assert again.returncode == 1 and again.stderr.startswith("error: No fallback chain")
    assert "Traceback" not in again.stderr


def test_cli_refuses_bad_settings_cleanly(gw: Gateway) -> None:
    for args, needle in [
        (("fallback", "set", "-w", "default", DOWN, "bad id"), "chain[0]"),
        (("fallback", "set", "-w", "nope", DOWN, UP), "workspace"),
        (("timeouts", "set", "-w", "default", "--total", "-3"), "total"),
        (("timeouts", "set", "-w", "default"), "at least one"),
        (("provider-key", "weight", "-w", "default", "no-such-key", "2"), "no-such-key"),
        (("provider-key", "weight", "-w", "default", "ok-openai", "5000"), "1000"),
    ]:
        proc = gw.cli(*args, "--json")
        assert proc.returncode == 1, (args, proc.stdout)
        assert needle in proc.stdout, (args, proc.stdout)
        assert "Traceback" not in proc.stderr
    no_token = gw.cli("health", "--url", gw.server.url, "--admin-token", "")
    assert no_token.returncode == 1 and "admin-token" in no_token.stderr
    bad_token = gw.cli("health", "--url", gw.server.url, "--admin-token", "kra-wrong")
    assert bad_token.returncode == 1 and "401" in bad_token.stderr
    nothing = gw.cli("health", "--url", "http://127.0.0.1:9", "--json")
    assert nothing.returncode == 1 and "Cannot reach" in nothing.stdout


def test_admin_api_fallback_timeouts_and_weights(gw: Gateway) -> None:
    path = "/workspaces/default/fallback/" + DOWN
    put = gw.admin("PUT", path, {"chain": ["next-best", UP], "on_refusal": True})
    assert put.status_code == 200, put.text
    assert put.json()["chain"] == ["next-best", UP] and put.json()["on_refusal"] is True
    assert gw.admin("GET", path).json()["model"] == DOWN
    listed = gw.admin("GET", "/workspaces/default/fallback").json()["data"]
    assert [s["model"] for s in listed] == [DOWN]
    for body, param in [
        ({"chain": "x"}, "chain"),
        ({"chain": ["a/b"], "extra": 1}, "extra"),
        ({}, "chain"),
        ({"chain": ["a/b"], "on_refusal": "yes"}, "on_refusal"),
        ({"chain": [DOWN]}, "chain[0]"),
    ]:
        bad = gw.admin("PUT", path, body)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == param, bad.text
    assert gw.admin("DELETE", path).json() == {"model": DOWN, "deleted": True}
    assert gw.admin("GET", path).status_code == 404
    assert gw.admin("DELETE", path).status_code == 404

    put = gw.admin("PUT", "/workspaces/default/timeouts/*", {"total_seconds": 9, "idle_seconds": 3})
    assert put.status_code == 200 and put.json()["total_seconds"] == 9.0, put.text
    bad = gw.admin("PUT", "/workspaces/default/timeouts/*", {"total": 9})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "total"
    rows = gw.admin("GET", "/workspaces/default/timeouts").json()["data"]
    assert [(r["model"], r["idle_seconds"]) for r in rows] == [("*", 3.0)]
    assert gw.admin("DELETE", "/workspaces/default/timeouts/*").status_code == 200

    weight = gw.admin("PUT", "/workspaces/default/provider-keys/ok-openai/weight", {"weight": 4})
    assert weight.status_code == 200 and weight.json()["weight"] == 4, weight.text
    bad = gw.admin("PUT", "/workspaces/default/provider-keys/ok-openai/weight", {"weight": -1})
    assert bad.status_code == 400
    assert gw.admin("GET", "/workspaces/nope/fallback").status_code == 404
    audit = gw.cli("audit", "export", "--workspace", "default")
    actions = {json.loads(line).get("action") for line in audit.stdout.splitlines()}
    assert {"fallback.set", "fallback.clear", "timeouts.set", "key_weight.set"} <= actions


def test_workspace_timeouts_reach_the_upstream(gw: Gateway) -> None:
    slow = "silent_head-openai/gpt-4o-mini"
    put = gw.admin("PUT", f"/workspaces/default/timeouts/{slow}", {"first_byte_seconds": 0.2})
    assert put.status_code == 200, put.text
    try:
        # The server's limit is 1 s; the model's own 0.2 s ends the wait sooner. Observed from
        # the 504's message, not timed.
        def short() -> bool:
            resp = gw.send(slow, stream=False)
            return resp.status_code == 504 and "0.2" in resp.json()["error"]["message"]

        assert eventually(short)
    finally:
        gw.admin("DELETE", f"/workspaces/default/timeouts/{slow}")


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "responses"])
def test_the_body_models_field_in_each_format(gw: Gateway, fmt: str) -> None:
    down, up = "status_503-anthropic/claude-haiku-4-5", "ok-anthropic/claude-haiku-4-5"
    body: dict[str, object]
    if fmt == "responses":
        path, body = "/v1/responses", {"model": down, "input": "hello", "models": [down, up]}
    else:
        path = "/v1/messages" if fmt == "anthropic" else "/v1/chat/completions"
        messages = [{"role": "user", "content": "hello"}]
        body = {"model": down, "messages": messages, "max_tokens": 16, "models": [up]}
    headers = {"x-api-key": gw.key}
    with httpx.Client(timeout=30) as http:
        resp = http.post(gw.server.url + path, json=body, headers=headers)
        assert resp.status_code == 200, resp.text[:300]
        assert resp.headers["x-keyroute-model"] == up
        assert resp.headers["x-keyroute-fallback-from"] == down
        bad = http.post(gw.server.url + path, json={**body, "models": [up, 7]}, headers=headers)
        assert bad.status_code == 400
        both = http.post(
            gw.server.url + path, json=body, headers={**headers, "x-keyroute-fallback": up}
        )
        assert both.status_code == 400
    error = bad.json()["error"]
    if fmt != "anthropic":
        assert error["param"] == "models[1]", error
    assert "models[1]" in error["message"]
    assert "x-keyroute-fallback" in both.json()["error"]["message"]
