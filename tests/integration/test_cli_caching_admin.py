"""``keyroute caching show|set`` and ``GET|PUT /admin/v1/workspaces/{id}/caching`` on a served
gateway: defaults, partial changes seen by the other side and by the request path, clear errors,
and one audited admin event per change."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration

DEFAULTS = {
    "prompt_cache": "auto",
    "prompt_cache_ttl": "5m",
    "response_cache": False,
    "response_cache_ttl_seconds": 300,
    "response_cache_nondeterministic": False,
    "gemini_explicit": False,
}


def admin(gw: Gateway) -> httpx.Client:
    return httpx.Client(
        base_url=gw.url + "/admin/v1", headers={"authorization": f"Bearer {gw.admin_token}"}
    )


def test_defaults_then_cli_and_admin_changes(gateway: Gateway) -> None:
    shown = gateway.cli_json("caching", "show", "--workspace", "default")
    assert {k: shown[k] for k in DEFAULTS} == DEFAULTS and shown["workspace"] == "default"
    changed = gateway.cli_json(
        "caching",
        "set",
        "--workspace",
        "default",
        "--prompt-cache",
        "off",
        "--response-cache",
        "on",
        "--response-cache-ttl",
        "60",
    )
    assert changed["prompt_cache"] == "off" and changed["response_cache"] is True
    assert changed["response_cache_ttl_seconds"] == 60 and changed["prompt_cache_ttl"] == "5m"
    with admin(gateway) as client:
        got = client.get("/workspaces/default/caching").json()
        assert got == changed
        put = client.put("/workspaces/default/caching", json={"prompt_cache_ttl": "1h"})
        assert put.status_code == 200 and put.json()["prompt_cache_ttl"] == "1h"
        assert put.json()["response_cache"] is True  # left as it was
        put = client.put("/workspaces/default/caching", json={"gemini_explicit": True})
        assert put.status_code == 200 and put.json()["gemini_explicit"] is True
    gateway.settle()
    text = gateway.cli("caching", "show", "--workspace", "default").stdout
    assert "prompt_cache_ttl" in text and "1h" in text
    off = gateway.cli_json("caching", "set", "--workspace", "default", "--gemini-explicit", "off")
    assert off["gemini_explicit"] is False and off["prompt_cache_ttl"] == "1h"


def test_errors_name_the_field(gateway: Gateway) -> None:
    with admin(gateway) as client:
        bad = client.put("/workspaces/default/caching", json={"prompt_cache": "sometimes"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "prompt_cache"
        ttl = client.put("/workspaces/default/caching", json={"response_cache_ttl_seconds": -1})
        assert ttl.json()["error"]["param"] == "response_cache_ttl_seconds"
        switch = client.put("/workspaces/default/caching", json={"gemini_explicit": "yes"})
        assert switch.status_code == 400 and switch.json()["error"]["param"] == "gemini_explicit"
        assert client.get("/workspaces/nobody/caching").status_code == 404
        notjson = client.put("/workspaces/default/caching", content=b"{")
        assert notjson.status_code == 400
    proc = gateway.cli(
        "caching", "set", "--workspace", "default", "--prompt-cache", "x", check=False
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    proc = gateway.cli("caching", "set", "--workspace", "default", check=False)
    assert proc.returncode != 0 and "at least one" in proc.stderr
    proc = gateway.cli("caching", "show", "--workspace", "nobody", "--json", check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["error"]["code"]
    assert "Traceback" not in proc.stderr


def test_a_change_is_an_audited_admin_event(gateway: Gateway) -> None:
    gateway.cli_json("caching", "set", "--workspace", "default", "--response-cache", "on")
    lines = gateway.cli("audit", "export", "--workspace", "default").stdout.splitlines()
    actions = [json.loads(line).get("action") for line in lines if line]
    assert "caching.update" in actions
