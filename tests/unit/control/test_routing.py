"""``ControlPlane.routing``: policies set, shown, listed, deleted (with admin events), and the
routing report over usage rows and feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyroute.audit.entries import AdminEvent
from keyroute.control.plane import ControlPlane
from keyroute.control.routing import report_document
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.storage.base import FeedbackRecord, UsageRow
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.anyio


class Events:
    def __init__(self) -> None:
        self.events: list[AdminEvent] = []

    def log_event(self, event: AdminEvent) -> None:
        self.events.append(event)


@pytest.fixture
def setup() -> tuple[ControlPlane, Events]:
    store = MemoryStore()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    events = Events()
    return ControlPlane(store, KeyVault(store, keyring), clock=lambda: T0, events=events), events


async def test_set_show_list_delete(setup: tuple[ControlPlane, Events]) -> None:
    plane, events = setup
    ws = await plane.create_workspace("team")
    await plane.add_provider_key("team", "openai", "sk-test-1234567890")
    shown = await plane.routing.show_policy("team")
    assert shown["name"] == "openai" and shown["default"] and shown["source"] == "shipped"
    view = await plane.routing.set_policy(
        "team",
        policy="cheap",
        candidates=["openai/gpt-4o-mini", "openai/gpt-4o"],
        reference="gpt-4o",
        max_strong_share=0.2,
        default=True,
    )
    assert view == {
        "name": "cheap",
        "candidates": ["openai/gpt-4o-mini", "openai/gpt-4o"],
        "reference": "openai/gpt-4o",
        "quality": None,
        "max_strong_share": 0.2,
        "default": True,
        "source": "workspace",
    }
    assert (await plane.routing.show_policy("team"))["name"] == "cheap"
    listed = await plane.routing.list_policies(ws.id)
    assert [p["name"] for p in listed if p["default"]] == ["cheap"]
    assert {"openai", "anthropic", "gemini", "cross-provider", "demo", "cheap"} == {
        p["name"] for p in listed
    }
    # Replacing keeps it the default; --default elsewhere moves it.
    await plane.routing.set_policy(
        "team", policy="cheap", candidates=["a/b", "a/c"], reference="openai/gpt-4o"
    )
    assert (await plane.routing.show_policy("team"))["name"] == "cheap"
    await plane.routing.delete_policy("team", "cheap")
    assert (await plane.routing.show_policy("team"))["name"] == "openai"
    actions = [e.action for e in events.events if e.action.startswith("routing.")]
    assert actions == ["routing.set", "routing.set", "routing.delete"]
    first = next(e for e in events.events if e.action == "routing.set")
    assert first.target == "cheap" and first.old is None and first.new is not None
    assert first.new["candidates"] == "openai/gpt-4o-mini,openai/gpt-4o"


async def test_errors_name_their_field(setup: tuple[ControlPlane, Events]) -> None:
    plane, _ = setup
    await plane.create_workspace("team")
    cases: list[tuple[dict[str, object], str]] = [
        ({"policy": "Bad"}, "policy"),
        ({"candidates": ["openai/gpt-4o"]}, "candidates"),
        ({"reference": "who-knows"}, "reference"),
        ({"quality": 2.0}, "quality"),
    ]
    for change, param in cases:
        args: dict[str, object] = {
            "policy": "p",
            "candidates": ["openai/gpt-4o-mini", "openai/gpt-4o"],
            "reference": "openai/gpt-4o",
            **change,
        }
        with pytest.raises(InvalidRequest) as info:
            await plane.routing.set_policy("team", **args)  # type: ignore[arg-type]
        assert info.value.param == param
    with pytest.raises(NotFound):
        await plane.routing.show_policy("team")  # no key, no default
    with pytest.raises(NotFound):
        await plane.routing.show_policy("team", "nope")
    with pytest.raises(InvalidRequest):
        await plane.routing.delete_policy("team", "openai")  # shipped
    with pytest.raises(NotFound):
        await plane.routing.delete_policy("team", "nope")
    with pytest.raises(NotFound):
        await plane.routing.list_policies("nobody")


def row(
    n: int, model: str, paid: int, reference: int | None, policy: str | None = "openai"
) -> UsageRow:
    return UsageRow(
        id=f"u{n}",
        request_id=f"req_{n}",
        workspace_id="",
        time=T0 + timedelta(hours=n),
        endpoint="/v1/chat/completions",
        inbound_format="openai",
        served_model=model,
        route_policy=policy,
        status=200,
        attempts=1,
        input_tokens=10,
        cached_input_tokens=0,
        cache_write_tokens=0,
        cache_write_1h_tokens=0,
        output_tokens=5,
        reasoning_tokens=0,
        usage_estimated=False,
        paid_pico=paid,
        list_pico=paid,
        reference_pico=reference,
    )


async def test_report_per_policy_and_model_with_feedback(
    setup: tuple[ControlPlane, Events],
) -> None:
    plane, _ = setup
    ws = await plane.create_workspace("team")
    rows = [
        row(1, "openai/gpt-4.1-mini", 100, 500),
        row(2, "openai/gpt-4.1-mini", 100, 500),
        row(30, "openai/gpt-4.1", 500, 500),
        row(4, "openai/gpt-4o", 700, None, policy=None),  # not routed
    ]
    for r in rows:
        r.workspace_id = ws.id
    await plane.store.usage.append(rows)
    for request_id, score, thumbs in (("req_1", 1.0, "up"), ("req_2", 0.0, "down")):
        await plane.store.routing.put_feedback(
            FeedbackRecord(
                workspace_id=ws.id,
                request_id=request_id,
                score=score,
                thumbs=thumbs,
                policy="openai",
                model="openai/gpt-4.1-mini",
                request_time=T0,
                created_at=T0,
            )
        )
    document = report_document(await plane.routing.report("team"))
    assert [(d["policy"], d["model"], d["requests"]) for d in document["data"]] == [
        ("openai", "openai/gpt-4.1", 1),
        ("openai", "openai/gpt-4.1-mini", 2),
    ]
    mini = document["data"][1]
    assert mini["cost_usd"] == "0.0000000002"
    assert mini["reference_cost_usd"] == "0.000000001"
    assert mini["routing_saving_usd"] == "0.0000000008"
    assert mini["saving_rate"] == "0.8000"
    assert (mini["feedback"], mini["feedback_mean_score"]) == (2, 0.5)
    assert (mini["thumbs_up"], mini["thumbs_down"]) == (1, 1)
    assert [(d["day"], d["requests"]) for d in document["days"]] == [
        ("2026-12-01", 2),
        ("2026-12-02", 1),
    ]
    later = report_document(await plane.routing.report("team", since="2026-12-02"))
    assert [d["model"] for d in later["data"]] == ["openai/gpt-4.1"]
    with pytest.raises(InvalidRequest) as info:
        await plane.routing.report("team", since="2026-12-02", until="2026-12-01")
    assert info.value.param == "until"
