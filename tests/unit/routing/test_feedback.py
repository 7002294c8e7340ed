"""``keyroute.routing.feedback``: checks, the request lookup (recent, then stored), isolation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.core.record import RequestRecord
from keyroute.routing.feedback import FeedbackBook, RecentRequests
from keyroute.storage.base import UsageRow, WorkspaceRecord
from keyroute.storage.memory import MemoryStore

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.anyio


def served(request_id: str, ws: str = "w1") -> RequestRecord:
    record = RequestRecord(
        request_id=request_id,
        started_at=T0,
        endpoint="/v1/chat/completions",
        inbound_format="openai",
    )
    record.workspace_id = ws
    record.route = {"policy": "openai", "model": "openai/gpt-4.1-mini"}
    record.served_model = "openai/gpt-4.1-mini"
    return record


@pytest.fixture
async def book() -> tuple[FeedbackBook, RecentRequests, MemoryStore]:
    store = MemoryStore()
    for ws in ("w1", "w2"):
        await store.create_workspace(
            WorkspaceRecord(
                id=ws, name=ws, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
            )
        )
    recent = RecentRequests(capacity=2)
    return FeedbackBook(store.routing, recent, clock=lambda: T0), recent, store


async def test_feedback_on_a_recent_request(book: Any) -> None:
    feedback, recent, store = book
    recent.submit(served("req_a"))
    record = await feedback.give("w1", {"request_id": "req_a", "thumbs": "up", "label": "good"})
    assert (record.score, record.thumbs, record.label) == (1.0, "up", "good")
    assert (record.policy, record.model) == ("openai", "openai/gpt-4.1-mini")
    totals = await store.routing.feedback_totals("w1")
    assert [(t.count, t.thumbs_up) for t in totals] == [(1, 1)]


async def test_feedback_on_a_stored_request_and_the_lru_bound(book: Any) -> None:
    feedback, recent, store = book
    for rid in ("req_a", "req_b", "req_c"):
        recent.submit(served(rid))
    assert recent.get("w1", "req_a") is None  # pushed out
    await store.usage.append(
        [
            UsageRow(
                id="u1",
                request_id="req_a",
                workspace_id="w1",
                time=T0,
                endpoint="/v1/chat/completions",
                inbound_format="openai",
                route_policy="p",
                served_model="demo/fast",
                status=200,
                attempts=1,
                input_tokens=1,
                cached_input_tokens=0,
                cache_write_tokens=0,
                cache_write_1h_tokens=0,
                output_tokens=1,
                reasoning_tokens=0,
                usage_estimated=False,
            )
        ]
    )
    record = await feedback.give("w1", {"request_id": "req_a", "score": 0.25})
    assert (record.score, record.thumbs, record.policy, record.model) == (
        0.25,
        None,
        "p",
        "demo/fast",
    )


async def test_another_workspaces_request_is_not_found(book: Any) -> None:
    feedback, recent, _ = book
    recent.submit(served("req_a", ws="w2"))
    recent.submit(
        RequestRecord(request_id="anon", started_at=T0, endpoint="/", inbound_format="openai")
    )
    for rid in ("req_a", "req_unknown", "anon"):
        with pytest.raises(NotFound) as info:
            await feedback.give("w1", {"request_id": rid, "score": 1})
        assert info.value.param == "request_id"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "request_id"),
        ({"request_id": 5, "score": 1}, "request_id"),
        ({"request_id": "x" * 300, "score": 1}, "request_id"),
        ({"request_id": "req_a"}, "score"),
        ({"request_id": "req_a", "score": 1.5}, "score"),
        ({"request_id": "req_a", "score": "good"}, "score"),
        ({"request_id": "req_a", "score": True}, "score"),
        ({"request_id": "req_a", "thumbs": "sideways"}, "thumbs"),
        ({"request_id": "req_a", "thumbs": "up", "score": 1}, "thumbs"),
        ({"request_id": "req_a", "score": 1, "label": ""}, "label"),
        ({"request_id": "req_a", "score": 1, "label": "x" * 65}, "label"),
        ({"request_id": "req_a", "score": 1, "label": "a\nb"}, "label"),
        ({"request_id": "req_a", "score": 1, "extra": 1}, "extra"),
    ],
)
async def test_bad_bodies_name_the_field(book: Any, body: dict[str, Any], param: str) -> None:
    feedback, recent, _ = book
    recent.submit(served("req_a"))
    with pytest.raises(InvalidRequest) as info:
        await feedback.give("w1", body)
    assert info.value.param == param
