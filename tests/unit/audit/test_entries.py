"""Request records and admin events as audit entries."""

from __future__ import annotations

import json
from datetime import timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from keyroute.audit.entries import AdminEvent, admin_entry, data_json, request_entry
from keyroute.core.audit import GATEWAY_LOG, canonical_json
from keyroute.core.money import Cost
from keyroute.core.record import Attempt
from keyroute.core.response import Usage
from tests.unit.audit.conftest import T0, record


def test_a_served_request_carries_every_contract_field() -> None:
    rec = record(
        api_key_id="key_1",
        api_key_name="ci",
        requested_model="fast",
        served_model="openai/gpt-4o-mini",
        provider="openai",
        provider_key_id="pk_1",
        usage=Usage(input_tokens=10, cache_read_tokens=4, output_tokens=3, reasoning_tokens=1),
        cost=Cost(list_pico=2_000_000, paid_pico=1_500_000),
        attempts=[
            Attempt(
                provider="openai", model="openai/gpt-4o-mini", provider_key_id="pk_1", status=200
            )
        ],
        end_user="alice",
    )
    entry = request_entry(rec, "row1")
    data = json.loads(entry.data)
    assert entry.log == "ws_a" and entry.kind == "request" and entry.id == "row1"
    assert (entry.api_key_id, entry.model, entry.served_model, entry.status, entry.end_user) == (
        "key_1",
        "fast",
        "openai/gpt-4o-mini",
        200,
        "alice",
    )
    assert data["request_id"] == rec.request_id and data["key_id"] == "key_1"
    assert data["input_tokens"] == 10 and data["cached_input_tokens"] == 4
    assert data["output_tokens"] == 3 and data["reasoning_tokens"] == 1
    assert data["cost_usd"] == "0.0000015" and data["list_cost_usd"] == "0.000002"
    assert data["upstream_status"] == 200 and data["attempts"][0]["provider_key_id"] == "pk_1"
    assert "pk_1" in entry.data and entry.body is None


def test_an_unknown_price_is_null_not_zero_and_no_workspace_goes_to_the_gateway_log() -> None:
    entry = request_entry(record(ws=None, status=401, error_code="invalid_api_key"), "r")
    data = json.loads(entry.data)
    assert entry.log == GATEWAY_LOG and data["cost_usd"] is None and data["status"] == 401


def test_times_are_utc() -> None:
    local = T0.astimezone(timezone(timedelta(hours=5)))
    assert request_entry(record(started_at=local), "r").time.utcoffset() == timedelta(0)


def test_an_admin_event_carries_who_what_and_the_change() -> None:
    event = AdminEvent(
        action="alias.set",
        time=T0,
        workspace_id="ws_a",
        actor="admin-token",
        client_ip="10.0.0.1",
        target="fast",
        old={"target": "a/b"},
        new={"target": "c/d"},
    )
    entry = admin_entry(event, "r")
    data = json.loads(entry.data)
    assert (entry.kind, entry.action, entry.log) == ("admin", "alias.set", "ws_a")
    assert data["actor"] == "admin-token" and data["client_ip"] == "10.0.0.1"
    assert data["old"] == {"target": "a/b"} and data["new"] == {"target": "c/d"}
    gateway = admin_entry(AdminEvent(action="x", time=T0, workspace_id=None, actor="cli"), "r")
    assert gateway.log == GATEWAY_LOG


def test_admin_event_values_are_redacted() -> None:
    key = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
    event = AdminEvent(
        action="provider_key.add",
        time=T0,
        workspace_id="ws_a",
        actor="admin-token",
        new={"base_url": f"https://proxy.example/v1?key={key}", "name": "ops@example.com"},
    )
    data = admin_entry(event, "r").data
    assert key not in data and "ops@example.com" not in data
    assert "[REDACTED:google-key]" in data and "[REDACTED:email]" in data


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def test_data_json_is_canonical_json_for_every_character() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    value = {"z": every, "a": [1, -2, True, None, {"y": 12.345, "b": 0.5}], "\u00e9": "x"}
    assert data_json(value) == canonical_json(value)


@settings(max_examples=50)
@given(st.dictionaries(st.text(), _JSON, max_size=6))
def test_data_json_is_canonical_json(value: dict[str, object]) -> None:
    assert data_json(value) == canonical_json(value)
