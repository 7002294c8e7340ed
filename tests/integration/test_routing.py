"""Routing through real surfaces: ``keyroute routing`` and its admin API over a real data dir,
``POST /v1/feedback`` through a running gateway, and the admin events in the audit log."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from keyroute.control.audit_log import ExportFilters
from keyroute.control.plane import ControlPlane
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration


def _admin(gateway: Gateway) -> dict[str, str]:
    return {"authorization": f"Bearer {gateway.admin_token}"}


def _audit_actions(gateway: Gateway, wanted: int) -> list[dict[str, Any]]:
    """The workspace's routing admin events, once ``wanted`` of them are stored (the admin
    API's are written by the server's background writer)."""

    async def read(control: ControlPlane) -> list[str]:
        lines = await control.audit.export("default", ExportFilters(), "jsonl")
        return [line async for line in lines]

    deadline = time.monotonic() + 20
    while True:
        events = [json.loads(line) for line in gateway.control(read) if line.strip()]
        found = [e for e in events if str(e.get("action", "")).startswith("routing.")]
        if len(found) >= wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_cli_manages_policies_with_json_and_clean_errors(gateway: Gateway) -> None:
    gateway.control(lambda c: c.add_provider_key("default", "openai", UPSTREAM_KEY))
    shown = gateway.cli_json("routing", "show", "--workspace", "default")
    assert shown["name"] == "openai" and shown["default"] is True
    assert shown["candidates"] == ["openai/gpt-4.1-mini", "openai/gpt-4.1"]
    made = gateway.cli_json(
        "routing", "set", "--workspace", "default", "--policy", "thrifty",
        "--candidates", "openai/gpt-4o-mini,openai/gpt-4o", "--reference", "openai/gpt-4o",
        "--max-strong-share", "0.3", "--default",
    )  # fmt: skip
    assert made["max_strong_share"] == 0.3 and made["default"] is True
    listed = gateway.cli_json("routing", "list", "--workspace", "default")["data"]
    assert [p["name"] for p in listed if p["default"]] == ["thrifty"]
    report = gateway.cli_json("routing", "report", "--workspace", "default")
    assert report["data"] == [] and report["days"] == []
    bad = gateway.cli(
        "routing", "set", "--workspace", "default", "--policy", "x",
        "--candidates", "openai/gpt-4o", "--reference", "openai/gpt-4o", "--json", check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert json.loads(bad.stdout)["error"]["param"] == "candidates"
    gone = gateway.cli_json("routing", "delete", "--workspace", "default", "--policy", "thrifty")
    assert gone == {"policy": "thrifty", "deleted": True}
    events = _audit_actions(gateway, 2)
    assert [e["action"] for e in events] == ["routing.set", "routing.delete"]


def test_admin_api_covers_the_cli(gateway: Gateway) -> None:
    base = gateway.url + "/admin/v1/workspaces/default/routing"
    admin = _admin(gateway)
    assert httpx.get(base).status_code == 401
    body = {
        "candidates": ["openai/gpt-4o-mini", "openai/gpt-4o"],
        "reference": "gpt-4o",
        "quality": 0.9,
        "default": True,
    }
    put = httpx.put(base + "/team", json=body, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["reference"] == "openai/gpt-4o" and put.json()["default"] is True
    post = httpx.post(base, json={**body, "policy": "second", "default": False}, headers=admin)
    assert post.status_code == 200 and post.json()["default"] is False
    assert httpx.get(base + "/team", headers=admin).json()["quality"] == 0.9
    names = [p["name"] for p in httpx.get(base, headers=admin).json()["data"]]
    assert {"team", "second", "openai"} <= set(names)
    report = httpx.get(base + "/report?since=7d", headers=admin)
    assert report.status_code == 200 and report.json()["data"] == []
    for resp, status, param in (
        (
            httpx.put(base + "/team", json={**body, "quality": "high"}, headers=admin),
            400,
            "quality",
        ),
        (httpx.put(base + "/team", json={**body, "colour": 1}, headers=admin), 400, "colour"),
        (
            httpx.put(base + "/team", json={**body, "candidates": 3}, headers=admin),
            400,
            "candidates",
        ),
        (httpx.post(base, json=body, headers=admin), 400, "policy"),
        (httpx.get(base + "/nope", headers=admin), 404, "policy"),
        (httpx.get(base + "/report?by=x", headers=admin), 400, "by"),
        (httpx.delete(base + "/openai", headers=admin), 400, "policy"),
    ):
        assert resp.status_code == status, resp.text
        assert resp.json()["error"]["param"] == param
    assert httpx.delete(base + "/second", headers=admin).json()["deleted"] is True
    assert httpx.get(base + "/second", headers=admin).status_code == 404
    actions = [e["action"] for e in _audit_actions(gateway, 3)]
    assert actions == ["routing.set", "routing.set", "routing.delete"]


def test_auto_and_feedback_for_the_callers_own_requests_only(gateway: Gateway) -> None:
    fake = FakeOpenAI()
    with serve(fake.app) as upstream:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        other = gateway.cli_json("workspace", "create", "other")
        other_key = gateway.cli_json("api-key", "create", "--workspace", other["name"])["key"]
        auth = {"authorization": f"Bearer {gateway.api_key}"}
        chat = httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers=auth,
        )
        assert chat.status_code == 200
        request_id = chat.headers["x-request-id"]
        url = gateway.url + "/v1/feedback"
        given = httpx.post(
            url, json={"request_id": request_id, "thumbs": "up", "label": "good"}, headers=auth
        )
        assert given.status_code == 200, given.text
        assert given.json()["score"] == 1.0 and given.json()["model"] == "openai/gpt-4o-mini"
        foreign = httpx.post(
            url,
            json={"request_id": request_id, "score": 0},
            headers={"authorization": f"Bearer {other_key}"},
        )
        assert foreign.status_code == 404
        assert foreign.json()["error"]["param"] == "request_id"
        assert foreign.json()["error"]["type"] == "invalid_request_error"
        for body, status, param in (
            ({"request_id": "req_nope", "score": 1}, 404, "request_id"),
            ({"score": 1}, 400, "request_id"),
            ({"request_id": request_id, "score": 7}, 400, "score"),
            ({"request_id": request_id, "thumbs": "meh"}, 400, "thumbs"),
        ):
            resp = httpx.post(url, json=body, headers=auth)
            assert resp.status_code == status and resp.json()["error"]["param"] == param
        routed = httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": "2+2?"}]},
            headers=auth,
        )
        assert routed.status_code == 200, routed.text
        route = json.loads(routed.headers["x-keyroute-route"])
        assert route["policy"] == "openai" and route["scorer"].startswith("lr")
        assert route["model"] in ("openai/gpt-4.1-mini", "openai/gpt-4.1")
        assert routed.headers["x-keyroute-model"] == route["model"]
        assert fake.requests[-1].body["model"] == route["model"].partition("/")[2]
        rated = {"request_id": routed.headers["x-request-id"], "score": 0.5}
        assert httpx.post(url, json=rated, headers=auth).json()["policy"] == "openai"
        assert httpx.post(url, content=b"{", headers=auth).status_code == 400
        assert httpx.post(url, json={"request_id": request_id, "score": 1}).status_code == 401
        assert httpx.get(url, headers=auth).status_code == 405
    deadline = time.monotonic() + 20
    while True:  # the usage row is written in the background
        report = gateway.control(lambda c: c.routing.report("default"))
        if report.lines or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    (line,) = report.lines
    assert (line.policy, line.model) == ("openai", route["model"])
    assert line.totals.routed_requests == 1 and line.feedback.count == 1
