"""``keyroute workspace responses`` and ``GET|PUT /admin/v1/workspaces/{id}/responses``: whether a
workspace stores Responses API turns and for how long, the same from both sides, with clear
errors and an audited admin event per change."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration


def admin(gw: Gateway) -> httpx.Client:
    return httpx.Client(
        base_url=gw.url + "/admin/v1", headers={"authorization": f"Bearer {gw.admin_token}"}
    )


def test_storage_setting_from_the_admin_api_and_the_cli(gateway: Gateway) -> None:
    with admin(gateway) as client:
        got = client.get("/workspaces/default/responses")
        assert got.status_code == 200
        assert got.json() == {"workspace": "default", "store": True, "retention_days": None}
        put = client.put("/workspaces/default/responses", json={"retention_days": 7})
        assert put.json() == {"workspace": "default", "store": True, "retention_days": 7}
        put = client.put("/workspaces/default/responses", json={"store": False})
        assert put.json()["store"] is False and put.json()["retention_days"] == 7
    shown = gateway.cli_json("workspace", "responses", "default")
    assert shown == {"workspace": "default", "store": False, "retention_days": 7}
    with admin(gateway) as client:
        put = client.put(
            "/workspaces/default/responses", json={"store": True, "retention_days": None}
        )
        assert put.json()["retention_days"] is None
    lines = gateway.cli("audit", "export", "--workspace", "default").stdout.splitlines()
    events = [json.loads(line) for line in lines if line]
    assert [e.get("action") for e in events].count("responses.update") >= 3


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"store": "yes"}, "store"),
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": "7"}, "retention_days"),
        ({"retention_days": True}, "retention_days"),
        ({"keep": True}, "keep"),
    ],
)
def test_bad_values_name_the_field(gateway: Gateway, body: dict[str, object], param: str) -> None:
    with admin(gateway) as client:
        bad = client.put("/workspaces/default/responses", json=body)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == param
        assert client.get("/workspaces/nobody/responses").status_code == 404
